"""Calibration-free normalisation: translation and isotropic scale only, no rotation alignment.

- Body: centred on the median of all present body joints over the clip (all persons, all frames,
  so that motion across the image and the relation between persons survive) and divided by the
  median length of the present bones (robust to missing joints and independent of how many persons
  are in the clip).
- Hands: each hand instance is centred per frame on its wrist (or the mean of its present joints if
  the wrist is missing) and divided by its own size, the mean wrist-to-finger-base (MCP) distance
  over the clip. The left hand is mirrored in x so both hands look alike to the shared hand expert.
  A hand counts as present in a frame when at least HAND_MIN_JOINTS of its joints are present;
  otherwise the whole hand is zeroed for that frame.
- Unified: the body's centre and scale are applied to all 65 joints; the hands get no frame of
  their own (this is the handicap of the unified method the paper argues against).

Missing joints stay exactly zero. Scores are not touched.

These are the "window" normalisation's statistics (one set per window). The causal ("causal-v1")
normalisation of streaming models applies the same statistics per frame, over the frame's trailing
horizon only: see causal.py.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..layouts import get_layout
from .adapt import Adapted
from .spec import UNIFIED_LAYOUT, InputSpec

HAND_MIN_JOINTS = 5
_MCP = np.array([5, 9, 13, 17])  # index, middle, ring, pinky bases in hand21
_EPS = 1e-6

NORMALISATION = {
    "version": "bharnet-norm-1",
    "body": "centre=median of present body joints over clip (all persons); "
            "scale=median present bone length (the layout's body part only)",
    "hand": "per-frame wrist centre; scale=mean wrist-MCP distance over clip; left hand x mirrored",
    "unified": "body centre and scale applied to all joints",
    "hand_present_min_joints": HAND_MIN_JOINTS,
    "missing": "score<threshold or non-finite or all-zero coords -> zero coords and zero score",
    "motion": "x[t+1]-x[t], last frame 0, zero unless both frames present",
    "bone": "x[joint]-x[parent] (layout bone_pairs), zero unless both joints present",
}


CAUSAL_NORMALISATION = {
    **NORMALISATION,
    "version": "bharnet-norm-causal-1",
    "body": "per frame t, over the present frames [t-K+1, t] of the stream: centre=median of present "
            "body joints (all persons); scale=median present bone length (the layout's body part "
            "only); frame t is normalised once and never changes",
    "hand": "per-frame wrist centre; scale=mean wrist-MCP distance over frames [t-K+1, t]; "
            "left hand x mirrored",
    "unified": "body centre and scale (over frames [t-K+1, t]) applied to all joints",
    "motion": "x[t]-x[t-1], first frame 0, zero unless both frames present",
    "before_start": "frames before a stream's first frame are missing (zero coords, zero score, "
                    "hand absent)",
}


HAND_BODY_FRAME = ("hand_frame body: the hands get the body's centre and scale (per window, or per "
                   "frame over [t-K+1, t] when causal) instead of their own; left hand x mirrored "
                   "about the body centre")


def normalisation_metadata(spec: InputSpec) -> dict:
    """What goes into the bundle's metadata: the method plus the spec it was applied with."""
    base = CAUSAL_NORMALISATION if spec.causal else NORMALISATION
    extra = {"horizon": spec.norm_horizon} if spec.causal else {}
    if spec.hands_in_body_frame:
        extra["hand"] = HAND_BODY_FRAME
    return {**base, **extra, "spec": spec.to_dict()}


def norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last (2 or 3 long) axis, per channel: faster than linalg.norm."""
    sq = v[..., 0] * v[..., 0]
    for c in range(1, v.shape[-1]):
        sq += v[..., c] * v[..., c]
    return np.sqrt(sq)


def bone_arrays(layout_name: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.asarray(get_layout(layout_name).bone_pairs, dtype=np.int64)
    return pairs[:, 0], pairs[:, 1]


@lru_cache(maxsize=64)
def _stats_plan(layout_name: str) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(joint mask of the body part or None for all, bone children, bone parents) for body stats.

    Layouts with more than a body (unified, a whole-body layout used as a body graph) take their
    centre and scale from the "body" part only, so small hand bones do not shrink the scale.
    """
    lay = get_layout(layout_name)
    child, parent = bone_arrays(layout_name)
    real = child != parent
    if lay.has_part("body") and len(lay.part("body")) < lay.num_joints:
        sub = np.zeros(lay.num_joints, bool)
        sub[list(lay.part("body"))] = True
        keep = real & sub[child] & sub[parent]
        return sub, child[keep], parent[keep]
    return None, child[real], parent[real]


