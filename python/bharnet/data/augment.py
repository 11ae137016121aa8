"""Training-time augmentation on adapted (not yet normalised) joints, seeded by the caller's rng.

Applied between `adapt` and `normalise`, to all parts of one clip consistently. Note that an
isotropic scale would be undone by the (scale-normalising) pipeline, so `scale` draws one factor per
axis (aspect change), which normalisation keeps.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..layouts import get_layout
from .adapt import Adapted
from .normalise import body_stats, hand_stats
from .spec import UNIFIED_LAYOUT, InputSpec


@dataclass(frozen=True)
class Augment:
    rotate_deg: float = 15.0      # 2D: in-plane; 3D: about the vertical (y) axis
    scale: float = 0.1            # per-axis factor drawn from [1-scale, 1+scale]
    noise: float = 0.03           # Gaussian std as a fraction of the body size (median bone)
    hand_drop_p: float = 0.1      # per hand instance: drop it for the whole clip
    hand_span_p: float = 0.2      # per hand instance: drop it for a random span of frames
    hand_span_max: float = 0.5    # longest span, as a fraction of T
    frame_drop_p: float = 0.2     # per clip: drop some random frames (all joints missing)
    frame_drop_frac: float = 0.1  # fraction of frames dropped when it happens

    def to_dict(self) -> dict:
        return asdict(self)


def _linear(coords: int, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    theta = np.deg2rad(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
    c, s = np.cos(theta), np.sin(theta)
    scale = rng.uniform(1 - aug.scale, 1 + aug.scale, size=coords)
    if coords == 2:
        rot = np.array([[c, -s], [s, c]])
    else:  # about the vertical axis: mixes x and z
        rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return (rot * scale[None, :]).astype(np.float32)  # R @ diag(scale)


def _parts(a: Adapted):
    """(coords, score) pairs of every part present in `a`."""
    return [(x, s) for x, s in ((a.body, a.body_score), (a.hand, a.hand_score),
                                (a.joints, a.joints_score)) if x is not None]


def _hand_views(a: Adapted):
    """Hand instances as ([M,2,T,21,C], [M,2,T,21]) copies plus a function writing them back."""
    if a.hand is not None:
        def put(h, s):
            a.hand, a.hand_score = h, s
        return a.hand, a.hand_score, put
    if a.joints is not None:
        lay = get_layout(UNIFIED_LAYOUT)
        idx = np.asarray(lay.part("left_hand") + lay.part("right_hand"))
        m, t = a.joints.shape[:2]
        h = a.joints[:, :, idx].reshape(m, t, 2, 21, -1).transpose(0, 2, 1, 3, 4)
        s = a.joints_score[:, :, idx].reshape(m, t, 2, 21).transpose(0, 2, 1, 3)

        def put(h2, s2):
            a.joints[:, :, idx] = h2.transpose(0, 2, 1, 3, 4).reshape(m, t, 42, -1)
            a.joints_score[:, :, idx] = s2.transpose(0, 2, 1, 3).reshape(m, t, 42)
        return h, s, put
    return None, None, None


def _noise_scale(a: Adapted, spec: InputSpec) -> float:
    if a.body is not None:
        return body_stats(a.body, a.body_score > 0, spec.body_layout)[1]
    if a.joints is not None:
        return body_stats(a.joints, a.joints_score > 0, UNIFIED_LAYOUT)[1]
    _, hsc = hand_stats(a.hand, a.hand_score > 0)
    return float(np.median(hsc))


def augment_adapted(a: Adapted, spec: InputSpec, aug: Augment, rng: np.random.Generator) -> Adapted:
    """Augment in place (and return) one adapted clip."""
    parts = _parts(a)
    masks = [(sc > 0)[..., None] for _, sc in parts]               # presence, broadcast over C
    # 1. affine about the centre of all present points (so nothing is flung across the image)
    count = sum(float(m.sum()) for m in masks)
    if count:
        centre = sum((x * m).reshape(-1, x.shape[-1]).sum(0) for (x, _), m in zip(parts, masks)) / count
        lin = _linear(spec.coords, aug, rng)
        for (x, _), m in zip(parts, masks):
            x[...] = ((x - centre) @ lin.T + centre) * m
    # 2. noise: detector noise is about the same in image units for every joint, so one sigma
    #    (a fraction of the body's size) serves all parts; hand-only models fall back to hand size
    if aug.noise > 0:
        sigma = np.float32(_noise_scale(a, spec) * aug.noise)
        for (x, _), m in zip(parts, masks):
            x += rng.standard_normal(x.shape, dtype=np.float32) * sigma * m
    # 3. hand dropout (clip-long or a span) and frame drop
    h, hs, put = _hand_views(a)
    t = parts[0][0].shape[-3]
    if h is not None:
        m = h.shape[0]
        keep = np.ones((m, 2, t), bool)
        whole = rng.random((m, 2)) < aug.hand_drop_p
        keep[whole] = False
        span = rng.random((m, 2)) < aug.hand_span_p
        lengths = np.maximum(1, (rng.random((m, 2)) * aug.hand_span_max * t).astype(int))
        starts = (rng.random((m, 2)) * np.maximum(t - lengths + 1, 1)).astype(int)
        frames = np.arange(t)
        in_span = (frames >= starts[..., None]) & (frames < (starts + lengths)[..., None])
        keep &= ~(span[..., None] & in_span)
        hs = hs * keep[..., None]
        put(np.where((hs > 0)[..., None], h, 0).astype(np.float32), hs.astype(np.float32))
    if aug.frame_drop_p > 0 and rng.random() < aug.frame_drop_p:
        n_drop = max(1, int(round(aug.frame_drop_frac * t)))
        drop = rng.choice(t, size=min(n_drop, t), replace=False)
        for x, s in _parts(a):
            idx = (Ellipsis, drop, slice(None))
            s[idx] = 0
            x[idx + (slice(None),)] = 0
    return a
