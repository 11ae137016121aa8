"""NTU RGB+D 60/120: `.skeleton` text files -> a `SkeletonDataset` in layout ntu25 (3D).

File format (one sample per file): frame count; per frame the body count; per body one line of 10
values (bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence handRightState
isRestricted leanX leanY trackingState), the joint count, then one line of 12 values per joint
(x y z depthX depthY colorX colorY orientationW X Y Z trackingState).

Sample names are SsssCcccPpppRrrrAaaa (setup, camera, performer, replication, action; 1-based).
Kinect often reports extra "bodies" (furniture, reflections, a lost-and-refound actor under a new
id); `select_bodies` filters them. Joint score = trackingState (2 tracked -> 1.0, 1 inferred -> 0.5,
0 not tracked -> 0.0).
"""
from __future__ import annotations

import pathlib
import re

import numpy as np

from ..progress import progress
from .dataset import Clip, SkeletonDataset
from .resources import read_json, read_lines

NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
NUM_JOINTS = 25
# Standard training subjects (performer ids) of the cross-subject benchmarks.
XSUB60_TRAIN = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
XSUB120_TRAIN = XSUB60_TRAIN + (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78,
                                80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
XVIEW_TRAIN_CAMERAS = (2, 3)   # NTU-60 cross-view: cameras 2 and 3 train, camera 1 tests
_TRACKING_SCORE = np.array([0.0, 0.5, 1.0], np.float32)


def ntu_classes(dataset: str = "ntu120") -> list[str]:
    names = read_lines("ntu_classes.txt")
    return names[:_num_classes(dataset)]


def _num_classes(dataset: str) -> int:
    if dataset not in ("ntu60", "ntu120"):
        raise ValueError(f"dataset must be 'ntu60' or 'ntu120', got {dataset!r}")
    return 60 if dataset == "ntu60" else 120


def hand_intensive(dataset: str) -> list[tuple[int, str]]:
    """The NTU-Hand 11 (ntu60) / 27 (ntu120) classes as (0-based index, official name).

    A RECONSTRUCTION by this project, not the paper's list (which could not be read); see
    resources/ntu_hand_intensive.json.
    """
    _num_classes(dataset)
    return [(e["index"], e["name"]) for e in read_json("ntu_hand_intensive.json")[dataset]]


def parse_name(name: str) -> dict[str, int]:
    m = NAME_RE.search(name)
    if not m:
        raise ValueError(f"{name!r} is not an NTU sample name (SsssCcccPpppRrrrAaaa)")
    return dict(zip(("setup", "camera", "performer", "replication", "action"), map(int, m.groups())))


def is_train(name: str, benchmark: str, dataset: str = "ntu60") -> bool:
    f = parse_name(name)
    if benchmark == "xsub":
        return f["performer"] in (XSUB60_TRAIN if dataset == "ntu60" else XSUB120_TRAIN)
    if benchmark == "xview":
        if dataset != "ntu60":
            raise ValueError("the cross-view benchmark is defined for NTU-60; NTU-120 uses xset")
        return f["camera"] in XVIEW_TRAIN_CAMERAS
    if benchmark == "xset":
        return f["setup"] % 2 == 0   # even setup ids train, odd ones test
    raise ValueError(f"benchmark must be xsub, xview or xset, got {benchmark!r}")


def read_skeleton(path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One .skeleton file -> (keypoint [B,T,25,3], score [B,T,25], body ids), B = all bodies seen.

    A body absent in a frame has zero coordinates and score there.
    """
    path = pathlib.Path(path)
    lines = path.read_text().rstrip().split("\n")  # a trailing newline is not a line
    pos = 0

    def take(what: str, n_values: int | None = None) -> list[str]:
        nonlocal pos
        if pos >= len(lines):
            raise ValueError(f"{path}: file ends early, expected {what} at line {pos + 1}")
        vals = lines[pos].split()
        if n_values is not None and len(vals) != n_values:
            raise ValueError(f"{path}: line {pos + 1}: expected {what} ({n_values} values), got "
                             f"{len(vals)}: {lines[pos][:60]!r}")
        pos += 1
        return vals

    def count(what: str) -> int:
        v = take(what, 1)[0]
        try:
            return int(v)
        except ValueError:
            raise ValueError(f"{path}: line {pos}: expected {what} (an integer), got {v!r}") from None

    n_frames = count("the frame count")
    if n_frames < 0:
        raise ValueError(f"{path}: line 1: negative frame count {n_frames}")
    per_body: dict[str, tuple[list[int], list[np.ndarray]]] = {}
    for f in range(n_frames):
        for _ in range(count(f"the body count of frame {f}")):
            body_id = take("a body info line", 10)[0]
            nj = count("the joint count")
            if nj != NUM_JOINTS:
                raise ValueError(f"{path}: line {pos}: expected {NUM_JOINTS} joints, got {nj}")
            block = [ln.split() for ln in lines[pos:pos + nj]]
            if len(block) < nj or any(len(b) != 12 for b in block):
                bad = next((i for i, b in enumerate(block) if len(b) != 12), len(block))
                raise ValueError(f"{path}: line {pos + bad + 1}: expected a joint line of 12 values")
            pos += nj
            arr = np.asarray(block, dtype=np.float64)
            frames, joints = per_body.setdefault(body_id, ([], []))
            frames.append(f)
            joints.append(arr)
    ids = list(per_body)
    kp = np.zeros((len(ids), n_frames, NUM_JOINTS, 3), np.float32)
    sc = np.zeros((len(ids), n_frames, NUM_JOINTS), np.float32)
    for b, bid in enumerate(ids):
        frames, joints = per_body[bid]
        arr = np.stack(joints)                                     # [n, 25, 12]
        kp[b, frames] = arr[..., :3]
        # trackingState is 0, 1 or 2; anything else (nan, 1e300) is clipped before the cast
        state = np.clip(np.nan_to_num(arr[..., 11], nan=0.0), 0, 2).astype(int)
        sc[b, frames] = _TRACKING_SCORE[state]
    return kp, sc, ids


def select_bodies(kp: np.ndarray, sc: np.ndarray, max_persons: int = 2, min_frames: int = 11,
                  max_spread_ratio: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Drop noisy bodies, join re-identified ones, keep the `max_persons` most active (first).

    Noise rules (applied only while more than one body is left): a body seen in fewer than
    `min_frames` frames; a body wider than `max_spread_ratio` x its height in most of its frames
    (objects and reflections, rarely a standing or sitting person). Activity = total variance of
    its joints over the frames where it is present.
    """
    present = np.abs(kp).sum(-1).sum(-1) > 0                       # [B, T]
    keep = present.any(1)
    if keep.sum() > 1:
        long_enough = keep & (present.sum(1) >= min_frames)
        if long_enough.any():
            keep = long_enough
    if keep.sum() > 1:
        width = np.ptp(kp[..., 0], axis=-1)
        height = np.ptp(kp[..., 1], axis=-1)
        wide = (width > max_spread_ratio * height) & present
        body_like = keep & (wide.sum(1) <= 0.5 * np.maximum(present.sum(1), 1))
        if body_like.any():
            keep = body_like
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return kp[:0], sc[:0]
    p = present[idx][..., None, None]
    n = np.maximum(p.sum(1), 1)
    mean = (kp[idx] * p).sum(1) / n
    var = (((kp[idx] - mean[:, None]) ** 2) * p).sum(1) / n         # [b, 25, 3]
    order = idx[np.argsort(-var.sum((1, 2)), kind="stable")]
    kp, sc, present = kp[order], sc[order], present[order]
    # Kinect re-identifies a lost actor under a new id: join bodies that never co-occur into one
    # track (most active first), so a single actor is one person, not two half-empty ones.
    tracks: list[int] = []
    for b in range(len(order)):
        host = next((t for t in tracks if not (present[t] & present[b]).any()), None)
        if host is None:
            tracks.append(b)
        else:
            kp[host, present[b]] = kp[b, present[b]]
            sc[host, present[b]] = sc[b, present[b]]
            present[host] |= present[b]
    tracks = tracks[:max_persons]
    return kp[tracks], sc[tracks]


def load_missing(dataset: str = "ntu60", path=None) -> set[str]:
    """Sample names to skip: from a user file (e.g. the official list) or the shipped placeholder."""
    if path is not None:
        text = pathlib.Path(path).read_text().splitlines()
        lines = [ln.strip() for ln in text if ln.strip() and not ln.lstrip().startswith("#")]
    else:
        lines = read_lines(f"{dataset}_missing_skeletons.txt")
    return {NAME_RE.search(ln).group(0) if NAME_RE.search(ln) else ln for ln in lines}


def convert_ntu(directory, benchmark: str = "xsub", dataset: str | None = None,
                missing_file=None, max_persons: int = 2, verbose: bool = True) -> SkeletonDataset:
    """A directory of .skeleton files -> SkeletonDataset (layout ntu25, splits train/test)."""
    directory = pathlib.Path(directory)
    files = sorted(directory.glob("*.skeleton"))
    if not files:
        raise FileNotFoundError(f"no .skeleton files in {directory}")
    if dataset is None:
        dataset = "ntu120" if any(parse_name(f.stem)["action"] > 60 for f in files) else "ntu60"
    n_cls = _num_classes(dataset)
    missing = load_missing(dataset, missing_file)
    clips, train, test, skipped_list, skipped_empty = [], [], [], 0, 0
    for f in progress(files, desc=f"NTU skeleton files ({directory})", unit="file",
                      quiet=not verbose):
        action = parse_name(f.stem)["action"]          # also validates the name
        name = NAME_RE.search(f.stem).group(0)
        if action > n_cls:
            continue
        if name in missing:
            skipped_list += 1
            continue
        kp, sc, _ = read_skeleton(f)
        kp, sc = select_bodies(kp, sc, max_persons)
        if kp.shape[0] == 0 or kp.shape[1] == 0:
            skipped_empty += 1
            continue
        clips.append(Clip(kp, sc, action - 1, name))
        (train if is_train(name, benchmark, dataset) else test).append(name)
    if verbose:
        print(f"ntu: {len(clips)} samples; skipped {skipped_list} listed as missing and "
              f"{skipped_empty} with no skeleton")
    if not clips:
        raise ValueError(f"{directory}: no usable NTU samples")
    return SkeletonDataset(clips, ntu_classes(dataset), "ntu25",
                           [i for i, _ in hand_intensive(dataset)], {"train": train, "test": test})
