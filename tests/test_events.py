"""Online detection in the SDK: the decision rule (sdk/events.py) on made-up recognitions, and the
Recognizer's events on a synthetic stream (modes, backends, tracks, gaps, resets, no person)."""
import numpy as np
import pytest

from bharnet import sdk
from bharnet.sdk.events import Event, EventDetector, EventRule, EventRuleError
from bharnet.sdk.results import NO_PERSON, Recognition

PERIOD = 1000.0 / 30


def rec(t_ms, scores: dict, outcome="action"):
    """A Recognition whose window ends at t_ms, with these class scores (top_k sorted)."""
    top = sorted(scores.items(), key=lambda kv: -kv[1])
    if outcome == NO_PERSON:
        return Recognition(None, None, [], end_ms=t_ms, outcome=NO_PERSON)
    return Recognition(top[0][0], top[0][1], top, end_ms=t_ms)


def feed(det, series, step=100.0):
    out = []
    for i, sc in enumerate(series):
        out += det.observe(sc if isinstance(sc, Recognition) else rec(i * step, sc), frame=i)
    return out


def rule(**kw):
    """A rule with these parameters; min_ms 0 unless given (one recognition may open an event)."""
    return EventRule(**{"min_ms": 0.0, **kw})


def kinds(events):
    return [(e.kind, e.label) for e in events]


def test_start_then_end_with_times_and_latencies():
    det = EventDetector(rule(enter=0.6, exit=0.4))
    evs = feed(det, [{"idle": 0.9, "a": 0.1}, {"a": 0.5, "idle": 0.5}, {"a": 0.7, "idle": 0.3},
                     {"a": 0.9}, {"a": 0.45, "idle": 0.55}, {"idle": 0.9, "a": 0.1}])
    assert kinds(evs) == [("start", "a"), ("end", "a")]
    start, end = evs
    # the run began at the first recognition >= exit (t=100); the event opened at 0.7 (t=200)
    assert (start.start_ms, start.emitted_ms, start.emitted_frame, start.latency_start_ms) == (100, 200, 2, 100)
    assert start.end_ms is None and start.reason is None
    # it stayed open while >= exit (t=400), closed at the first dip (t=500)
    assert (end.event_id, end.start_ms, end.end_ms, end.emitted_ms, end.reason) == (start.event_id, 100, 400, 500, "exit")
    assert end.latency_end_ms == 100 and end.peak_score == pytest.approx(0.9)


def test_hysteresis_no_flicker_and_background_never_an_event():
    det = EventDetector(rule(enter=0.6, exit=0.3))
    evs = feed(det, [{"a": 0.65}, {"a": 0.35}, {"a": 0.62}, {"a": 0.31}, {"a": 0.7}])
    assert kinds(evs) == [("start", "a")]          # one event: dips stayed above exit
    det = EventDetector(rule())
    assert feed(det, [{"idle": 0.99}] * 5 + [{"background": 0.99}] * 5) == []


def test_min_ms_needs_a_long_enough_run():
    det = EventDetector(rule(enter=0.6, exit=0.4, min_ms=200))
    assert feed(det, [{"a": 0.9}, {"a": 0.9}, {"idle": 0.9}]) == []   # a run of 100 ms
    det = EventDetector(rule(enter=0.6, exit=0.4, min_ms=200))
    evs = feed(det, [{"a": 0.9}, {"a": 0.9}, {"a": 0.9}])
    assert kinds(evs) == [("start", "a")] and evs[0].emitted_ms == 200


def test_gap_bridges_a_short_dip_and_switch_closes_at_once():
    series = [{"a": 0.9}, {"a": 0.1, "idle": 0.9}, {"a": 0.9}, {"idle": 0.9}, {"idle": 0.9},
              {"idle": 0.9}]
    assert kinds(feed(EventDetector(rule(gap_ms=0)), series)) == \
        [("start", "a"), ("end", "a"), ("start", "a"), ("end", "a")]
    bridged = feed(EventDetector(rule(gap_ms=150)), series)
    assert kinds(bridged) == [("start", "a"), ("end", "a")] and bridged[1].end_ms == 200
    evs = feed(EventDetector(rule(gap_ms=10_000)), [{"a": 0.9}, {"b": 0.9}])
    assert kinds(evs) == [("start", "a"), ("end", "a"), ("start", "b")]
    assert evs[1].reason == "switch"


