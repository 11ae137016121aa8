"""Events against ground truth, scored as the SHREC 2021/2022 online-detection tracks score them.

A true action counts as detected when an event of the same label *starts* inside it: its start_ms
lies in [action start - margin, action end] (margin: the early tolerance, 1 s by default). Each
action is matched at most once and each event at most once (events in the order they were
emitted, each to the earliest unmatched action it fits). Every event that matches no action is a
false positive, of one of three kinds: "background" (it starts outside every action),
"wrong_label" (inside an action, another label) or "duplicate" (a repeat on an action of its label).
The confusion table has a row per true label (the label of the first event that started inside each
action, or "(missed)") and a "(background)" row for events outside every action.

Latency of a detected action (ms, on the stream's clock): when its "start" event was emitted,
minus the action's first frame (from_start) and minus its last frame (from_end, negative when the
action was recognised before it ended); closing: when its "end" event was emitted minus the
action's last frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .annotations import Action

MISSED = "(missed)"          # confusion column: no event started inside the action
BACKGROUND = "(background)"  # confusion row: an event outside every action


@dataclass
class Match:
    sequence: str
    action: Action
    start_event: dict | None = None
    end_event: dict | None = None
    other_label: str | None = None    # the first event inside it, if it had the wrong label


@dataclass
class Scored:
    matches: list[Match] = field(default_factory=list)
    false_positives: list[dict] = field(default_factory=list)
    ends: dict = field(default_factory=dict)   # (sequence, track_id, event_id) -> its "end" event

    def end_of(self, ev: dict) -> dict | None:
        return self.ends.get((str(ev.get("sequence", "")), ev.get("track_id"), ev["event_id"]))


def _stats(x: list[float]) -> dict:
    if not x:
        return {"mean": None, "median": None, "n": 0}
    a = np.asarray(x, np.float64)
    return {"mean": float(a.mean()), "median": float(np.median(a)), "n": int(a.size)}


def match(gt: dict, events: list[dict], fps: float, margin_ms: float = 1000.0) -> Scored:
    """Match "start" events (dicts with sequence, label, start_ms, emitted_ms, event_id,
    track_id) to the actions of `gt` (frames at `fps`)."""
    period = 1000.0 / fps
    out = Scored()
    by_seq: dict = {}
    for ev in events:
        by_seq.setdefault(str(ev.get("sequence", "")), []).append(ev)
    for seq in list(gt) + [s for s in by_seq if s not in gt]:
        acts = gt.get(seq, [])
        evs = by_seq.get(seq, [])
        matches = [Match(seq, a) for a in acts]
        ends = {(e.get("track_id"), e["event_id"]): e for e in evs if e["kind"] == "end"}
        out.ends.update({(seq, *k): e for k, e in ends.items()})
        for ev in sorted((e for e in evs if e["kind"] == "start"), key=lambda e: e["emitted_ms"]):
            inside = [m for m in matches
                      if m.action.start * period - margin_ms <= ev["start_ms"] <= m.action.end * period]
            hit = next((m for m in inside if m.start_event is None and m.action.label == ev["label"]),
                       None)
            if hit is not None:
                hit.start_event = ev
                hit.end_event = ends.get((ev.get("track_id"), ev["event_id"]))
                continue
            for m in inside:
                if m.start_event is None and m.other_label is None:
                    m.other_label = ev["label"]
                    break
            # why it is false: outside every action, a wrong label inside one, or a repeat
            why = ("background" if not inside else
                   "duplicate" if any(m.action.label == ev["label"] for m in inside) else "wrong_label")
            out.false_positives.append({**ev, "false_because": why})
        out.matches += matches
    return out


def score(gt: dict, events: list[dict], fps: float, duration_ms: dict | None = None,
          margin_ms: float = 1000.0) -> tuple[dict, Scored]:
    """The metrics (a JSON-ready dict) and the matching behind them. duration_ms: {sequence:
    length in ms} for the false positives per minute (default: up to the last action or event)."""
    m = match(gt, events, fps, margin_ms)
    period = 1000.0 / fps
    n = len(m.matches)
    found = [x for x in m.matches if x.start_event is not None]
    lat_start = [x.start_event["emitted_ms"] - x.action.start * period for x in found]
    lat_end = [x.start_event["emitted_ms"] - x.action.end * period for x in found]
    closing = [x.end_event["emitted_ms"] - x.action.end * period for x in found
               if x.end_event is not None]
    dur = dict(duration_ms or {})
    for seq in set(gt) | {str(e.get("sequence", "")) for e in events}:
        if seq not in dur:
            last = [a.end * period for a in gt.get(seq, [])]
            last += [e["emitted_ms"] for e in events if str(e.get("sequence", "")) == seq]
            dur[seq] = max(last, default=0.0)
    minutes = sum(dur.values()) / 60_000.0
    labels = sorted({a.label for acts in gt.values() for a in acts}
                    | {e["label"] for e in events if e["kind"] == "start"})
    confusion = {lbl: {} for lbl in labels + [BACKGROUND]}
    for x in m.matches:
        pred = x.action.label if x.start_event is not None else (x.other_label or MISSED)
        row = confusion[x.action.label]
        row[pred] = row.get(pred, 0) + 1
    for ev in m.false_positives:
        if ev["false_because"] == "background":   # the others are in their action's row
            confusion[BACKGROUND][ev["label"]] = confusion[BACKGROUND].get(ev["label"], 0) + 1
    per_class = {}
    for lbl in labels:
        xs = [x for x in m.matches if x.action.label == lbl]
        if xs:
            per_class[lbl] = {"actions": len(xs),
                              "detected": sum(x.start_event is not None for x in xs)}
    fp = len(m.false_positives)
    metrics = {
        "sequences": len(set(gt) | {str(e.get("sequence", "")) for e in events}),
        "actions": n, "detected": len(found),
        "detection_rate": len(found) / n if n else None,
        "false_positives": fp,
        "fp_per_action": fp / n if n else None,
        "false_positive_kinds": {k: sum(e["false_because"] == k for e in m.false_positives)
                                 for k in ("background", "wrong_label", "duplicate")},
        "fp_per_minute": fp / minutes if minutes > 0 else (0.0 if fp == 0 else math.inf),
        "minutes": minutes,
        "latency_from_start_ms": _stats(lat_start),
        "latency_from_end_ms": _stats(lat_end),
        "closing_latency_ms": _stats(closing),
        "margin_ms": margin_ms, "fps": fps,
        "per_class": per_class,
        "confusion": {k: v for k, v in confusion.items() if v},
    }
    return metrics, m


__all__ = ["score", "match", "Match", "Scored", "MISSED", "BACKGROUND"]
