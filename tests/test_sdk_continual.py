"""The SDK's continual mode on a streaming bundle: every frame computed once, the model's state in
the track, and recognitions equal to the window mode's at every prediction point (the same frames,
labels, scores), through missing frames, gaps, resets, several tracks and threads."""
import threading

import numpy as np
import pytest

from bharnet import sdk

BACKENDS = ("onnxruntime", "native")


def _frames(stream, seed=0):
    """The real stream twice over, with what robots see: NaN frames, lost hands, a lost body."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([stream, stream[::-1]]).copy()
    x[rng.random(len(x)) < 0.05] = np.nan            # garbage frames
    x[rng.random(len(x)) < 0.2, 33:] = 0              # hands not found
    x[20:26] = 0                                      # nobody for a moment
    return x


def _runner_or_skip(bundle, backend):
    from bharnet.backends import BackendUnavailable

    try:
        return sdk.Recognizer(bundle, backend=backend, mode="continual", layout="mediapipe_holistic")
    except (BackendUnavailable, ImportError) as e:
        pytest.fail(f"backend {backend} cannot run continual mode here: {e}")


def _compare(a, b, tol=1e-5):
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert (x.start_ms, x.end_ms, x.frames, x.outcome, x.label) == \
               (y.start_ms, y.end_ms, y.frames, y.outcome, y.label)
        if x.score is not None:
            assert abs(x.score - y.score) <= tol
            assert [c for c, _ in x.top_k] == [c for c, _ in y.top_k]
        assert x.hand_presence == y.hand_presence and x.body_presence == y.body_presence


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule,stride", [("native", 4), ("native", 8), ("atrous", 1), ("atrous", 3)])
def test_continual_equals_window_at_every_prediction(streaming_bundle, holistic_stream, backend,
                                                     schedule, stride):
    _runner_or_skip(streaming_bundle, backend)
    frames = _frames(holistic_stream)
    kw = dict(backend=backend, layout="mediapipe_holistic", stride=stride, min_body_presence=0.0)
    win = sdk.Recognizer(streaming_bundle, mode="window", **kw)
    cont = sdk.Recognizer(streaming_bundle, mode="continual", schedule=schedule, **kw)
    assert (win.info["mode"], cont.info["mode"], cont.info["schedule"]) == ("window", "continual", schedule)
    _compare(list(win.run(list(frames), fps=28)), list(cont.run(list(frames), fps=28)))


def test_auto_mode_and_schedule(streaming_bundle, windowed_bundle):
    r = sdk.Recognizer(streaming_bundle, layout="mediapipe_holistic")        # bundle stride
    assert r.info["mode"] == "continual" and r.info["schedule"] == "native"
    assert r.stride == 4 and r.info["first_recognition_frames"] == r.window
    assert sdk.Recognizer(streaming_bundle, stride=2).info["schedule"] == "atrous"
    assert sdk.Recognizer(streaming_bundle, mode="window").info["mode"] == "window"
    assert sdk.Recognizer().info["mode"] == "continual"     # the embedded model streams
    assert sdk.Recognizer(windowed_bundle).info["mode"] == "window"
    with pytest.raises(ValueError, match="no step graph"):
        sdk.Recognizer(windowed_bundle, mode="continual")
    with pytest.raises(ValueError, match="multiple of 4"):
        sdk.Recognizer(streaming_bundle, mode="continual", schedule="native", stride=6)
    with pytest.raises(ValueError, match="cannot be resampled"):
        sdk.Recognizer(streaming_bundle, window=20)
    with pytest.raises(ValueError, match="mode"):
        sdk.Recognizer(streaming_bundle, mode="sometimes")


def test_auto_backend_follows_the_mode(streaming_bundle, windowed_bundle, monkeypatch):
    """backend="auto": the native step runtime for continual mode on the CPU (measured faster in
    bench/streaming.py), onnxruntime for window mode and windowed bundles, and onnxruntime again
    when this install has no native extension."""
    assert sdk.Recognizer(streaming_bundle).backend.name == "native"
    assert sdk.Recognizer(streaming_bundle, mode="window").backend.name == "onnxruntime"
    assert sdk.Recognizer(windowed_bundle).backend.name == "onnxruntime"
    assert sdk.Recognizer(streaming_bundle, backend="onnxruntime").info["mode"] == "continual"

    from bharnet.backends import base

    real = base._load

    def no_native(name, *a, **k):
        if name == "native":
            raise base.BackendUnavailable("backend 'native' needs the compiled extension bharnet._C")
        return real(name, *a, **k)
    monkeypatch.setattr(base, "_load", no_native)
    r = sdk.Recognizer(streaming_bundle)
    assert (r.backend.name, r.info["mode"]) == ("onnxruntime", "continual")


@pytest.mark.parametrize("backend", BACKENDS)
def test_gaps_resets_and_tracks_as_window_mode(streaming_bundle, holistic_stream, backend):
    """push() with a timestamp gap (the track restarts), a reset(), and two interleaved tracks:
    the continual states follow the window mode's restarts exactly."""
    frames = _frames(holistic_stream, seed=3)
    kw = dict(backend=backend, layout="mediapipe_holistic", min_body_presence=0.0, max_gap_ms=500.0)

    def feed(rec):
        out = []
        t = 0.0
        for i, f in enumerate(frames):
            t += 2000.0 if i == 60 else 1000 / 28             # a two-second gap restarts the tracks
            if i == 100:
                rec.reset(7)
            for tid, frame in ((7, f), ("cam-2", frames[(i + 37) % len(frames)])):
                r = rec.push(frame, t, track_id=tid)
                if r is not None:
                    out.append(r)
        return out
    a = feed(sdk.Recognizer(streaming_bundle, mode="window", **kw))
    b = feed(sdk.Recognizer(streaming_bundle, mode="continual", **kw))
    _compare(a, b)
    assert {r.track_id for r in b} == {7, "cam-2"}


def test_threads_each_with_their_tracks_match_one_thread(streaming_bundle, holistic_stream):
    frames = _frames(holistic_stream, seed=5)
    rec = sdk.Recognizer(streaming_bundle, mode="continual", layout="mediapipe_holistic",
                         min_body_presence=0.0)
    results = {}

    def worker(tid):
        out = []
        for i, f in enumerate(frames):
            r = rec.push(f, i * 1000 / 28, track_id=tid)
            if r is not None:
                out.append(r)
        results[tid] = out
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    single = sdk.Recognizer(streaming_bundle, mode="continual", layout="mediapipe_holistic",
                            min_body_presence=0.0)
    ref = [r for r in (single.push(f, i * 1000 / 28) for i, f in enumerate(frames)) if r is not None]
    for tid in range(4):
        _compare([r for r in results[tid]], ref, tol=0.0)


def test_state_memory_is_reported(streaming_bundle, holistic_stream):
    win = sdk.Recognizer(streaming_bundle, mode="window", layout="mediapipe_holistic")
    cont = sdk.Recognizer(streaming_bundle, mode="continual", layout="mediapipe_holistic")
    for r in (win, cont):
        for i, f in enumerate(holistic_stream[:10]):
            r.push(f, i * 30.0)
    assert cont.buffered_bytes() > win.buffered_bytes() > 0     # the model state is counted
