"""A small NumPy renderer of coco_wholebody keypoints into RGB frames, so the RGB path can be
trained and tested here without video data.

It draws a textured background, a clothed body (limbs and torso as thick anti-aliased strokes with a
striped texture), a skin-coloured head, hands whose 21 joints are drawn as fingers, and dark shoes.
Nothing here tries to look real: the point is that hands and feet are *visible* in the pixels with
their true shape, so the RGB branch can learn what the (noisier) keypoints lose.

Keypoints are coco_wholebody [T, 133, >=2] in pixels; frames come out RGB uint8 [H, W, 3].
Only the requested frames are rendered (training needs K per clip, not the whole clip).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layouts import get_layout

_L = get_layout("coco_wholebody")
_I = {n: i for i, n in enumerate(_L.joints)}
_LIMBS = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
          ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
          ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
          ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
          ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
          ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")]
_FEET = [(a, b) for s in ("left", "right")
         for a, b in ((f"{s}_ankle", f"{s}_big_toe"), (f"{s}_ankle", f"{s}_small_toe"),
                      (f"{s}_ankle", f"{s}_heel"), (f"{s}_big_toe", f"{s}_small_toe"))]
_HAND_EDGES = {s: [(91 + 21 * k + a, 91 + 21 * k + b) for a, b in get_layout("hand21").edges]
               for k, s in enumerate(("left", "right"))}


@dataclass
class Style:
    """Colours and textures of one clip (drawn once per clip so frames are consistent)."""
    background: np.ndarray      # [H, W, 3] float32
    cloth: np.ndarray           # [3]
    skin: np.ndarray            # [3]
    shoe: np.ndarray            # [3]
    stripe: float               # stripe period of the clothes, pixels

    @classmethod
    def random(cls, size: tuple[int, int], rng: np.random.Generator) -> "Style":
        w, h = size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a, b = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
        t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / max(w, h)
        bg = a + (b - a) * ((t - t.min()) / max(np.ptp(t), 1e-6))[..., None]
        # low-frequency blobs and pixel noise: a background the CNN must learn to ignore
        for _ in range(4):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, 0.3 * max(w, h))
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
            bg += blob[..., None] * rng.uniform(-60, 60, 3)
        bg += rng.normal(0, 6, bg.shape)
        skin = np.array([rng.uniform(150, 240), rng.uniform(100, 190), rng.uniform(70, 150)])
        return cls(bg.astype(np.float32), rng.uniform(20, 235, 3), skin, rng.uniform(0, 60, 3),
                   float(rng.uniform(3, 8)))


def _stroke(img, p, q, radius, colour, stripe=0.0):
    """Anti-aliased thick segment p-q, drawn in place on the float image."""
    h, w = img.shape[:2]
    r = radius + 1.0
    x0, x1 = int(max(min(p[0], q[0]) - r, 0)), int(min(max(p[0], q[0]) + r + 1, w))
    y0, y1 = int(max(min(p[1], q[1]) - r, 0)), int(min(max(p[1], q[1]) + r + 1, h))
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    d = np.asarray(q, np.float32) - np.asarray(p, np.float32)
    ll = float(d @ d)
    t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / ll, 0, 1) if ll > 1e-9 else 0.0
    dist = np.hypot(xx - (p[0] + t * d[0]), yy - (p[1] + t * d[1]))
    alpha = np.clip(radius + 0.5 - dist, 0, 1)[..., None]
    col = np.asarray(colour, np.float32)
    if stripe:
        col = col * (0.75 + 0.25 * np.sign(np.sin((xx + yy) * np.pi / stripe)))[..., None]
    region = img[y0:y1, x0:x1]
    region += alpha * (col - region)


def _ok(p) -> bool:
    return bool(np.isfinite(p).all() and (p != 0).any())


def render_frame(kp: np.ndarray, style: Style, scale: float | None = None) -> np.ndarray:
    """One frame: coco_wholebody keypoints [133, >=2] in pixels -> RGB uint8 [H, W, 3].

    `scale` sets the stroke widths (1.0 suits a torso of 36 pixels, a person about 100 tall);
    None derives it from this frame's torso length.
    """
    img = style.background.copy()
    xy = np.asarray(kp, np.float32)[:, :2]
    j = lambda n: xy[_I[n]]  # noqa: E731
    sh = (j("left_shoulder") + j("right_shoulder")) / 2
    hp = (j("left_hip") + j("right_hip")) / 2
    if scale is None:
        scale = max(float(np.linalg.norm(sh - hp)) / 36.0, 0.3)
    _stroke(img, sh, hp, 9 * scale, style.cloth, style.stripe)          # torso fill
    for a, b in _LIMBS:
        if _ok(j(a)) and _ok(j(b)):
            _stroke(img, j(a), j(b), 3.5 * scale, style.cloth, style.stripe)
    for a, b in _FEET:
        if _ok(j(a)) and _ok(j(b)):
            _stroke(img, j(a), j(b), 2.0 * scale, style.shoe)
    head = np.mean([j(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")], 0)
    _stroke(img, head, head, 7 * scale, style.skin)
    _stroke(img, j("nose"), j("nose"), 1.2 * scale, style.skin * 0.6)   # a nose shows the facing
    for side in ("left", "right"):
        wrist = xy[91 if side == "left" else 112]
        if _ok(wrist):
            _stroke(img, wrist, wrist, 2.5 * scale, style.skin)         # palm root
        for a, b in _HAND_EDGES[side]:
            if _ok(xy[a]) and _ok(xy[b]):
                _stroke(img, xy[a], xy[b], 1.1 * scale, style.skin)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def fill_lost_hands(keypoints: np.ndarray, score: np.ndarray | None, threshold: float = 0.3):
    """Hands a detector lost, put back for drawing: a lost hand is copied from the nearest frame where
    it was found, moved with the body's wrist. In a video the hand is still visible when the
    detector misses it; this keeps that property for rendered frames. A hand never found is zeroed
    (not drawn). keypoints [T, 133, C], score [T, 133] -> a copy [T, 133, C]."""
    kp = np.array(keypoints, np.float32, copy=True)
    if score is None:
        return kp
    for base, wrist in ((91, _I["left_wrist"]), (112, _I["right_wrist"])):
        found = np.asarray(score)[:, base:base + 21].mean(1) >= threshold
        if found.all():
            continue
        if not found.any():
            kp[:, base:base + 21] = 0
            continue
        src = np.flatnonzero(found)
        for t in np.flatnonzero(~found):
            s = src[np.abs(src - t).argmin()]
            kp[t, base:base + 21, :2] = kp[s, base:base + 21, :2] - kp[s, wrist, :2] + kp[t, wrist, :2]
    return kp


def render_frames(keypoints: np.ndarray, frame_idx, size: tuple[int, int], seed: int = 0,
                  scale: float | None = None, score: np.ndarray | None = None,
                  threshold: float = 0.3) -> list[np.ndarray]:
    """Render frames `frame_idx` of a clip [T, 133, >=2] (pixels) at size (width, height).

    The style (background, colours) depends only on `seed`, so one clip always looks the same.
    With `score` [T, 133], hands lost by the detector are filled in first (`fill_lost_hands`).
    """
    kp = np.asarray(keypoints, np.float32)
    if kp.ndim == 4:  # [M, T, V, C]: the renderer draws the first person
        kp = kp[0]
        score = None if score is None else np.asarray(score)[0]
    if kp.shape[-2] != _L.num_joints:
        raise ValueError(f"render_frames needs coco_wholebody keypoints [T, 133, C], got {kp.shape}")
    if score is not None:
        kp = fill_lost_hands(kp, score, threshold)
    style = Style.random(size, np.random.default_rng(seed))
    return [render_frame(kp[int(t)], style, scale) for t in np.atleast_1d(frame_idx)]


__all__ = ["Style", "render_frame", "render_frames", "fill_lost_hands"]
