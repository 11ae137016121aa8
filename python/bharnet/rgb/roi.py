"""Spatio-temporal ROI images (MMNet style), NumPy only so the torch-free SDK can build them.

From K frames and their keypoints, square crops around the head, the two hands and the two feet are
resampled to `tile` x `tile` pixels and tiled into one image: **rows = parts, columns = frames**
(P*tile high, K*tile wide). The RGB model sees the fine regions the skeleton is least sure about,
at a fixed small cost that does not depend on the video resolution.

Conventions:
- frames are RGB uint8 [H, W, 3] (OpenCV decodes BGR: convert, see `bharnet.rgb.video`);
- keypoints are [V, C>=2] per frame (or [K, V, C]) in a registered layout, in **pixels** by default;
  pass `coords="normalized"` for 0..1 coordinates (MediaPipe) and they are scaled by the frame size;
- a joint is usable when its x, y are finite, not both exactly zero (the "not detected" convention)
  and, where scores are given, its score reaches `score_threshold`.

Missing parts: a hand whose hand joints are all missing falls back to its wrist when
`hand_fallback="wrist"` (the tile is still shown, source code FALLBACK); with `"blank"`, or when the
wrist is missing too, the tile is black and its mask is 0 (source code BLANK). The per-tile mask and
source codes are returned with the image so the model (and the metadata) know which is which.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..layouts import Layout, get_layout

PARTS = ("head", "left_hand", "right_hand", "left_foot", "right_foot")
BLANK, FOUND, FALLBACK = 0, 1, 2       # per-tile source codes

# Joint names (the layout registry's shared vocabulary) whose mean locates each part. A layout
# uses whichever of them it has.
_PART_JOINTS = {
    "head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    "left_foot": ("left_ankle", "left_heel", "left_big_toe", "left_small_toe"),
    "right_foot": ("right_ankle", "right_heel", "right_big_toe", "right_small_toe"),
}
_WRIST = {"left_hand": "left_wrist", "right_hand": "right_wrist"}
# Crop side as a multiple of the torso length (mid-shoulder to mid-hip): about a head or a hand
# with some context around it, whatever the distance to the camera.
DEFAULT_SIZES = {"head": 0.8, "left_hand": 0.7, "right_hand": 0.7, "left_foot": 0.7,
                 "right_foot": 0.7}


@dataclass(frozen=True)
class ROIConfig:
    tile: int = 32                      # pixels per tile side
    frames: int = 4                     # K sampled frames per window
    parts: tuple = PARTS
    sizes: dict = field(default_factory=lambda: dict(DEFAULT_SIZES))
    hand_fallback: str = "wrist"        # "wrist" | "blank"
    score_threshold: float = 0.3
    # when no torso is visible the crop side is this fraction of the frame height
    fallback_fraction: float = 0.15

    def __post_init__(self):
        if self.hand_fallback not in ("wrist", "blank"):
            raise ValueError(f"hand_fallback must be 'wrist' or 'blank', got {self.hand_fallback!r}")
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown ROI part(s) {sorted(unknown)}; known: {PARTS}")
        if self.tile < 4 or self.frames < 1:
            raise ValueError("ROIConfig: tile must be >= 4 and frames >= 1")

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the tiled ROI image."""
        return len(self.parts) * self.tile, self.frames * self.tile

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parts"] = list(self.parts)
        d["grid"] = "rows=parts, cols=frames"
        d["image"] = "RGB uint8 HWC; model input float32 NCHW in 0..1"
        d["keypoints"] = "pixels (or normalized 0..1 with coords='normalized')"
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "ROIConfig":
        d = {k: v for k, v in (d or {}).items() if k not in ("grid", "image", "keypoints")}
        if "parts" in d:
            d["parts"] = tuple(d["parts"])
        if "sizes" in d:
            d["sizes"] = {**DEFAULT_SIZES, **d["sizes"]}
        return cls(**d)


def frame_positions(window: int, frames: int) -> np.ndarray:
    """Positions inside a window of `window` frames at which the K ROI frames are taken: the centres
    of K equal segments, so the ROI image spans the whole window like the skeleton does."""
    return np.minimum(((np.arange(frames) + 0.5) * window / frames).astype(np.int64), window - 1)


