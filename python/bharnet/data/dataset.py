"""The in-memory skeleton dataset that training consumes, and its two file formats.

- PYSKL annotation pickles (`.pkl`): the de-facto format of skeleton action datasets. They are read
  by a restricted unpickler (`safe_pickle`) that admits only dicts, lists, strings, numbers and
  NumPy arrays and refuses any other global, so a downloaded file cannot run code. The SDK never
  unpickles anything. Convert once with `bharnet data convert` to:
- `.npz` (safe): loads with `allow_pickle=False`. Ragged clips are packed as one array
  concatenated over clips (rows = persons x frames) plus per-clip offsets.

Optional top-level PYSKL keys honoured: `classes` (names), `layout` (a layout name),
`hand_intensive` (list of class indices).
"""
from __future__ import annotations

import math
import pathlib
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ..layouts import get_layout

NPZ_FORMAT = "bharnet-skeleton-npz-1"
# Guess a layout from the joint count when a file does not name one.
_LAYOUT_BY_V = {17: "coco17", 25: "ntu25", 133: "coco_wholebody", 15: "jhmdb15",
                75: "mediapipe_holistic", 20: "kinect20"}


@dataclass
class Clip:
    keypoint: np.ndarray         # [M, T, V, C] float32
    score: np.ndarray            # [M, T, V] float32
    label: int
    name: str

    @property
    def num_frames(self) -> int:
        return int(self.keypoint.shape[1])


@dataclass
class SkeletonDataset:
    clips: list[Clip]
    classes: list[str]
    layout: str
    hand_intensive: list[int] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)   # split name -> clip names
    fps: float | None = None     # the recorded frame rate, where the source states it

    def __post_init__(self):
        self.validate()

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> Clip:
        return self.clips[i]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split_indices(self, name: str) -> list[int]:
        if name not in self.splits:
            raise KeyError(f"no split {name!r}; this dataset has {sorted(self.splits)}")
        pos = {c.name: i for i, c in enumerate(self.clips)}
        return [pos[n] for n in self.splits[name]]

    def subset(self, name: str) -> list[Clip]:
        return [self.clips[i] for i in self.split_indices(name)]

    def validate(self, source: str = "dataset") -> None:
        try:
            layout = get_layout(self.layout)
        except KeyError as e:
            raise ValueError(f"{source}: {e.args[0]}") from None
        names = set()
        for i, c in enumerate(self.clips):
            where = f"{source}: clip {i} ({c.name!r})"
            if c.keypoint.ndim != 4:
                raise ValueError(f"{where}: keypoint must be [M,T,V,C], got shape {c.keypoint.shape}")
            if c.keypoint.shape[2] != layout.num_joints:
                raise ValueError(f"{where}: keypoint has V={c.keypoint.shape[2]} but layout "
                                 f"{layout.name!r} has {layout.num_joints} joints")
            if c.score.shape != c.keypoint.shape[:3]:
                raise ValueError(f"{where}: keypoint_score shape {c.score.shape} does not match "
                                 f"keypoint {c.keypoint.shape}")
            if c.keypoint.shape[1] < 1:
                raise ValueError(f"{where}: has no frames")
            if not 0 <= c.label < len(self.classes):
                raise ValueError(f"{where}: label {c.label} outside 0..{len(self.classes) - 1}")
            if c.name in names:
                raise ValueError(f"{where}: duplicate clip name")
            names.add(c.name)
        for split, members in self.splits.items():
            missing = [n for n in members if n not in names]
            if missing:
                raise ValueError(f"{source}: split {split!r} names {len(missing)} clips that are not "
                                 f"in the annotations, e.g. {missing[:3]}")
        bad = [k for k in self.hand_intensive if not 0 <= k < len(self.classes)]
        if bad:
            raise ValueError(f"{source}: hand_intensive has class indices out of range: {bad}")

    # ---- PYSKL dict (what the pickle holds) -----------------------------------
    def to_pyskl(self) -> dict:
        return {
            "split": {k: list(v) for k, v in self.splits.items()},
            "annotations": [{"frame_dir": c.name, "label": int(c.label), "keypoint": c.keypoint,
                             "keypoint_score": c.score, "total_frames": c.num_frames}
                            for c in self.clips],
            "classes": list(self.classes), "layout": self.layout,
            "hand_intensive": list(self.hand_intensive),
            **({"fps": float(self.fps)} if self.fps else {}),
        }


