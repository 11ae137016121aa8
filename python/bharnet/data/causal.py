"""Causal per-frame preparation ("causal-v1") for streaming models (NumPy only).

A streaming model computes each frame once, so each frame's inputs must be final when the frame
arrives: frame t is normalised with the statistics of frames [t-K+1, t] of its own stream (K =
spec.norm_horizon; fewer frames at the stream's start), computed by the same functions as the
windowed normalisation (normalise.body_stats / hand_stats), and its motion is the backward
difference x[t] - x[t-1]. Nothing about frame t changes afterwards.

Two entry points give the same numbers (tests/test_causal.py):
- `prepare_stream(keypoints, scores, layout, spec)`: every frame of a clip (training, evaluation);
- `CausalPreparer(layout, spec).push(kp, score)`: one frame at a time (the SDK's continual mode).

A missing frame (no keypoint present, or `push(None)`) prepares to all zeros: exactly the "missing"
frames that pad a window before a stream's first frame (inputs.take_steps with index -1).
"""
from __future__ import annotations

import numpy as np

from ..layouts import Layout, get_layout
from .adapt import Adapted, adapt
from .augment import Augment, augment_adapted
from .inputs import TIME_AXIS, to_inputs
from .normalise import body_stats, hand_presence, hand_stats, hands_to_body_frame
from .spec import UNIFIED_LAYOUT, InputSpec

_PARTS = ("body", "body_score", "hand", "hand_score", "joints", "joints_score")
# time axis of each Adapted array
_ADAPTED_TIME = {"body": 1, "body_score": 1, "joints": 1, "joints_score": 1, "hand": 2, "hand_score": 2}


def _check(spec: InputSpec) -> None:
    if not spec.causal:
        raise ValueError(f"causal preparation needs a causal spec (normalisation 'causal-v1'), "
                         f"got normalisation {spec.normalisation!r}")


def _num_frames(a: Adapted) -> int:
    return next(getattr(a, k).shape[_ADAPTED_TIME[k]] for k in _PARTS if getattr(a, k) is not None)


def _frames(a: Adapted, lo: int, hi: int) -> Adapted:
    """Frames [lo, hi) of every array of `a` (views)."""
    out = Adapted()
    for k in _PARTS:
        v = getattr(a, k)
        if v is not None:
            sel = [slice(None)] * v.ndim
            sel[_ADAPTED_TIME[k]] = slice(lo, hi)
            setattr(out, k, v[tuple(sel)])
    return out


def _concat(a: Adapted, b: Adapted, keep: int) -> Adapted:
    """The last `keep` frames of a followed by b."""
    out = Adapted()
    for k in _PARTS:
        x, y = getattr(a, k), getattr(b, k)
        if y is not None:
            ax = _ADAPTED_TIME[k]
            z = np.concatenate([x, y], axis=ax)
            sel = [slice(None)] * z.ndim
            sel[ax] = slice(max(0, z.shape[ax] - keep), None)
            setattr(out, k, z[tuple(sel)])
    return out


def _body_frames(x, score, layout_name: str, horizon: int, start: int):
    """Body-like part [M,T,V,C]: frames [start, T) each normalised by its trailing statistics.
    Also returns each frame's centre [T',1,C] and scale [T',1,1] (0 and 1 where no body)."""
    present = score > 0
    t_all = x.shape[1]
    out = np.zeros_like(x[:, start:])
    centres = np.zeros((t_all - start, 1, x.shape[-1]), np.float32)
    scales = np.ones((t_all - start, 1, 1), np.float32)
    for t in range(start, t_all):
        if not present[:, t].any():  # nothing to normalise: the frame stays zero
            continue
        lo = max(0, t - horizon + 1)
        c, s = body_stats(x[:, lo:t + 1], present[:, lo:t + 1], layout_name)
        out[:, t - start] = np.where(present[:, t, :, None], (x[:, t] - c) / s, np.float32(0))
        centres[t - start, 0], scales[t - start] = c, s
    return out, score[:, start:], (centres, scales)


def _hand_frames(h, score, horizon: int, start: int):
    """Hands [M,2,T,21,C]: per-frame wrist centre, scale over the trailing horizon, left mirrored."""
    mask = hand_presence(score)                                   # [M,2,T]
    score = np.where(mask[..., None], score, np.float32(0))
    present = score > 0
    t_all = h.shape[2]
    out = np.zeros_like(h[:, :, start:])
    for t in range(start, t_all):
        if not present[:, :, t].any():
            continue
        lo = max(0, t - horizon + 1)
        centre, scale = hand_stats(h[:, :, lo:t + 1], present[:, :, lo:t + 1])
        out[:, :, t - start] = np.where(present[:, :, t, :, None],
                                        (h[:, :, t] - centre[:, :, -1]) / scale[:, :, 0], np.float32(0))
    out[:, 0, ..., 0] *= -1.0  # mirror the left hand in x
    return out.astype(np.float32), score[:, :, start:].astype(np.float32), mask[:, :, start:]