def test_no_person_reset_and_close():
    det = EventDetector(rule(gap_ms=10_000))
    evs = feed(det, [{"a": 0.9}, rec(100, {}, NO_PERSON)])
    assert kinds(evs) == [("start", "a"), ("end", "a")] and evs[1].reason == "no_person"
    det = EventDetector(rule())
    evs = det.observe(rec(0, {"a": 0.9}), 0, epoch=0) + det.observe(rec(5000, {"a": 0.9}), 9, epoch=1)
    # a track restart closes the open event; the same label on the new epoch is a new event
    assert kinds(evs) == [("start", "a"), ("end", "a"), ("start", "a")]
    assert evs[1].reason == "reset" and evs[2].event_id == evs[0].event_id + 1
    closing = det.close()
    assert kinds(closing) == [("end", "a")] and closing[0].reason == "end_of_stream"
    assert det.close() == []


def test_rule_validation():
    for bad in ({"enter": 0.0}, {"enter": 1.5}, {"exit": 0.8, "enter": 0.6}, {"min_ms": -1},
                {"gap_ms": float("nan")}, {"background": "idle"}):
        with pytest.raises(EventRuleError):
            EventRule(**bad)
    assert sdk.RecognizerOptions(events=True).events == EventRule()
    assert sdk.RecognizerOptions(events={"enter": 0.7}).events.enter == 0.7
    assert sdk.RecognizerOptions().events is False
    with pytest.raises(sdk.OptionsError, match="events.*enterr"):
        sdk.RecognizerOptions(events={"enterr": 0.7})


# ---- the Recognizer: events from its own recognitions ------------------------------------------
@pytest.fixture(scope="module")
def stream():
    from bharnet.data import synth

    classes = [c for c in synth.DEFAULT_CLASSES]
    kp, timeline = synth.generate_stream(num_actions=4, classes=classes, seed=3)
    return kp, timeline


def run_events(kp, push=True, track_id=0, **kw):
    evs, recs = [], []
    r = sdk.Recognizer(events=kw.pop("events", True), on_event=evs.append, max_gap_ms=None, **kw)
    if push:
        for i, f in enumerate(kp):
            x = r.push(f, i * PERIOD, track_id=track_id)
            if x is not None:
                recs.append(x)
    else:
        recs = list(r.stream(list(kp), fps=30, track_id=track_id))
    return evs, recs, r


def replay(recs, rule=None):
    det = EventDetector(rule or EventRule())
    out = []
    for x in recs:
        out += det.observe(x, round(x.end_ms / PERIOD))
    return out + det.close()


def test_recognizer_events_follow_its_recognitions(stream):
    kp, timeline = stream
    evs, recs, r = run_events(kp, push=False)
    assert r.mode == "continual"
    assert evs and evs[-1].kind == "end"
    # the same rule replayed on the same recognitions gives the same events
    assert [e.to_dict() for e in evs] == [e.to_dict() for e in replay(recs)]
    # every start has its end, same id, in order
    starts = [e for e in evs if e.kind == "start"]
    ends = [e for e in evs if e.kind == "end"]
    assert [e.event_id for e in starts] == [e.event_id for e in ends]
    # and the embedded model finds each true action (a broken rule or model would not)
    found = {e.label for e in starts}
    assert {name for _, _, name in timeline} <= found
    # the frame index is the stream's
    assert all(e.emitted_frame == round(e.emitted_ms / PERIOD) for e in evs)


