"""Temporal sampling of a clip to the model's fixed window.

- "uniform": the clip is cut into `window` equal segments and one frame is taken from each (a
  random one when training, evenly staggered positions for the k test clips). Covers the whole action.
- "crop": a contiguous run of `window` frames (random start when training, evenly spaced starts for
  the k test clips). Keeps the native speed; this is what the SDK's sliding window sees.
- "stretch": the uniform formula at every length: a clip shorter than the window repeats frames
  evenly (slow motion) instead of looping, which would splice the action's end onto its start
  (right for trimmed datasets of whole actions such as JHMDB, 15-40 frames).
- "stream": the `window` frames ending at frame e, frames before the clip's start missing (left
  padding, index -1): what a stream's model sees at frame e, its state started empty at the clip's
  first frame. Testing: e = the clip's last frame (k test clips: ends evenly spread over the range
  below); training: e drawn uniformly from [min(n, window) - 1, n - 1], i.e. the window lies inside
  the clip, or ends at its last frame when the clip is shorter than the window.

For uniform and crop, clips shorter than the window are *looped* by default (the clip is repeated,
as PYSKL does, so the model never sees long runs of empty frames); `short="pad"` instead appends
missing frames (index -1).
"""
from __future__ import annotations

import numpy as np

MODES = ("uniform", "crop", "stretch", "stream")


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
    if mode == "stream":
        return _stream(n, window, rng, k)
    if n < window and mode != "stretch":
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


def _stream(n: int, window: int, rng: np.random.Generator | None, k: int) -> np.ndarray:
    first = min(n, window) - 1
    if rng is not None:
        ends = rng.integers(first, n, size=k)
    else:  # one clip: the last frame; several: evenly up to the last frame
        ends = np.round(np.linspace(first, n - 1, k) if k > 1 else [n - 1]).astype(int)
    idx = np.asarray(ends)[:, None] - (window - 1) + np.arange(window)[None, :]
    return np.where(idx >= 0, idx, -1)


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
