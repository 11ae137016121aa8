"""Continuous real-hand streams built from SHREC'17's segmented gesture sequences, for online
detection (issue 20). SHREC'17 records each gesture alone; SHREC'21/22-style continuous recordings
of other people are what the recipe will meet, so streams are joined here from one person's own
sequences:

    stream = idle, gesture 1, transition, gesture 2, transition, ..., gesture K, idle

* gestures: the person's real sequences, whole and untouched (the tracker's frames and noise), in a
  random order; each sequence of the split is used exactly once. Its annotation is the whole
  sequence (SHREC'17 ships no trimming information here, so the lead-in and lead-out the people
  recorded count as the gesture: a detector is not penalised for finding a gesture's first frames).
* transitions: the hand moves from the last pose of one gesture to a rest pose and, after an idle
  stretch, on to the first pose of the next: minimum-jerk paths of every joint (the hand's shape
  morphs along the way), the rest pose held with a slow drift, all with tracker-like jitter of the
  person's own level (the high-frequency residual of their real frames), so the synthetic frames
  are not told apart by being smoother than real ones.
* people: the split's people only; "train" = the training people but the validation four
  (shrec17.VAL_SUBJECTS), "val" = those four, "test" = the official test people (never in
  training). A stream holds one person.

What it can show: that a model finds real gestures of people it never saw, with the right label,
among hand motion that is not a gesture (moving between places, resting, drifting), how early it
recognises them and how well it stays silent between them. What it cannot show: real
non-significant motion (scratching, reaching, talking with the hands, which SHREC'21/22 recorded),
real transitions (people do not move on minimum-jerk paths, and their pose between gestures is not
a morph of two gesture poses), a sensor other than SHREC'17's, or gestures flowing into each other
without a pause. A model may still learn cues of the construction (a real sequence's abrupt first
frame); the jitter and the drift remove the most obvious ones, not all.

    write_streams(root, "test", "streams/test")  -> streams/test/<id>.npz (keypoints [T,22,3],
        layout shrec22, fps 30), annotations.csv (SHREC'22 form), streams.json (the construction)
"""
from __future__ import annotations

import json
import pathlib
from collections import defaultdict

import numpy as np

from ..data import shrec17
from .annotations import Action, write_csv

SPLITS = ("train", "val", "test")
# defaults (frames at 30 fps): gestures per stream, the idle stretch at rest, each move's length
PER_STREAM = 10
IDLE = (10, 60)
MOVE = (8, 20)
REST_OFFSET_M = 0.03   # the rest pose lies up to this far (metres) from the two gestures' midpoint
DRIFT_M = 0.01         # the slow wander of the hand at rest (metres, peak)


def split_rows(root, split: str) -> list[tuple[int, ...]]:
    """The SHREC'17 split file rows (gesture, finger, subject, essai, label_14, label_28, frames)
    of one of SPLITS."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = pathlib.Path(root)
    rows = shrec17.read_split_file(root / shrec17.SPLIT_FILES["test" if split == "test" else "train"])
    if split == "train":
        rows = [r for r in rows if r[2] not in shrec17.VAL_SUBJECTS]
    elif split == "val":
        rows = [r for r in rows if r[2] in shrec17.VAL_SUBJECTS]
    return rows


def min_jerk(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n frames strictly between poses a and b ([V,3] each) on a minimum-jerk path."""
    t = np.arange(1, n + 1, dtype=np.float64) / (n + 1)
    s = 10 * t ** 3 - 15 * t ** 4 + 6 * t ** 5
    return (a[None] + s[:, None, None] * (b - a)[None]).astype(np.float32)


def jitter_level(seqs: list[np.ndarray]) -> float:
    """The tracker's frame-to-frame noise in a person's real frames (metres, a robust estimate):
    the residual of each coordinate around its 5-frame moving average, as a median absolute
    deviation (so the gestures' fast motion, which the average does not follow, is not counted),
    scaled to the standard deviation of the noise that leaves such a residual."""
    res = []
    k = np.ones(5) / 5
    for s in seqs:
        if len(s) < 9:
            continue
        flat = s.reshape(len(s), -1).astype(np.float64)
        smooth = np.stack([np.convolve(c, k, mode="valid") for c in flat.T], 1)
        res.append((flat[2:-2] - smooth).ravel())
    if not res:
        return 0.003
    r = np.concatenate(res)
    # 1.4826 MAD: a normal's sigma; / sqrt(1 - 1/5): white noise's residual around the average
    return float(1.4826 * np.median(np.abs(r - np.median(r))) / np.sqrt(0.8))