def normalise_causal(a: Adapted, spec: InputSpec, start: int = 0) -> tuple[Adapted, np.ndarray | None]:
    """Frames [start, T) of the adapted stream `a`, each normalised with the statistics of its own
    trailing horizon (frames [t-K+1, t] of `a`). Returns (normalised frames, hand mask [M,2,T-start]
    or None); `a` is not modified."""
    _check(spec)
    k = spec.norm_horizon
    out, mask = Adapted(), None
    if a.body is not None:
        out.body, out.body_score, frame = _body_frames(a.body, a.body_score, spec.body_layout, k, start)
        if not spec.body:  # picked only to place the hands (hand_frame "body")
            out.body = out.body_score = None
    if a.joints is not None:
        out.joints, out.joints_score, _ = _body_frames(a.joints, a.joints_score, UNIFIED_LAYOUT, k, start)
    if a.hand is not None and spec.hands_in_body_frame:
        mask = hand_presence(a.hand_score[:, :, start:])
        out.hand_score = np.where(mask[..., None], a.hand_score[:, :, start:], np.float32(0))
        out.hand = hands_to_body_frame(a.hand[:, :, start:], out.hand_score > 0, *frame)
    elif a.hand is not None:
        out.hand, out.hand_score, mask = _hand_frames(a.hand, a.hand_score, k, start)
    return out, mask


def _drop_first(inputs: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    if not n:
        return inputs
    return {k: np.ascontiguousarray(np.take(v, np.arange(n, v.shape[TIME_AXIS[k]]), axis=TIME_AXIS[k]))
            for k, v in inputs.items()}


def stream_inputs(a: Adapted, spec: InputSpec, frames: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """Model inputs of frames [lo, hi) (default: all) of an adapted (possibly augmented) stream,
    prepared causally: the same numbers as preparing the whole stream and keeping those frames."""
    t = _num_frames(a)
    lo, hi = (0, t) if frames is None else (int(frames[0]), int(frames[1]))
    if not 0 <= lo < hi <= t:
        raise ValueError(f"frames {frames} are not a non-empty range within the stream's {t} frames")
    first = max(lo - 1, 0)  # the frame before lo feeds lo's backward motion
    norm, mask = normalise_causal(_frames(a, 0, hi), spec, first)
    return _drop_first(to_inputs(norm, mask, spec), lo - first)


def prepare_stream(keypoints, scores, layout: str | Layout, spec: InputSpec,
                   frames: tuple[int, int] | None = None, rng: np.random.Generator | None = None,
                   augment: Augment | bool | None = None) -> dict[str, np.ndarray]:
    """A clip's keypoints [M,T,V,C] (or [T,V,C]) -> per-frame model inputs for every frame (T
    steps; only frames [lo, hi) with `frames`), as a stream starting at the clip's first frame.

    augment (training): the adapted clip is augmented as a whole before it is prepared.
    """
    _check(spec)
    a = adapt(keypoints, scores, layout, spec)
    if augment:
        aug = Augment() if augment is True else augment
        augment_adapted(a, spec, aug, rng if rng is not None else np.random.default_rng())
    return stream_inputs(a, spec, frames)


class CausalPreparer:
    """One track's incremental causal preparation: `push` one raw frame, get that frame's model
    inputs (each array with a time axis of length 1, e.g. body [C,1,Vb,M]).

    State: the last K adapted raw frames (the statistics' horizon) and the previous prepared frame
    (for backward motion). `reset()` starts a new stream (e.g. after a gap).
    """

    def __init__(self, layout: str | Layout, spec: InputSpec):
        _check(spec)
        self.layout, self.spec = get_layout(layout), spec
        self.reset()

    def reset(self) -> None:
        self._ring: Adapted | None = None       # last <= K adapted frames, oldest first
        self._prev: tuple[Adapted, np.ndarray | None] | None = None  # previous normalised frame

    def _missing(self) -> tuple[np.ndarray, np.ndarray]:
        kp = np.zeros((self.spec.num_person, 1, self.layout.num_joints, self.spec.coords), np.float32)
        return kp, np.zeros(kp.shape[:3], np.float32)

    def push(self, keypoints=None, scores=None) -> dict[str, np.ndarray]:
        """keypoints [M,V,C] or [V,C] (None: a missing frame), scores [M,V] or [V] or None."""
        if keypoints is None:
            kp, sc = self._missing()
        else:
            kp = np.asarray(keypoints, np.float32)
            kp = (kp[None] if kp.ndim == 2 else kp)[:, None]
            sc = None if scores is None else np.asarray(scores, np.float32).reshape(kp.shape[:3])
        frame = adapt(kp, sc, self.layout, self.spec)
        k = self.spec.norm_horizon
        self._ring = frame if self._ring is None else _concat(self._ring, frame, k)
        norm, mask = normalise_causal(self._ring, self.spec, _num_frames(self._ring) - 1)
        if self.spec.stream in ("jm", "bm"):  # backward motion: prepare [previous, this] frames
            prev = self._prev if self._prev is not None else self._zero_like(norm, mask)
            self._prev = (norm, mask)
            pair = _concat(prev[0], norm, 2)
            pmask = None if mask is None else np.concatenate([prev[1], mask], axis=2)
            return _drop_first(to_inputs(pair, pmask, self.spec), 1)
        return to_inputs(norm, mask, self.spec)

    @staticmethod
    def _zero_like(norm: Adapted, mask):
        z = Adapted(**{k: np.zeros_like(getattr(norm, k)) for k in _PARTS if getattr(norm, k) is not None})
        return z, None if mask is None else np.zeros_like(mask)
