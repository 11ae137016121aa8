"""The node's running statistics, published on /diagnostics (no ROS import: tested alone)."""
from __future__ import annotations

import time
from collections import Counter, deque

import numpy as np

LATENCY_WINDOW = 1000    # percentiles over the last this many frames / recognitions


def _pcts(values) -> dict[str, float]:
    if not values:
        return {}
    p50, p95 = np.percentile(np.fromiter(values, float), (50, 95))
    return {"p50": float(p50), "p95": float(p95), "max": float(max(values))}


class NodeStats:
    """Counts since start, per-track counts for the live tracks, recent latency percentiles."""

    def __init__(self):
        self.messages = 0                 # PointCloud2 messages received
        self.frames = 0                   # frames the Recognizer accepted
        self.results = 0                  # recognitions published
        self.nonfinite = 0                # accepted frames carrying NaN / inf keypoints
        self.drops: Counter = Counter()   # reason -> frames (or messages) dropped
        self.track_frames: Counter = Counter()
        self.track_results: Counter = Counter()
        self.push_ms = deque(maxlen=LATENCY_WINDOW)      # wall time of Recognizer.push, every frame
        self.result_push_ms = deque(maxlen=LATENCY_WINDOW)  # ... of the pushes that recognised
        self.backend_ms = deque(maxlen=LATENCY_WINDOW)   # Recognition.latency_ms (backend only)

    def frame(self, track_id, push_ms: float, finite: bool) -> None:
        self.frames += 1
        self.track_frames[track_id] += 1
        self.push_ms.append(push_ms)
        self.nonfinite += not finite

    def result(self, track_id, push_ms: float, backend_ms: float) -> None:
        self.results += 1
        self.track_results[track_id] += 1
        self.result_push_ms.append(push_ms)
        self.backend_ms.append(backend_ms)

    def drop(self, reason: str) -> None:
        self.drops[reason] += 1

    def forget_tracks(self, live) -> None:
        """Keep per-track counts for the tracks the Recognizer still holds (bounded memory)."""
        live = set(live)
        for counter in (self.track_frames, self.track_results):
            for tid in [t for t in counter if t not in live]:
                del counter[tid]

    def values(self) -> dict[str, float | int]:
        """A flat name -> number view (the diagnostics KeyValues)."""
        out: dict[str, float | int] = {
            "messages": self.messages, "frames": self.frames, "results": self.results,
            "dropped": sum(self.drops.values()), "nonfinite_frames": self.nonfinite,
            "tracks": len(self.track_frames)}
        for reason, n in sorted(self.drops.items()):
            out[f"dropped.{reason}"] = n
        for name, window in (("push_ms", self.push_ms), ("result_push_ms", self.result_push_ms),
                             ("backend_ms", self.backend_ms)):
            for k, v in _pcts(window).items():
                out[f"{name}.{k}"] = v
        for tid in self.track_frames:
            out[f"track.{tid}.frames"] = self.track_frames[tid]
            out[f"track.{tid}.results"] = self.track_results[tid]
        return out


def flatten(obj, prefix: str) -> dict[str, object]:
    """A nested dict (e.g. Recognizer.stats()) -> {"prefix.a.b": leaf}; lists stay leaves."""
    if isinstance(obj, dict):
        out: dict[str, object] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}"))
        return out
    return {prefix: obj}


class Throttle:
    """At most one log line per reason per `period_s`; the lines held back are counted and told
    with the next one, so a flood of bad frames costs one line a second."""

    def __init__(self, period_s: float = 1.0, clock=time.monotonic):
        self.period_s = period_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: Counter = Counter()

    def __call__(self, reason: str) -> int | None:
        """None: stay quiet; else the number of lines held back since this reason's last line."""
        now = self.clock()
        last = self._last.get(reason)
        if last is not None and now - last < self.period_s:
            self._held[reason] += 1
            return None
        self._last[reason] = now
        return self._held.pop(reason, 0)