Dataset = SkeletonDataset  # the name other modules and the brief use


def _infer_layout(v: int, source: str) -> str:
    if v not in _LAYOUT_BY_V:
        raise ValueError(f"{source}: no 'layout' key and V={v} matches no known layout; "
                         f"pass layout=... (known by V: {_LAYOUT_BY_V})")
    return _LAYOUT_BY_V[v]


def from_pyskl(data, source: str = "<dict>", layout: str | None = None) -> SkeletonDataset:
    """Build a dataset from a PYSKL-style dict, validating every field (ValueError if malformed)."""
    try:
        return _from_pyskl(data, source, layout)
    except (TypeError, OverflowError, AttributeError, KeyError, IndexError) as e:
        # a field of the wrong type somewhere (a list where a label should be, ...)
        raise ValueError(f"{source}: malformed PYSKL data ({type(e).__name__}: {e})") from None


def _from_pyskl(data, source: str, layout: str | None) -> SkeletonDataset:
    if not isinstance(data, dict) or "annotations" not in data:
        got = sorted(map(repr, data)) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{source}: expected a dict with 'annotations' (and 'split'), got {got}")
    anns = data["annotations"]
    if not isinstance(anns, (list, tuple)) or not anns:
        raise ValueError(f"{source}: 'annotations' must be a non-empty list")
    clips = []
    for i, a in enumerate(anns):
        where = f"{source}: annotations[{i}]"
        if not isinstance(a, dict):
            raise ValueError(f"{where}: expected a dict, got {type(a).__name__}")
        for key in ("keypoint", "label", "frame_dir"):
            if key not in a:
                raise ValueError(f"{where}: missing field {key!r} (has {sorted(map(repr, a))})")
        kp = np.asarray(a["keypoint"], dtype=np.float32)
        if kp.ndim != 4:
            raise ValueError(f"{where} ({a['frame_dir']!r}): field 'keypoint' must be [M,T,V,C], "
                             f"got shape {kp.shape}")
        if "keypoint_score" in a and a["keypoint_score"] is not None:
            sc = np.asarray(a["keypoint_score"], dtype=np.float32)
            if sc.shape != kp.shape[:3]:
                raise ValueError(f"{where} ({a['frame_dir']!r}): field 'keypoint_score' shape "
                                 f"{sc.shape} does not match keypoint {kp.shape}")
        else:  # PYSKL's 3D NTU files carry no scores: every stored joint is real
            sc = np.ones(kp.shape[:3], np.float32)
        tf = a.get("total_frames", kp.shape[1])
        if int(tf) != kp.shape[1]:
            raise ValueError(f"{where} ({a['frame_dir']!r}): total_frames={tf} but keypoint has "
                             f"T={kp.shape[1]}")
        clips.append(Clip(kp, sc, int(a["label"]), str(a["frame_dir"])))
    lay = layout or data.get("layout") or _infer_layout(clips[0].keypoint.shape[2], source)
    n_cls = max(c.label for c in clips) + 1
    classes = [str(c) for c in data.get("classes", [str(k) for k in range(n_cls)])]
    splits = data.get("split", {})
    if not isinstance(splits, dict):
        raise ValueError(f"{source}: 'split' must be a dict of name -> list of frame_dir")
    fps = data.get("fps")
    return SkeletonDataset(clips, classes, str(lay), [int(k) for k in data.get("hand_intensive", [])],
                           {str(k): [str(n) for n in v] for k, v in splits.items()},
                           float(fps) if fps else None)


def load_pyskl(path, layout: str | None = None) -> SkeletonDataset:
    """Read a PYSKL pickle through the data-only unpickler (UnsafePickleError, a ValueError, for
    anything that is not plain data)."""
    from . import safe_pickle

    return from_pyskl(safe_pickle.load(path), str(path), layout)


