"""Input streams: joint (j), bone (b), joint motion (jm), bone motion (bm).

All functions take channel-last arrays with time at axis -3 and joints at axis -2, plus the
matching presence mask; a bone or a motion is zero unless every joint it uses is present, so a
missing joint (stored as 0) never produces a huge spurious bone or jump.

Motion is forward (x[t+1] - x[t], last frame 0) for windowed models and backward (x[t] - x[t-1],
first frame 0) for causal ones, whose frame t may not look at frame t+1.
"""
from __future__ import annotations

import numpy as np

from .normalise import bone_arrays


def bones(x: np.ndarray, present: np.ndarray, layout_name: str) -> tuple[np.ndarray, np.ndarray]:
    child, parent = bone_arrays(layout_name)
    ok = present[..., child] & present[..., parent]
    b = np.where(ok[..., None], x[..., child, :] - x[..., parent, :], np.float32(0))
    return b, ok


def motion(x: np.ndarray, present: np.ndarray, backward: bool = False) -> np.ndarray:
    m = np.zeros_like(x)
    ok = present[..., 1:, :] & present[..., :-1, :]
    d = np.where(ok[..., None], x[..., 1:, :, :] - x[..., :-1, :, :], 0)
    if backward:
        m[..., 1:, :, :] = d
    else:
        m[..., :-1, :, :] = d
    return m


def stream(x: np.ndarray, present: np.ndarray, layout_name: str, kind: str,
           backward: bool = False) -> np.ndarray:
    """The coordinates of stream `kind` for x [..., T, V, C] (scores are handled by the caller);
    backward: causal motion (see the module docstring)."""
    if kind == "j":
        return x
    if kind == "jm":
        return motion(x, present, backward)
    b, ok = bones(x, present, layout_name)
    if kind == "b":
        return b
    if kind == "bm":
        return motion(b, ok, backward)
    raise ValueError(f"unknown stream {kind!r}; expected one of j, b, jm, bm")
