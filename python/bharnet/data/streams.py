"""Input streams: joint (j), bone (b), joint motion (jm), bone motion (bm).

All functions take channel-last arrays with time at axis -3 and joints at axis -2, plus the
matching presence mask; a bone or a motion is zero unless every joint it uses is present, so a
missing joint (stored as 0) never produces a huge spurious bone or jump.
"""
from __future__ import annotations

import numpy as np

from .normalise import bone_arrays


def bones(x: np.ndarray, present: np.ndarray, layout_name: str) -> tuple[np.ndarray, np.ndarray]:
    child, parent = bone_arrays(layout_name)
    ok = present[..., child] & present[..., parent]
    b = np.where(ok[..., None], x[..., child, :] - x[..., parent, :], np.float32(0))
    return b, ok


def motion(x: np.ndarray, present: np.ndarray) -> np.ndarray:
    m = np.zeros_like(x)
    ok = present[..., 1:, :] & present[..., :-1, :]
    m[..., :-1, :, :] = np.where(ok[..., None], x[..., 1:, :, :] - x[..., :-1, :, :], 0)
    return m


def stream(x: np.ndarray, present: np.ndarray, layout_name: str, kind: str) -> np.ndarray:
    """The coordinates of stream `kind` for x [..., T, V, C] (scores are handled by the caller)."""
    if kind == "j":
        return x
    if kind == "jm":
        return motion(x, present)
    b, ok = bones(x, present, layout_name)
    if kind == "b":
        return b
    if kind == "bm":
        return motion(b, ok)
    raise ValueError(f"unknown stream {kind!r}; expected one of j, b, jm, bm")
