"""Optional torch adapter: a map-style dataset for torch.utils.data.DataLoader.

torch is imported only when items are fetched, so importing this module (and everything else in
bharnet.data) works without torch. The preprocessing is the shared NumPy pipeline.
"""
from __future__ import annotations

import numpy as np

from .augment import Augment
from .dataset import SkeletonDataset
from .pipeline import prepare_clip
from .spec import InputSpec


class TorchSkeletonDataset:
    """Items are (inputs: dict[str, torch.Tensor], label: int).

    Training (train=True): one randomly sampled, augmented window per item, with an rng seeded by
    (seed, epoch, index) so results do not depend on worker scheduling; call set_epoch() each
    epoch. Testing: num_clips evenly spread windows, arrays [K, ...] (K dropped when num_clips=1).
    """

    def __init__(self, dataset: SkeletonDataset, split: str, spec: InputSpec, train: bool = False,
                 num_clips: int = 1, augment: Augment | bool | None = None, seed: int = 0,
                 mode: str = "uniform"):
        self.dataset, self.spec, self.train = dataset, spec, train
        self.indices = dataset.split_indices(split)
        self.num_clips = 1 if train else num_clips
        self.augment, self.seed, self.mode, self.epoch = augment, seed, mode, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def arrays(self, i: int) -> tuple[dict[str, np.ndarray], int]:
        clip = self.dataset.clips[self.indices[i]]
        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.train else None
        out = prepare_clip(clip.keypoint, clip.score, self.dataset.layout, self.spec,
                           train=self.train, rng=rng, augment=self.augment,
                           num_clips=self.num_clips, mode=self.mode)
        if self.num_clips == 1:
            out = {k: v[0] for k, v in out.items()}
        return out, clip.label

    def __getitem__(self, i: int):
        import torch

        out, label = self.arrays(i)
        return {k: torch.from_numpy(v) for k, v in out.items()}, label
