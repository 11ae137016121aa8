"""The ROS node's input step without ROS 2 (bharnet.ros.feed): a cloud of several people goes in
as one push_many (one native call), equal to pushing each person alone; a cloud that push_many
refuses is pushed frame by frame, so only the bad frame is dropped, with its reason."""
import numpy as np

from bharnet import sdk
from bharnet.ros.feed import push_cloud


def _rec():
    return sdk.Recognizer(layout="mediapipe_holistic", backend="native", min_body_presence=0.0)


def test_a_crowd_in_one_call_equals_each_alone(holistic_stream, monkeypatch):
    crowd, alone = _rec(), _rec()
    calls = []
    many = crowd.push_many
    monkeypatch.setattr(crowd, "push_many", lambda *a: calls.append(len(a[0])) or many(*a))
    got, want = [], []
    for i in range(80):
        frames = [(tid, holistic_stream[(i + 9 * k) % len(holistic_stream)]) for k, tid in
                  enumerate(("a", "b", "c"))]
        got += push_cloud(crowd, frames, i * 33.0)
        want += [alone.push(f, i * 33.0, tid) for tid, f in frames]
    assert calls == [3] * 80                         # one call per cloud
    assert all(p.drop is None and p.push_ms > 0 for p in got)
    assert sum(p.recognition is not None for p in got) > 20
    for p, w in zip(got, want):
        assert (p.recognition is None) == (w is None)
        if w is not None:
            assert (p.recognition.track_id, p.recognition.label, p.recognition.end_ms) == \
                   (w.track_id, w.label, w.end_ms)
            assert abs(p.recognition.score - w.score) < 1e-6


def test_a_refused_cloud_drops_only_the_bad_frame(holistic_stream):
    rec = _rec()
    f = holistic_stream[0]
    push_cloud(rec, [(1, f), (2, f)], 100.0)
    out = push_cloud(rec, [(1, f), (2, f[:10]), (3, f)], 133.0)      # a malformed frame
    assert [p.drop for p in out] == [None, "bad_frame", None]
    assert "track 2" in out[1].error and "keypoints per frame" in out[1].error
    out = push_cloud(rec, [(1, f), (4, f)], 120.0)                    # track 1 steps back
    assert [p.drop for p in out] == ["timestamp", None]
    tracks = rec.stats()["tracks"]
    assert (tracks[1]["frames"], tracks[2]["frames"], tracks[3]["frames"], tracks[4]["frames"]) == \
        (2, 1, 1, 1)
