"""Tracks are independent: own clocks, no starvation by newcomers, counters, callbacks."""
from __future__ import annotations

import logging

import pytest

from bharnet import sdk

pytestmark = pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")

# the embedded model's own window (it streams: no other window), a recognition every S frames
W, S = sdk.Recognizer().window if sdk.default_model_path().is_file() else 0, 4


def _expected(n_frames: int) -> int:
    return 0 if n_frames < W else 1 + (n_frames - W) // S


def _rec(**kw):
    return sdk.Recognizer(layout="mediapipe_holistic", backend="onnxruntime", stride=S, **kw)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_unrelated_clocks_of_two_cameras_change_nothing(holistic_stream):
    """Epoch milliseconds on one camera, milliseconds since start on the other: both complete."""
    r = _rec()
    got = {"epoch": 0, "boot": 0}
    for i in range(60):
        f = holistic_stream[i % len(holistic_stream)]
        got["epoch"] += r.push(f, 1.7e12 + i * 33.0, track_id="epoch") is not None
        got["boot"] += r.push(f, 5_000.0 + i * 33.0, track_id="boot") is not None
    assert got == {"epoch": _expected(60), "boot": _expected(60)}
    st = r.stats()
    assert st["evictions"] == 0 and st["dropped_frames"] == 0 and st["resets"] == 0


def test_one_glitched_timestamp_costs_only_its_own_track(holistic_stream):
    """A 1e15 ms glitch on one of five tracks: the other four get every result, the glitched
    track restarts (twice: the jump out and the jump back) and then recovers, no TimestampError."""
    r = _rec()
    n = 70
    got = {k: 0 for k in range(5)}
    for i in range(n):
        f = holistic_stream[i % len(holistic_stream)]
        for k in range(5):
            t = 1e15 if (k == 0 and i == 20) else 1000.0 + i * 33.0
            got[k] += r.push(f, t, track_id=k) is not None
    assert all(got[k] == _expected(n) for k in range(1, 5)), got
    # track 0: frames 0..19, the glitch frame (restart), then 21..69 after the jump back (restart)
    assert got[0] == _expected(20) + _expected(n - 21)
    st = r.stats()
    assert st["tracks"][0]["resets"] == 2 and st["tracks"][0]["frames"] == n
    assert all(st["tracks"][k]["resets"] == 0 for k in range(1, 5))


def test_a_hundred_ids_with_sixteen_slots_do_not_thrash(holistic_stream, caplog):
    """100 concurrent ids x 40 frames, max_tracks=16: the first 16 are admitted and each gets
    every result; the other 84 are refused (dropped, counted, one warning each); nothing is
    evicted."""
    r = _rec(max_tracks=16)
    results: dict = {}
    with caplog.at_level(logging.WARNING, logger="bharnet.sdk"):
        for i in range(40):
            f = holistic_stream[i % len(holistic_stream)]
            for tid in range(100):
                if r.push(f, i * 33.0, track_id=tid) is not None:
                    results[tid] = results.get(tid, 0) + 1
    assert results == {tid: _expected(40) for tid in range(16)}
    st = r.stats()
    assert st["evictions"] == 0 and st["refused_ids"] == 84 and st["dropped_frames"] == 84 * 40
    assert st["results"] == 16 * _expected(40) and st["frames"] == 16 * 40
    warned = [rec for rec in caplog.records if "not admitted" in rec.getMessage()]
    assert len(warned) == 84


def test_idle_is_measured_per_track_on_the_process_clock(holistic_stream):
    clock = FakeClock()
    r = _rec(max_tracks=2, idle_timeout_ms=1000, clock=clock)
    r.push(holistic_stream[0], 0.0, track_id="a")
    r.push(holistic_stream[0], 1e12, track_id="b")        # a far-ahead clock evicts nobody
    assert r.push(holistic_stream[0], 0.0, track_id="c") is None and r.tracks == ["a", "b"]
    clock.t = 0.8
    r.push(holistic_stream[1], 33.0, track_id="a")
    clock.t = 1.5                                          # b idle 1.5 s, a only 0.7 s
    r.push(holistic_stream[0], 0.0, track_id="c")
    assert r.tracks == ["a", "c"] and r.stats()["evictions"] == 1


