"""PKU-MMD: untrimmed skeleton videos + action labels -> trimmed clips (layout ntu25, 3D).

PKU-MMD records Kinect v2 skeletons in the NTU joint order, so its layout is `ntu25`.
- Skeleton file `<video>.txt`: one line per frame, 150 values = 2 bodies x 25 joints x (x, y, z);
  an absent second body is all zeros.
- Label file `<video>.txt` (same name, in the label folder): one action per line,
  `label,start,end,confidence` with a 1-based label. Clips are frames [start, end) taken as 0-based
  indices, the convention of the common PKU-MMD loaders (at most one frame differs from an
  inclusive reading).
- Splits: the official cross-subject / cross-view lists are files; pass one (`read_split_file`).
"""
from __future__ import annotations

import json
import pathlib
import re

import numpy as np

from ..progress import progress
from .dataset import Clip, SkeletonDataset

NUM_CLASSES = 51
VALUES_PER_FRAME = 150


def read_skeleton(path) -> tuple[np.ndarray, np.ndarray]:
    """-> keypoint [M,T,25,3] (M = bodies present anywhere, at least 1), score [M,T,25]."""
    path = pathlib.Path(path)
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if not rows:
        raise ValueError(f"{path}: empty skeleton file")
    bad = next((i for i, r in enumerate(rows) if len(r) != VALUES_PER_FRAME), None)
    if bad is not None:
        raise ValueError(f"{path}: line {bad + 1}: expected {VALUES_PER_FRAME} values "
                         f"(2 bodies x 25 joints x xyz), got {len(rows[bad])}")
    try:
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), 2, 25, 3).transpose(1, 0, 2, 3)
    except ValueError as e:
        raise ValueError(f"{path}: non-numeric value ({e})") from None
    present = (arr != 0).any(-1)                                   # [2, T, 25]
    keep = present.any((1, 2))
    keep[0] = True
    arr, present = arr[keep], present[keep]
    return np.ascontiguousarray(arr), present.astype(np.float32)


def read_labels(path) -> list[tuple[int, int, int, float]]:
    """-> [(label0, start, end, confidence)], label0 0-based."""
    path = pathlib.Path(path)
    out = []
    for i, ln in enumerate(path.read_text().splitlines()):
        if not ln.strip():
            continue
        parts = [p.strip() for p in ln.split(",")]
        if len(parts) != 4:
            raise ValueError(f"{path}: line {i + 1}: expected 'label,start,end,confidence', got {ln!r}")
        try:
            label, start, end = int(parts[0]), int(parts[1]), int(parts[2])
            conf = float(parts[3])
        except ValueError:
            raise ValueError(f"{path}: line {i + 1}: non-numeric field in {ln!r}") from None
        if not 1 <= label <= NUM_CLASSES or end <= start or start < 0:
            raise ValueError(f"{path}: line {i + 1}: label {label} (1..{NUM_CLASSES}) or frames "
                             f"{start}..{end} invalid")
        out.append((label - 1, start, end, conf))
    return out


_VIDEO = re.compile(r"\d{4}-[LMR]")


def read_split_file(path) -> dict[str, set[str]]:
    """Train/test video names from the official text file or a JSON {"train": [...], "test": [...]}.

    The official files put 'Training videos:' and 'Validation videos:' (sic, sometimes
    'Validataion') headings above comma-separated names such as 0002-L.
    """
    path = pathlib.Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        try:
            d = json.loads(text)
        except RecursionError:
            raise ValueError(f"{path}: JSON nested too deeply") from None
        if not isinstance(d, dict) or not {"train", "test"} <= set(d) \
                or not all(isinstance(d[k], list) for k in ("train", "test")):
            raise ValueError(f"{path}: JSON split must have 'train' and 'test' lists")
        return {"train": set(map(str, d["train"])), "test": set(map(str, d["test"]))}
    out: dict[str, set[str]] = {"train": set(), "test": set()}
    current = None
    for ln in text.splitlines():
        low = ln.lower()
        if "train" in low:
            current = "train"
        elif "valid" in low or "test" in low:
            current = "test"
        names = _VIDEO.findall(ln)
        if names:
            if current is None:
                raise ValueError(f"{path}: video names before a 'Training'/'Validation' heading")
            out[current].update(names)
    if not out["train"] or not out["test"]:
        raise ValueError(f"{path}: found {len(out['train'])} training and {len(out['test'])} "
                         f"test videos; expected both")
    return out


def convert_pkummd(skeleton_dir, label_dir, split_file, classes: list[str] | None = None
                   ) -> SkeletonDataset:
    skeleton_dir, label_dir = pathlib.Path(skeleton_dir), pathlib.Path(label_dir)
    split = read_split_file(split_file)
    clips, train, test = [], [], []
    files = sorted(label_dir.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no label .txt files in {label_dir}")
    for lab in progress(files, desc=f"PKU-MMD videos ({label_dir})", unit="video"):
        video = lab.stem
        if video in split["train"]:
            dest = train
        elif video in split["test"]:
            dest = test
        else:
            continue  # not part of this benchmark
        skel = skeleton_dir / lab.name
        if not skel.exists():
            raise FileNotFoundError(f"{lab}: no matching skeleton file {skel}")
        kp, sc = read_skeleton(skel)
        for k, (label, start, end, _) in enumerate(read_labels(lab)):
            end = min(end, kp.shape[1])
            if end - start < 1:
                raise ValueError(f"{lab}: action {k} frames {start}..{end} outside the "
                                 f"{kp.shape[1]}-frame skeleton")
            name = f"{video}_{k:03d}"
            clips.append(Clip(kp[:, start:end].copy(), sc[:, start:end].copy(), label, name))
            dest.append(name)
    names = list(classes) if classes else [f"action_{i + 1:02d}" for i in range(NUM_CLASSES)]
    if len(names) != NUM_CLASSES:
        raise ValueError(f"PKU-MMD has {NUM_CLASSES} classes, got {len(names)} class names")
    return SkeletonDataset(clips, list(names), "ntu25", [], {"train": train, "test": test})
