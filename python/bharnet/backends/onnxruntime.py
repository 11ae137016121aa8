"""ONNX Runtime backend: the portable default (CPU; CUDA provider where installed).

Window graphs run through `run`; a streaming bundle's step graphs through `step_runner`, whose
per-track state (the graph's state tensors and the frames of an unfinished call) lives in the
caller's track, so the backend itself stays stateless and thread-safe.
"""
from __future__ import annotations

import numpy as np

from ..program import STATE_IN, STATE_OUT
from .base import BackendUnavailable


def _options(threads: int | None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return opts


class OnnxRuntimeBackend:
    name = "onnxruntime"
    thread_safe = True  # InferenceSession.run may be called concurrently

    def __init__(self, bundle, device: str | None = None, threads: int | None = None):
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device is not None and str(device).startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable(
                    f"device {device!r} asked for, but this onnxruntime has no CUDA provider "
                    f"(available: {ort.get_available_providers()})")
            dev_id = int(str(device).split(":")[1]) if ":" in str(device) else 0
            providers = [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]
        self._bundle, self._threads, self._providers = bundle, threads, providers
        self.session = ort.InferenceSession(bundle.onnx_bytes(), sess_options=_options(threads),
                                            providers=providers)
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self.device = "cuda" if len(providers) > 1 else "cpu"

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.ascontiguousarray(inputs[k], dtype=np.float32) for k in self.input_names}
        outs = self.session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, outs))

    def step_runner(self, schedule: str) -> "OrtStepRunner":
        return OrtStepRunner(self._bundle, schedule, self._threads, self._providers)


class _State:
    """One track's step state: the graph's state tensors and the frames of the call in progress."""

    __slots__ = ("arrays", "pending")

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.pending: list[dict[str, np.ndarray]] = []

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


class OrtStepRunner:
    """A streaming bundle's step graph on ONNX Runtime, fed one frame at a time.

    step(frame, state): frame {input name: one frame without batch and time axes}; returns the
    outputs ({name: [1, ...]}) when this frame completes a call of `frames_per_call` frames (the
    native schedule predicts once per call), else None. The state is updated in place.
    """

    def __init__(self, bundle, schedule: str, threads: int | None = None, providers=None):
        import onnxruntime as ort

        cont = bundle.meta.continual
        if not cont:
            raise BackendUnavailable("this bundle has no step graph (not a streaming model)")
        member = cont["schedules"].get(schedule)
        if member is None:
            raise BackendUnavailable(f"this bundle has no {schedule!r} step graph (it has "
                                     f"{', '.join(cont['schedules'])})")
        info = bundle.meta.graphs[member]
        self.schedule, self.frames_per_call = schedule, int(info["frames_per_call"])
        self.session = ort.InferenceSession(bundle.member(member), sess_options=_options(threads),
                                            providers=providers or ["CPUExecutionProvider"])
        names = [i.name for i in self.session.get_inputs()]
        self.frame_inputs = tuple(n for n in names if not n.startswith(STATE_IN))
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        prefix = f"{schedule}/"
        self._init = {k[len(prefix):]: v for k, v in bundle.weights(cont["init_state"]).items()
                      if k.startswith(prefix)}
        missing = sorted(set(n for n in names if n.startswith(STATE_IN)) - set(self._init))
        if missing:
            raise BackendUnavailable(f"the bundle's initial state lacks {missing[:3]}")

    @property
    def frames_per_prediction(self) -> int:
        return self.frames_per_call

    def new_state(self) -> _State:
        return _State({k: v.copy() for k, v in self._init.items()})

    def state_bytes(self, state: _State) -> int:
        return state.nbytes()

    def step(self, frame: dict[str, np.ndarray], state: _State) -> dict[str, np.ndarray] | None:
        state.pending.append(frame)
        if len(state.pending) < self.frames_per_call:
            return None
        feed = dict(state.arrays)
        for name in self.frame_inputs:
            frames = [np.asarray(f[name], np.float32) for f in state.pending]
            # frames [C, V, I] -> [1, C, k, V, I]; the hand mask [I] -> [1, k, I]
            feed[name] = np.stack(frames, 1)[None] if frames[0].ndim == 3 else np.stack(frames)[None]
        state.pending.clear()
        outs = dict(zip(self.output_names, self.session.run(None, feed)))
        for name in list(outs):
            if name.startswith(STATE_OUT):
                state.arrays[STATE_IN + name[len(STATE_OUT):]] = outs.pop(name)
        return outs
