"""Training data for online detection: annotated continuous streams cut into labelled clips,
with a learned background class for everything between and around the actions.

A streaming model decides at a window's last frame, so a clip is labelled by *where its windows
end* (the training sampler draws the decision frame anywhere from the clip's `window`-th frame to
its last: bharnet.data.sampling "stream"). Each stream is split into regions of decision frames:

    action A [s, e] (L frames):  decisions in [s + ceil(onset * L), e]  -> label A
                                 decisions in [s, s + ceil(onset * L))  -> not trained (too little
                                                                           of A seen to be fair)
    after an action's end:       decisions in (e, e + guard]            -> not trained
    everything else:             -> "background" (idle, transitions, any motion not annotated)

and every region [a, b] becomes one clip: frames [a - window + 1, b], so that every decision the
sampler may draw lies in the region and sees real frames. Unannotated motion in a stream (a class
you do not want detected) is background by construction, which is how the model learns that
"not an action" is not only standing still. Clips are split by sequence, never by frame.
"""
from __future__ import annotations

import math

import numpy as np

from ..data.dataset import Clip, SkeletonDataset
from .annotations import Action

BACKGROUND = "background"
WHOLE_BODY = ("coco_wholebody", "mediapipe_holistic")   # raw forms to_keypoints tells by shape


def regions(actions: list[Action], frames: int, onset: float = 0.3, guard: int = 3,
            background: str = BACKGROUND) -> list[tuple[int, int, str]]:
    """Decision-frame regions [(first, last, label)] of one stream of `frames` frames."""
    if not 0.0 <= onset < 1.0:
        raise ValueError(f"onset must be in [0, 1), got {onset}")
    label = np.full(frames, "", dtype=object)
    blocked = np.zeros(frames, bool)
    for a in actions:
        if a.start >= frames:
            raise ValueError(f"action {a.label!r} starts at frame {a.start}, after the stream's "
                             f"last frame {frames - 1}")
        end = min(a.end, frames - 1)
        on = a.start + math.ceil(onset * (a.end - a.start + 1))
        blocked[a.start:min(end + guard, frames - 1) + 1] = True
        label[on:end + 1] = a.label
    out = []
    i = 0
    while i < frames:
        if blocked[i] and not label[i]:
            i += 1
            continue
        cur = label[i] or background
        j = i
        while j + 1 < frames and (label[j + 1] or (background if not blocked[j + 1] else None)) == cur:
            j += 1
        out.append((i, j, cur))
        i = j + 1
    return out


def stream_clips(keypoint: np.ndarray, score: np.ndarray, actions: list[Action], name: str,
                 classes: list[str], window: int, onset: float = 0.3, guard: int = 3,
                 background: str = BACKGROUND) -> list[Clip]:
    """keypoint [M,T,V,C], score [M,T,V] of one stream -> one Clip per region."""
    index = {c: i for i, c in enumerate(classes)}
    clips = []
    for a, b, lbl in regions(actions, keypoint.shape[1], onset, guard, background):
        if lbl not in index:
            raise ValueError(f"{name}: label {lbl!r} is not among the classes {classes}")
        first = max(0, a - window + 1)
        clips.append(Clip(np.ascontiguousarray(keypoint[:, first:b + 1]),
                          np.ascontiguousarray(score[:, first:b + 1]), index[lbl],
                          f"{name}_{a:06d}_{lbl}"))
    return clips


def _keypoints(arr, layout: str | None):
    """(keypoint [M,T,V,C], score [M,T,V], layout) of a raw array: the layout told by its shape
    (whole-body forms), or given (e.g. shrec22: coordinates only, every joint present unless NaN)."""
    from ..data.wholebody import to_keypoints

    if layout is None or layout in WHOLE_BODY:   # their raw rows carry scores: the readers know
        kp, score, lay = to_keypoints(arr)
        if layout not in (None, lay):
            raise ValueError(f"keypoints of shape {np.shape(arr)} are {lay}, not {layout}")
        return kp, score, lay
    kp = np.asarray(arr, np.float32)
    kp = kp[None] if kp.ndim == 3 else kp
    score = np.isfinite(kp).all(-1).astype(np.float32)
    return np.nan_to_num(kp), score, layout


def build(sequences, window: int, val: set[str] = frozenset(), onset: float = 0.3, guard: int = 3,
          background: str = BACKGROUND, classes: list[str] | None = None,
          layout: str | None = None, fps: float | None = None, background_keep: float = 1.0,
          seed: int = 0) -> SkeletonDataset:
    """sequences: [(name, raw keypoint array ([T,V,C] / [M,T,V,C], layout told by its shape
    unless `layout` names it), [Action])] -> a dataset with splits "train" (all other sequences)
    and "val" (those named in `val`). classes: the action classes (default: every label seen,
    sorted) + background last. fps: the streams' frame rate, recorded in the dataset.
    background_keep: the fraction of the training sequences' background clips kept (a random
    subset drawn with `seed`; validation clips are all kept): there is about one background clip
    per gap between actions, so background outnumbers each action class many times over, and
    thinning it both rebalances the classes and shortens an epoch."""
    if not 0.0 < background_keep <= 1.0:
        raise ValueError(f"background_keep must be in (0, 1], got {background_keep}")
    rng = np.random.default_rng(seed)

    seqs = list(sequences)
    if classes is None:
        classes = sorted({a.label for _, _, acts in seqs for a in acts})
    classes = [c for c in classes if c != background] + [background]
    clips, splits, seen = [], {"train": [], "val": []}, None
    for name, arr, acts in seqs:
        kp, sc, lay = _keypoints(arr, layout)
        if seen is not None and lay != seen:
            raise ValueError(f"{name}: layout {lay} differs from the other sequences' {seen}")
        seen = lay
        cs = stream_clips(kp, sc, acts, name, classes, window, onset, guard, background)
        if background_keep < 1.0 and name not in val:
            bg = len(classes) - 1
            cs = [c for c in cs if c.label != bg or rng.random() < background_keep]
        clips += cs
        splits["val" if name in val else "train"] += [c.name for c in cs]
    if not clips:
        raise ValueError("no sequences given")
    unknown = set(val) - {n for n, _, _ in seqs}
    if unknown:
        raise ValueError(f"validation sequences not found: {sorted(unknown)}")
    return SkeletonDataset(clips, classes, seen, [], {k: v for k, v in splits.items() if v}, fps)


__all__ = ["regions", "stream_clips", "build", "BACKGROUND"]
