"""Temporal sampling of a clip to the model's fixed window.

- "uniform": the clip is cut into `window` equal segments and one frame is taken from each (a
  random one when training, evenly staggered positions for the k test clips). Covers the whole action.
- "crop": a contiguous run of `window` frames (random start when training, evenly spaced starts for
  the k test clips). Keeps the native speed; this is what the SDK's sliding window sees.

Clips shorter than the window are *looped* by default (the clip is repeated, as PYSKL does, so
the model never sees long runs of empty frames); `short="pad"` instead appends missing frames
(index -1), matching a stream that has just started.
"""
from __future__ import annotations

import numpy as np

MODES = ("uniform", "crop")


def _short(n: int, window: int, starts: np.ndarray, short: str) -> np.ndarray:
    if short == "loop":
        return (starts[:, None] + np.arange(window)[None, :]) % n
    if short == "pad":
        idx = np.arange(window)[None, :].repeat(len(starts), 0)
        return np.where(idx < n, idx, -1)
    raise ValueError(f"short must be 'loop' or 'pad', got {short!r}")


def sample_indices(n: int, window: int, mode: str = "uniform", rng: np.random.Generator | None = None,
                   num_clips: int = 1, short: str = "loop") -> np.ndarray:
    """Frame indices [num_clips, window] into a clip of n frames (-1 = missing frame).

    With rng (training) the positions are random; without, deterministic and evenly spread.
    """
    if n < 1:
        raise ValueError(f"cannot sample a clip with {n} frames")
    if mode not in MODES:
        raise ValueError(f"sampling mode must be one of {MODES}, got {mode!r}")
    k = int(num_clips)
    if n < window:
        starts = (rng.integers(0, n, size=k) if rng is not None
                  else (np.arange(k) * n) // k)
        return _short(n, window, np.asarray(starts), short)
    if mode == "crop":
        span = n - window
        if rng is not None:
            starts = rng.integers(0, span + 1, size=k)
        else:  # one clip: the middle; several: evenly from the first to the last possible start
            starts = np.round(np.linspace(0, span, k) if k > 1 else [span / 2]).astype(int)
        return np.asarray(starts)[:, None] + np.arange(window)[None, :]
    seg = n / window
    frac = rng.random((k, window)) if rng is not None else ((np.arange(k) + 0.5) / k)[:, None]
    idx = np.floor((np.arange(window)[None, :] + frac) * seg).astype(np.int64)
    return np.minimum(idx, n - 1)


def take_frames(keypoint: np.ndarray, score: np.ndarray | None, idx: np.ndarray):
    """Gather frames idx [window] along T of keypoint [M,T,V,C] / score [M,T,V]; -1 -> missing."""
    idx = np.asarray(idx)
    safe = np.where(idx >= 0, idx, 0)
    kp = keypoint[:, safe]
    sc = score[:, safe] if score is not None else np.ones(kp.shape[:3], np.float32)
    if (idx < 0).any():
        kp = kp.copy()
        sc = np.array(sc, copy=True)
        kp[:, idx < 0] = 0
        sc[:, idx < 0] = 0
    return kp, sc
