"""The one preprocessing pipeline used by training and by the torch-free SDK (NumPy only).

    keypoints [M,T,V,C] in any layout --adapt--> model joints, missing marked
        --augment (train only)--> --normalise--> --stream--> channel-first model inputs

Per-sample outputs (float32, no batch dim), see `InputSpec.input_shapes`:
    body [C,T,Vb,M]; hand [C,T,21,2M] (person m: left hand 2m, right hand 2m+1);
    hand_mask [T,2M] (1.0 where the hand is present); joints [C,T,65,M] (unified models).
"""
from __future__ import annotations

import numpy as np

from ..layouts import HAND21, Layout, get_layout
from .adapt import Adapted, adapt, source_has_hands
from .augment import Augment, augment_adapted
from .normalise import NORMALISATION, normalisation_metadata, normalise
from .sampling import sample_indices, take_frames
from .spec import UNIFIED_LAYOUT, InputSpec
from .streams import stream

__all__ = ["InputSpec", "Adapted", "Augment", "NORMALISATION", "adapt", "normalise", "prepare",
           "prepare_clip", "collate", "normalisation_metadata", "source_has_hands", "to_inputs"]


def _channels(x: np.ndarray, score: np.ndarray, layout_name: str, spec: InputSpec) -> np.ndarray:
    y = stream(x, score > 0, layout_name, spec.stream)
    if spec.with_score:
        y = np.concatenate([y, score[..., None]], axis=-1)
    return y


def _finite(y: np.ndarray) -> np.ndarray:
    # Missing values were zeroed at the adapter; this is a last guard, never expected to fire.
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.isfinite(y).all():
        np.nan_to_num(y, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return y


def to_inputs(a: Adapted, hand_mask: np.ndarray | None, spec: InputSpec) -> dict[str, np.ndarray]:
    """Normalised adapted arrays -> the model's channel-first inputs (stream applied)."""
    out: dict[str, np.ndarray] = {}
    if a.body is not None:
        out["body"] = _finite(_channels(a.body, a.body_score, spec.body_layout, spec)
                              .transpose(3, 1, 2, 0))
    if a.hand is not None:
        y = _channels(a.hand, a.hand_score, HAND21.name, spec)          # [M,2,T,21,C]
        m, _, t = y.shape[:3]
        out["hand"] = _finite(y.reshape(2 * m, t, 21, -1).transpose(3, 1, 2, 0))
        out["hand_mask"] = np.ascontiguousarray(hand_mask.reshape(2 * m, t).T, dtype=np.float32)
    if a.joints is not None:
        out["joints"] = _finite(_channels(a.joints, a.joints_score, UNIFIED_LAYOUT, spec)
                                .transpose(3, 1, 2, 0))
    return out


def prepare(keypoints, scores, layout: str | Layout, spec: InputSpec,
            rng: np.random.Generator | None = None, augment: Augment | bool | None = None
            ) -> dict[str, np.ndarray]:
    """One window (T == spec.window) of keypoints -> the model's per-sample inputs.

    augment: None/False = none (inference), True = Augment() defaults, or an Augment.
    """
    a = adapt(keypoints, scores, layout, spec)
    t = next(x for x in (a.body, a.hand, a.joints) if x is not None).shape[-3]
    if t != spec.window:
        raise ValueError(f"prepare needs T == spec.window == {spec.window} frames, got {t}; "
                         f"sample the clip first (sampling.sample_indices)")
    if augment:
        aug = Augment() if augment is True else augment
        augment_adapted(a, spec, aug, rng if rng is not None else np.random.default_rng())
    mask = normalise(a, spec)
    return to_inputs(a, mask, spec)


def prepare_clip(keypoint: np.ndarray, score: np.ndarray | None, layout: str | Layout,
                 spec: InputSpec, train: bool = False, rng: np.random.Generator | None = None,
                 augment: Augment | bool | None = None, num_clips: int = 1, mode: str = "uniform",
                 short: str = "loop") -> dict[str, np.ndarray]:
    """A whole clip of any length -> inputs stacked over num_clips: each array [K, ...].

    Training (train=True) samples random positions with rng and augments (unless augment=False);
    testing takes K deterministic, evenly spread clips (the training loop averages their logits).
    """
    layout = get_layout(layout)
    if train and rng is None:
        rng = np.random.default_rng()
    kp = np.asarray(keypoint, np.float32)
    if kp.ndim == 3:
        kp = kp[None]
    sc = None if score is None else np.asarray(score, np.float32).reshape(kp.shape[:3])
    idx = sample_indices(kp.shape[1], spec.window, mode, rng if train else None, num_clips, short)
    aug = (augment if augment is not None else True) if train else None
    per = [prepare(*take_frames(kp, sc, row), layout, spec, rng=rng, augment=aug) for row in idx]
    return collate(per)


def collate(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack per-sample input dicts along a new first axis."""
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}
