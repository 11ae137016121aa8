"""SDK: Recognizer modes, adapters, streams and tracks, backends, thread safety, CLI.

Uses the embedded default bundle (shipped in the package), so it runs without torch; the torch
backend test skips where torch is missing.
"""
from __future__ import annotations

import json
import threading
import types

import numpy as np
import pytest

from bharnet import sdk
from bharnet.backends import BackendUnavailable, get_backend
from bharnet.sdk.tracks import TrackTable

pytestmark = pytest.mark.skipif(not sdk.default_model_path().is_file(),
                                reason="no embedded default model (make default-model)")


@pytest.fixture(scope="module")
def rec():
    with sdk.Recognizer(layout="mediapipe_holistic", backend="onnxruntime") as r:
        yield r


class FiniteSpy:
    """Wraps a backend and records whether every input it was given is finite."""

    def __init__(self, inner):
        self.inner, self.name, self.thread_safe = inner, inner.name, True
        self.calls, self.all_finite = 0, True

    def run(self, inputs):
        self.calls += 1
        self.all_finite &= all(np.isfinite(v).all() for v in inputs.values())
        return self.inner.run(inputs)


def _noisy(stream: np.ndarray, seed=0) -> np.ndarray:
    """NaN/inf injected into random rows, both hands removed in a third of the frames."""
    a = stream.copy()
    rng = np.random.default_rng(seed)
    t = a.shape[0]
    a[rng.integers(0, t, 20), rng.integers(0, 75, 20), 0] = np.nan
    a[rng.integers(0, t, 5), rng.integers(0, 75, 5), 1] = np.inf
    a[::3, 33:] = 0.0                   # hands not detected
    a[10, :, :] = np.nan                # a whole broken frame
    return a


# ---- modes ---------------------------------------------------------------------------------
def test_clip_mode_returns_one_recognition(rec, holistic_stream):
    r = rec.run(holistic_stream)
    assert isinstance(r, sdk.Recognition)
    assert r.label in rec.classes and 0 < r.score <= 1
    assert len(r.top_k) == 5 and r.top_k[0][0] == r.label
    assert r.body_label in rec.classes and r.hand_label in rec.classes
    assert 0 <= r.hand_presence[0] <= 1 and 0 <= r.hand_presence[1] <= 1
    assert r.latency_ms > 0
    json.dumps(r.to_dict())
    # [M,T,V,C] is the same clip
    r4 = rec.run(holistic_stream[None])
    assert r4.label == r.label and abs(r4.score - r.score) < 1e-5


def test_stream_mode_every_stride_once_window_full(rec, holistic_stream):
    frames = list(holistic_stream)            # an iterable, not an array: stream mode
    recs = list(rec.run(frames, fps=25))
    w, s, n = rec.window, rec.stride, len(frames)
    assert len(recs) == 1 + (n - w) // s
    assert [r.end_ms for r in recs] == [(w - 1 + i * s) * 40.0 for i in range(len(recs))]
    assert all(r.end_ms - r.start_ms == (w - 1) * 40.0 for r in recs)


