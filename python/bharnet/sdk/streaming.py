"""One track of a streaming bundle: frames prepared once each, as they arrive, and (in continual
mode) the model's state stepped frame by frame.

A streaming bundle's spec is causal (normalisation "causal-v1"): a frame's model inputs depend
only on it and the frames before it, so each is prepared once (bharnet.data.CausalPreparer) and
kept in a ring of the model's window. Both modes read the same prepared frames:
  window     the window graph runs on the ring's last `window` frames every `stride` frames;
  continual  the step runner (a backend's step_runner) consumes each frame once, and its
             prediction at a frame equals the window graph's on the window ending there.

Predictions of the native schedule land every `frames_per_prediction` frames; the runner is first
fed `lead` missing frames so that they land on the frames the window mode recognises (window,
window + stride, ...). Missing frames are what the runner's initial state already holds, so the
lead changes where predictions fall, not their numbers.
"""
from __future__ import annotations

import time

import numpy as np

from ..backends.native_frame import STREAMS
from ..data.adapt import COORD_LIMIT
from ..data.adapt import _plan as adapter_plan
from ..data.normalise import _EPS, _MCP, HAND_MIN_JOINTS, _stats_plan, bone_arrays
from ..data.inputs import TIME_AXIS
from ..data.pipeline import CausalPreparer
from ..data.spec import UNIFIED_LAYOUT, InputSpec
from ..layouts import HAND21, get_layout
from .adapters import _NO_SCORE_ROWS
from .presence import _body_plan


def frame_shapes(spec: InputSpec) -> dict[str, tuple[int, ...]]:
    """One prepared frame of each model input (the window's shapes without their time axis)."""
    return {k: tuple(d for i, d in enumerate(s) if i != TIME_AXIS[k])
            for k, s in spec.input_shapes().items()}


class StreamState:
    """A track's prepared frames (a ring of `window` frames) and, given a runner, its model state."""

    __slots__ = ("prep", "window", "count", "ring", "runner", "state", "lead")

    def __init__(self, layout: str, spec: InputSpec, runner=None):
        self.prep = CausalPreparer(layout, spec)
        self.window = int(spec.window)
        shapes = frame_shapes(spec)
        # the ring keeps time first: frame i of the window is ring[name][i % window]
        self.ring = {k: np.zeros((self.window, *s), np.float32) for k, s in shapes.items()}
        self.runner = runner
        self.lead = (-self.window) % runner.frames_per_prediction if runner is not None else 0
        self.state = None
        self.count = 0
        self.reset()

    def reset(self) -> None:
        """A new stream: no history, the model state at its initial (missing-frame) state."""
        self.prep.reset()
        self.count = 0
        if self.runner is not None:
            self.state = self.runner.new_state()
            blank = {k: np.zeros(v.shape[1:], np.float32) for k, v in self.ring.items()}
            for _ in range(self.lead):
                self.runner.step(blank, self.state)

    def push(self, kp: np.ndarray, score: np.ndarray) -> dict | None:
        """Prepare one frame (kp [M,V,C], score [M,V]) into the ring; in continual mode step the
        model and return its outputs when this frame completes a prediction."""
        x = self.prep.push(kp, score)
        frame = {k: np.take(v, 0, axis=TIME_AXIS[k]) for k, v in x.items()}
        i = self.count % self.window
        for k, v in frame.items():
            self.ring[k][i] = v
        self.count += 1
        if self.runner is None:
            return None
        t0 = time.perf_counter()
        out = self.runner.step(frame, self.state)
        if out is not None:   # the model's time for the frame that completed the prediction
            out["_latency_ms"] = (time.perf_counter() - t0) * 1000.0
        return out

    def window_inputs(self) -> dict[str, np.ndarray]:
        """The last `window` prepared frames as window-graph inputs (per sample, no batch axis);
        frames before the stream's start are missing (zeros), as the streaming recipes train."""
        n = min(self.count, self.window)
        order = (np.arange(self.count - n, self.count) % self.window)
        out = {}
        for k, ring in self.ring.items():
            frames = np.zeros_like(ring)
            frames[self.window - n:] = ring[order]
            out[k] = np.ascontiguousarray(np.moveaxis(frames, 0, TIME_AXIS[k]))
        return out

    def hand_mask(self) -> np.ndarray | None:
        """[frames, 2M] hand presence of the window's real frames (None without hands)."""
        if "hand_mask" not in self.ring:
            return None
        n = min(self.count, self.window)
        return self.ring["hand_mask"][np.arange(self.count - n, self.count) % self.window]

    def nbytes(self) -> int:
        n = sum(r.nbytes for r in self.ring.values())
        if self.runner is not None and self.state is not None:
            n += int(self.runner.state_bytes(self.state))
        return n


def frame_plan(layout: str, spec: InputSpec) -> dict:
    """The native frame path's plan (csrc/runtime/frame_prep.h FramePlan): the Python pipeline's
    own tables and thresholds for this layout and spec, as plain values, so that the native code
    follows the rules defined here (adapt, normalise, streams, presence, adapters)."""
    lay = get_layout(layout)
    plan = adapter_plan(lay.name, spec)
    part = UNIFIED_LAYOUT if spec.unified else spec.body_layout
    has_body = bool(spec.body or spec.unified)
    sub, s_child, s_parent = _stats_plan(part)
    b_child, b_parent = bone_arrays(part)
    h_child, h_parent = bone_arrays(HAND21.name)
    p_idx, p_need = _body_plan(lay.name)
    no_score = _NO_SCORE_ROWS.get(lay.name, slice(0, 0))
    lo, hi, _ = no_score.indices(lay.num_joints)
    ints = (lambda a: [int(x) for x in a])
    return {
        "src_joints": lay.num_joints, "persons": spec.num_person, "coords": spec.coords,
        "score_threshold": float(spec.score_threshold), "coord_limit": float(COORD_LIMIT),
        "eps": float(_EPS), "horizon": spec.norm_horizon, "window": spec.window,
        "stream": STREAMS[spec.stream], "with_score": bool(spec.with_score),
        "gather": ints(plan.gather), "valid": ints(plan.valid),
        "has_body": bool(spec.body and not spec.unified), "has_hands": bool(plan.has_hands),
        "unified": bool(spec.unified),
        "body_joints": get_layout(part).num_joints if has_body else 0,
        "centre_joint": ints(sub) if sub is not None else [],
        "scale_child": ints(s_child), "scale_parent": ints(s_parent),
        "bone_child": ints(b_child), "bone_parent": ints(b_parent),
        "hand_child": ints(h_child), "hand_parent": ints(h_parent), "mcp": ints(_MCP),
        "hand_min_joints": int(HAND_MIN_JOINTS),
        "presence_joints": ints(p_idx), "presence_need": int(p_need),
        "no_score_lo": lo, "no_score_hi": max(lo, hi),
    }


__all__ = ["StreamState", "frame_plan", "frame_shapes"]
