"""The RGB branch at run time (BHaRNet-M): images beside the keypoints, no torch.

Used by the Recognizer only when its bundle carries `rgb.onnx` (BundleMeta.rgb):

    rec = sdk.Recognizer("model.bharnet")
    rec.push(frame_keypoints, timestamp_ms, image=rgb_frame)   # image: RGB uint8 [H, W, 3]

Per pushed image, the five ROI tiles (head, hands, feet) of person 0 are cut at once and kept per
track, keyed by timestamp (a few KB per frame instead of whole frames). When a window is
recognised, the tiles nearest to the K ROI frame times of that window are assembled into the ROI
image; the guide graph turns the skeleton inputs into per-tile weights, blank tiles weigh 0, the
RGB graph scores it and the result is fused with the skeleton logits (weighted sum or Noisy-OR, as
the bundle says). Windows without any image stay skeleton-only.

Keypoint coordinates for cropping: "auto" takes them as normalised 0..1 when every usable point
lies within [-0.5, 1.5] (MediaPipe), as pixels otherwise; or say "pixels" / "normalized".
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ..rgb.roi import (BLANK, ROIConfig, assemble, frame_positions, frame_tiles, guess_coords,
                       to_model_input)
from ..layouts import available_layouts, get_layout
from ..variants import fuse
from .adapters import RowSplitter, frame_to_rows

RGB_GRAPH = "rgb.onnx"


def has_rgb(bundle) -> bool:
    rgb = bundle.meta.rgb
    return bool(rgb) and bundle.has_member(rgb.get("graph", RGB_GRAPH))


def _session(data: bytes, threads: int | None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def fuse_logits(skeleton: np.ndarray, rgb: np.ndarray, how: str, weight: float) -> np.ndarray:
    """Skeleton and RGB logits fused as the bundle says: a weighted logit sum or Noisy-OR
    (bharnet.variants.fuse, the fusions' one NumPy definition)."""
    if how == "sum":
        return fuse([skeleton, rgb], "sum", [1.0, weight])
    if how == "noisy_or":
        return fuse([skeleton, rgb], "noisy_or")
    raise ValueError(f"unknown rgb fusion {how!r}")


class RGBBranch:
    def __init__(self, bundle, layout: str | None = None, threads: int | None = None,
                 coords: str = "auto", max_frames: int = 256):
        if not has_rgb(bundle):
            raise ValueError("this bundle has no RGB branch (rgb.onnx)")
        self.meta = bundle.meta.rgb
        self.cfg = ROIConfig.from_dict(self.meta["roi"])
        self.layout = layout
        self.coords = coords
        self.fusion, self.weight = self.meta["fusion"], float(self.meta["fusion_weight"])
        self._rgb = _session(bundle.member(self.meta["graph"]), threads)
        guide = self.meta.get("guide_graph")
        self._guide = _session(bundle.member(guide), threads) if guide else None
        self._guide_inputs = tuple(self.meta.get("guide_input_names", ()))
        self._splitters: dict = {}
        self._max = int(max_frames)
        self._tiles: dict = {}          # track id -> OrderedDict(timestamp -> (tiles, source))
        self._lock = threading.Lock()

    # ---- frames in -------------------------------------------------------------------------
    def _coords(self, xy: np.ndarray) -> str:
        return guess_coords(xy) if self.coords == "auto" else self.coords

    def _layout(self, frame, layout: str | None) -> str:
        """The frame's layout: given, fixed at construction, or told by its keypoint count (the
        registered layouts all differ in it), as the Recognizer does for layout=None."""
        lay = layout or self.layout
        if lay is None:
            v = np.asarray(frame_to_rows(frame, "mediapipe_holistic")).shape[-2]
            names = [n for n in available_layouts() if get_layout(n).num_joints == v]
            if len(names) != 1:
                raise ValueError(f"cannot tell the layout of a frame with {v} keypoints; pass layout=")
            lay = names[0]
        return lay

    def add_frame(self, track_id, timestamp_ms: float, image, frame, layout: str | None = None) -> None:
        """Cut and keep the ROI tiles of person 0 in `image` (RGB uint8 [H, W, 3])."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be RGB [H, W, 3], got shape {image.shape}")
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        lay = self._layout(frame, layout)
        split = self._splitters.get(lay) or self._splitters.setdefault(lay, RowSplitter(lay))
        kp, sc = split(frame_to_rows(frame, lay))
        if kp.ndim == 3:            # [M, V, C]: the ROI follows person 0
            kp, sc = kp[0], sc[0]
        tiles, source = frame_tiles(image, kp, lay, sc, self._coords(kp[:, :2]), self.cfg)
        with self._lock:
            buf = self._tiles.setdefault(track_id, OrderedDict())
            buf[float(timestamp_ms)] = (tiles, source)
            while len(buf) > self._max:
                buf.popitem(last=False)

    def reset(self, track_id=None) -> None:
        with self._lock:
            if track_id is None:
                self._tiles.clear()
            else:
                self._tiles.pop(track_id, None)

    # ---- scoring ---------------------------------------------------------------------------
    def roi_for(self, track_id, start_ms: float, end_ms: float, frames: int):
        """(ROI image uint8, mask [P, K]) for the window [start_ms, end_ms] of `frames` frames, or
        None when no image of this track falls inside it."""
        with self._lock:
            buf = self._tiles.get(track_id)
            items = [(t, v) for t, v in (buf or {}).items() if start_ms <= t <= end_ms]
        if not items:
            return None
        times = np.array([t for t, _ in items])
        k = self.cfg.frames
        step = (end_ms - start_ms) / max(frames - 1, 1)
        want = start_ms + frame_positions(max(frames, 1), k) * step
        p, s = len(self.cfg.parts), self.cfg.tile
        tiles = np.zeros((k, p, s, s, 3), np.uint8)
        mask = np.zeros((p, k), np.float32)
        for j, t in enumerate(want):
            i = int(np.abs(times - t).argmin())
            if abs(times[i] - t) <= max(step, 1.0) * 1.5:   # no image near this frame: blank
                tiles[j], src = items[i][1]
                mask[:, j] = src != BLANK
        return assemble(tiles), mask

    def score(self, skeleton_logits: np.ndarray, inputs: dict, track_id, start_ms: float,
              end_ms: float, frames: int):
        """(fused logits [1, classes], rgb logits [1, classes]) or None (no images: skeleton only)."""
        got = self.roi_for(track_id, start_ms, end_ms, frames)
        if got is None or not got[1].any():
            return None
        img, mask = got
        if self._guide is not None:
            feed = {n: np.ascontiguousarray(inputs[n], np.float32) for n in self._guide_inputs}
            guidance = self._guide.run(None, feed)[0]
        else:
            guidance = np.ones((1,) + mask.shape, np.float32)
        guidance = (guidance * mask[None]).astype(np.float32)
        z = self._rgb.run(None, {"roi": to_model_input(img[None]), "guidance": guidance})[0]
        return fuse_logits(skeleton_logits, z, self.fusion, self.weight), z


__all__ = ["RGBBranch", "has_rgb", "fuse_logits"]
