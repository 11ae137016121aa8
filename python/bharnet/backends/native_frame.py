"""The continual frame path in native code: one call per frame from a track's raw keypoint rows
to the model's outputs (csrc/runtime/frame_runtime.h), for the native backend's continual mode.

What runs natively per frame is what bharnet.data.causal.CausalPreparer, sdk/streaming.StreamState
and sdk/presence compute in Python (the reference): splitting rows into coordinates and scores,
body presence, the adapter, causal normalisation, the streams, the model step, and the window's
timestamps, presence and hand mask. The rules stay defined once, in Python: the plan
(bharnet.sdk.streaming.frame_plan) is the Python helpers' own tables (adapter plan, statistics
plan, bones, presence plan, thresholds) as the plain arrays the native code follows, so nothing
about layouts is restated in C++.

Python keeps the API, validation (before anything reaches native code), clocks, callbacks and
statistics. `unsupported(...)` says why a Recognizer cannot use this path (it then runs the
Python path and reports the reason in stats()["frame_path"]).
"""
from __future__ import annotations

import numpy as np

from ..data.spec import UNIFIED_LAYOUT, InputSpec
from ..layouts import HAND21, get_layout

STREAMS = {"j": 0, "b": 1, "jm": 2, "bm": 3}   # the plan's stream codes (frame_prep.h StreamKind)


def _C():
    try:
        from bharnet import _C
    except ImportError:
        return None
    return _C if hasattr(_C, "FrameRuntime") else None


def unsupported(layout: str, spec: InputSpec, runner) -> str | None:
    """Why the native frame path cannot run this (layout, spec, step runner), or None."""
    from .native_step import NativeStepRunner

    if _C() is None:
        return "this bharnet._C has no native frame path (rebuild: make build)"
    if not isinstance(runner, NativeStepRunner):
        return "the step runner is not the native step runtime"
    if not spec.causal:
        return f"normalisation {spec.normalisation!r} is not causal"
    # preparations the native code does not reproduce (the Python path runs them)
    if getattr(spec, "hand_routing", "both") != "both":
        return f"hand_routing {spec.hand_routing!r} (one routed hand) has no native preparation"
    if getattr(spec, "hand_frame", "wrist") != "wrist":
        return f"hand_frame {spec.hand_frame!r} (hands in the body's frame) has no native preparation"
    if spec.stream not in STREAMS:
        return f"stream {spec.stream!r} has no native preparation"
    if len(HAND21.bone_pairs) != HAND21.num_joints:
        return "the hand graph's bones do not map one to one on its joints"
    part = UNIFIED_LAYOUT if spec.unified else spec.body_layout
    if (spec.body or spec.unified) and len(get_layout(part).bone_pairs) != get_layout(part).num_joints:
        return f"layout {part!r}: bones do not map one to one on joints"
    wanted = set(spec.input_names)
    have = set(runner.input_names)
    if have != wanted:
        return f"the step program's inputs {sorted(have)} are not the spec's {sorted(wanted)}"
    return None


class NativeFramePath:
    """One Recognizer's native frame path: a FrameRuntime over the step runner's program, and the
    score column of each row width (the adapters' table, looked up once per width)."""

    def __init__(self, layout: str, spec: InputSpec, runner, plan: dict, columns):
        """plan: sdk.streaming.frame_plan(layout, spec); columns(layout, cols) -> (coordinate
        columns, score column or None), the adapters' table."""
        why = unsupported(layout, spec, runner)
        if why is not None:
            raise ValueError(f"native frame path: {why}")
        self.layout = get_layout(layout).name
        self._columns = columns
        self._impl = _C().FrameRuntime(runner._impl, plan)
        self.push = self._impl.push   # push(stream.track, rows, ts, score_col): NativeStream.push
        self.frames_per_prediction = int(self._impl.frames_per_prediction)
        self.lead = int(self._impl.lead)
        self._score_cols: dict[int, tuple[int, int]] = {}

    def columns(self, cols: int) -> tuple[int, int]:
        """(coordinate columns, the column of a confidence or -1) of rows of `cols` columns;
        ValueError when this layout takes no such rows (the adapters' message)."""
        got = self._score_cols.get(cols)
        if got is None:
            n, sc = self._columns(self.layout, cols)
            got = self._score_cols[cols] = (int(n), -1 if sc is None else int(sc))
        return got

    def new_stream(self) -> "NativeStream":
        return NativeStream(self)

    def push_many(self, streams, rows, ts, score_cols) -> list:
        return self._impl.push_many([s.track for s in streams], rows, ts, score_cols)


class NativeStream:
    """A track's native state, in the place of a StreamState (Track.stream): reset() and nbytes()
    as there; push() takes the validated raw rows."""

    __slots__ = ("path", "track", "_push")

    def __init__(self, path: NativeFramePath):
        self.path = path
        self.track = path._impl.new_track()
        self._push = path._impl.push

    def reset(self) -> None:
        self.path._impl.reset(self.track)

    def push(self, rows: np.ndarray, ts: float, score_col: int):
        """None, or on the model's prediction frames ({output: softmax probabilities}, body
        presence, (left, right) hand presence, start_ms, end_ms, frames) of the window ending at
        this frame."""
        return self._push(self.track, rows, ts, score_col)

    def nbytes(self) -> int:
        return int(self.track.nbytes)


__all__ = ["NativeFramePath", "NativeStream", "frame_plan", "unsupported"]
