"""Is there a person? The fraction of a window's frames that show a body.

A body joint is valid when the pipeline would keep it (finite, not absurd, not all-zero
coordinates, score at least the model's threshold: bharnet.data.adapt's rule); a frame shows a
body when some person has at least BODY_MIN_FRACTION of the layout's body joints valid (and at
least BODY_MIN_JOINTS), so a half-visible person counts and a few stray points do not.
For a one-hand model (InputSpec.hand_routing "one": SHREC-style hand gestures) the hands are what
"someone is there" means: the same rule over the layout's hand joints (all joints if it has none).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..data.adapt import coords_ok
from ..layouts import get_layout

BODY_MIN_FRACTION = 0.25
BODY_MIN_JOINTS = 3


@lru_cache(maxsize=32)
def _body_plan(layout: str, hands: bool = False) -> tuple[np.ndarray, int]:
    lay = get_layout(layout)
    parts = ("left_hand", "right_hand", "hand") if hands else ("body",)
    have = sorted({i for p in parts if lay.has_part(p) for i in lay.part(p)})
    idx = np.asarray(have or range(lay.num_joints), np.int64)
    need = max(BODY_MIN_JOINTS, math.ceil(BODY_MIN_FRACTION * len(idx)))
    return idx, min(need, len(idx))


def body_frames(kp: np.ndarray, sc: np.ndarray, layout: str, coords: int,
                score_threshold: float, hands: bool = False) -> np.ndarray:
    """[T] bool: frames of kp [M,T,V,C] / sc [M,T,V] (source layout) that show a body."""
    if kp.shape[0] == 0:
        return np.zeros(kp.shape[1], bool)
    idx, need = _body_plan(layout, hands)
    g = kp[:, :, idx, :coords]
    with np.errstate(invalid="ignore"):
        ok = coords_ok(g) & (sc[:, :, idx] >= score_threshold)
    return (ok.sum(-1) >= need).any(0)


def body_presence(kp, sc, layout: str, coords: int, score_threshold: float,
                  hands: bool = False) -> float:
    f = body_frames(kp, sc, layout, coords, score_threshold, hands)
    return float(f.mean()) if f.size else 0.0
