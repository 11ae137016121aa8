"""Northwestern-UCLA Multiview Action 3D -> SkeletonDataset (layout kinect20, 3D).

Samples are named aXX_sYY_eZZ_vWW (action, subject, episode, view). Accepted sample files:
- JSON `{"skeletons": [[[x, y, z], ... 20 joints] per frame], ...}` (the widely shared conversion);
- text: every non-empty line is either a whole frame (60 values, or 80 with a score per joint) or
  one joint (3 or 4 values, 20 lines per frame).
Cross-view benchmark: views 1 and 2 train, view 3 tests.
"""
from __future__ import annotations

import json
import pathlib
import re

import numpy as np

from ..progress import progress
from .dataset import Clip, SkeletonDataset

NAME_RE = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")
ACTION_IDS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
CLASSES = ("pick up with one hand", "pick up with two hands", "drop trash", "walk around",
           "sit down", "stand up", "donning", "doffing", "throw", "carry")
TRAIN_VIEWS = (1, 2)
NUM_JOINTS = 20


def parse_name(name: str) -> dict[str, int]:
    m = NAME_RE.search(name)
    if not m:
        raise ValueError(f"{name!r} is not a Northwestern-UCLA sample name (aXX_sYY_eZZ_vWW)")
    return dict(zip(("action", "subject", "episode", "view"), map(int, m.groups())))


def _floats(path, values) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as e:   # ragged lists, objects, words where numbers go
        raise ValueError(f"{path}: not a grid of numbers ({e})") from None


def read_sample(path) -> tuple[np.ndarray, np.ndarray]:
    """-> keypoint [1,T,20,3], score [1,T,20]."""
    path = pathlib.Path(path)
    score = None
    if path.suffix == ".json":
        try:
            d = json.loads(path.read_text())
        except RecursionError:   # nesting deeper than any skeleton file: not one
            raise ValueError(f"{path}: JSON nested too deeply") from None
        if not isinstance(d, dict) or "skeletons" not in d:
            raise ValueError(f"{path}: expected a JSON object with 'skeletons'")
        arr = _floats(path, d["skeletons"])
        if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f"{path}: 'skeletons' must be [T,{NUM_JOINTS},3], got {arr.shape}")
    else:
        rows = [ln.replace(",", " ").split() for ln in path.read_text().splitlines() if ln.strip()]
        widths = {len(r) for r in rows}
        if len(widths) != 1 or not widths <= {3, 4, 60, 80}:
            raise ValueError(f"{path}: lines must all hold 60/80 (a frame) or 3/4 (a joint) values, "
                             f"got widths {sorted(widths)}")
        w = widths.pop()
        flat = _floats(path, rows).reshape(-1, w // (20 if w > 4 else 1))
        if flat.shape[0] % NUM_JOINTS:
            raise ValueError(f"{path}: {flat.shape[0]} joint rows is not a multiple of {NUM_JOINTS}")
        arr = flat[:, :3].reshape(-1, NUM_JOINTS, 3)
        if flat.shape[1] == 4:
            score = flat[:, 3].reshape(-1, NUM_JOINTS)
    if arr.shape[0] == 0:
        raise ValueError(f"{path}: no frames")
    if score is None:
        score = (arr != 0).any(-1).astype(np.float32)
    return arr[None], score[None].astype(np.float32)


def convert_nwucla(root) -> SkeletonDataset:
    root = pathlib.Path(root)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".json", ".txt") and NAME_RE.search(p.stem))
    if not files:
        raise FileNotFoundError(f"no aXX_sYY_eZZ_vWW .json/.txt samples under {root}")
    clips, train, test = [], [], []
    for f in progress(files, desc=f"NW-UCLA samples ({root})", unit="file"):
        info = parse_name(f.stem)
        if info["action"] not in ACTION_IDS:
            raise ValueError(f"{f}: action a{info['action']:02d} is not an NW-UCLA action {ACTION_IDS}")
        kp, sc = read_sample(f)
        name = NAME_RE.search(f.stem).group(0)
        clips.append(Clip(kp, sc, ACTION_IDS.index(info["action"]), name))
        (train if info["view"] in TRAIN_VIEWS else test).append(name)
    return SkeletonDataset(clips, list(CLASSES), "kinect20", [], {"train": train, "test": test})
