"""Per-track ring buffers, per-track clocks, and the bounded set of live tracks.

Tracks never affect each other:
  * a track's timestamps are compared only with its own earlier timestamps (gaps, order);
  * its idleness is time since its own last frame on the process's monotonic clock, so two
    cameras with unrelated clocks (epoch ms, ms since start) live side by side;
  * a full table does not push a live track out for a newcomer: the newcomer waits (its frames
    are dropped and counted) until a track has been idle past the timeout or is reset.
Each track preallocates its window once (a frame is one slice assignment) and has its own lock,
so tracks are fed from different threads without waiting for each other.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import numpy as np

log = logging.getLogger("bharnet.sdk")

_DELTAS = 8            # recent frame intervals kept to estimate a track's frame period
_LATENCIES = 256       # recent per-window latencies kept per track (for percentiles)
_REMEMBERED_REFUSED = 1024   # refused ids remembered (one warning each); bounded memory


class TimestampError(ValueError):
    """A frame whose timestamp does not increase on its track."""


class Track:
    """The last `window` frames of one tracked subject, its clock and its counters.

    Per-track state lives here (a continual model's state would too); `lock` guards all of it.
    """

    __slots__ = ("track_id", "window", "kp", "score", "ts", "count", "last_ts", "total_frames",
                 "lock", "last_seen", "_deltas", "_period", "results", "resets", "no_person", "latency",
                 "stream", "events")

    def __init__(self, track_id, window: int, persons: int, joints: int, coords: int,
                 frames: bool = True):
        """frames=False: no buffer of raw frames (the native frame path keeps its own window)."""
        self.track_id = track_id
        self.window = int(window)
        n = self.window if frames else 0
        self.kp = np.zeros((persons, n, joints, coords), np.float32)
        self.score = np.zeros((persons, n, joints), np.float32)
        self.ts = np.zeros(n, np.float64)
        self.lock = threading.Lock()
        self.count = 0            # frames since the last restart
        self.total_frames = 0     # frames ever accepted
        self.results = 0
        self.resets = 0           # restarts: gaps, clock jumps, reset() calls
        self.no_person = 0        # windows answered with label=None
        self.last_ts: float | None = None
        self.last_seen: float = 0.0   # process monotonic clock at the last frame (s)
        self._deltas: list[float] = []
        self._period: float | None = None   # period_ms() of _deltas, kept as they change
        self.latency = Ring(_LATENCIES)
        self.stream = None        # streaming bundles: prepared frames and model state (sdk/streaming.py)
        self.events = None        # options.events: the track's EventDetector (sdk/events.py)

    # ---- clock -------------------------------------------------------------------------------
    def period_ms(self) -> float | None:
        """The track's frame period: the lower median of its recent frame intervals (robust to a
        pause, and following a real change of frame rate within a few frames)."""
        return self._period

    def _add_delta(self, delta: float) -> None:
        self._deltas.append(delta)
        if len(self._deltas) > _DELTAS:
            del self._deltas[0]
        self._period = sorted(self._deltas)[(len(self._deltas) - 1) // 2]

    def restart(self, forget_clock: bool = False) -> None:
        """Empty the window (arrays are reused: only the fill count matters); forget_clock: also
        the last timestamp and frame period, so the next frame may carry any timestamp."""
        self.count = 0
        self.resets += 1
        if self.stream is not None:
            self.stream.reset()
        if forget_clock:
            self.last_ts = None
            self._deltas.clear()
            self._period = None

    def check_time(self, timestamp_ms: float, max_gap_ms: float | None, gap_periods: float) -> None:
        """Refuse a timestamp that steps back a little (frames out of order); restart the track
        after a gap longer than the limit, or a step back longer than it (a clock restart).

        The limit is max_gap_ms, or gap_periods x the observed period when max_gap_ms is None.
        """
        self.apply_time(timestamp_ms, self.time_verdict(timestamp_ms, max_gap_ms, gap_periods))

    def apply_time(self, timestamp_ms: float, verdict: str | None) -> None:
        """check_time's second half: act on the verdict time_verdict gave for this timestamp
        (push_many checks every track's clock first, then applies them)."""
        if verdict is None:
            return
        delta = timestamp_ms - self.last_ts
        if delta > 0:
            self._add_delta(delta)
        if verdict == "restart":
            self.restart()

    def time_verdict(self, timestamp_ms: float, max_gap_ms: float | None,
                     gap_periods: float) -> str | None:
        """check_time's decision without changing anything: None (the first frame), "ok" or
        "restart"; TimestampError for a frame that steps back a little."""
        if self.last_ts is None:
            return None
        delta = timestamp_ms - self.last_ts
        period = self._period
        limit = max_gap_ms if max_gap_ms is not None else \
            (gap_periods * period if period is not None else None)
        if delta > 0:
            return "restart" if limit is not None and delta > limit else "ok"
        if limit is not None and -delta > limit:
            return "restart"
        raise TimestampError(
            f"track {self.track_id!r}: timestamp {timestamp_ms} ms does not increase "
            f"(previous frame was at {self.last_ts} ms); timestamps must be strictly increasing")

    # ---- frames ------------------------------------------------------------------------------
    def append(self, kp: np.ndarray, score: np.ndarray, timestamp_ms: float, now: float = 0.0) -> None:
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
        self.tick(timestamp_ms, now)

    def tick(self, timestamp_ms: float, now: float = 0.0) -> None:
        """Count one accepted frame (append does; the native frame path buffers it natively)."""
        self.count += 1
        self.total_frames += 1
        self.last_ts = float(timestamp_ms)
        self.last_seen = now

    def completes_window(self, stride: int) -> bool:
        """Whether the frame just counted completes a window: the first full one, then every
        stride frames (the one rule of every frame path)."""
        return self.count >= self.window and (self.count - self.window) % stride == 0

    def ordered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the buffered frames, oldest first: kp [M,n,V,C], score [M,n,V], ts [n]."""
        n = min(self.count, self.window)
        start = (self.count - n) % self.window
        idx = (start + np.arange(n)) % self.window
        return self.kp[:, idx], self.score[:, idx], self.ts[idx]

    def nbytes(self) -> int:
        n = self.kp.nbytes + self.score.nbytes + self.ts.nbytes
        return n + (self.stream.nbytes() if self.stream is not None else 0)

    # ---- counters ----------------------------------------------------------------------------
    def record(self, latency_ms: float, no_person: bool) -> None:
        self.results += 1
        self.no_person += int(no_person)
        self.latency.add(latency_ms)

    def stats(self, now: float) -> dict:
        p = self.period_ms()
        return {"frames": self.total_frames, "results": self.results, "no_person": self.no_person,
                "resets": self.resets, "buffered": min(self.count, self.window),
                "idle_s": max(0.0, now - self.last_seen),
                "period_ms": p, "latency_ms": percentiles(self.latency.values())}


class Ring:
    """The last `size` values of a series, in fixed memory (not locked: the owner's lock is)."""

    __slots__ = ("_buf", "_n")

    def __init__(self, size: int):
        self._buf = np.zeros(size, np.float64)
        self._n = 0

    def add(self, x: float) -> None:
        self._buf[self._n % self._buf.size] = x
        self._n += 1

    def values(self) -> np.ndarray:
        return self._buf[:min(self._n, self._buf.size)].copy()


def percentiles(x: np.ndarray) -> dict:
    if x.size == 0:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    p50, p95, p99 = np.percentile(x, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "n": int(x.size)}


class TrackTable:
    """The live tracks of one recognizer (not locked itself: the Recognizer holds its lock while
    calling, for O(max_tracks) work at most)."""

    def __init__(self, window: int, persons: int, joints: int, coords: int,
                 max_tracks: int = 16, idle_timeout_ms: float | None = 10_000.0, stream=None,
                 native=None):
        """stream: for streaming bundles, a function that makes a track's StreamState.
        native: a function that makes a live (push) track's native frame-path state
        (backends/native_frame.NativeStream); such tracks buffer no raw frames in Python.
        Tracks of new_track (stream()) always take the Python path."""
        if max_tracks < 1:
            raise ValueError(f"max_tracks must be >= 1, got {max_tracks}")
        self.shape = (int(window), int(persons), int(joints), int(coords))
        self.make_stream = stream
        self.make_native = native
        self.max_tracks = int(max_tracks)
        self.idle_timeout_ms = idle_timeout_ms
        self._tracks: dict = {}
        self.evicted = 0
        self.dropped_frames = 0
        self.refused_ids = 0
        self._refused: OrderedDict = OrderedDict()   # recently refused id -> frames dropped
        # counters of tracks that are gone (evicted or dropped), so totals survive them
        self.retired = {"frames": 0, "results": 0, "no_person": 0, "resets": 0}

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, track_id) -> bool:
        return track_id in self._tracks

    def ids(self) -> list:
        return list(self._tracks)

    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def new_track(self, track_id, live: bool = False) -> Track:
        """A track with this table's buffer shape, not registered (stream() owns its own);
        live: a push() track, on the native frame path where the table has one."""
        if live and self.make_native is not None:
            tr = Track(track_id, *self.shape, frames=False)
            tr.stream = self.make_native()
            return tr
        tr = Track(track_id, *self.shape)
        if self.make_stream is not None:
            tr.stream = self.make_stream()
        return tr

    def get_live(self, track_id) -> Track | None:
        return self._tracks.get(track_id)

    def get(self, track_id, now: float) -> Track | None:
        """The live track of `track_id`, admitted if there is room (after evicting idle tracks);
        None when the table is full of live tracks (the frame is dropped and counted)."""
        tr = self._tracks.get(track_id)
        if tr is not None:
            return tr
        self.evict_idle(now)
        if len(self._tracks) >= self.max_tracks:
            self._refuse(track_id)
            return None
        tr = self._tracks[track_id] = self.new_track(track_id, live=True)
        tr.last_seen = now
        self._refused.pop(track_id, None)
        return tr

    def _refuse(self, track_id) -> None:
        self.dropped_frames += 1
        if track_id in self._refused:
            self._refused[track_id] += 1
            self._refused.move_to_end(track_id)
            return
        self.refused_ids += 1
        self._refused[track_id] = 1
        while len(self._refused) > _REMEMBERED_REFUSED:
            self._refused.popitem(last=False)
        log.warning("track %r not admitted: %d tracks are live and none has been idle for %s ms; "
                    "its frames are dropped (raise max_tracks, or reset(id, forget=True) finished tracks)",
                    track_id, self.max_tracks, self.idle_timeout_ms)

    def evict_idle(self, now: float) -> int:
        """Evict tracks whose own last frame is older than the idle timeout; how many."""
        if self.idle_timeout_ms is None:
            return 0
        limit = self.idle_timeout_ms / 1000.0
        idle = [tid for tid, tr in self._tracks.items() if now - tr.last_seen > limit]
        for tid in idle:
            self.retire(self._tracks.pop(tid))
        self.evicted += len(idle)
        return len(idle)

    def retire(self, tr: Track) -> None:
        for k, v in (("frames", tr.total_frames), ("results", tr.results),
                     ("no_person", tr.no_person), ("resets", tr.resets)):
            self.retired[k] += v

    def drop(self, track_id) -> None:
        tr = self._tracks.pop(track_id, None)
        if tr is not None:
            self.retire(tr)

    def clear(self) -> None:
        for tid in list(self._tracks):
            self.drop(tid)

    def nbytes(self) -> int:
        return sum(t.nbytes() for t in self._tracks.values())
