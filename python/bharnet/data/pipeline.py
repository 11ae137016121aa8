"""The one preprocessing pipeline used by training and by the torch-free SDK (NumPy only).

    keypoints [M,T,V,C] in any layout --adapt--> model joints, missing marked
        --augment (train only)--> --normalise--> --stream--> channel-first model inputs

A causal spec (streaming models, `spec.normalisation == "causal-v1"`) normalises every frame with
its trailing statistics only (causal.py): a clip is prepared as a stream from its first frame and
then windowed (sampling mode "stream"), rather than windowed and then normalised.

Per-sample outputs (float32, no batch dim), see `InputSpec.input_shapes`:
    body [C,T,Vb,M]; hand [C,T,21,2M] (person m: left hand 2m, right hand 2m+1);
    hand_mask [T,2M] (1.0 where the hand is present); joints [C,T,65,M] (unified models).
"""
from __future__ import annotations

import numpy as np

from ..layouts import Layout, get_layout
from .adapt import Adapted, adapt, source_has_hands
from .augment import Augment, augment_adapted
from .causal import CausalPreparer, prepare_stream, stream_inputs
from .inputs import take_steps, to_inputs
from .normalise import NORMALISATION, normalisation_metadata, normalise
from .sampling import sample_indices, take_frames
from .spec import InputSpec

__all__ = ["InputSpec", "Adapted", "Augment", "NORMALISATION", "adapt", "normalise", "prepare",
           "prepare_clip", "clip_views", "mirror", "collate", "normalisation_metadata", "source_has_hands", "to_inputs",
           "prepare_stream", "CausalPreparer", "take_steps"]


def prepare(keypoints, scores, layout: str | Layout, spec: InputSpec,
            rng: np.random.Generator | None = None, augment: Augment | bool | None = None
            ) -> dict[str, np.ndarray]:
    """One window (T == spec.window) of keypoints -> the model's per-sample inputs.

    augment: None/False = none (inference), True = Augment() defaults, or an Augment.
    A causal spec prepares the window as a stream that starts at its first frame (the same as
    `prepare_stream`); a stream's continual runtime also knows the frames before the window.
    """
    a = adapt(keypoints, scores, layout, spec)
    t = next(x for x in (a.body, a.hand, a.joints) if x is not None).shape[-3]
    if t != spec.window:
        raise ValueError(f"prepare needs T == spec.window == {spec.window} frames, got {t}; "
                         f"sample the clip first (sampling.sample_indices)")
    if augment:
        aug = Augment() if augment is True else augment
        augment_adapted(a, spec, aug, rng if rng is not None else np.random.default_rng())
    if spec.causal:
        return stream_inputs(a, spec)
    mask = normalise(a, spec)
    return to_inputs(a, mask, spec)


def prepare_clip(keypoint: np.ndarray, score: np.ndarray | None, layout: str | Layout,
                 spec: InputSpec, train: bool = False, rng: np.random.Generator | None = None,
                 augment: Augment | bool | None = None, num_clips: int = 1, mode: str = "uniform",
                 short: str = "loop") -> dict[str, np.ndarray]:
    """A whole clip of any length -> inputs stacked over num_clips: each array [K, ...].

    Training (train=True) samples random positions with rng and augments (unless augment=False);
    testing takes K deterministic, evenly spread clips (the training loop averages their logits).
    A causal spec needs mode "stream": the clip is augmented as a whole, prepared causally, then
    windowed (frames before its start are missing).
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
    if spec.causal:
        return _causal_windows(kp, sc, layout, spec, idx, mode, rng, aug)
    per = [prepare(*take_frames(kp, sc, row), layout, spec, rng=rng, augment=aug) for row in idx]
    return collate(per)


def _causal_windows(kp, sc, layout, spec: InputSpec, idx: np.ndarray, mode: str, rng, aug):
    if mode != "stream":
        raise ValueError(f"a causal spec (normalisation {spec.normalisation!r}) is sampled with "
                         f"mode 'stream' (windows ending at a frame, no resampling), got {mode!r}")
    real = idx[idx >= 0]
    lo, hi = int(real.min()), int(real.max()) + 1  # only these frames need preparing
    x = prepare_stream(kp, sc, layout, spec, frames=(lo, hi), rng=rng, augment=aug)
    return collate([take_steps(x, np.where(row >= 0, row - lo, -1)) for row in idx])


def mirror(keypoint: np.ndarray, score: np.ndarray | None, layout: str | Layout):
    """The left/right mirror image of a clip [M,T,V,C] in its source layout: x negated (the
    normalisation re-centres it) and the layout's left/right joints swapped."""
    perm = get_layout(layout).flip_permutation
    kp = keypoint[:, :, perm].copy()
    kp[..., 0] = np.where(kp[..., 0] != 0, -kp[..., 0], 0)  # keep "missing" zeros as zeros
    return kp, None if score is None else score[:, :, perm]


def clip_views(keypoint: np.ndarray, score: np.ndarray | None, layout: str | Layout, spec: InputSpec,
               num_clips: int = 1, mode: str = "uniform", flip: bool = False) -> dict[str, np.ndarray]:
    """The deterministic views a clip is scored on, each array [K, ...]: num_clips windows placed
    by `mode`, and with flip their mirror images too (K doubles). The model's logits averaged over
    the K views are the clip's score: what `bharnet eval` reports and `Recognizer.run(clip)` returns."""
    kp = np.asarray(keypoint, np.float32)
    if kp.ndim == 3:
        kp = kp[None]
    sc = None if score is None else np.asarray(score, np.float32).reshape(kp.shape[:3])
    x = prepare_clip(kp, sc, layout, spec, num_clips=num_clips, mode=mode)
    if not flip:
        return x
    m = prepare_clip(*mirror(kp, sc, layout), layout, spec, num_clips=num_clips, mode=mode)
    return {k: np.concatenate([x[k], m[k]]) for k in x}


def collate(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack per-sample input dicts along a new first axis."""
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}