def transition(a: np.ndarray, b: np.ndarray, rng, idle=IDLE, move=MOVE) -> np.ndarray:
    """The frames between gesture poses a and b ([V,3]): move to a rest pose near their midpoint,
    rest there (with a slow drift) for an idle stretch, move on to b. Without jitter."""
    rest = (a + b) / 2 + rng.uniform(-REST_OFFSET_M, REST_OFFSET_M, size=3).astype(np.float32)
    hold = rest[None] + _drift(int(rng.integers(idle[0], idle[1] + 1)), rng)
    first, last = (hold[0], hold[-1]) if len(hold) else (rest, rest)
    return np.concatenate([min_jerk(a, first, int(rng.integers(move[0], move[1] + 1))), hold,
                           min_jerk(last, b, int(rng.integers(move[0], move[1] + 1)))])


def _drift(n: int, rng) -> np.ndarray:
    """[n,1,3]: a slow wander of the whole hand (a few seconds a cycle, DRIFT_M at most)."""
    phase, freq = rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.2, 0.6, 3) / 30.0   # cycles/frame
    t = np.arange(n)[:, None]
    return (DRIFT_M * np.sin(2 * np.pi * freq[None] * t + phase[None]))[:, None, :].astype(np.float32)


def build_streams(root, split: str, labels: int = 14, per_stream: int = PER_STREAM, seed: int = 0,
                  idle=IDLE, move=MOVE):
    """[(stream id, keypoints [T,22,3] float32, [Action], info)] of one split: per person, their
    sequences shuffled (seeded) and joined, `per_stream` gestures a stream."""
    if per_stream < 1:
        raise ValueError(f"per_stream must be >= 1, got {per_stream}")
    root = pathlib.Path(root)
    names = shrec17.class_names(labels)
    people = defaultdict(list)
    for g, fi, s, e, l14, l28, n in split_rows(root, split):
        path = root / f"gesture_{g}" / f"finger_{fi}" / f"subject_{s}" / f"essai_{e}" / "skeletons_world.txt"
        seq = shrec17.read_sequence(path, n)
        people[s].append((shrec17.clip_name(g, fi, s, e), names[(l14 if labels == 14 else l28) - 1], seq))
    out = []
    for person in sorted(people):
        rng = np.random.default_rng([seed, person])
        items = people[person]
        noise = jitter_level([q for _, _, q in items])
        order = rng.permutation(len(items))
        for k in range(0, len(order), per_stream):
            chunk = [items[i] for i in order[k:k + per_stream]]
            parts, acts, synthetic = [], [], []
            t = 0

            def add(frames, real):
                nonlocal t
                parts.append(frames)
                synthetic.append(np.full(len(frames), not real))
                t += len(frames)

            first = chunk[0][2][0]
            n0 = int(rng.integers(idle[0], idle[1] + 1))
            add(np.repeat(first[None], n0, 0) + _drift(n0, rng), False)   # at rest before
            for i, (clip, label, seq) in enumerate(chunk):
                if i:
                    add(transition(parts[-1][-1], seq[0], rng, idle, move), False)
                acts.append(Action(label, t, t + len(seq) - 1))
                add(seq, True)
            last = chunk[-1][2][-1]
            n1 = int(rng.integers(idle[0], idle[1] + 1))
            add(np.repeat(last[None], n1, 0) + _drift(n1, rng), False)    # at rest after
            kp = np.concatenate(parts).astype(np.float32)
            syn = np.concatenate(synthetic)
            kp[syn] += rng.normal(0, noise, size=kp[syn].shape).astype(np.float32)
            sid = f"s{person:02d}_{k // per_stream:02d}"
            out.append((sid, kp, acts, {"subject": person, "sequences": [c for c, _, _ in chunk],
                                        "frames": len(kp), "synthetic_frames": int(syn.sum()),
                                        "jitter_m": noise}))
    if not out:
        raise ValueError(f"{root}: no sequences in split {split!r}")
    return out


def write_streams(root, split: str, out, **kw) -> list:
    """Write <id>.npz (keypoints, layout, fps), annotations.csv and streams.json into `out`."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    streams = build_streams(root, split, **kw)
    for sid, kp, _, _ in streams:
        np.savez_compressed(out / f"{sid}.npz", keypoints=kp, layout=np.array(shrec17.LAYOUT),
                            fps=np.array(shrec17.FPS))
    write_csv({sid: acts for sid, _, acts, _ in streams}, out / "annotations.csv")
    (out / "streams.json").write_text(json.dumps({
        "source": "bharnet.online.shrec17_streams (bharnet online shrec17-streams)", "split": split,
        "fps": shrec17.FPS, "layout": shrec17.LAYOUT, "options": {k: list(v) if isinstance(v, tuple)
                                                                  else v for k, v in kw.items()},
        "streams": {sid: info for sid, _, _, info in streams}}, indent=1) + "\n")
    return streams


__all__ = ["build_streams", "write_streams", "split_rows", "min_jerk", "transition", "jitter_level",
           "SPLITS"]
