"""The native frame path (issue 22) against the Python reference: the preparation alone on many
specs (bharnet.data.causal.CausalPreparer + sdk/presence), and the Recognizer end to end (its
recognitions with frame_path="native" equal those with frame_path="python"), on the real stream
with what robots see: NaN and inf frames, lost and half-lost hands, a lost body, several persons,
gaps, resets and several tracks."""
import numpy as np
import pytest

from bharnet import sdk
from bharnet.data.causal import CausalPreparer
from bharnet.data.inputs import TIME_AXIS
from bharnet.data.spec import InputSpec
from bharnet.sdk.adapters import RowSplitter
from bharnet.sdk.presence import body_frames
from bharnet.sdk.streaming import frame_plan
from bharnet.sdk.tracks import TimestampError

HOLISTIC = "mediapipe_holistic"
DEMO = dict(body_layout="coco17", window=31, normalisation="causal-v1", norm_horizon=32)


def _C():
    from bharnet import _C

    return _C


def hostile(stream, seed=0):
    """The real stream twice over (forward, then backward), spoiled as live feeds are."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([stream, stream[::-1]]).copy()
    n = len(x)
    x[rng.random(n) < 0.05] = np.nan                   # garbage frames
    x[rng.random(n) < 0.03, rng.integers(0, 33)] = np.inf
    x[rng.random(n) < 0.03, :, 0] = 3e7                 # absurd coordinates
    x[rng.random(n) < 0.2, 33:] = 0                     # hands not found
    x[rng.random(n) < 0.1, 37:54] = 0                   # a left hand of 4 joints: absent
    x[rng.random(n) < 0.1, 33] = 0                      # a left hand without its wrist
    lone = rng.random(n) < 0.05                         # a right hand of its wrist and 4 tips
    x[lone, 55:75] = 0
    for tip in (58, 62, 66, 70):
        x[lone, tip] = x[lone, 54] + np.float32(0.01 * (tip - 54))
    x[rng.random(n) < 0.1, :33, 3] = 0.1                # a body under the score threshold
    x[rng.random(n) < 0.02, 5, 3] = np.nan              # an unknown confidence
    x[20:26] = 0                                        # nobody for a moment
    return x.astype(np.float32)


# ---- the preparation alone -----------------------------------------------------------------------
SPECS = {
    "demo": (HOLISTIC, {}),
    "bone_short_horizon": (HOLISTIC, dict(stream="b", norm_horizon=5)),
    "motion_xyz_no_score": (HOLISTIC, dict(stream="jm", coords=3, with_score=False)),
    "bone_motion_two_persons": (HOLISTIC, dict(stream="bm", num_person=2)),
    "unified_motion": (HOLISTIC, dict(unified=True, stream="jm")),
    "hands_only": (HOLISTIC, dict(body=False, stream="b")),
    "body_only": (HOLISTIC, dict(hands=False)),
}


def _persons(x, rng, persons):
    """Frames of 1..persons+1 persons: the stream and shifted copies of it."""
    out = []
    for f in x:
        m = int(rng.integers(1, persons + 2))
        out.append(np.stack([f + np.float32(0.05 * i) for i in range(m)]) if persons > 1 else f)
    return out


def _reference(layout, spec, frames, resets):
    """Per frame: the prepared inputs and whether a body shows, as the Python path computes them."""
    split = RowSplitter(layout)
    prep = CausalPreparer(layout, spec)
    m = spec.num_person
    out = []
    for i, rows in enumerate(frames):
        if i in resets:
            prep.reset()
        kp, sc = split(rows)
        kp, sc = (kp[None], sc[None]) if kp.ndim == 2 else (kp, sc)
        x = prep.push(kp, sc)
        km = np.zeros((m,) + kp.shape[1:], np.float32)   # the track's persons (sdk/tracks.Track)
        smm = np.zeros((m,) + sc.shape[1:], np.float32)
        km[:min(m, len(kp))], smm[:min(m, len(sc))] = kp[:m], sc[:m]
        seen = body_frames(km[:, None], smm[:, None], layout, spec.coords, spec.score_threshold)[0]
        out.append(({k: np.take(v, 0, axis=TIME_AXIS[k]) for k, v in x.items()}, bool(seen)))
    return out


@pytest.mark.parametrize("name", sorted(SPECS))
def test_preparation_equals_reference(holistic_stream, name):
    layout, extra = SPECS[name]
    spec = InputSpec(**{**DEMO, **extra})
    rng = np.random.default_rng(1)
    frames = _persons(hostile(holistic_stream, seed=1), rng, spec.num_person)
    resets = {40, 41, 97}
    ref = _reference(layout, spec, frames, resets)
    prep = _C().FramePrep(frame_plan(layout, spec))
    seen_any = mask_any = 0
    for i, (rows, (want, seen)) in enumerate(zip(frames, ref)):
        if i in resets:
            prep.reset()
        got, got_seen = prep.push(np.ascontiguousarray(rows, np.float32), rows.shape[-1] - 1)
        assert got_seen == seen, f"frame {i}: body presence"
        assert sorted(got) == sorted(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=2e-5, atol=2e-6,
                                       err_msg=f"frame {i}, input {k}")
        seen_any += seen
        mask_any += bool(want.get("hand_mask", np.zeros(1)).any())
    assert 0 < seen_any < len(frames)                  # both outcomes were exercised
    assert not spec.hands or spec.unified or 0 < mask_any < len(frames)


def test_preparation_of_a_body_only_layout(shared_dir):
    """jhmdb15 (real JHMDB poses, 2 columns: no score column) with a bone-motion body model."""
    import pickle

    with open(shared_dir / "data/jhmdb14/jhmdb14_split1.pkl", "rb") as f:
        ann = pickle.load(f)["annotations"][:3]
    x = np.concatenate([a["keypoint"][0] for a in ann]).astype(np.float32)
    x[5:8] = np.nan
    x[30, :, :] = 0
    spec = InputSpec(**{**DEMO, "body_layout": "jhmdb15", "hands": False, "stream": "bm",
                        "norm_horizon": 8})
    ref = _reference("jhmdb15", spec, list(x), set())
    prep = _C().FramePrep(frame_plan("jhmdb15", spec))
    for i, (rows, (want, seen)) in enumerate(zip(x, ref)):
        got, got_seen = prep.push(rows, -1)
        assert got_seen == seen
        np.testing.assert_allclose(got["body"], want["body"], rtol=2e-5, atol=2e-6, err_msg=f"frame {i}")


# ---- the Recognizer end to end ---------------------------------------------------------------------
def _same(a, b, tol=1e-5):
    assert (a is None) == (b is None)
    if a is None:
        return
    assert (a.track_id, a.start_ms, a.end_ms, a.frames, a.outcome, a.label, a.body_label,
            a.hand_label) == (b.track_id, b.start_ms, b.end_ms, b.frames, b.outcome, b.label,
                              b.body_label, b.hand_label)
    assert a.body_presence == b.body_presence and a.hand_presence == b.hand_presence
    if a.score is not None:
        assert abs(a.score - b.score) <= tol
        assert [c for c, _ in a.top_k] == [c for c, _ in b.top_k]
        assert max(abs(p - q) for (_, p), (_, q) in zip(a.top_k, b.top_k)) <= tol


def _feed_both(recs, script):
    """Run one script of (action, args) on every recognizer; the outcomes side by side."""
    got = [[] for _ in recs]
    for action, args in script:
        for r, out in zip(recs, got):
            if action == "push":
                try:
                    out.append(r.push(*args))
                except (TimestampError, ValueError) as e:
                    out.append(type(e).__name__)
            elif action == "push_many":
                out.extend(r.push_many(*args))
            else:
                r.reset(*args)
    return got


def _script(frames, tracks=3):
    """Tracks interleaved; track 1 has a gap (restart), track 2 a clock restart and an
    out-of-order frame; a reset() and a malformed frame midway."""
    script = []
    for i, f in enumerate(frames):
        for t in range(tracks):
            ts = i * 33.0 + (2000.0 if t == 1 and i >= 60 else 0.0)
            if t == 2 and i >= 90:
                ts = (i - 90) * 33.0               # the camera's clock restarted
            script.append(("push", (frames[(i + 17 * t) % len(frames)], ts, t)))
        if i == 50:
            script.append(("push", (frames[i], 50 * 33.0 - 1.0, 0)))   # back in time: refused
            script.append(("push", (frames[i][:40], 51 * 33.0, 0)))     # malformed: refused
        if i == 70:
            script.append(("reset", (0,)))
    return script


def _native_and_python(model=None, **kw):
    kw = {"layout": HOLISTIC, "backend": "native", "min_body_presence": 0.0, **kw}
    a = sdk.Recognizer(model, frame_path="native", **kw)
    b = sdk.Recognizer(model, frame_path="python", **kw)
    assert a.stats()["frame_path"] == {"path": "native", "reason": None}
    assert b.stats()["frame_path"]["path"] == "python"
    return a, b


def test_recognizer_native_equals_python_on_the_embedded_model(holistic_stream):
    a, b = _native_and_python()
    got_a, got_b = _feed_both((a, b), _script(hostile(holistic_stream)))
    assert got_a.count("TimestampError") == got_b.count("TimestampError") == 1
    assert got_a.count("ValueError") == got_b.count("ValueError") == 1
    recs = [x for x in got_a if not isinstance(x, (str, type(None)))]
    assert len(recs) > 40 and {r.outcome for r in recs} >= {"action"}
    for x, y in zip(got_a, got_b):
        if isinstance(x, str) or isinstance(y, str):
            assert x == y
        else:
            _same(x, y)
    sa, sb = a.stats(), b.stats()
    for k in ("frames", "results", "no_person", "resets"):
        assert sa[k] == sb[k], k


def test_no_person_windows_agree(holistic_stream):
    """With the default min_body_presence, the lost body and a masked stretch give no-person
    windows on both paths alike."""
    x = hostile(holistic_stream)
    x[100:140, :33, 3] = 0.0
    a, b = _native_and_python(min_body_presence=0.5)
    got_a, got_b = _feed_both((a, b), [("push", (f, i * 33.0, 0)) for i, f in enumerate(x)])
    assert any(r is not None and r.outcome == "no_person" for r in got_a)
    for p, q in zip(got_a, got_b):
        _same(p, q)


@pytest.mark.parametrize("schedule,stride", [("native", 4), ("native", 8), ("atrous", 1), ("atrous", 3)])
def test_recognizer_native_equals_python_on_a_streaming_bundle(streaming_bundle, holistic_stream,
                                                               schedule, stride):
    a, b = _native_and_python(streaming_bundle, schedule=schedule, stride=stride)
    got_a, got_b = _feed_both((a, b), _script(hostile(holistic_stream)[:120], tracks=2))
    assert sum(r is not None and not isinstance(r, str) for r in got_a) > 10
    for x, y in zip(got_a, got_b):
        if isinstance(x, str) or isinstance(y, str):
            assert x == y
        else:
            _same(x, y)


def test_push_many_equals_push(holistic_stream):
    x = hostile(holistic_stream)
    seen = []
    many = sdk.Recognizer(layout=HOLISTIC, backend="native", min_body_presence=0.0,
                          on_result=seen.append)
    one = sdk.Recognizer(layout=HOLISTIC, backend="native", min_body_presence=0.0)
    ids = ["a", "b", 7, 8]
    out_many, out_one = [], []
    for i in range(len(x)):
        frames = [x[(i + 11 * k) % len(x)] for k in range(len(ids))]
        ts = [i * 33.0 + (5000.0 if k == 1 and i > 80 else 0.0) for k in range(len(ids))]
        out_many += many.push_many(frames, ts, ids)
        out_one += [one.push(f, t, tid) for f, t, tid in zip(frames, ts, ids)]
    assert sum(r is not None for r in out_many) > 40
    for p, q in zip(out_many, out_one):
        _same(p, q)
    assert seen == [r for r in out_many if r is not None]    # on_result got each, in order
    assert many.stats()["frames"] == one.stats()["frames"] == len(x) * len(ids)


def _prepared(spec, frames):
    """The model inputs of each frame, prepared by the Python reference (one track)."""
    split, prep = RowSplitter(HOLISTIC), CausalPreparer(HOLISTIC, spec)
    out = []
    for rows in frames:
        kp, sc = split(rows)
        x = prep.push(kp[None], sc[None])
        out.append({k: np.ascontiguousarray(np.take(v, 0, axis=TIME_AXIS[k])) for k, v in x.items()})
    return out


def test_step_many_equals_step(holistic_stream):
    """The batched step (GEMMs across tracks) gives each track what its own step() gives: tracks
    at different phases of the schedule, a track reset inside the batch, hostile frames."""
    rec = sdk.Recognizer(layout=HOLISTIC, backend="native", frame_path="python")
    prog = rec._runner._impl
    frames = _prepared(rec.spec, hostile(holistic_stream)[:90])
    n = 5
    one, many = [prog.new_state() for _ in range(n)], [prog.new_state() for _ in range(n)]
    for t in range(n):                       # phases 0..4 of the 4-frame schedule (and beyond)
        for f in frames[:t]:
            prog.step(one[t], f), prog.step(many[t], f)
    predictions = 0
    for i in range(len(frames) - n):
        if i == 40:
            prog.reset(one[2]), prog.reset(many[2])
        fr = [frames[i + t] for t in range(n)]
        want = [prog.step(s, f) for s, f in zip(one, fr)]
        got = prog.step_many(many, fr)
        for w, g in zip(want, got):
            assert (w is None) == (g is None)
            if w is not None:
                predictions += 1
                for k in w:
                    np.testing.assert_allclose(g[k], w[k], rtol=1e-6, atol=1e-6)
    assert predictions > 50
    with pytest.raises(RuntimeError, match="twice"):      # one state twice in one batch
        prog.step_many([many[0], many[0]], fr[:2])
    assert prog.step_many([many[0]], fr[:1]) is not None    # ... and the state is free again


def test_push_many_batched_crowd_equals_python_path(holistic_stream):
    """A crowd through push_many on the native frame path, its tracks stepped together in batches
    (of 4 here, so 6 tracks make two), equals each track pushed alone on the Python path: tracks
    joining late and leaving, a gap, a reset and a forgotten id inside a batch, hostile frames."""
    x = hostile(holistic_stream)
    kw = dict(layout=HOLISTIC, backend="native", min_body_presence=0.0, max_gap_ms=1000.0)
    many = sdk.Recognizer(frame_path="native", **kw)
    ref = sdk.Recognizer(frame_path="python", **kw)
    impl = many._native._impl
    with pytest.raises(ValueError, match="batch_min"):
        impl.set_batching(1, 4)
    impl.set_batching(2, 4)
    ids = ["a", "b", "c", 4, 5, 6]
    got, want = [], []
    for i in range(160):
        here = [k for k in range(len(ids)) if i >= 9 * k and not (k == 3 and 50 <= i < 70)]
        frames = [x[(i + 13 * k) % len(x)] for k in here]
        ts = [i * 33.0 + (3000.0 if k == 1 and i >= 80 else 0.0) for k in here]   # b: a gap
        tids = [ids[k] for k in here]
        if i == 60:
            many.reset("c"), ref.reset("c")
        if i == 100:
            many.reset(5, forget=True), ref.reset(5, forget=True)
        got += many.push_many(frames, ts, tids)
        want += [ref.push(f, t, tid) for f, t, tid in zip(frames, ts, tids)]
    assert sum(r is not None for r in got) > 100
    for p, q in zip(got, want):
        _same(p, q)
    sa, sb = many.stats(), ref.stats()
    for k in ("frames", "results", "resets"):
        assert sa[k] == sb[k], k


def test_push_many_refuses_bad_input_before_any_track_changes(holistic_stream):
    r = sdk.Recognizer(layout=HOLISTIC, backend="native")
    f = holistic_stream[0]
    r.push_many([f, f], [0.0, 0.0], [1, 2])
    before = r.stats()["frames"]
    native = [r._tracks.get_live(t).stream.track for t in (1, 2)]   # the native state of each
    with pytest.raises(ValueError, match="keypoints per frame"):
        r.push_many([f, f[:10]], [33.0, 33.0], [1, 2])
    with pytest.raises(TimestampError):
        r.push_many([f, f], [33.0, -0.5], [1, 2])          # track 2 steps back a little
    with pytest.raises(ValueError, match="twice"):
        r.push_many([f, f], [33.0, 34.0], [1, 1])
    with pytest.raises(ValueError, match="one timestamp"):
        r.push_many([f, f], [33.0], [1, 2])
    with pytest.raises(ValueError, match="columns"):
        r.push(np.zeros((75, 7), np.float32), 40.0, 1)     # refused by push() alike
    assert r.stats()["frames"] == before
    assert r.stats()["tracks"][1]["frames"] == 1
    assert [t.count for t in native] == [1, 1]              # nothing reached native code
    assert r.push_many([f, f], [33.0, 33.0], [1, 2]) == [None, None]


def test_push_many_respects_max_tracks(holistic_stream):
    r = sdk.Recognizer(layout=HOLISTIC, backend="native", max_tracks=2)
    f = holistic_stream[0]
    assert r.push_many([f, f, f], [0.0, 0.0, 0.0], [1, 2, 3]) == [None, None, None]
    s = r.stats()
    assert s["active_tracks"] == 2 and s["dropped_frames"] == 1 and s["refused_ids"] == 1


def test_the_python_path_and_why(streaming_bundle, windowed_bundle):
    """Where the native frame path does not run, stats() says why; asking for it there fails."""
    from bharnet.sdk.options import OptionsError

    cases = {"window": dict(model=streaming_bundle, mode="window", backend="native"),
             "onnxruntime": dict(model=streaming_bundle, backend="onnxruntime"),
             "windowed bundle": dict(model=windowed_bundle, backend="native")}
    for what, kw in cases.items():
        r = sdk.Recognizer(layout=HOLISTIC, **kw)
        fp = r.stats()["frame_path"]
        assert fp["path"] == "python" and fp["reason"], what
        with pytest.raises(ValueError, match="frame_path='native'"):
            sdk.Recognizer(layout=HOLISTIC, frame_path="native", **kw)
    with pytest.raises(OptionsError, match="frame_path"):
        sdk.Recognizer(frame_path="fast")
    assert sdk.Recognizer(layout=HOLISTIC).info["frame_path"] == "native"   # auto, embedded model


@pytest.mark.parametrize("extra,why", [(dict(hand_frame="body"), "hand_frame 'body'"),
                                       (dict(hand_routing="one", body_layout="hand21"),
                                        "hand_routing 'one'")])
def test_preparations_without_a_native_form_take_the_python_path(extra, why):
    """A spec whose preparation the native code does not reproduce is refused by the native
    path with a reason (the Recognizer then runs the Python path and reports it)."""
    from bharnet.backends.native_frame import unsupported

    runner = sdk.Recognizer(layout=HOLISTIC, frame_path="python")._runner
    spec = InputSpec(**{**DEMO, **extra})
    assert why in unsupported(HOLISTIC, spec, runner)
    assert unsupported(HOLISTIC, InputSpec(**DEMO), runner) is None


def test_layout_named_by_the_first_frame(holistic_stream):
    a, b = sdk.Recognizer(backend="native"), sdk.Recognizer(backend="native", frame_path="python")
    assert a.info["frame_path"] == "native" and b.info["frame_path"] == "python"
    for i, f in enumerate(hostile(holistic_stream)[:64]):
        _same(a.push(f, i * 33.0), b.push(f, i * 33.0))
    assert a.info["frame_path"] == "native" and a.layout == HOLISTIC


def test_memory_per_track(holistic_stream):
    """A native track keeps no raw frames in Python; its state is counted in buffered_bytes."""
    a, b = _native_and_python()
    for r in (a, b):
        r.push(holistic_stream[0], 0.0, 0)
    tr = a._tracks.get_live(0)
    assert tr.kp.size == 0 and tr.stream.nbytes() > 0
    assert 0 < a.buffered_bytes() < 4 * b.buffered_bytes()


def test_closed_and_threads(holistic_stream):
    """Tracks fed from several threads at once stay independent; a closed recognizer refuses."""
    import threading

    x = hostile(holistic_stream)
    r = sdk.Recognizer(layout=HOLISTIC, backend="native", min_body_presence=0.0)
    ref = sdk.Recognizer(layout=HOLISTIC, backend="native", min_body_presence=0.0, frame_path="python")
    out = {t: [] for t in range(4)}

    def feed(t):
        for i in range(len(x)):
            out[t].append(r.push(x[(i + 5 * t) % len(x)], i * 33.0, t))
    threads = [threading.Thread(target=feed, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(4):
        want = [ref.push(x[(i + 5 * t) % len(x)], i * 33.0, t) for i in range(len(x))]
        for p, q in zip(out[t], want):
            _same(p, q)
    r.close()
    with pytest.raises(RuntimeError, match="closed"):
        r.push(x[0], 1e6, 0)
