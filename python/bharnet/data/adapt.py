"""Layout adapter: any registered source layout -> the joints one model consumes.

Output is channel-last and instance-major, so that every later step (augmentation, normalisation,
streams) sees time at axis -3 and joints at axis -2:

- body  [M, T, Vb, C], body_score [M, T, Vb]
- hand  [M, 2, T, 21, C] (side 0 = left, 1 = right), hand_score [M, 2, T, 21]
- joints [M, T, 65, C], joints_score [M, T, 65]   (unified models only)

A joint is *missing* when its score is below the threshold, any used coordinate is non-finite (or
absurdly large), or all its coordinates are exactly zero (the convention of MediaPipe and most
exporters for "not detected"). Missing joints get zero coordinates and zero score, so nothing
downstream can see NaN/inf or a bogus position.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..layouts import HAND21, MISSING, Layout, get_layout
from .spec import UNIFIED_LAYOUT, InputSpec

# Coordinates beyond this magnitude are treated like inf: a detector glitch, not a position.
COORD_LIMIT = 1e6


@dataclass
class Adapted:
    """The adapter's output (see module docstring for shapes). Arrays may be modified in place."""

    body: np.ndarray | None = None
    body_score: np.ndarray | None = None
    hand: np.ndarray | None = None
    hand_score: np.ndarray | None = None
    joints: np.ndarray | None = None
    joints_score: np.ndarray | None = None


@dataclass(frozen=True)
class _Plan:
    gather: np.ndarray   # source indices of all wanted joints, MISSING replaced by 0
    valid: np.ndarray    # bool per gathered joint: False where the source lacks it
    n_body: int          # first n_body gathered joints are the body (or unified joints)
    has_hands: bool


def _hand_names(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_hand_{n}" for n in HAND21.joints)


def source_has_hands(layout: Layout) -> bool:
    return layout.has_part("left_hand") and layout.has_part("right_hand")


def _one_hand_sources(layout: Layout) -> tuple[tuple[str, ...], ...]:
    """The hands a source offers to one-hand routing, each as its hand21 joint names: its left and
    right hands, or a single hand of no stated side (the bare hand21 names: hand21, shrec22)."""
    have = set(layout.joints)
    if all(n in have for n in HAND21.joints):
        return (tuple(HAND21.joints),)
    return tuple(_hand_names(side) for side in ("left", "right")
                 if layout.has_part(f"{side}_hand"))


def hands_problem(layout: str | Layout, spec: InputSpec) -> str | None:
    """Why a source layout cannot feed this model's hand inputs (None when it can)."""
    src = get_layout(layout)
    if spec.hand_routing == "one":
        if not _one_hand_sources(src):
            return (f"one-hand routing needs a hand, but source layout {src.name!r} has neither "
                    f"hand21 joints nor left_hand/right_hand parts")
        return None
    if (spec.unified or spec.hands) and not source_has_hands(src):
        what = "a unified whole-body graph" if spec.unified else "a hand expert"
        return (f"the model has {what} but source layout {src.name!r} has no hands (no left_hand/"
                f"right_hand parts); use a whole-body layout (e.g. coco_wholebody, "
                f"mediapipe_holistic), a body-only model, or data.hand_routing: one for one-hand "
                f"data (hand21, shrec22)")
    return None


@lru_cache(maxsize=256)
def _plan(layout_name: str, spec: InputSpec) -> _Plan:
    src = get_layout(layout_name)
    pos = {n: i for i, n in enumerate(src.joints)}
    wanted: list[int] = []
    n_body = 0
    why = hands_problem(src, spec)
    if why:
        raise ValueError(why)
    if spec.hand_routing == "one":  # the candidate hands, one after the other (see _route_one_hand)
        idx = np.asarray([pos[n] for hand in _one_hand_sources(src) for n in hand], dtype=np.int64)
        return _Plan(idx, np.ones(idx.shape, bool), 0, True)
    if spec.unified:
        wanted = [int(i) for i in src.index_map(get_layout(UNIFIED_LAYOUT))]
        n_body = len(wanted)
    else:
        if spec.needs_body_joints:  # a body input, or the frame the hands are placed in
            wanted = [int(i) for i in src.index_map(get_layout(spec.body_layout))]
            n_body = len(wanted)
        if spec.hands:
            wanted += [pos.get(n, MISSING) for side in ("left", "right") for n in _hand_names(side)]
    idx = np.asarray(wanted, dtype=np.int64)
    valid = idx != MISSING
    return _Plan(np.where(valid, idx, 0), valid, n_body, spec.hands and not spec.unified)


def coords_ok(g: np.ndarray) -> np.ndarray:
    """[..., C] -> [...] bool: finite, not absurd, not all zero (NaN compares False).

    Written per channel: NumPy reductions over a length-2/3 last axis are several times slower.
    """
    a = np.abs(g)
    ok = a[..., 0] < COORD_LIMIT
    nonzero = a[..., 0] > 0
    for c in range(1, g.shape[-1]):
        ok &= a[..., c] < COORD_LIMIT
        nonzero |= a[..., c] > 0
    return ok & nonzero


def _as_arrays(keypoints, scores, layout: Layout, spec: InputSpec):
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4:
        raise ValueError(f"keypoints must be [M,T,V,C] or [T,V,C], got shape {kp.shape}")
    if kp.shape[2] != layout.num_joints:
        raise ValueError(f"keypoints have V={kp.shape[2]} joints but layout {layout.name!r} has "
                         f"{layout.num_joints} (shape {kp.shape})")
    if kp.shape[3] < spec.coords:
        raise ValueError(f"keypoints have C={kp.shape[3]} channels but the model uses "
                         f"{spec.coords} coordinates (shape {kp.shape})")
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float32)
        if sc.ndim == 2:
            sc = sc[None]
        if sc.shape != kp.shape[:3]:
            raise ValueError(f"scores shape {sc.shape} does not match keypoints {kp.shape} "
                             f"(expected {kp.shape[:3]})")
    else:
        sc = None
    return kp, sc


