"""Decoding video frames for ROI images (OpenCV, optional: `pip install opencv-python-headless`).

Frames come out RGB uint8 [H, W, 3], the convention of `bharnet.rgb.roi` (OpenCV decodes BGR).
"""
from __future__ import annotations

import pathlib

import numpy as np


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError("decoding video needs OpenCV: pip install opencv-python-headless") from None
    return cv2


def open_capture(cv2, path):
    """An opened cv2.VideoCapture, or a clear error for a missing or undecodable file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video")
    return cap


def read_frames(path, indices=None) -> list[np.ndarray]:
    """Frames `indices` (all when None) of a video file, RGB uint8. Decodes sequentially (seeking is
    unreliable across codecs) and stops after the last wanted frame."""
    cap = open_capture(_cv2(), path)
    want = None if indices is None else sorted(set(int(i) for i in np.atleast_1d(indices)))
    got: dict[int, np.ndarray] = {}
    i = 0
    try:
        while want is None or i <= want[-1]:
            ok, bgr = cap.read()
            if not ok:
                break
            if want is None or i in want:
                got[i] = np.ascontiguousarray(bgr[..., ::-1])
            i += 1
    finally:
        cap.release()
    if want is None:
        return [got[k] for k in sorted(got)]
    missing = [k for k in want if k not in got]
    if missing:
        raise ValueError(f"{path}: has {i} frames, asked for frame(s) {missing[:5]}")
    return [got[int(k)] for k in np.atleast_1d(indices)]


def video_info(path) -> dict:
    cv2 = _cv2()
    cap = open_capture(cv2, path)  # a missing file is an error, not zeros
    try:
        return {"width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                "fps": float(cap.get(cv2.CAP_PROP_FPS)),
                "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT))}
    finally:
        cap.release()


__all__ = ["open_capture", "read_frames", "video_info"]