def body_stats(x: np.ndarray, present: np.ndarray, layout_name: str) -> tuple[np.ndarray, float]:
    """Robust (centre [C], scale) of a body [M,T,V,C] over its present (body-part) joints."""
    sub, child, parent = _stats_plan(layout_name)
    pts = x[present & sub] if sub is not None else x[present]
    if pts.shape[0] == 0:
        return np.zeros(x.shape[-1], np.float32), 1.0
    centre = np.median(pts, axis=0)
    both = present[..., child] & present[..., parent]
    lengths = norm(x[..., child, :] - x[..., parent, :])[both]
    scale = float(np.median(lengths)) if lengths.size else 0.0
    if scale < _EPS:  # no usable bone: fall back to the spread of the points
        scale = float(np.sqrt((norm(pts - centre) ** 2).mean()))
    return centre.astype(np.float32), (scale if scale > _EPS else 1.0)


def hand_stats(h: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame centre [M,2,T,1,C] and per-instance scale [M,2,1,1,1] of hands [M,2,T,21,C]."""
    centre = h[..., :1, :].copy()
    no_wrist = ~present[..., 0] & present.any(-1)           # found hand whose wrist is missing
    if no_wrist.any():  # use the mean of its present joints instead (rare: computed only then)
        p = present[..., None].astype(np.float32)
        mean = (h * p).sum(-2) / np.maximum(p.sum(-2), 1.0)
        centre[no_wrist, 0] = mean[no_wrist]
    d = norm(h[..., _MCP, :] - h[..., :1, :])              # [M,2,T,4]
    ok = present[..., _MCP] & present[..., :1]
    n = ok.sum((-2, -1))
    scale = (d * ok).sum((-2, -1)) / np.maximum(n, 1)
    if (n == 0).any():  # no wrist-MCP pair all clip: rms spread around the frame centres
        spread = (norm(h - centre) ** 2 * present).sum((-2, -1)) / np.maximum(present.sum((-2, -1)), 1)
        scale = np.where(n > 0, scale, np.sqrt(spread))
    scale = np.where(scale > _EPS, scale, 1.0)
    return centre, scale[..., None, None, None].astype(np.float32)


def hand_presence(score: np.ndarray) -> np.ndarray:
    """[M,2,T] bool: enough joints of the hand are present in the frame."""
    return (score > 0).sum(-1) >= HAND_MIN_JOINTS


def hands_to_body_frame(h: np.ndarray, present: np.ndarray, centre: np.ndarray, scale) -> np.ndarray:
    """Hands [M,2,T,21,C] placed in the body's frame (hand_frame "body"): the body's centre and
    scale, left hand mirrored in x about the body centre (so a left-handed signer looks like a
    right-handed one to the shared hand expert). `centre` [C] or [T,1,C] per frame, `scale` a
    number or [T,1,1]. Missing joints stay zero."""
    out = np.where(present[..., None], (h - centre) / scale, np.float32(0))
    out[:, 0, ..., 0] *= -1.0
    return out.astype(np.float32)


def normalise(a: Adapted, spec: InputSpec) -> np.ndarray | None:
    """Normalise in place; returns the hand presence mask [M,2,T] (None without hands)."""
    if a.body is not None:
        present = a.body_score > 0
        c, s = body_stats(a.body, present, spec.body_layout)
        a.body = np.where(present[..., None], (a.body - c) / s, np.float32(0)).astype(np.float32)
        body_frame = (c, s)
        if not spec.body:  # picked only to place the hands (hand_only with hand_frame "body")
            a.body = a.body_score = None
    if a.joints is not None:
        present = a.joints_score > 0
        c, s = body_stats(a.joints, present, UNIFIED_LAYOUT)
        a.joints = np.where(present[..., None], (a.joints - c) / s, np.float32(0)).astype(np.float32)
    if a.hand is None:
        return None
    mask = hand_presence(a.hand_score)
    a.hand_score = np.where(mask[..., None], a.hand_score, np.float32(0))
    present = a.hand_score > 0
    if spec.hands_in_body_frame:
        a.hand = hands_to_body_frame(a.hand, present, *body_frame)
        return mask
    centre, scale = hand_stats(a.hand, present)
    h = np.where(present[..., None], (a.hand - centre) / scale, np.float32(0))
    h[:, 0, ..., 0] *= -1.0  # mirror the left hand in x
    a.hand = h.astype(np.float32)
    return mask