def same_events(a, b, tol=1e-6):
    """Equal events, scores to float rounding: push() runs the native frame path, stream() the
    Python one (docs/guides/frame_path.md), which agree to rounding, not to the last bit."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        dx, dy = x.to_dict(), y.to_dict()
        assert dx.keys() == dy.keys()
        for k in dx:
            if isinstance(dx[k], float) and isinstance(dy[k], float):
                assert abs(dx[k] - dy[k]) <= tol, (k, dx, dy)
            else:
                assert dx[k] == dy[k], (k, dx, dy)


def test_events_same_in_push_stream_window_and_continual(stream):
    kp, _ = stream
    base, _, _ = run_events(kp, push=False)
    pushed, _, _ = run_events(kp, push=True)
    # push() tracks stay open at the end (a live feed does not end); everything else is equal
    same_events(pushed, base[:len(pushed)])
    assert len(base) - len(pushed) <= 1
    window, _, w = run_events(kp, push=False, mode="window")
    assert w.mode == "window"
    assert kinds(window) == kinds(base)
    for a, b in zip(window, base):
        assert (a.start_ms, a.end_ms, a.emitted_ms) == (b.start_ms, b.end_ms, b.emitted_ms)


def test_onnxruntime_backend_gives_the_same_events(stream):
    pytest.importorskip("onnxruntime")
    kp, _ = stream
    base, _, _ = run_events(kp, push=False)
    ort, _, r = run_events(kp, push=False, backend="onnxruntime")
    assert r.backend.name == "onnxruntime"
    assert kinds(ort) == kinds(base)


def test_tracks_independent_gap_and_no_person_close(stream):
    kp, _ = stream
    base, _, _ = run_events(kp, push=True)
    evs = []
    r = sdk.Recognizer(events=True, on_event=evs.append, max_gap_ms=None)
    for i, f in enumerate(kp):           # two interleaved tracks on the same frames
        r.push(f, i * PERIOD, track_id="a")
        r.push(f, i * PERIOD, track_id="b")
    for tid in ("a", "b"):
        mine = [e for e in evs if e.track_id == tid]
        assert kinds(mine) == kinds(base)

    # nobody in front of the camera: the open event ends (reason no_person)
    evs = []
    r = sdk.Recognizer(events=True, on_event=evs.append, max_gap_ms=None)
    start = next(e for e in base if e.kind == "start")
    cut = start.emitted_frame + 1
    frames = list(kp[:cut]) + [np.zeros_like(kp[0])] * 40
    for i, f in enumerate(frames):
        r.push(f, i * PERIOD)
    assert kinds(evs)[:2] == [("start", start.label), ("end", start.label)]
    assert evs[1].reason == "no_person"

    # a gap restarts the track: its open event closes at its next recognition (reason reset)
    evs = []
    r = sdk.Recognizer(events=True, on_event=evs.append, max_gap_ms=1000)
    ts = [i * PERIOD for i in range(cut)] + [10_000 + i * PERIOD for i in range(len(kp) - cut)]
    for t, f in zip(ts, kp):
        r.push(f, t)
    assert evs[1].kind == "end" and evs[1].reason == "reset" and evs[1].emitted_ms > 10_000

    # reset() closes at once; a callback that raises is counted, not fatal
    evs = []
    r = sdk.Recognizer(events=True, on_event=evs.append, max_gap_ms=None)
    for i, f in enumerate(kp[:cut]):
        r.push(f, i * PERIOD)
    r.reset(0)
    assert kinds(evs)[-1] == ("end", start.label) and evs[-1].reason == "reset"

    def bad(ev):
        raise RuntimeError("boom")

    r = sdk.Recognizer(events=True, on_event=bad, max_gap_ms=None)
    for i, f in enumerate(kp[:cut]):
        r.push(f, i * PERIOD)
    assert r.stats()["callback_errors"] >= 1


def test_events_off_by_default(stream):
    kp, _ = stream
    evs, recs, _ = run_events(kp[:80], push=False, events=False)
    assert evs == [] and recs
    assert isinstance(Event, type)
