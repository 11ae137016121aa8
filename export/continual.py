"""Step graphs of a streaming model: frames in, state in, logits and state out.

A streaming model (temporal padding "valid", causal preprocessing) computes each frame once: its
layer program runs step by step (export/program_torch.py), and the ONNX step graph exported here
is checked on ONNX Runtime against the window graph at every prediction point before anything is
written. Two schedules, each its own graph:

  native  k = the total temporal stride frames per call; strided layers fire every s-th element,
          one prediction per call (every k frames): the least work per frame;
  atrous  one frame per call; strides removed and later taps dilated (bharnet.program.to_atrous),
          a prediction every frame, same weights.

The state starts as the steady state of "missing" frames (all-zero inputs), computed here and
shipped as init_state.safetensors: a stream's first predictions then equal the window graph on
windows left-padded with missing frames, which is how streaming recipes train short clips.
"""
from __future__ import annotations

import math

import numpy as np

from bharnet.program import SCHEDULES, STATE_IN, STATE_OUT, Program, ProgramError, to_atrous

from .program_torch import ProgramModule

INIT_STATE = "init_state.safetensors"


def step_member(schedule: str) -> str:
    return "model.step.onnx" if schedule == "native" else f"model.step.{schedule}.onnx"


def total_stride(program: Program) -> int:
    """Frames per element of the final features (the native schedule's frames per call)."""
    rates = program.rates()
    return max(rates[o.ins[0]] for o in program.ops
               if o.op == "collect" and not program.is_mask(o.ins[0]))


def step_module(program: Program, weights: dict, schedule: str) -> ProgramModule:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "atrous":
        return ProgramModule(to_atrous(program), weights, "step", 1)
    return ProgramModule(program, weights, "step", total_stride(program))


def _missing(program: Program, frames: int, batch: int = 1) -> list:
    import torch

    shapes = []
    for name, s in program.inputs.items():
        if name == "hand_mask":
            shapes.append((batch, frames, s[1]))
        else:
            shapes.append((batch, s[0], frames, s[2], s[3]))
    return [torch.zeros(sh) for sh in shapes]


def steady_state(module: ProgramModule) -> dict[str, np.ndarray]:
    """The state after an endless stream of missing frames (exact: the network is time-invariant
    and finite, so a receptive field of missing frames flushes every cached element)."""
    import torch

    calls = math.ceil(module.program.receptive_field() / module.k) + 2
    state = module.zero_state(1)
    n_out = len(module.output_names)
    with torch.no_grad():
        for _ in range(calls):
            state = list(module(*_missing(module.program, module.k), *state)[n_out:])
    return {STATE_IN + n: s.numpy() for n, s in zip(module.state_names, state)}


def export_step_onnx(module: ProgramModule, opset: int) -> bytes:
    """The step module as ONNX: dynamic batch, every other dimension fixed."""
    import torch

    from .onnx_export import BATCH_DIM, MAX_BATCH, _name_batch_dim

    args = tuple(_missing(module.program, module.k, batch=2)) + tuple(module.zero_state(2))
    names_in = module.input_names + [STATE_IN + n for n in module.state_names]
    names_out = module.output_names + [STATE_OUT + n for n in module.state_names]
    batch = torch.export.Dim(BATCH_DIM, min=1, max=MAX_BATCH)
    with torch.no_grad():
        prog = torch.onnx.export(module.eval(), args, dynamo=True, opset_version=opset, optimize=True,
                                 verbose=False, input_names=names_in, output_names=names_out,
                                 dynamic_shapes=(tuple({0: batch} for _ in args),),
                                 external_data=False)
    proto = prog.model_proto
    _name_batch_dim(proto)
    proto.doc_string = ("bharnet step graph: k frames and the state in, logits and the next state "
                        "out; dynamic batch")
    return proto.SerializeToString()