def save_pyskl(ds: SkeletonDataset, path) -> None:
    import pickle

    with open(path, "wb") as f:
        pickle.dump(ds.to_pyskl(), f, protocol=4)


# ---- safe npz --------------------------------------------------------------------
def save_npz(ds: SkeletonDataset, path) -> None:
    ds.validate(str(path))
    c = ds.clips[0].keypoint.shape[3]
    if any(cl.keypoint.shape[3] != c for cl in ds.clips):
        raise ValueError(f"{path}: clips have different channel counts; cannot pack")
    mt = np.array([[cl.keypoint.shape[0], cl.keypoint.shape[1]] for cl in ds.clips], np.int64)
    rows = mt[:, 0] * mt[:, 1]
    offsets = np.concatenate([[0], np.cumsum(rows)])
    v = get_layout(ds.layout).num_joints
    split_names = list(ds.splits)
    pos = {cl.name: i for i, cl in enumerate(ds.clips)}
    split_idx = [np.array([pos[n] for n in ds.splits[s]], np.int64) for s in split_names]
    np.savez_compressed(
        path,
        format=np.array(NPZ_FORMAT),
        keypoint=np.concatenate([cl.keypoint.reshape(-1, v, c) for cl in ds.clips]).astype(np.float32),
        score=np.concatenate([cl.score.reshape(-1, v) for cl in ds.clips]).astype(np.float32),
        offsets=offsets, persons_frames=mt,
        label=np.array([cl.label for cl in ds.clips], np.int64),
        name=np.array([cl.name for cl in ds.clips], dtype=str),
        classes=np.array(ds.classes, dtype=str), layout=np.array(ds.layout),
        hand_intensive=np.array(ds.hand_intensive, np.int64),
        split_names=np.array(split_names, dtype=str),
        split_offsets=np.concatenate([[0], np.cumsum([len(s) for s in split_idx])]).astype(np.int64),
        split_index=(np.concatenate(split_idx) if split_idx else np.zeros(0, np.int64)),
        **({"fps": np.array(float(ds.fps))} if ds.fps else {}),
    )


# key -> (ndim, dtype kinds): what save_npz writes; anything else is refused before use
_NPZ_KEYS = {"format": (0, "U"), "keypoint": (3, "f"), "score": (2, "f"), "offsets": (1, "iu"),
             "persons_frames": (2, "iu"), "label": (1, "iu"), "name": (1, "U"), "classes": (1, "U"),
             "layout": (0, "U"), "hand_intensive": (1, "iu"), "split_names": (1, "U"),
             "split_offsets": (1, "iu"), "split_index": (1, "iu")}
_NPZ_OPTIONAL = {"fps": (0, "f")}   # added later: files without it stay valid


