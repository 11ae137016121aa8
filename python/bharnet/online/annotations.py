"""Ground truth of continuous recordings: which actions happen where, per sequence.

In memory: {sequence id: [Action(label, start, end), ...]}, frames 0-based, `end` inclusive (the
action's last frame), sorted by start. Three file forms are read (load_annotations picks by suffix):

* JSON (this project's documented form, written by write_json):
      {"format": "bharnet-annotations-1", "fps": 30,
       "sequences": {"seq_01": [{"label": "wave_hand", "start": 12, "end": 71}, ...], ...}}
  "fps" is optional (the frame rate the frames refer to).
* CSV, SHREC 2022 style: one line per sequence, `seq,n,label,start,end,label,start,end,...`:
  the sequence id, the number of actions n, then label, start frame and end frame of each.
  `;` separators are accepted too; empty trailing fields and blank lines are ignored. The frame
  numbers are used as given (0-based, end inclusive); --frame-base 1 in the CLI shifts 1-based files.
* The .npz of `bharnet data synth --stream` (its timeline; the sequence id is the file's stem, and
  its exclusive ends become inclusive).

Bad files raise AnnotationError with one line naming the file and line.
"""
from __future__ import annotations

import csv
import json
import pathlib
from dataclasses import dataclass

FORMAT = "bharnet-annotations-1"


class AnnotationError(ValueError):
    """A ground-truth file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Action:
    label: str
    start: int     # first frame
    end: int       # last frame (inclusive)


GroundTruth = dict   # {sequence id: [Action, ...]}


def _frame(text, where: str, what: str) -> int:
    try:
        v = float(str(text).strip())
    except ValueError:
        raise AnnotationError(f"{where}: {what} must be a frame number, got {text!r}") from None
    if v != int(v) or v < 0:
        raise AnnotationError(f"{where}: {what} must be a whole frame number >= 0, got {text!r}")
    return int(v)


def _action(label, start, end, where: str) -> Action:
    label = str(label).strip()
    if not label:
        raise AnnotationError(f"{where}: an action has an empty label")
    s, e = _frame(start, where, f"start of {label!r}"), _frame(end, where, f"end of {label!r}")
    if e < s:
        raise AnnotationError(f"{where}: action {label!r} ends (frame {e}) before it starts (frame {s})")
    return Action(label, s, e)


def _add(gt: dict, seq: str, actions: list[Action], where: str) -> None:
    if seq in gt:
        raise AnnotationError(f"{where}: sequence {seq!r} appears twice")
    gt[seq] = sorted(actions, key=lambda a: (a.start, a.end))


def read_csv(path, frame_base: int = 0) -> GroundTruth:
    """SHREC'22-style lines: seq,n,label,start,end,... (frame_base 1: the file counts from 1)."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8-sig")
    delim = ";" if text.count(";") > text.count(",") else ","
    gt: dict = {}
    for no, row in enumerate(csv.reader(text.splitlines(), delimiter=delim), 1):
        where = f"{path}:{no}"
        while row and not row[-1].strip():
            row = row[:-1]
        if not row:
            continue
        seq = row[0].strip()
        if len(row) < 2:
            raise AnnotationError(f"{where}: expected seq,n,label,start,end,... but the line has only "
                                  f"a sequence id")
        try:
            n = int(row[1].strip())
        except ValueError:
            raise AnnotationError(f"{where}: the second field must be the number of actions, got "
                                  f"{row[1]!r}") from None
        if n < 0 or len(row) != 2 + 3 * n:
            raise AnnotationError(f"{where}: sequence {seq!r} says {n} actions, so 2 + 3*{n} = "
                                  f"{2 + 3 * n} fields, but the line has {len(row)}")
        actions = []
        for k in range(n):
            lbl, s, e = row[2 + 3 * k: 5 + 3 * k]
            a = _action(lbl, s, e, where)
            if frame_base:
                if min(a.start, a.end) < frame_base:
                    raise AnnotationError(f"{where}: frame {min(a.start, a.end)} is below the first "
                                          f"frame {frame_base}")
                a = Action(a.label, a.start - frame_base, a.end - frame_base)
            actions.append(a)
        _add(gt, seq, actions, where)
    if not gt:
        raise AnnotationError(f"{path}: no sequences (expected lines seq,n,label,start,end,...)")
    return gt