# ---- locating the parts --------------------------------------------------------------------

def _indices(layout: Layout, names) -> np.ndarray:
    pos = {n: i for i, n in enumerate(layout.joints)}
    return np.array([pos[n] for n in names if n in pos], np.int64)


def _valid(kp: np.ndarray, scores: np.ndarray | None, thr: float) -> np.ndarray:
    xy = kp[..., :2]
    ok = np.isfinite(xy).all(-1) & (np.abs(xy) < 1e7).all(-1) & (xy != 0).any(-1)
    if scores is not None:
        ok &= np.nan_to_num(scores, nan=0.0) >= thr
    return ok


def _mean_point(xy: np.ndarray, ok: np.ndarray, idx: np.ndarray):
    """Mean of the usable joints idx, per frame: ([K,2], [K] bool)."""
    if idx.size == 0:
        return np.zeros(xy.shape[:-2] + (2,), np.float32), np.zeros(xy.shape[:-2], bool)
    w = ok[..., idx].astype(np.float32)
    n = w.sum(-1)
    s = (np.where(ok[..., idx, None], xy[..., idx, :], 0.0)).sum(-2)
    return s / np.maximum(n, 1)[..., None], n > 0


def _torso(xy, ok, layout: Layout):
    sh, sok = _mean_point(xy, ok, _indices(layout, ("left_shoulder", "right_shoulder")))
    hp, hok = _mean_point(xy, ok, _indices(layout, ("left_hip", "right_hip")))
    length = np.linalg.norm(sh - hp, axis=-1)
    return length, sok & hok & (length > 1.0)


def part_boxes(keypoints, layout: str | Layout, image_size: tuple[int, int], scores=None,
               coords: str = "pixels", cfg: ROIConfig | None = None):
    """Square crop boxes per frame and part.

    keypoints [K, V, C>=2] (or [V, C]); image_size (width, height).
    Returns boxes [K, P, 3] as (centre x, centre y, side) in pixels and source [K, P] (int8 codes
    BLANK / FOUND / FALLBACK).
    """
    cfg = cfg or ROIConfig()
    layout = get_layout(layout)
    kp = np.asarray(keypoints, np.float32)
    single = kp.ndim == 2
    if single:
        kp = kp[None]
    if kp.shape[-2] != layout.num_joints or kp.shape[-1] < 2:
        raise ValueError(f"keypoints {kp.shape} do not match layout {layout.name!r} "
                         f"([K, {layout.num_joints}, C>=2])")
    sc = None if scores is None else np.asarray(scores, np.float32).reshape(kp.shape[:-1])
    w, h = image_size
    xy = kp[..., :2].copy()
    if coords == "normalized":
        xy *= np.array([w, h], np.float32)
    elif coords != "pixels":
        raise ValueError(f"coords must be 'pixels' or 'normalized', got {coords!r}")
    ok = _valid(kp, sc, cfg.score_threshold)
    xy = np.where(ok[..., None], xy, 0.0)
    length, lok = _torso(xy, ok, layout)
    base = np.where(lok, length, cfg.fallback_fraction / DEFAULT_SIZES["head"] * h)

    k = kp.shape[0]
    boxes = np.zeros((k, len(cfg.parts), 3), np.float32)
    source = np.zeros((k, len(cfg.parts)), np.int8)
    for p, part in enumerate(cfg.parts):
        if part in _WRIST:
            names = tuple(n for n in layout.joints if n.startswith(part + "_"))
            c, found = _mean_point(xy, ok, _indices(layout, names))
            if cfg.hand_fallback == "wrist":
                wc, wok = _mean_point(xy, ok, _indices(layout, (_WRIST[part],)))
                fb = ~found & wok
                c = np.where(fb[:, None], wc, c)
                source[:, p] = np.where(found, FOUND, np.where(fb, FALLBACK, BLANK))
            else:
                source[:, p] = np.where(found, FOUND, BLANK)
        else:
            c, found = _mean_point(xy, ok, _indices(layout, _PART_JOINTS[part]))
            source[:, p] = np.where(found, FOUND, BLANK)
        boxes[:, p, :2] = c
        boxes[:, p, 2] = np.maximum(base * cfg.sizes[part], 4.0)
    if single:
        return boxes[0], source[0]
    return boxes, source