def test_reset_restarts_a_tracks_clock(holistic_stream):
    r = _rec()
    for i in range(10):
        r.push(holistic_stream[i], 5000.0 + i * 33.0, track_id="cam")
    with pytest.raises(sdk.TimestampError):                  # a small step back: out of order
        r.push(holistic_stream[10], 5000.0 + 8 * 33.0, track_id="cam")
    r.reset("cam")                                           # the camera restarted its clock
    assert r.push(holistic_stream[10], 3.0, track_id="cam") is None
    st = r.stats()["tracks"]["cam"]
    assert st["resets"] == 1 and st["buffered"] == 1 and st["frames"] == 11
    r.reset("cam", forget=True)
    assert "cam" not in r.tracks


def test_large_step_back_is_a_clock_restart_not_an_error(holistic_stream):
    r = _rec()
    for i in range(10):
        r.push(holistic_stream[i], 60_000.0 + i * 33.0, track_id=1)
    r.push(holistic_stream[10], 0.0, track_id=1)              # device rebooted: restart
    assert r.stats()["tracks"][1]["resets"] == 1


@pytest.mark.parametrize("fps", [0.9, 1.0, 60.0])
def test_slow_and_fast_feeds_fill_their_windows(holistic_stream, fps):
    """The gap that restarts a track follows the observed frame period, not a fixed 1 s."""
    r = _rec()
    period = 1000.0 / fps
    out = [r.push(holistic_stream[i], i * period, track_id=0) for i in range(W + S)]
    assert sum(x is not None for x in out) == 2
    assert r.stats()["resets"] == 0
    # a pause of 20 periods restarts it
    r.push(holistic_stream[0], (W + S + 20) * period, track_id=0)
    assert r.stats()["resets"] == 1


def test_frame_rate_change_is_followed(holistic_stream):
    r = _rec()
    t = 0.0
    for i in range(20):              # 60 fps
        t += 16.7
        r.push(holistic_stream[i], t, track_id=0)
    resets = []
    for i in range(20):              # then 1 fps
        t += 1000.0
        r.push(holistic_stream[i], t, track_id=0)
        resets.append(r.stats()["resets"])
    # the first slow frames restart the track, then the period estimate follows the new rate
    assert 1 <= resets[-1] <= 5 and resets[-1] == resets[-10]


def test_on_result_exception_is_logged_counted_and_push_goes_on(holistic_stream, caplog):
    seen = []

    def flaky(rec):
        seen.append(rec)
        if len(seen) % 2:
            raise RuntimeError("callback bug")

    r = _rec(on_result=None)
    r.on_result = flaky
    outs = []
    with caplog.at_level(logging.ERROR, logger="bharnet.sdk"):
        for i in range(40):
            outs.append(r.push(holistic_stream[i], i * 33.0))
    done = [o for o in outs if o is not None]
    assert len(done) == len(seen) == _expected(40)
    assert r.stats()["callback_errors"] == (len(seen) + 1) // 2
    assert sum("on_result raised" in x.getMessage() for x in caplog.records) == (len(seen) + 1) // 2


def test_stats_reports_counts_and_latency_percentiles(holistic_stream):
    r = _rec()
    for i in range(40):
        r.push(holistic_stream[i], i * 33.0, track_id="a")
    list(r.run(list(holistic_stream[:40])))          # a stream's counters join the totals
    st = r.stats()
    assert st["frames"] == 80 and st["results"] == 2 * _expected(40)
    lat = st["latency_ms"]
    assert lat["n"] == 2 * _expected(40) and 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    a = st["tracks"]["a"]
    assert a["frames"] == 40 and a["results"] == _expected(40) and a["period_ms"] == pytest.approx(33.0)
    assert a["latency_ms"]["n"] == _expected(40)


def test_per_track_memory_stays_bounded(holistic_stream):
    r = _rec(max_tracks=4)
    for i in range(30):
        for tid in range(10):
            r.push(holistic_stream[i], i * 33.0, track_id=tid)
    assert len(r.tracks) == 4
    one = _rec()
    for i in range(30):
        one.push(holistic_stream[i], i * 33.0)
    # per track: keypoints [1, W, 75, 2] and scores [1, W, 75] float32, timestamps [W] float64,
    # plus the streaming model's prepared frames and state: the same for every track
    assert one.buffered_bytes() >= W * 75 * 2 * 4 + W * 75 * 4 + W * 8
    assert r.buffered_bytes() == 4 * one.buffered_bytes()