def _stream(program: Program, frames: int, seed: int) -> dict[str, np.ndarray]:
    """A random but structured stream of model inputs, [1, ..., frames, ...] per input."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, s in program.inputs.items():
        if name == "hand_mask":
            # hands that come and go in runs, as real ones do
            runs = rng.random((1, frames // 6 + 1, s[1])) > 0.35
            out[name] = np.repeat(runs, 6, axis=1)[:, :frames].astype(np.float32)
        else:
            walk = np.cumsum(rng.normal(0, 0.1, (1, s[0], frames, s[2], s[3])), axis=2)
            out[name] = (walk + rng.normal(0, 0.5, (1, s[0], 1, s[2], s[3]))).astype(np.float32)
    return out


def _window(stream: dict, end: int, window: int) -> dict:
    """The window of `window` frames ending at frame `end`, missing (zero) frames before the stream."""
    out = {}
    for name, x in stream.items():
        axis = 1 if name == "hand_mask" else 2
        lo = end + 1 - window
        part = np.take(x, range(max(lo, 0), end + 1), axis=axis)
        if lo < 0:
            pad = [(0, 0)] * x.ndim
            pad[axis] = (-lo, 0)
            part = np.pad(part, pad)
        out[name] = part
    return out


def check_step_graph(step_onnx: bytes, init_state: dict, program: Program, window_run, k: int,
                     tol: float, seed: int = 0) -> dict:
    """Run the step graph on ONNX Runtime over a stream from the initial state and compare every
    prediction with `window_run` (the window graph) on the window ending at that frame.

    The stream is window + 3 calls long, so predictions from left-padded windows and from full
    ones are both checked. Returns {"points", "max_abs", "logit_scale"}; raises above tol.
    """
    from .ort_check import ort_session

    sess = ort_session(step_onnx, threads=1)
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    frames = (math.ceil(program.window / k) + 3) * k
    stream = _stream(program, frames, seed)
    state = {n: v for n, v in init_state.items()}
    worst, scale, points = 0.0, 1.0, 0
    for call in range(frames // k):
        lo, hi = call * k, (call + 1) * k
        feed = {n: np.take(x, range(lo, hi), axis=1 if n == "hand_mask" else 2)
                for n, x in stream.items()}
        feed.update(state)
        outs = dict(zip(out_names, sess.run(None, {n: feed[n] for n in in_names})))
        state = {STATE_IN + n[len(STATE_OUT):]: v for n, v in outs.items() if n.startswith(STATE_OUT)}
        ref = window_run(_window(stream, hi - 1, program.window))
        for name, r in ref.items():
            worst = max(worst, float(np.abs(outs[name] - r).max()))
            scale = max(scale, float(np.abs(r).max()))
        points += 1
    if worst > tol * scale:
        raise RuntimeError(f"the step graph disagrees with the window graph (max-abs {worst:.3g} at "
                           f"logit scale {scale:.3g} over {points} predictions); bundle not written")
    return {"points": points, "max_abs": worst, "logit_scale": scale}


def continual_members(program: Program, weights: dict, window_run, opset: int, tol: float = 1e-4,
                      schedules=SCHEDULES, quiet: bool = False) -> tuple[dict, dict, dict]:
    """(members, graphs, metadata["continual"]) of a streaming program: a step graph per schedule
    (members: the bundle files; graphs: their entries in metadata["graphs"]), each checked
    against `window_run` (a function: window inputs -> outputs, the bundle's window graph), and
    the initial states."""
    from safetensors.numpy import save

    from bharnet.progress import stage

    from .trt_lint import check_trt_ready

    if not program.streamable:
        raise ProgramError("only a model trained with temporal_padding: valid streams exactly; this "
                           "one pads every temporal op, so its outputs depend on the window edges")
    program.lengths()   # the window fits the strides: every prediction ends on its last frame
    members, graphs, init = {}, {}, {}
    for schedule in schedules:
        with stage(f"{schedule} step graph, checked against the window graph", quiet=quiet):
            module = step_module(program, weights, schedule)
            state = steady_state(module)
            onnx_bytes = export_step_onnx(module, opset)
            check = check_step_graph(onnx_bytes, state, module.program, window_run, module.k, tol)
            check_trt_ready(onnx_bytes)  # static shapes but the batch, no control flow, known ops
        member = step_member(schedule)
        members[member] = onnx_bytes
        init.update({f"{schedule}/{n}": v for n, v in state.items()})
        graphs[member] = {"role": "step", "schedule": schedule, "frames_per_call": module.k,
                          "state": [{"name": STATE_IN + n, "shape": list(spec[:4])}
                                    for n, spec in zip(module.state_names, module.state_specs.values())],
                          "state_floats": int(sum(v.size for v in state.values())),
                          "check": check, "trt_lint": "passed"}
    members[INIT_STATE] = save({k: np.ascontiguousarray(v, np.float32) for k, v in init.items()})
    meta = {"init_state": INIT_STATE, "receptive_field": program.receptive_field(),
            "window": program.window, "total_stride": total_stride(program), "exact": True,
            "schedules": {graphs[m]["schedule"]: m for m in graphs}}
    return members, graphs, meta


__all__ = ["SCHEDULES", "INIT_STATE", "step_member", "step_module", "steady_state", "export_step_onnx",
           "check_step_graph", "continual_members", "total_stride"]