def read_json(path) -> tuple[GroundTruth, float | None]:
    """The documented JSON form: (ground truth, fps or None)."""
    path = pathlib.Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sequences"), dict):
        raise AnnotationError(f"{path}: expected an object with \"sequences\": {{id: [actions]}}")
    fps = doc.get("fps")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0):
        raise AnnotationError(f"{path}: \"fps\" must be a number > 0, got {fps!r}")
    gt: dict = {}
    for seq, items in doc["sequences"].items():
        where = f"{path}: sequence {seq!r}"
        if not isinstance(items, list):
            raise AnnotationError(f"{where}: expected a list of actions")
        actions = []
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not {"label", "start", "end"} <= set(it):
                raise AnnotationError(f"{where}, action {i}: expected {{\"label\", \"start\", \"end\"}}, "
                                      f"got {it!r}")
            actions.append(_action(it["label"], it["start"], it["end"], f"{where}, action {i}"))
        _add(gt, str(seq), actions, where)
    return gt, (float(fps) if fps is not None else None)


def read_synth_npz(path) -> GroundTruth:
    """The timeline of a `bharnet data synth --stream` file (ends made inclusive)."""
    import numpy as np

    path = pathlib.Path(path)
    with np.load(path, allow_pickle=False) as z:
        missing = {"timeline_start", "timeline_end", "timeline_class"} - set(z.files)
        if missing:
            raise AnnotationError(f"{path}: not a stream with a timeline (missing {sorted(missing)})")
        acts = [_action(c, s, int(e) - 1, f"{path}: timeline entry {i}")
                for i, (s, e, c) in enumerate(zip(z["timeline_start"], z["timeline_end"],
                                                  z["timeline_class"]))]
    return {path.stem: sorted(acts, key=lambda a: (a.start, a.end))}


def load_annotations(path, frame_base: int = 0) -> tuple[GroundTruth, float | None]:
    """Any of the three forms, or a folder of synthetic .npz streams: (ground truth, fps or None)."""
    path = pathlib.Path(path)
    if path.is_dir():
        gt: dict = {}
        files = sorted(path.glob("*.npz"))
        if not files:
            raise AnnotationError(f"{path}: a folder of ground truth must hold stream .npz files")
        for f in files:
            gt.update(read_synth_npz(f))
        return gt, None
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_json(path)
    if suffix == ".npz":
        return read_synth_npz(path), None
    if suffix in (".csv", ".txt"):
        return read_csv(path, frame_base), None
    raise AnnotationError(f"{path}: unknown annotation format {suffix!r} (.json, .csv/.txt, or a "
                          f"synthetic stream .npz)")


def write_json(gt: GroundTruth, path, fps: float | None = None) -> None:
    doc = {"format": FORMAT, "sequences": {
        seq: [{"label": a.label, "start": a.start, "end": a.end} for a in acts]
        for seq, acts in gt.items()}}
    if fps is not None:
        doc["fps"] = fps
    pathlib.Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def write_csv(gt: GroundTruth, path) -> None:
    """SHREC'22-style lines (0-based, end inclusive)."""
    lines = []
    for seq, acts in gt.items():
        fields = [seq, str(len(acts))] + [x for a in acts for x in (a.label, str(a.start), str(a.end))]
        lines.append(",".join(fields))
    pathlib.Path(path).write_text("\n".join(lines) + "\n")


__all__ = ["Action", "AnnotationError", "GroundTruth", "load_annotations", "read_csv", "read_json",
           "read_synth_npz", "write_csv", "write_json", "FORMAT"]
