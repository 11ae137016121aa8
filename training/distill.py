"""Knowledge distillation from a trained (windowed) teacher into the model being trained.

Config (train.distill; absent or {} = off):

    distill: {teacher: work_dirs/jhmdb14/final.pt, alpha: 0.5, temperature: 4.0}

Why: a streaming student sees each clip at its native rate, ending at its last frame, while the
windowed teacher sees the whole clip stretched over its window (and mirrored views). The teacher's
soft targets carry what that protocol lets it see (which classes a clip resembles) into the
student's training. They are computed once per training clip, under the teacher's own clip
protocol (its checkpoint's preparation, sampling mode, test clips and mirror views: the same path
as `bharnet eval`), and do not depend on the student's augmentation of that clip.

Loss (Hinton et al. 2015): (1 - alpha) * the student's own loss + alpha * T^2 * KL(p_t || p_s),
p = softmax(logits / T); the T^2 keeps the soft term's gradient on the scale of the hard one.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

KEYS = ("teacher", "alpha", "temperature")


@dataclass(frozen=True)
class Distill:
    teacher: pathlib.Path
    alpha: float = 0.5
    temperature: float = 4.0

    @classmethod
    def from_config(cls, d) -> "Distill | None":
        """The train.distill mapping, checked (None when distillation is off)."""
        if not d:
            return None
        if not isinstance(d, dict):
            raise ValueError(f"train.distill: expected a mapping with keys {list(KEYS)}, got {d!r}")
        unknown = set(d) - set(KEYS)
        if unknown:
            raise ValueError(f"unknown train.distill option(s) {sorted(unknown)}; known: {list(KEYS)}")
        if not d.get("teacher"):
            raise ValueError("train.distill.teacher: the teacher checkpoint (a final.pt) is missing")
        teacher = pathlib.Path(d["teacher"])
        if not teacher.is_file():
            raise FileNotFoundError(f"train.distill.teacher: checkpoint not found: {teacher} (train the "
                                    f"teacher first, e.g. bharnet train training/configs/jhmdb14.yaml)")
        out = {}
        for key, lo, hi in (("alpha", 0.0, 1.0), ("temperature", 0.0, None)):
            v = d.get(key, getattr(cls, key))
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"train.distill.{key}: expected a number, got {v!r}")
            if v < lo or (hi is not None and v > hi) or (key == "temperature" and v <= 0):
                raise ValueError(f"train.distill.{key}: {v} is outside "
                                 + ("[0, 1]" if hi is not None else "(0, inf)"))
            out[key] = float(v)
        return cls(teacher, **out)

    def teacher_logits(self, data, split: str, device: str = "cpu", quiet: bool = False) -> np.ndarray:
        """[N, classes] teacher logits of the split's clips (in the split's order), under the
        teacher's own test protocol. `data`: the trainer's SkeletonData (not read again)."""
        import torch

        from .evaluate import checkpoint_scores

        # checkpoint_scores refuses a teacher trained on other classes or another input layout
        try:  # building the teacher must not move the student's random stream (init, dropout)
            with torch.random.fork_rng(devices=[]):
                scores, labels, _, _ = checkpoint_scores(self.teacher, data.source, split, device,
                                                         data_cache={data.source: data}, quiet=quiet)
        except ValueError as e:
            raise ValueError(f"train.distill.teacher: {e}") from None
        if not np.array_equal(labels, [c.label for c in data.split(split)]):
            raise ValueError(f"train.distill.teacher {self.teacher}: scored other clips than split {split!r}")
        return scores.astype(np.float32)

    def loss(self, own_loss, student_logits, teacher_logits):
        """(1 - alpha) * own_loss + alpha * T^2 * KL(teacher || student) at temperature T."""
        return (1.0 - self.alpha) * own_loss + self.alpha * soft_loss(student_logits, teacher_logits,
                                                                       self.temperature)


def soft_loss(student_logits, teacher_logits, temperature: float):
    """T^2 * KL(softmax(teacher/T) || softmax(student/T)), averaged over the batch."""
    import torch.nn.functional as F

    t = float(temperature)
    log_p_s = F.log_softmax(student_logits.float() / t, dim=1)
    log_p_t = F.log_softmax(teacher_logits.float() / t, dim=1)
    return F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True) * t * t


class WithTeacher:
    """A training set whose samples also carry their clip's teacher logits: (x, (label, logits))."""

    def __init__(self, base, logits: np.ndarray):
        if len(logits) != len(base):
            raise ValueError(f"{len(logits)} teacher rows for {len(base)} training clips")
        self.base, self.logits = base, logits

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i]
        return x, (y, self.logits[i])


def collate(batch):
    """torch_collate for WithTeacher samples: (inputs, (labels, teacher logits))."""
    import torch

    from .loader import torch_collate

    x, y = torch_collate([(x, y) for x, (y, _) in batch])
    return x, (y, torch.from_numpy(np.stack([t for _, (_, t) in batch])))
