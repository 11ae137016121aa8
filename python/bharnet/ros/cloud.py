"""Keypoint frames <-> sensor_msgs/PointCloud2, in NumPy only (no ROS import).

The layout on the wire (docs/guides/ros2.md, "Input"):
  - one row of the cloud (height) per person, one point (width) per keypoint, in layout order;
  - fields `x`, `y` (required), `z`, `score` (optional), any numeric PointField type; they become
    the SDK's rows [V, C] with the columns in that order (x, y[, z][, score]);
  - an optional integer field `track`: the SDK track id, constant within a row; rows that share a
    track are the persons of one frame of that track ([M, V, C]). Without it every row is track 0.
  - header.stamp: the frame's timestamp; header.frame_id: the keypoints' coordinate frame.

Messages are read duck-typed (`.fields`, `.data`, ...), so the codec is tested without ROS; the
ROS side (node.py, replay.py) wraps the bytes into real messages.
"""
from __future__ import annotations

import numpy as np

# sensor_msgs/PointField datatype constants -> NumPy scalar types
POINT_TYPES = {1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16,
               5: np.int32, 6: np.uint32, 7: np.float32, 8: np.float64}
FLOAT32, INT32 = 7, 5
COLUMNS = ("x", "y", "z", "score")   # the SDK's column order
TRACK_FIELD = "track"


class CloudError(ValueError):
    """A PointCloud2 that does not follow the keypoint layout."""


# ---- stamps -------------------------------------------------------------------------------------
def ms_to_stamp(ms: float) -> tuple[int, int]:
    """Milliseconds -> (sec, nanosec), rounded to the nanosecond."""
    ns = int(round(float(ms) * 1e6))
    return ns // 1_000_000_000, ns % 1_000_000_000


def stamp_to_ms(stamp) -> float:
    """A builtin_interfaces/Time (anything with .sec and .nanosec) -> milliseconds."""
    return stamp.sec * 1000.0 + stamp.nanosec / 1e6


# ---- encoding ------------------------------------------------------------------------------------
def default_columns(num_joints: int, channels: int) -> tuple[str, ...]:
    """The field names of a [.., V, C] keypoint array's columns when the user named none.

    Four columns are x, y, z, score (MediaPipe Holistic: visibility); two are x, y. Three are
    ambiguous: x, y, z for the 3D sources (75 MediaPipe Holistic, 25 Kinect/NTU keypoints),
    x, y, score for the 2D detectors (COCO-WholeBody 133, COCO 17, JHMDB 15).
    """
    if channels == 4:
        return COLUMNS
    if channels == 2:
        return COLUMNS[:2]
    if channels == 3:
        return ("x", "y", "z") if num_joints in (75, 25) else ("x", "y", "score")
    raise ValueError(f"keypoints with {channels} columns per point: expected 2, 3 or 4")


def check_columns(columns) -> tuple[str, ...]:
    cols = tuple(columns)
    # x, y first, then z and/or score, in the SDK's order: what decode() rebuilds on the far side
    if cols not in (COLUMNS[:2], COLUMNS[:3], ("x", "y", "score"), COLUMNS):
        raise ValueError(f"columns {','.join(cols)}: expected x,y or x,y,z or x,y,score or "
                         f"x,y,z,score")
    return cols


def cloud_layout(columns) -> tuple[list[tuple[str, int, int]], int]:
    """(name, offset, datatype) of each field (float32 columns, then an int32 `track`), and the
    point step in bytes."""
    fields = [(c, 4 * i, FLOAT32) for i, c in enumerate(check_columns(columns))]
    fields.append((TRACK_FIELD, 4 * len(fields), INT32))
    return fields, 4 * len(fields)


def encode(rows: np.ndarray, track_ids, columns) -> bytes:
    """rows [R, V, C] (C == len(columns)) and one track id per row -> the cloud's data bytes
    (little-endian, dense rows: row_step = V * point_step)."""
    rows = np.asarray(rows)
    if rows.ndim != 3 or rows.shape[-1] != len(columns):
        raise ValueError(f"rows must be [R, V, {len(columns)}], got {rows.shape}")
    r, v, c = rows.shape
    rec = np.empty((r, v), dtype=[*((name, "<f4") for name in columns), (TRACK_FIELD, "<i4")])
    for i, name in enumerate(columns):
        rec[name] = rows[..., i]
    rec[TRACK_FIELD] = np.asarray(track_ids, np.int32).reshape(r, 1)
    return rec.tobytes()


