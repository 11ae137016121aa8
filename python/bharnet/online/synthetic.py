"""Synthetic continuous streams for online detection: gestures interleaved with motion that is
not to be detected (distractor classes of bharnet.data.synth, performed but never annotated),
separated by idle stretches. Each stream is one new random person (its seed).

    write_streams("streams/", seeds=range(1000, 1040), gestures=G, distractors=D)
    -> streams/seed1000.npz ... (keypoints [T,133,3]) and streams/annotations.csv (gestures only)

What this can show: that a model learns to stay silent on motion it was not asked to detect
(whole distractor actions, transitions, idle) and to find gestures in a continuous stream of
people it never saw. What it cannot: real sensors' noise and real non-significant motion, which
is richer than a few scripted classes.
"""
from __future__ import annotations

import pathlib

import numpy as np

from ..data import synth
from .annotations import Action, write_csv

GESTURES = synth.HAND_CLASSES + ("wave_hand", "clap_hands")
DISTRACTORS = ("reach_sideways", "squat_down", "both_arms_up", "kick_leg")


def stream(seed: int, actions: int = 8, gestures=GESTURES, distractors=DISTRACTORS,
           distractor_rate: float = 0.35, idle=(8, 40)):
    """(keypoints [T,133,3], [Action] of the gestures only) of one stream."""
    rng = np.random.default_rng([seed, 20])
    plan = [str(rng.choice(distractors)) if distractors and rng.random() < distractor_rate
            else str(rng.choice(gestures)) for _ in range(actions)]
    kp, timeline = synth.generate_stream(actions=plan, seed=seed, idle=tuple(idle))
    keep = set(gestures)
    return kp, [Action(c, s, e - 1) for s, e, c in timeline if c in keep]


def write_streams(out, seeds, **kw) -> dict:
    """Write seed<N>.npz keypoint files and annotations.csv (SHREC'22 style) into `out`."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gt = {}
    for s in seeds:
        kp, acts = stream(int(s), **kw)
        name = f"seed{s}"
        np.savez_compressed(out / f"{name}.npz", keypoints=kp, layout=np.array(synth.LAYOUT))
        gt[name] = acts
    write_csv(gt, out / "annotations.csv")
    return gt
