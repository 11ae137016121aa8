"""RGB-branch data: per clip, a skeleton window plus the ROI image of K frames of that window.

Where the frames come from (per clip, `rgb.frames` in the config, "auto" picks the first that fits):
- "roi":    the annotation carries a pre-cut ROI image (`roi` uint8 [P*S, K*S, 3], optional
            `roi_mask` [P, K]); it was cut at `frame_positions` of the deterministic test window;
- "video":  the annotation names a video file (`video`, relative to the dataset file); frames are
            decoded with OpenCV; keypoints may be pixels of that video or normalised 0..1
            (told apart by `guess_coords`);
- "render": coco_wholebody keypoints are drawn by `bharnet.rgb.render` (synthetic data), at
            `render_scale` of the keypoints' pixel frame, lost hands filled in for drawing.
"""
from __future__ import annotations

import pathlib
import zlib
from dataclasses import dataclass

import numpy as np

from bharnet.data.pipeline import prepare
from bharnet.data.sampling import sample_indices, take_frames
from bharnet.rgb.roi import ROIConfig, frame_positions, guess_coords, roi_image

FRAME_SOURCES = ("auto", "roi", "video", "render")
_EXTRA_KEYS = ("roi", "roi_mask", "video", "img_shape", "render_seed")


@dataclass
class Views:
    """Prepared samples (one row per view): skeleton inputs, ROI images, tile masks, labels."""
    inputs: dict            # name -> [N, ...] float32
    roi: np.ndarray         # [N, P*S, K*S, 3] uint8
    mask: np.ndarray        # [N, P, K] float32 (0 = blank tile)
    labels: np.ndarray      # [N] int64
    clip: np.ndarray        # [N] index of the clip each view came from


def read_extras(path) -> dict[str, dict]:
    """Per clip name, the RGB keys of a PYSKL pickle's annotations (empty for other formats)."""
    p = pathlib.Path(path)
    if p.suffix != ".pkl":
        return {}
    from bharnet.data import safe_pickle

    d = safe_pickle.load(p)   # data-only: a pickle cannot run code here
    anns = d.get("annotations", []) if isinstance(d, dict) else []
    return {a["frame_dir"]: {k: a[k] for k in _EXTRA_KEYS if k in a} for a in anns}


def source_of(extra: dict, layout: str, wanted: str = "auto") -> str:
    if wanted not in FRAME_SOURCES:
        raise ValueError(f"rgb.frames must be one of {FRAME_SOURCES}, got {wanted!r}")
    if wanted != "auto":
        return wanted
    if "roi" in extra:
        return "roi"
    if "video" in extra:
        return "video"
    if layout == "coco_wholebody":
        return "render"
    raise ValueError(f"clip has no frames (no 'roi' or 'video') and layout {layout!r} cannot be "
                     "rendered (the renderer draws coco_wholebody)")


def _canvas(kp: np.ndarray, extra: dict) -> tuple[int, int]:
    """(width, height) of the keypoints' pixel frame: img_shape (H, W) if given, else their extent."""
    if "img_shape" in extra:
        h, w = extra["img_shape"][:2]
        return int(w), int(h)
    xy = kp[..., :2].reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(1)]
    top = xy.max(0) if len(xy) else np.array([64.0, 64.0])
    return int(np.ceil(top[0] * 1.05)) + 1, int(np.ceil(top[1] * 1.05)) + 1


def clip_roi(clip, layout: str, frames_idx: np.ndarray, extra: dict, source: str, cfg: ROIConfig,
             render_scale: float, base_dir: pathlib.Path, seed: int):
    """ROI image + mask for the clip frames `frames_idx` (K per view, views side by side)."""
    kp, sc = clip.keypoint[0], None if clip.score is None else clip.score[0]
    sel_sc = None if sc is None else sc[frames_idx]
    if source == "roi":
        img = np.asarray(extra["roi"], np.uint8)
        mask = np.asarray(extra.get("roi_mask", np.ones((len(cfg.parts), cfg.frames))), np.float32)
        return img, mask
    if source == "video":
        from bharnet.rgb.video import read_frames

        frames = read_frames(base_dir / extra["video"], frames_idx)
        img, mask, _ = roi_image(frames, kp[frames_idx], layout, sel_sc, guess_coords(kp), cfg)
        return img, mask
    from bharnet.rgb.render import render_frames

    w, h = _canvas(kp, extra)
    size = (max(int(w * render_scale), 8), max(int(h * render_scale), 8))
    kps = kp * np.float32(render_scale)
    frames = render_frames(kps, frames_idx, size, seed=int(extra.get("render_seed", seed)), score=sc)
    img, mask, _ = roi_image(frames, kps[frames_idx], layout, sel_sc, "pixels", cfg)
    return img, mask


def build_views(clips, layout: str, spec, cfg: ROIConfig, extras: dict, source: str = "auto",
                views: int = 1, train: bool = False, seed: int = 0, render_scale: float = 0.5,
                base_dir=".", mode: str = "uniform") -> Views:
    """`views` windows per clip (the deterministic test window when not training; random windows
    when training, the first of which is the test window) -> skeleton inputs + ROI images."""
    base_dir = pathlib.Path(base_dir)
    pos = frame_positions(spec.window, cfg.frames)
    rows, rois, masks, labels, owner = [], [], [], [], []
    for ci, c in enumerate(clips):
        extra = extras.get(c.name, {})
        src = source_of(extra, layout, source)
        n = c.keypoint.shape[1]
        windows = [sample_indices(n, spec.window, mode, None, 1)[0]]
        rng = np.random.default_rng([seed, ci])
        if train and src != "roi" and views > 1:   # a pre-cut ROI exists for the test window only
            windows += list(sample_indices(n, spec.window, mode, rng, views - 1))
        # all views' frames in one call: a clip is decoded or its style drawn once
        k = cfg.frames
        img, mask = clip_roi(c, layout, np.concatenate([np.maximum(w[pos], 0) for w in windows]),
                             extra, src, cfg, render_scale, base_dir,
                             seed + zlib.crc32(c.name.encode()))   # a clip's look: from its name
        for v, w in enumerate(windows):
            kp, sc = take_frames(c.keypoint, c.score, w)
            rows.append(prepare(kp, sc, layout, spec))
            if src == "roi":
                rois.append(img)
                masks.append(mask)
            else:
                rois.append(img[:, v * k * cfg.tile:(v + 1) * k * cfg.tile])
                masks.append(mask[:, v * k:(v + 1) * k])
            labels.append(c.label)
            owner.append(ci)
    inputs = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    return Views(inputs, np.stack(rois), np.stack(masks).astype(np.float32),
                 np.asarray(labels, np.int64), np.asarray(owner, np.int64))


__all__ = ["Views", "FRAME_SOURCES", "read_extras", "source_of", "clip_roi", "build_views"]