# ---- decoding ------------------------------------------------------------------------------------
def _dtype(msg) -> np.dtype:
    order = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for f in msg.fields:
        if f.name in names:
            raise CloudError(f"field {f.name!r} appears twice")
        kind = POINT_TYPES.get(f.datatype)
        if kind is None:
            raise CloudError(f"field {f.name!r} has unknown PointField datatype {f.datatype}")
        if f.count != 1:
            raise CloudError(f"field {f.name!r} has count {f.count}; keypoint fields hold one value")
        names.append(f.name)
        formats.append(np.dtype(kind).newbyteorder(order))
        offsets.append(f.offset)
    try:
        return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                         "itemsize": msg.point_step})
    except ValueError as e:   # a field beyond point_step, or overlapping fields
        raise CloudError(f"fields do not fit point_step {msg.point_step}: {e}") from None


def _sdk_rows(pts: np.ndarray, present: set, num_joints: int) -> np.ndarray:
    """The named fields as the SDK reads a row's bare columns, which it tells apart only by
    their number (default_columns): a 3D source (75 or 25 keypoints) with a score but no z gets
    z = 0 (4 columns), a 2D detector's cloud drops z; otherwise the fields present, in order."""
    three_d = default_columns(num_joints, 3) == COLUMNS[:3]
    cols = [c for c in COLUMNS if c in present and (three_d or c != "z")]
    rows = [pts[c].astype(np.float32) for c in cols]
    if three_d and "score" in present and "z" not in present:
        rows.insert(2, np.zeros_like(rows[0]))
    return np.stack(rows, axis=-1)


def decode(msg) -> list[tuple[int, np.ndarray]]:
    """A keypoint PointCloud2 -> [(track_id, frame)], frame float32 [V, C] for one person or
    [M, V, C] for several rows sharing a track; tracks in order of first appearance.

    Raises CloudError naming what does not follow the layout.
    """
    h, w = int(msg.height), int(msg.width)
    if h < 1 or w < 1:
        raise CloudError(f"empty cloud ({h} rows x {w} points)")
    dt = _dtype(msg)
    present = set(dt.names)
    if not {"x", "y"} <= present:
        raise CloudError(f"fields {sorted(present)} lack x and y")
    if msg.row_step < w * msg.point_step:
        raise CloudError(f"row_step {msg.row_step} < width {w} x point_step {msg.point_step}")
    buf = np.frombuffer(memoryview(msg.data).cast("B"), np.uint8)
    if buf.size < h * msg.row_step:
        raise CloudError(f"data holds {buf.size} bytes, {h} rows x row_step {msg.row_step} "
                         f"need {h * msg.row_step}")
    # rows may be padded: view each row's first width * point_step bytes
    raw = np.lib.stride_tricks.as_strided(buf, (h, w * msg.point_step), (msg.row_step, 1))
    pts = np.ascontiguousarray(raw).view(dt).reshape(h, w)
    rows = _sdk_rows(pts, present, w)   # [H, V, C]
    if TRACK_FIELD in present:
        track = pts[TRACK_FIELD]
        if not np.issubdtype(track.dtype, np.integer):
            raise CloudError(f"field {TRACK_FIELD!r} must be an integer type, got {track.dtype}")
        if (track != track[:, :1]).any():
            raise CloudError(f"field {TRACK_FIELD!r} differs within a row; a row is one person")
        ids = [int(t) for t in track[:, 0]]
    else:
        ids = [0] * h
    out = []
    for tid in dict.fromkeys(ids):   # first-appearance order
        sel = [i for i, t in enumerate(ids) if t == tid]
        out.append((tid, rows[sel[0]] if len(sel) == 1 else rows[sel]))
    return out

