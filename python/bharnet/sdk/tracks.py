"""Per-track ring buffers and the bounded set of live tracks.

Each track preallocates its window once; a frame is one slice assignment (O(1), no allocation).
Tracks idle longer than `idle_timeout_ms` (measured on the caller's own timestamps, so replayed
and live feeds behave alike) are evicted, and at most `max_tracks` are kept (least recently fed
goes first), so memory stays bounded however long the robot runs.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class TimestampError(ValueError):
    """A frame whose timestamp does not increase on its track."""


class Track:
    """A ring buffer of the last `window` frames of one tracked subject."""

    __slots__ = ("track_id", "window", "kp", "score", "ts", "count", "last_ts", "total_frames")

    def __init__(self, track_id, window: int, persons: int, joints: int, coords: int):
        self.track_id = track_id
        self.window = int(window)
        self.kp = np.zeros((persons, self.window, joints, coords), np.float32)
        self.score = np.zeros((persons, self.window, joints), np.float32)
        self.ts = np.zeros(self.window, np.float64)
        self.count = 0            # frames since the last reset
        self.total_frames = 0     # frames ever pushed (diagnostics)
        self.last_ts: float | None = None

    def reset(self) -> None:
        # the arrays are reused: only the fill count matters
        self.count = 0

    def check_time(self, timestamp_ms: float, max_gap_ms: float | None) -> None:
        """Refuse a timestamp that does not increase; reset after a gap longer than max_gap_ms."""
        if self.last_ts is None:
            return
        if not timestamp_ms > self.last_ts:
            raise TimestampError(
                f"track {self.track_id!r}: timestamp {timestamp_ms} ms does not increase "
                f"(previous frame was at {self.last_ts} ms); timestamps must be strictly increasing")
        if max_gap_ms is not None and timestamp_ms - self.last_ts > max_gap_ms:
            self.reset()

    def append(self, kp: np.ndarray, score: np.ndarray, timestamp_ms: float) -> None:
        """kp [M', V, C'] and score [M', V]; persons beyond M are dropped, missing ones zeroed."""
        i = self.count % self.window
        m = min(kp.shape[0], self.kp.shape[0])
        c = self.kp.shape[3]
        self.kp[:m, i] = kp[:m, :, :c]
        self.score[:m, i] = score[:m]
        if m < self.kp.shape[0]:
            self.kp[m:, i] = 0.0
            self.score[m:, i] = 0.0   # score 0: the pipeline reads the person as missing
        self.ts[i] = timestamp_ms
        self.count += 1
        self.total_frames += 1
        self.last_ts = float(timestamp_ms)

    @property
    def full(self) -> bool:
        return self.count >= self.window

    def ordered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the buffered frames, oldest first: kp [M,n,V,C], score [M,n,V], ts [n]."""
        n = min(self.count, self.window)
        start = (self.count - n) % self.window
        idx = (start + np.arange(n)) % self.window
        return self.kp[:, idx], self.score[:, idx], self.ts[idx]

    def nbytes(self) -> int:
        return self.kp.nbytes + self.score.nbytes + self.ts.nbytes


class TrackTable:
    """The live tracks of one recognizer (not locked itself: the Recognizer holds the lock)."""

    def __init__(self, window: int, persons: int, joints: int, coords: int,
                 max_tracks: int = 16, idle_timeout_ms: float | None = 10_000.0):
        if max_tracks < 1:
            raise ValueError(f"max_tracks must be >= 1, got {max_tracks}")
        self.shape = (int(window), int(persons), int(joints), int(coords))
        self.max_tracks = int(max_tracks)
        self.idle_timeout_ms = idle_timeout_ms
        self._tracks: OrderedDict = OrderedDict()   # least recently fed first
        self._newest_ts = -np.inf
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, track_id) -> bool:
        return track_id in self._tracks

    def ids(self) -> list:
        return list(self._tracks)

    def new_track(self, track_id) -> Track:
        """A track with this table's buffer shape, not registered (stream() owns its own)."""
        return Track(track_id, *self.shape)

    def get(self, track_id, timestamp_ms: float) -> Track:
        """The track for `track_id` (created if new), marked most recently used."""
        tr = self._tracks.get(track_id)
        if tr is None:
            tr = self.new_track(track_id)
            self._tracks[track_id] = tr
        else:
            self._tracks.move_to_end(track_id)
        self._newest_ts = max(self._newest_ts, float(timestamp_ms))
        self._evict(keep=track_id)
        return tr

    def _evict(self, keep) -> None:
        if self.idle_timeout_ms is not None:
            horizon = self._newest_ts - self.idle_timeout_ms
            # ordered by last use, so idle tracks sit at the front
            while self._tracks:
                tid, tr = next(iter(self._tracks.items()))
                if tid == keep or tr.last_ts is None or tr.last_ts >= horizon:
                    break
                del self._tracks[tid]
                self.evicted += 1
        while len(self._tracks) > self.max_tracks:
            tid = next(iter(self._tracks))
            if tid == keep:  # cannot happen with max_tracks >= 1, kept for safety
                break
            del self._tracks[tid]
            self.evicted += 1

    def drop(self, track_id) -> None:
        self._tracks.pop(track_id, None)

    def clear(self) -> None:
        self._tracks.clear()

    def nbytes(self) -> int:
        return sum(t.nbytes() for t in self._tracks.values())
