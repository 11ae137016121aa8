"""MediaPipe Holistic and COCO-WholeBody keypoint arrays -> (keypoint, score) and labelled clips.

NumPy only: the SDK's input adapters use `from_holistic` / `from_coco_wholebody` too.
- MediaPipe Holistic as stored in shared/data/streams: [T,75,4] = (x, y, z, visibility); pose 0-32,
  left hand 33-53, right hand 54-74; an undetected part is all zeros. Hand landmarks carry no
  visibility (stored as 0), so a hand joint's score is 1 where the hand was found, else 0.
- COCO-WholeBody (RTMPose/RTMW, DWPose): [T,133,2] (no scores), [T,133,3] or [M,T,133,3] with
  (x, y, score).
"""
from __future__ import annotations

import pathlib

import numpy as np

from ..progress import progress
from .dataset import Clip, SkeletonDataset

HOLISTIC_V, WHOLEBODY_V = 75, 133


def from_holistic(arr, coords: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """[T,75,4] (or [M,T,75,4]) -> keypoint [M,T,75,coords], score [M,T,75]."""
    a = np.asarray(arr, dtype=np.float32)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[2:] != (HOLISTIC_V, 4):
        raise ValueError(f"MediaPipe Holistic keypoints must be [T,75,4] or [M,T,75,4], got {a.shape}")
    kp = a[..., :coords]
    found = (a[..., :3] != 0).any(-1)
    score = np.where(np.arange(HOLISTIC_V) < 33, a[..., 3], 1.0) * found
    return np.ascontiguousarray(kp), score.astype(np.float32)


def from_coco_wholebody(arr) -> tuple[np.ndarray, np.ndarray]:
    """[T,133,2|3] or [M,T,133,2|3] -> keypoint [M,T,133,2], score [M,T,133]."""
    a = np.asarray(arr, dtype=np.float32)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[2] != WHOLEBODY_V or a.shape[3] not in (2, 3):
        raise ValueError(f"COCO-WholeBody keypoints must be [T,133,2|3] or [M,T,133,2|3], got {a.shape}")
    kp = np.ascontiguousarray(a[..., :2])
    if a.shape[3] == 3:
        return kp, np.ascontiguousarray(a[..., 2])
    return kp, (kp != 0).any(-1).astype(np.float32)


def to_keypoints(arr) -> tuple[np.ndarray, np.ndarray, str]:
    """Recognise the layout of a raw array by its shape -> (keypoint, score, layout name)."""
    shape = np.shape(arr)
    if len(shape) in (3, 4) and shape[-2] == HOLISTIC_V and shape[-1] == 4:
        return (*from_holistic(arr), "mediapipe_holistic")
    if len(shape) in (3, 4) and shape[-2] == WHOLEBODY_V:
        return (*from_coco_wholebody(arr), "coco_wholebody")
    raise ValueError(f"cannot tell the layout of a keypoint array of shape {shape}: expected "
                     f"MediaPipe Holistic [T,75,4] or COCO-WholeBody [T,133,2|3] / [M,T,133,3]")


def windows(keypoint: np.ndarray, score: np.ndarray, label: int, name: str, window: int = 64,
            stride: int = 32) -> list[Clip]:
    """Cut [M,T,V,C] into clips of `window` frames every `stride` frames (a shorter clip whole)."""
    t = keypoint.shape[1]
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window}, {stride}")
    starts = range(0, max(t - window, 0) + 1, stride)
    return [Clip(np.ascontiguousarray(keypoint[:, s:s + window]), np.ascontiguousarray(score[:, s:s + window]),
                 label, f"{name}_{s:06d}") for s in starts]


def dataset_from_arrays(paths, label: str | None = None, window: int = 64, stride: int = 32,
                        test_every: int = 5) -> SkeletonDataset:
    """.npy keypoint arrays (one recording each) -> windows labelled by `label` or parent folder.

    Split by recording, never by window (overlapping windows of one recording must not straddle
    train and test): every `test_every`-th recording of a class is test, when a class has several.
    """
    items = []
    layout = None
    for p in progress(list(map(pathlib.Path, paths)), desc="keypoint arrays", unit="file"):
        kp, sc, lay = to_keypoints(np.load(p, allow_pickle=False))
        if layout not in (None, lay):
            raise ValueError(f"{p}: layout {lay} differs from the other files' {layout}")
        layout = lay
        items.append((label or p.parent.name, p.stem, kp, sc))
    classes = sorted({it[0] for it in items})
    clips, train, test, seen = [], [], [], {c: 0 for c in classes}
    for cls, stem, kp, sc in items:
        k = seen[cls]
        seen[cls] += 1
        dest = test if (k % test_every == test_every - 1) else train
        for c in windows(kp, sc, classes.index(cls), f"{cls}/{stem}", window, stride):
            clips.append(c)
            dest.append(c.name)
    return SkeletonDataset(clips, classes, layout, [], {"train": train, "test": test})