def _npz_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One .npy member, its header checked against the member's size before any allocation
    (NumPy allocates the declared shape first, so a lying header could ask for terabytes)."""
    fmt = np.lib.format
    with z.open(info) as f:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read_header(f)
        header_end = f.tell()
    if dtype.hasobject:
        raise ValueError(f"member {info.filename!r} holds Python objects (refused: not data)")
    if any(n < 0 for n in shape) or header_end + math.prod(shape) * dtype.itemsize != info.file_size:
        raise ValueError(f"member {info.filename!r}: its header's shape {shape} does not match its size")
    with z.open(info) as f:
        return fmt.read_array(f, allow_pickle=False)


def _read_npz(path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as z:
            infos = {i.filename[:-4]: i for i in z.infolist() if i.filename.endswith(".npy")}
            missing = [k for k in _NPZ_KEYS if k not in infos]
            if missing:
                raise ValueError(f"not a bharnet skeleton npz, missing arrays {missing}")
            d = {k: _npz_member(z, infos[k]) for k in (*_NPZ_KEYS, *_NPZ_OPTIONAL) if k in infos}
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except Exception as e:   # noqa: BLE001 - a damaged zip fails in many ways; one error type out
        raise ValueError(f"{path}: not a readable .npz ({type(e).__name__}: {e})") from None
    for k, (ndim, kinds) in {**_NPZ_KEYS, **_NPZ_OPTIONAL}.items():
        if k in d and (d[k].ndim != ndim or d[k].dtype.kind not in kinds):   # optional keys may be absent
            raise ValueError(f"{path}: array {k!r} is {d[k].dtype}{list(d[k].shape)}, expected "
                             f"{ndim}-d of kind {kinds!r}")
    return d


def load_npz(path) -> SkeletonDataset:
    """Read the safe npz format (never unpickles); ValueError for anything else."""
    d = _read_npz(path)
    if str(d["format"]) != NPZ_FORMAT:
        raise ValueError(f"{path}: format {str(d['format'])!r}, expected {NPZ_FORMAT!r}")
    kp, sc, off, mt = d["keypoint"], d["score"], d["offsets"].astype(np.int64), d["persons_frames"]
    n = len(d["label"])
    if off.shape != (n + 1,) or mt.shape != (n, 2) or len(d["name"]) != n:
        raise ValueError(f"{path}: offsets {off.shape}, persons_frames {mt.shape}, name "
                         f"{d['name'].shape} do not match {n} labels")
    if sc.shape != kp.shape[:2] or off[0] != 0 or off[-1] != kp.shape[0] or np.any(np.diff(off) < 0):
        raise ValueError(f"{path}: keypoint {kp.shape} / score {sc.shape} / offsets "
                         f"{off[0]}..{off[-1]} are inconsistent")
    if np.any(mt < 0) or np.any(mt.astype(np.int64).prod(1) != np.diff(off)):
        raise ValueError(f"{path}: persons_frames do not match the offsets")
    clips = [Clip(kp[off[i]:off[i + 1]].reshape(mt[i, 0], mt[i, 1], kp.shape[1], kp.shape[2]),
                  sc[off[i]:off[i + 1]].reshape(mt[i, 0], mt[i, 1], kp.shape[1]),
                  int(d["label"][i]), str(d["name"][i])) for i in range(n)]
    so, si = d["split_offsets"].astype(np.int64), d["split_index"]
    if so.shape != (len(d["split_names"]) + 1,) or (so.size and (so[0] != 0 or so[-1] != si.size)) \
            or np.any(np.diff(so) < 0) or (si.size and (si.min() < 0 or si.max() >= n)):
        raise ValueError(f"{path}: split arrays are inconsistent")
    splits = {str(s): [clips[j].name for j in si[so[k]:so[k + 1]]]
              for k, s in enumerate(d["split_names"])}
    fps = float(d["fps"]) if "fps" in d else None
    if fps is not None and not (0 < fps < 1e4):
        raise ValueError(f"{path}: fps {fps} is not a frame rate")
    return SkeletonDataset(clips, [str(c) for c in d["classes"]], str(d["layout"]),
                           [int(k) for k in d["hand_intensive"]], splits, fps)


def load(path, layout: str | None = None) -> SkeletonDataset:
    """Load a dataset by extension: .npz or .pkl/.pickle (PYSKL, data-only unpickler)."""
    p = pathlib.Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset file not found: {p}")
    if p.suffix == ".npz":
        ds = load_npz(p)
        return ds if layout is None else SkeletonDataset(ds.clips, ds.classes, layout,
                                                         ds.hand_intensive, ds.splits, ds.fps)
    if p.suffix in (".pkl", ".pickle"):
        return load_pyskl(p, layout)
    raise ValueError(f"{p}: unknown dataset extension {p.suffix!r}; expected .npz or .pkl")


def save(ds: SkeletonDataset, path) -> None:
    p = pathlib.Path(path)
    if p.suffix == ".npz":
        save_npz(ds, p)
    elif p.suffix in (".pkl", ".pickle"):
        save_pyskl(ds, p)
    else:
        raise ValueError(f"{p}: unknown dataset extension {p.suffix!r}; expected .npz or .pkl")


def convert(src, dst, layout: str | None = None) -> SkeletonDataset:
    """Convert between formats (typically PYSKL .pkl -> safe .npz)."""
    ds = load(src, layout)
    save(ds, dst)
    return ds
