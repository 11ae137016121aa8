"""Input adapters: what keypoint estimators emit -> (coordinates, scores) in a registered layout.

The SDK only splits raw rows into coordinates and a confidence; everything else (picking the
model's joints, mirroring, masking missing parts, normalising) is `bharnet.data.pipeline`'s job.

Per layout, which column (if any) is a confidence:
- mediapipe_holistic [75, 4]: x, y, z, visibility. MediaPipe hand landmarks carry no visibility
  (it is stored as 0), so hand rows get score 1 where detected; an undetected part is all zeros
  and the pipeline treats it as missing.
- coco_wholebody [133, 3]: x, y, score (RTMPose / RTMW); [133, 2]: no score.
- jhmdb15 [15, 3]: x, y, score; [15, 2]: no score.
- ntu25 [25, 3]: x, y, z (Kinect, no score); [25, 4]: the fourth column is a score.
- any other registered layout: one column more than the coordinates it names is a score.
"""
from __future__ import annotations

import numpy as np

from ..layouts import get_layout

# layout -> {columns: (number of coordinate columns, score column or None)}
_COLUMNS: dict[str, dict[int, tuple[int, int | None]]] = {
    "mediapipe_holistic": {4: (3, 3), 3: (3, None), 2: (2, None)},
    "coco_wholebody": {3: (2, 2), 2: (2, None)},
    "jhmdb15": {3: (2, 2), 2: (2, None)},
    "ntu25": {3: (3, None), 4: (3, 3), 2: (2, None)},
}
# rows whose confidence column is meaningless and must be ignored (MediaPipe hands: always 0)
_NO_SCORE_ROWS: dict[str, slice] = {"mediapipe_holistic": slice(33, 75)}


def _columns(layout: str, c: int) -> tuple[int, int | None]:
    table = _COLUMNS.get(layout)
    if table is not None:
        if c not in table:
            raise ValueError(f"layout {layout!r} takes rows of {sorted(table)} columns, got {c}")
        return table[c]
    if c in (2, 3):
        return c, None
    if c == 4:
        return 3, 3
    raise ValueError(f"layout {layout!r}: cannot interpret {c} columns per keypoint")


class RowSplitter:
    """split_rows for one layout, with the per-layout lookups done once (it runs every frame)."""

    def __init__(self, layout: str):
        self.layout = get_layout(layout).name
        self.num_joints = get_layout(self.layout).num_joints
        self._no_score_rows = _NO_SCORE_ROWS.get(self.layout)
        self._cols: dict[int, tuple[int, int | None]] = {}

    def __call__(self, arr) -> tuple[np.ndarray, np.ndarray]:
        a = arr if isinstance(arr, np.ndarray) and arr.dtype == np.float32 else \
            np.asarray(arr, dtype=np.float32)
        if a.ndim < 2 or a.shape[-2] != self.num_joints:
            raise ValueError(f"layout {self.layout!r} has {self.num_joints} keypoints per frame, "
                             f"got an array of shape {a.shape}")
        c = a.shape[-1]
        cols = self._cols.get(c)
        if cols is None:
            cols = self._cols[c] = _columns(self.layout, c)
        ncoord, score_col = cols
        coords = a[..., :ncoord]
        if score_col is None:
            return coords, np.ones(a.shape[:-1], np.float32)
        score = a[..., score_col].copy()
        if self._no_score_rows is not None:
            score[..., self._no_score_rows] = 1.0
        # a NaN confidence means "unknown", which the pipeline must read as missing
        score[~(score >= 0)] = 0.0
        return coords, score


def split_rows(arr, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Split raw keypoint rows into coordinates and scores.

    Where the source has no confidence the score is 1; missing parts (all zeros, NaN, inf) are
    left for the pipeline to detect, which zeroes them before anything reaches the network.

    Args:
        arr: rows `[..., V, C]` as the layout's source writes them.
        layout: the layout's name (e.g. "mediapipe_holistic").

    Returns:
        (coordinates `[..., V, Cc]` float32, scores `[..., V]` float32).

    Raises:
        ValueError: a column count the layout does not take.
    """
    return RowSplitter(layout)(arr)


# ---- MediaPipe Holistic result objects (duck-typed: no mediapipe import needed) ----------------
def _landmarks(lm_list, n: int, with_visibility: bool) -> np.ndarray:
    out = np.zeros((n, 4), np.float32)
    if lm_list is None:
        return out  # not detected: all zeros, the convention of the stored streams
    pts = getattr(lm_list, "landmark", lm_list)
    for i, p in enumerate(list(pts)[:n]):
        vis = float(getattr(p, "visibility", 1.0)) if with_visibility else 0.0
        out[i] = (p.x, p.y, getattr(p, "z", 0.0), vis)
    return out


def holistic_to_rows(results) -> np.ndarray:
    """Turn one MediaPipe Holistic result into the SDK's keypoint rows.

    Args:
        results: a MediaPipe Holistic result (`.pose_landmarks`, `.left_hand_landmarks`,
            `.right_hand_landmarks`; mediapipe itself is not imported).

    Returns:
        `[75, 4]` float32 rows (x, y, z, visibility): pose 0-32, left hand 33-53, right hand
        54-74; a part MediaPipe did not detect is zeros.
    """
    return np.concatenate([
        _landmarks(getattr(results, "pose_landmarks", None), 33, True),
        _landmarks(getattr(results, "left_hand_landmarks", None), 21, False),
        _landmarks(getattr(results, "right_hand_landmarks", None), 21, False),
    ])


def is_holistic_result(obj) -> bool:
    return hasattr(obj, "pose_landmarks") or hasattr(obj, "left_hand_landmarks")


def frame_to_rows(frame, layout: str) -> np.ndarray:
    """One frame in any accepted form -> raw rows [V, C] or [M, V, C] as an array."""
    if isinstance(frame, np.ndarray) and frame.ndim in (2, 3):
        return frame
    if is_holistic_result(frame):
        if get_layout(layout).name != "mediapipe_holistic":
            raise ValueError(f"a MediaPipe Holistic result was given but the layout is {layout!r}; "
                             f"use layout='mediapipe_holistic'")
        return holistic_to_rows(frame)
    a = np.asarray(frame, dtype=np.float32)
    if a.ndim not in (2, 3):
        raise ValueError(f"a frame must be [V, C] or [M, V, C] keypoints, got shape {a.shape}")
    return a