def adapt(keypoints, scores, layout: str | Layout, spec: InputSpec) -> Adapted:
    """Pick the model's joints from a clip in any registered layout and mark missing joints.

    keypoints [M,T,V,Cin] (or [T,V,Cin], M=1); scores [M,T,V] or None (all present unless the
    coordinates are all zero or non-finite). Persons are cropped (first M kept: converters order
    them by importance) or padded with missing persons to spec.num_person. Raw MediaPipe Holistic
    or COCO-WholeBody arrays: split them with `wholebody.to_keypoints` first (hands carry no
    visibility in MediaPipe, so their scores must come from detection).
    """
    layout = get_layout(layout)
    plan = _plan(layout.name, spec)
    kp, sc = _as_arrays(keypoints, scores, layout, spec)

    m_in, t = kp.shape[0], kp.shape[1]
    m = spec.num_person
    g = np.take(kp[:m, :, :, : spec.coords], plan.gather, axis=2)   # [m', T, J, C] copy
    s = np.take(sc[:m], plan.gather, axis=2) if sc is not None else None
    if m_in < m:
        pad = m - m_in
        g = np.concatenate([g, np.zeros((pad,) + g.shape[1:], np.float32)], 0)
        s = (np.concatenate([s, np.zeros((pad,) + s.shape[1:], np.float32)], 0) if s is not None
             else None)
        if s is None:  # padded persons are missing even though no scores were given
            s = np.ones(g.shape[:3], np.float32)
            s[m_in:] = 0.0

    with np.errstate(invalid="ignore"):
        ok = coords_ok(g)
        if s is not None:
            ok &= s >= spec.score_threshold
    ok &= plan.valid
    g = np.where(ok[..., None], g, np.float32(0))
    s = np.where(ok, s if s is not None else np.float32(1), np.float32(0)).astype(np.float32)

    out = Adapted()
    if spec.hand_routing == "one":
        return _route_one_hand(g, s, spec)
    nb = plan.n_body
    if spec.unified:
        out.joints, out.joints_score = g, s
        return out
    if nb:
        out.body, out.body_score = g[:, :, :nb], s[:, :, :nb]
    if plan.has_hands:
        h = g[:, :, nb:].reshape(m, t, 2, HAND21.num_joints, spec.coords)
        hs = s[:, :, nb:].reshape(m, t, 2, HAND21.num_joints)
        out.hand = np.ascontiguousarray(h.transpose(0, 2, 1, 3, 4))
        out.hand_score = np.ascontiguousarray(hs.transpose(0, 2, 1, 3))
    return out


def _route_one_hand(g: np.ndarray, s: np.ndarray, spec: InputSpec) -> Adapted:
    """One-hand routing (InputSpec.hand_routing "one"): g [M,T,21*K,C] holds the K (1 or 2) candidate
    hands, missing joints already zeroed. Why this way: one trained model then serves a stream where
    either hand is the tracked one, and a left-hand swipe to the right still reads as one."""
    m, t, _, c = g.shape
    h = g.reshape(m, t, -1, HAND21.num_joints, c)
    hs = s.reshape(m, t, -1, HAND21.num_joints)
    if h.shape[2] == 1:            # a hand of no stated side: taken as it is
        r, rs = h[:, :, 0], hs[:, :, 0]
    else:                          # left (0) and right (1): the one with more present joints
        count = (hs > 0).sum(-1)
        left = count[..., 0] > count[..., 1]                      # [M,T]; right on a tie
        r = np.where(left[..., None, None], h[:, :, 0], h[:, :, 1])
        rs = np.where(left[..., None], hs[:, :, 0], hs[:, :, 1])
        if left.any():             # mirror a left hand about its wrist (x' = 2 x_pivot - x)
            present = rs > 0
            pivot = np.where(present[..., 0], r[..., 0, 0],
                             (r[..., 0] * present).sum(-1) / np.maximum(present.sum(-1), 1))
            flipped = np.where(present, 2 * pivot[..., None] - r[..., 0], np.float32(0))
            r = r.copy()
            r[..., 0] = np.where(left[..., None], flipped, r[..., 0])
    out = Adapted()
    if spec.body:
        out.body, out.body_score = np.ascontiguousarray(r), np.ascontiguousarray(rs)
    if spec.hands:
        out.hand = np.zeros((m, 2, t, HAND21.num_joints, c), np.float32)
        out.hand_score = np.zeros((m, 2, t, HAND21.num_joints), np.float32)
        out.hand[:, 1], out.hand_score[:, 1] = r, rs
    return out
