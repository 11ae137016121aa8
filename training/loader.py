"""Datasets for training: read a skeleton dataset file, turn clips into model inputs with the
shared NumPy pipeline, and batch them.

Design choices (measured on the 2-core CPU box, see the report): per-sample preparation is cheap
next to the GCN's forward/backward, so training clips are prepared in-process every epoch (they
are augmented, so they cannot be cached), while the deterministic test inputs are prepared once and
kept as tensors.

Every training sample draws its randomness from its own generator seeded by (seed, epoch, index).
That makes an epoch's data independent of what ran before it, which is what lets a resumed run
and a distributed run reproduce a single-process run exactly, without saving loader state.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from bharnet.data.pipeline import Augment, InputSpec, collate, mirror, prepare_clip, clip_views
from bharnet.layouts import get_layout


@dataclass
class SkeletonData:
    """A dataset file's clips by split plus the metadata training needs (a view of the data area's
    SkeletonDataset, so that training code indexes splits directly)."""
    splits: dict[str, list]       # split name -> [bharnet.data.dataset.Clip]
    classes: list[str]
    layout: str
    hand_intensive: list[int] = field(default_factory=list)
    source: str = ""

    def split(self, name: str) -> list:
        if name not in self.splits:
            raise ValueError(f"{self.source}: no split {name!r}; available: {sorted(self.splits)}")
        return self.splits[name]


def _ntu_hand_intensive(classes: list[str]) -> list[int]:
    """NTU files converted before hand-intensive lists existed: use the data area's shipped lists."""
    from bharnet.data import ntu

    key = {60: "ntu60", 120: "ntu120"}.get(len(classes))
    return [i for i, _ in ntu.hand_intensive(key)] if key else []


def read_dataset(path, layout: str | None = None) -> SkeletonData:
    """Read a dataset file (.npz or PYSKL .pkl) with the data area's reader."""
    from bharnet.data import dataset

    ds = dataset.load(path, layout)
    hand = list(ds.hand_intensive)
    if not hand and ds.layout == "ntu25":
        hand = _ntu_hand_intensive(ds.classes)
    splits = {name: ds.subset(name) for name in ds.splits} or {"all": list(ds.clips)}
    return SkeletonData(splits, list(ds.classes), ds.layout, hand, str(path))


# ---- validation ------------------------------------------------------------------------------

def check_compatible(data: SkeletonData, spec: InputSpec, variant: str) -> None:
    """Refuse a dataset whose layout cannot feed the model, with a message that says what to do."""
    from bharnet.data.adapt import hands_problem

    src = get_layout(data.layout)
    why = hands_problem(src, spec)
    if why:
        raise ValueError(f"variant {variant!r} cannot read dataset {data.source}: {why}")
    if spec.body and spec.hand_routing == "both" and not set(get_layout(spec.body_layout).joints) \
            & set(src.joints):
        raise ValueError(f"dataset {data.source} (layout {src.name!r}) shares no joint with the body "
                         f"layout {spec.body_layout!r}: the body expert would see nothing; for "
                         f"hand-only data set data.hand_routing: one and data.body_layout: hand21")
    c = next(iter(c for s in data.splits.values() for c in s), None)
    if c is not None and c.keypoint.shape[-2] != src.num_joints:
        raise ValueError(f"dataset {data.source}: clips have {c.keypoint.shape[-2]} joints but layout "
                         f"{src.name!r} has {src.num_joints}")
    if c is not None and c.keypoint.shape[-1] < spec.coords:
        raise ValueError(f"dataset {data.source}: clips have {c.keypoint.shape[-1]} coordinates, the "
                         f"config asks for data.coords={spec.coords}")


# ---- augmentation options ----------------------------------------------------------------