# ---- cropping and tiling ---------------------------------------------------------------------

def crop_tile(frame: np.ndarray, cx: float, cy: float, side: float, tile: int) -> np.ndarray:
    """Bilinear resample of the square (cx, cy, side) to tile x tile; outside the frame is black."""
    img = np.asarray(frame)
    h, w = img.shape[:2]
    # pixel i covers [i, i+1): sample at the output pixel centres, mapped into the source
    t = (np.arange(tile, dtype=np.float32) + 0.5) / tile - 0.5
    u = cx + t * side - 0.5
    v = cy + t * side - 0.5
    x0, y0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fx, fy = (u - x0)[None, :, None], (v - y0)[:, None, None]
    out = np.zeros((tile, tile, img.shape[2]), np.float32)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        yy = y0 + dy
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            xx = x0 + dx
            inside = ((yy >= 0) & (yy < h))[:, None] & ((xx >= 0) & (xx < w))[None, :]
            vals = img[np.clip(yy, 0, h - 1)[:, None], np.clip(xx, 0, w - 1)[None, :]]
            out += wy * wx * np.where(inside[..., None], vals, 0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8) if img.dtype == np.uint8 else out


def frame_tiles(frame, keypoints, layout, scores=None, coords="pixels", cfg: ROIConfig | None = None):
    """One frame -> (tiles [P, tile, tile, 3] uint8, source [P] codes). Blank tiles are black."""
    cfg = cfg or ROIConfig()
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"a frame must be an RGB image [H, W, 3], got {frame.shape}")
    boxes, source = part_boxes(keypoints, layout, (frame.shape[1], frame.shape[0]), scores, coords, cfg)
    tiles = np.zeros((len(cfg.parts), cfg.tile, cfg.tile, 3), np.uint8)
    for p in range(len(cfg.parts)):
        if source[p] != BLANK:
            tiles[p] = crop_tile(frame, *boxes[p], cfg.tile)
    return tiles, source


def assemble(tiles: np.ndarray) -> np.ndarray:
    """tiles [K, P, S, S, 3] -> ROI image [P*S, K*S, 3] (rows = parts, columns = frames)."""
    k, p, s = tiles.shape[:3]
    return np.ascontiguousarray(tiles.transpose(1, 2, 0, 3, 4).reshape(p * s, k * s, tiles.shape[-1]))


def roi_image(frames, keypoints, layout, scores=None, coords: str = "pixels",
              cfg: ROIConfig | None = None):
    """K frames + their keypoints [K, V, C] -> (ROI image [P*S, K*S, 3] uint8, mask [P, K] float32,
    source [P, K] int8). mask is 0 exactly where a tile is blank."""
    cfg = cfg or ROIConfig()
    kp = np.asarray(keypoints, np.float32)
    if len(frames) != kp.shape[0]:
        raise ValueError(f"{len(frames)} frames but keypoints for {kp.shape[0]}")
    sc = None if scores is None else np.asarray(scores, np.float32)
    per = [frame_tiles(f, kp[i], layout, None if sc is None else sc[i], coords, cfg)
           for i, f in enumerate(frames)]
    tiles = np.stack([t for t, _ in per])
    source = np.stack([s for _, s in per]).T.copy()
    return assemble(tiles), (source != BLANK).astype(np.float32), source


def guess_coords(keypoints) -> str:
    """"normalized" when every usable x, y lies within [-0.5, 1.5] (MediaPipe's 0..1 convention,
    a little outside the frame allowed), else "pixels": no real person spans 2 pixels."""
    xy = np.asarray(keypoints, np.float32)[..., :2].reshape(-1, 2)
    pts = xy[np.isfinite(xy).all(-1) & (xy != 0).any(-1)]
    return "normalized" if len(pts) and (np.abs(pts - 0.5) <= 1.0).all() else "pixels"


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W] in 0..1 (the RGB model's input)."""
    x = np.asarray(images, np.float32) / 255.0
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


__all__ = ["PARTS", "BLANK", "FOUND", "FALLBACK", "ROIConfig", "frame_positions", "part_boxes",
           "crop_tile", "frame_tiles", "assemble", "roi_image", "guess_coords", "to_model_input"]
