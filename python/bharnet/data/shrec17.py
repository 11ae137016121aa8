"""SHREC'17 dynamic hand gestures (the 3D world-coordinate skeletons) -> a skeleton dataset.

    ROOT/train_gestures.txt, ROOT/test_gestures.txt: one sequence per line,
        "gesture finger subject essai label_14 label_28 frames"
    ROOT/gesture_G/finger_F/subject_S/essai_E/skeletons_world.txt: one frame per line,
        22 joints x (x, y, z) in metres (layout shrec22: hand21 plus the palm centre)

One dataset file holds one label set (`labels=14`: the gestures; `labels=28`: gesture x finger
count), so that a trained model's classes are exactly the file's. Splits: the official "train" and
"test" (the test people never appear in training), plus "val_train" / "val": the training people
with VAL_SUBJECTS held out, for choosing recipes without looking at the test people.
Every malformed input raises ValueError naming the file and line.
"""
from __future__ import annotations

import math
import pathlib

import numpy as np

from .dataset import Clip, SkeletonDataset

LAYOUT = "shrec22"
FPS = 30.0   # the RealSense tracker's rate, as the dataset's description states
NUM_JOINTS = 22
GESTURES = ("grab", "tap", "expand", "pinch", "rotation_cw", "rotation_ccw", "swipe_right",
            "swipe_left", "swipe_up", "swipe_down", "swipe_x", "swipe_plus", "swipe_v", "shake")
# gestures 1-6: hand shape matters ("fine"); the swipes and the shake are the hand's path ("coarse")
FINE_GESTURES = GESTURES[:6]
FINGERS = ("one_finger", "whole_hand")
SPLIT_FILES = {"train": "train_gestures.txt", "test": "test_gestures.txt"}
# every fifth of the 20 training people (sorted): 4 people, about a fifth of the training data
VAL_SUBJECTS = (8, 13, 19, 27)
LABEL_SETS = (14, 28)


def class_names(labels: int) -> list[str]:
    if labels not in LABEL_SETS:
        raise ValueError(f"SHREC'17 has label sets {LABEL_SETS}, got {labels!r}")
    if labels == 14:
        return list(GESTURES)
    return [f"{g}_{f}" for g in GESTURES for f in FINGERS]   # label_28 = (label_14 - 1) * 2 + finger


def fine_classes(labels: int) -> list[int]:
    """Class indices of the fine gestures (the dataset's hand-intensive classes)."""
    return [i for i, n in enumerate(class_names(labels)) if any(n.startswith(g) for g in FINE_GESTURES)]


def read_split_file(path) -> list[tuple[int, ...]]:
    """[(gesture, finger, subject, essai, label_14, label_28, frames)] of a split file."""
    p = pathlib.Path(path)
    rows = []
    for k, line in enumerate(_read_text(p).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{p}: line {k}"
        f = line.split()
        if len(f) != 7:
            raise ValueError(f"{where}: expected 7 integers (gesture finger subject essai label_14 "
                             f"label_28 frames), got {len(f)} fields")
        try:
            g, fi, s, e, l14, l28, n = (int(x) for x in f)
        except ValueError:
            raise ValueError(f"{where}: expected 7 integers, got {line.strip()[:80]!r}") from None
        if not (1 <= g <= 14 and fi in (1, 2) and 1 <= s and 1 <= e and n >= 1):
            raise ValueError(f"{where}: out-of-range field in {line.strip()[:80]!r}")
        if l14 != g or l28 != (g - 1) * 2 + fi:
            raise ValueError(f"{where}: labels {l14}/{l28} do not match gesture {g}, finger {fi}")
        rows.append((g, fi, s, e, l14, l28, n))
    if not rows:
        raise ValueError(f"{p}: no sequences listed")
    return rows


def read_sequence(path, frames: int | None = None, listed_at: str = "") -> np.ndarray:
    """One skeletons_world.txt -> [T, 22, 3] float32; `frames`: the count the split file lists."""
    p = pathlib.Path(path)
    out = []
    for k, line in enumerate(_read_text(p).splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        if len(f) != 3 * NUM_JOINTS:
            raise ValueError(f"{p}: line {k}: expected {3 * NUM_JOINTS} numbers (22 joints x, y, z), "
                             f"got {len(f)}")
        try:
            v = [float(x) for x in f]
        except ValueError:
            raise ValueError(f"{p}: line {k}: not a number in {line.strip()[:60]!r}...") from None
        if not all(math.isfinite(x) and abs(x) < 1e3 for x in v):
            raise ValueError(f"{p}: line {k}: a coordinate is not finite or not in metres")
        out.append(v)
    if not out:
        raise ValueError(f"{p}: no frames")
    if frames is not None and len(out) != frames:
        raise ValueError(f"{p}: {len(out)} frames, but {listed_at or 'the split file'} lists {frames} "
                         f"(truncated or the wrong file)")
    return np.asarray(out, np.float32).reshape(-1, NUM_JOINTS, 3)


def clip_name(g: int, f: int, s: int, e: int) -> str:
    return f"g{g:02d}_f{f}_s{s:02d}_e{e:02d}"


def convert_shrec17(root, labels: int = 14, gestures=None) -> SkeletonDataset:
    """The dataset under `root` with the labels of one label set (14 or 28 classes); `gestures`
    (1-based gesture numbers) keeps only those sequences (the classes stay all of the label set)."""
    root = pathlib.Path(root)
    keep = None if gestures is None else {int(g) for g in gestures}
    names = class_names(labels)
    clips, splits, subject = [], {}, {}
    for split, fname in SPLIT_FILES.items():
        rows = read_split_file(root / fname)
        splits[split] = []
        for k, (g, fi, s, e, l14, l28, n) in enumerate(rows, 1):
            if keep is not None and g not in keep:
                continue
            name = clip_name(g, fi, s, e)
            seq = (root / f"gesture_{g}" / f"finger_{fi}" / f"subject_{s}" / f"essai_{e}"
                   / "skeletons_world.txt")
            kp = read_sequence(seq, n, f"{fname} line {k}")[None]               # [1, T, 22, 3]
            clips.append(Clip(kp, np.ones(kp.shape[:3], np.float32), (l14 if labels == 14 else l28) - 1,
                              name))
            splits[split].append(name)
            subject[name] = s
    overlap = {subject[n] for n in splits["train"]} & {subject[n] for n in splits["test"]}
    if overlap:
        raise ValueError(f"{root}: subjects {sorted(overlap)} are in both the train and test files")
    splits["val_train"] = [n for n in splits["train"] if subject[n] not in VAL_SUBJECTS]
    splits["val"] = [n for n in splits["train"] if subject[n] in VAL_SUBJECTS]
    return SkeletonDataset(clips, names, LAYOUT, fine_classes(labels), splits, FPS)


def _read_text(p: pathlib.Path) -> str:
    if not p.is_file():
        raise ValueError(f"{p}: file not found (is this the SHREC'17 root?)")
    try:
        return p.read_text(encoding="ascii")
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: not a text file (byte {e.start})") from None