def test_short_stream_is_flushed_once(rec, holistic_stream):
    recs = list(rec.run(list(holistic_stream[: rec.window // 2])))
    assert len(recs) == 1 and recs[0].frames == rec.window // 2
    assert list(rec.run(list(holistic_stream[:5]), flush=False)) == []


def test_nan_inf_and_missing_hands_never_reach_the_network(holistic_stream):
    # the window mode runs the backend on every window (the continual mode's steps: test_sdk_continual)
    r = sdk.Recognizer(layout="mediapipe_holistic", backend="onnxruntime", mode="window")
    spy = r.backend = FiniteSpy(r.backend)
    noisy = _noisy(holistic_stream)
    clip = r.run(noisy)
    recs = list(r.run(list(noisy)))
    for t, f in enumerate(noisy):
        r.push(f, t * 33.0, track_id="live")
    assert spy.calls >= 2 + len(recs) and spy.all_finite
    assert np.isfinite(clip.score) and all(np.isfinite(x.score) for x in recs)
    assert clip.hand_presence[0] <= 0.75   # hands gone in every third frame


def test_all_hands_missing_still_recognizes(rec, holistic_stream):
    a = holistic_stream.copy()
    a[:, 33:] = 0.0
    r = rec.run(a)
    assert r.hand_presence == (0.0, 0.0) and np.isfinite(r.score)


# ---- timestamps and tracks ------------------------------------------------------------------
def test_timestamp_going_back_is_refused_naming_both(rec, holistic_stream):
    rec.reset()
    rec.push(holistic_stream[0], 1000.0, track_id=7)
    rec.push(holistic_stream[1], 1033.0, track_id=7)
    with pytest.raises(sdk.TimestampError) as e:
        rec.push(holistic_stream[2], 1020.0, track_id=7)
    assert "1020.0" in str(e.value) and "1033.0" in str(e.value)
    with pytest.raises(ValueError):           # equal is not increasing either
        rec.push(holistic_stream[2], 1033.0, track_id=7)
    rec.push(holistic_stream[2], 1066.0, track_id=7)   # the track survives the refusal
    # other tracks have their own clocks
    rec.push(holistic_stream[0], 5.0, track_id=8)


def test_gap_resets_track_and_dropped_frames_are_tolerated(holistic_stream):
    r = sdk.Recognizer(layout="mediapipe_holistic", max_gap_ms=500)
    w = r.window
    out = [r.push(f, i * 33.0, track_id=0) for i, f in enumerate(holistic_stream[: w - 1])]
    assert not any(out)
    # a long gap: the track restarts, so no recognition until a whole new window is buffered
    t0 = (w - 2) * 33.0 + 5000.0
    out = [r.push(f, t0 + i * 33.0) for i, f in enumerate(holistic_stream[: w - 1])]
    assert not any(out)
    assert r.push(holistic_stream[w], t0 + (w - 1) * 33.0) is not None
    # dropped frames (gaps below the limit) do not reset
    r2 = sdk.Recognizer(layout="mediapipe_holistic", max_gap_ms=500)
    got = [r2.push(f, i * 99.0) for i, f in enumerate(holistic_stream[:w])]
    assert got[-1] is not None and got[-1].start_ms == 0.0


def test_on_result_callback_and_close(holistic_stream):
    seen = []
    with sdk.Recognizer(layout="mediapipe_holistic", stride=4, on_result=seen.append) as r:
        for i, f in enumerate(holistic_stream):
            r.push(f, i * 33.0)
        assert len(seen) == 1 + (len(holistic_stream) - r.window) // 4
    with pytest.raises(RuntimeError):
        r.push(holistic_stream[0], 1e9)


def test_tracks_bounded_over_simulated_hours():
    table = TrackTable(window=64, persons=1, joints=75, coords=2, max_tracks=8,
                       idle_timeout_ms=5_000)
    kp, sc = np.zeros((1, 75, 2), np.float32), np.ones((1, 75), np.float32)
    rng = np.random.default_rng(0)
    peak_bytes, peak_tracks = 0, 0
    # 3 simulated hours at 2 Hz, people coming and going (track ids keep growing); the clock is
    # the process clock the table is given, in seconds
    for step in range(3 * 3600 * 2):
        now = step * 0.5
        for tid in rng.integers(step // 50, step // 50 + 12, size=2):
            tr = table.get(int(tid), now)
            if tr is not None and (tr.last_ts is None or now * 1000 > tr.last_ts):
                tr.append(kp, sc, now * 1000, now)
        peak_tracks = max(peak_tracks, len(table))
        peak_bytes = max(peak_bytes, table.nbytes())
    assert peak_tracks <= 8
    assert peak_bytes <= 8 * (64 * 75 * 3 * 4 + 64 * 8)
    assert table.evicted > 1000


def test_idle_tracks_evicted_from_recognizer(holistic_stream):
    """A full table admits a newcomer only once a track has been idle past the timeout (on the
    process clock, here a fake one); live tracks are never pushed out."""
    clock = [0.0]
    r = sdk.Recognizer(layout="mediapipe_holistic", idle_timeout_ms=1000, max_tracks=3,
                       clock=lambda: clock[0])
    for tid in range(5):
        r.push(holistic_stream[0], 10.0 + tid, track_id=tid)
    assert r.tracks == [0, 1, 2]
    assert r.stats()["dropped_frames"] == 2 and r.stats()["refused_ids"] == 2
    clock[0] = 0.9
    r.push(holistic_stream[1], 50.0, track_id=0)       # track 0 stays live
    clock[0] = 1.5
    r.push(holistic_stream[0], 5000.0, track_id="new")  # 1 and 2 idle 1.5 s: evicted
    assert r.tracks == [0, "new"] and r.stats()["evictions"] == 2


def test_threads_tracks_and_recognizers(holistic_stream):
    """Several tracks of one recognizer and several recognizers, fed from several threads,
    give exactly what feeding them one after the other gives."""
    frames = _noisy(holistic_stream, seed=1)

    def feed(r, tid, sink):
        for i, f in enumerate(frames):
            x = r.push(f, i * 33.0, track_id=tid)
            if x is not None:
                sink.append((tid, x.end_ms, x.label, round(x.score, 5)))

    shared = sdk.Recognizer(layout="mediapipe_holistic", stride=8)
    own = [sdk.Recognizer(layout="mediapipe_holistic", stride=8) for _ in range(2)]
    results: dict = {k: [] for k in range(6)}
    threads = [threading.Thread(target=feed, args=(shared, k, results[k])) for k in range(4)]
    threads += [threading.Thread(target=feed, args=(own[k - 4], 0, results[k])) for k in (4, 5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ref = []
    feed(sdk.Recognizer(layout="mediapipe_holistic", stride=8), 0, ref)
    for k, got in results.items():
        assert [g[1:] for g in got] == [g[1:] for g in ref], k


# ---- adapters and layouts --------------------------------------------------------------------
def _lm(points, vis=True):
    mk = (lambda p: types.SimpleNamespace(x=p[0], y=p[1], z=p[2], visibility=p[3])) if vis else \
        (lambda p: types.SimpleNamespace(x=p[0], y=p[1], z=p[2]))
    return types.SimpleNamespace(landmark=[mk(p) for p in points])


def test_holistic_result_objects_are_accepted(rec, holistic_stream):
    f = holistic_stream[5]
    res = types.SimpleNamespace(pose_landmarks=_lm(f[:33]), left_hand_landmarks=_lm(f[33:54], False),
                                right_hand_landmarks=None)
    rows = sdk.holistic_to_rows(res)
    assert rows.shape == (75, 4)
    np.testing.assert_allclose(rows[:54, :3], f[:54, :3], rtol=1e-6)
    assert (rows[54:] == 0).all()
    coords, score = sdk.split_rows(rows, "mediapipe_holistic")
    assert (score[:33] == f[:33, 3]).all() and (score[33:] == 1).all()   # hands: no visibility
    rec.reset()
    for i in range(rec.window):
        last = rec.push(res, i * 33.0, track_id="objects")
    assert last is not None


@pytest.mark.parametrize("cols", [2, 3])
def test_coco_wholebody_rows(cols):
    from bharnet.data import synth

    kp, _ = synth.generate_stream(num_actions=1, seed=3)
    r = sdk.Recognizer(layout="coco_wholebody")
    x = r.run(kp[..., :cols])
    assert x.label in r.classes
    coords, score = sdk.split_rows(kp, "coco_wholebody")
    assert coords.shape[-1] == 2 and (score == kp[..., 2]).all()


@pytest.mark.parametrize("layout", ["ntu25", "jhmdb15", "coco17"])
def test_hand_model_refuses_layout_without_hands(layout):
    with pytest.raises(ValueError, match="hand"):
        sdk.Recognizer(layout=layout)


def test_wrong_shapes_are_clear(rec):
    with pytest.raises(ValueError, match="75"):
        rec.push(np.zeros((133, 3), np.float32), 1e12, track_id="shape")
    with pytest.raises(ValueError):
        sdk.split_rows(np.zeros((75, 7)), "mediapipe_holistic")


# ---- backends --------------------------------------------------------------------------------
def test_unknown_and_unavailable_backends_are_clear():
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        sdk.Recognizer(backend="tflite")
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="tensorrt"):
            sdk.Recognizer(backend="tensorrt")


def test_torch_backend_matches_onnxruntime(holistic_stream):
    pytest.importorskip("torch")
    bundle = sdk.load_model(None)
    try:
        tb = get_backend("torch", bundle)
    except BackendUnavailable as e:
        pytest.skip(str(e))
    ob = get_backend("onnxruntime", bundle)
    r = sdk.Recognizer(bundle, layout="mediapipe_holistic", backend="onnxruntime")
    from bharnet.data.pipeline import prepare_clip

    kp, sc = sdk.split_rows(holistic_stream, "mediapipe_holistic")
    x = prepare_clip(kp, sc, "mediapipe_holistic", r.spec, num_clips=2,
                     mode=bundle.meta.preprocessing["sampling"])
    a, b = ob.run(x), tb.run(x)
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-3, atol=1e-3)


def test_native_backend_matches_onnxruntime(holistic_stream):
    """bharnet._C kernels + NumPy give the ONNX graph's outputs, without torch or onnxruntime."""
    bundle = sdk.load_model(None)
    try:
        nb = get_backend("native", bundle)
    except BackendUnavailable as e:
        pytest.skip(str(e))
    from bharnet.data.pipeline import prepare_clip

    r = sdk.Recognizer(bundle, layout="mediapipe_holistic", backend="native")
    kp, sc = sdk.split_rows(_noisy(holistic_stream), "mediapipe_holistic")
    x = prepare_clip(kp, sc, "mediapipe_holistic", r.spec, num_clips=3,
                     mode=bundle.meta.preprocessing["sampling"])
    a, b = get_backend("onnxruntime", bundle).run(x), nb.run(x)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-4)
    assert r.run(holistic_stream).label == sdk.Recognizer(bundle).run(holistic_stream).label


def test_custom_window_is_resampled(holistic_stream, windowed_bundle):
    r = sdk.Recognizer(windowed_bundle, layout="mediapipe_holistic", window=48, stride=12)
    recs = list(r.run(list(holistic_stream)))
    assert len(recs) == 1 + (72 - 48) // 12 and recs[0].frames == 48


# ---- CLI -------------------------------------------------------------------------------------
def test_cli_run_writes_json_lines(tmp_path, holistic_stream, capsys):
    from bharnet.cli import main

    f = tmp_path / "kp.npy"
    np.save(f, _noisy(holistic_stream))
    assert main(["run", "--keypoints", str(f), "--layout", "mediapipe_holistic", "--fps", "28",
                 "--stride", "16"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 1 + (72 - lines[0]["frames"]) // 16
    assert lines[0]["label"] and lines[0]["end_ms"] == pytest.approx((lines[0]["frames"] - 1) * 1000 / 28)


def test_layout_inferred_from_the_first_input(holistic_stream):
    """Recognizer() with no layout takes a MediaPipe stream as is (75 rows -> mediapipe_holistic)."""
    r = sdk.Recognizer()
    assert r.layout is None
    recs = list(r.run(list(_noisy(holistic_stream))))
    assert r.layout == "mediapipe_holistic" and len(recs) == 1 + (72 - r.window) // r.stride
    assert sdk.Recognizer().run(holistic_stream).label in r.classes
    with pytest.raises(ValueError, match="133"):
        r.push(np.zeros((133, 3), np.float32), 1e9)
    with pytest.raises(ValueError, match="layout"):
        sdk.Recognizer().push(np.zeros((40, 3), np.float32), 0.0)


def test_auto_on_a_missing_gpu_says_why_for_each_backend():
    try:
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            pytest.skip("a CUDA onnxruntime is installed here")
    except ImportError:
        pass
    with pytest.raises(BackendUnavailable) as e:
        sdk.Recognizer(device="cuda")
    assert "onnxruntime" in str(e.value) and "tensorrt" in str(e.value)
