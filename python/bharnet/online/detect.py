"""Keypoint files in, events out: what `bharnet detect` does, as functions (bench/online.py and the
tests use them too). The events are the SDK's own (Recognizer(events=...), on_event): the CLI adds
nothing to the rule."""
from __future__ import annotations

import pathlib

import numpy as np

SUFFIXES = (".npy", ".npz")


def keypoint_files(path) -> list[pathlib.Path]:
    """A keypoint file, or the .npy/.npz files of a folder (sorted)."""
    path = pathlib.Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"{path}: no .npy or .npz keypoint files in this folder")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    return [path]


def load_keypoints(path) -> np.ndarray:
    """[T,V,C] or [M,T,V,C] rows from a .npy, or the "keypoints" array of a .npz (a synthetic
    stream of `bharnet data synth --stream`)."""
    path = pathlib.Path(path)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "keypoints" not in z.files:
                    raise ValueError(f"{path}: a .npz keypoint file needs a 'keypoints' array "
                                     f"(it has {', '.join(z.files) or 'none'})")
                kp = z["keypoints"]
        else:
            kp = np.load(path, allow_pickle=False)
    except (EOFError, OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError) or str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a keypoint array file ({e})") from None
    if not isinstance(kp, np.ndarray) or kp.ndim not in (3, 4):
        raise ValueError(f"{path}: expected one [T,V,C] or [M,T,V,C] array, got "
                         f"{getattr(kp, 'shape', type(kp).__name__)}")
    return kp


def frames_of(kp: np.ndarray) -> list:
    """[T,V,C] -> frames [V,C]; [M,T,V,C] -> frames [M,V,C]."""
    return list(kp) if kp.ndim == 3 else list(kp.transpose(1, 0, 2, 3))


def detect_sequence(rec, kp: np.ndarray, fps: float, sequence: str):
    """(events, recognitions) of one sequence: its own track (track id = sequence), closed at its
    end. `rec` must have been built with events on; its on_event is used for the duration."""
    events: list = []
    previous = rec.on_event
    rec.on_event = events.append
    try:
        recs = list(rec.stream(frames_of(kp), fps=fps, track_id=sequence))
    finally:
        rec.on_event = previous
    return events, recs


def sequence_record(sequence: str, frames: int, fps: float) -> dict:
    """The JSON line that opens a sequence's events: its length, for false positives per minute."""
    return {"kind": "sequence", "sequence": sequence, "frames": int(frames), "fps": float(fps),
            "duration_ms": frames * 1000.0 / fps}