@dataclass(frozen=True)
class AugmentOptions:
    """The config's data.augment section: the pipeline's Augment fields plus training-only extras.

    `flip` (probability of a left/right mirror) is applied here, on the raw clip in its source
    layout, because the pipeline has no flip: x is negated (normalisation re-centres it) and the
    layout's flip permutation swaps left/right joints.
    `speed` (s): the raw clip is replayed at a rate drawn from [1-s, 1+s] (frames repeated or
    skipped) before it is sampled: the duration variety that window resampling ("uniform",
    "stretch") gives for free but native-rate sampling ("crop", "stream") does not.
    `truncate` (f): the clip's last frames, a fraction drawn from [0, f], are cut before sampling,
    so a "stream" window (ending at the clip's last frame) also sees actions not yet complete.
    """
    pipeline: Augment | bool
    flip: float = 0.0
    speed: float = 0.0
    truncate: float = 0.0

    @classmethod
    def from_config(cls, d: dict | bool | None) -> "AugmentOptions":
        if d is False:
            return cls(False)
        d = dict(d or {})
        flip = float(d.pop("flip", 0.0))
        extra = {k: float(d.pop(k, 0.0)) for k in ("speed", "truncate")}
        for k, v in extra.items():
            if not 0.0 <= v < 1.0:
                raise ValueError(f"data.augment.{k} must be in [0, 1), got {v}")
        if d.pop("enabled", True) is False:
            return cls(False, flip, **extra)
        known = {f.name for f in fields(Augment)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown data.augment option(s) {sorted(unknown)}; known: "
                             f"{sorted(known | {'flip', 'speed', 'truncate', 'enabled'})}")
        return cls(Augment(**d), flip, **extra)


def replay(keypoint: np.ndarray, score: np.ndarray | None, rate: float):
    """The clip [M,T,...] played `rate` times as fast: frame j of the result is frame floor(j*rate)."""
    n = keypoint.shape[1]
    idx = np.minimum((np.arange(max(1, int(round(n / rate)))) * rate).astype(np.int64), n - 1)
    return keypoint[:, idx], None if score is None else score[:, idx]


# ---- datasets --------------------------------------------------------------------------------

class TrainSet:
    """Training clips, prepared (sampled + augmented) on access; deterministic given (seed, epoch)."""

    def __init__(self, clips: list, layout: str, spec: InputSpec, augment: AugmentOptions,
                 sample_mode: str = "uniform", seed: int = 0):
        self.clips, self.layout, self.spec = clips, layout, spec
        self.augment, self.mode, self.seed, self.epoch = augment, sample_mode, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int):
        c = self.clips[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        kp, sc = c.keypoint, c.score
        if self.augment.flip and rng.random() < self.augment.flip:
            kp, sc = mirror(kp, sc, self.layout)
        if self.augment.speed:
            kp, sc = replay(kp, sc, rng.uniform(1 - self.augment.speed, 1 + self.augment.speed))
        if self.augment.truncate:
            keep = kp.shape[1] - int(rng.uniform(0, self.augment.truncate) * kp.shape[1])
            kp, sc = kp[:, :max(1, keep)], None if sc is None else sc[:, :max(1, keep)]
        x = prepare_clip(kp, sc, self.layout, self.spec, train=True, rng=rng,
                         augment=self.augment.pipeline, mode=self.mode)
        return {k: v[0] for k, v in x.items()}, c.label


def prepare_test(clips: list, layout: str, spec: InputSpec, num_clips: int = 1,
                 sample_mode: str = "uniform", flip: bool = False) -> tuple[dict, np.ndarray]:
    """Deterministic test inputs, each array [N, K, ...] (K test views per sample), and labels.

    flip: also add the mirrored views (test-time augmentation; K doubles), so that the model's
    logits are averaged over both handednesses of the action.
    """
    views = [clip_views(c.keypoint, c.score, layout, spec, num_clips, sample_mode, flip) for c in clips]
    return collate(views), np.asarray([c.label for c in clips], np.int64)


def torch_collate(batch):
    import torch

    xs, ys = zip(*batch)
    return {k: torch.from_numpy(v) for k, v in collate(list(xs)).items()}, torch.as_tensor(ys)
