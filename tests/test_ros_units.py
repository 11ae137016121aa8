"""bharnet.ros without ROS: the PointCloud2 codec, the parameters, the statistics, the payload
and the commands' behaviour where rclpy is missing. (The node itself: tests/test_ros_node.py.)"""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from bharnet.ros import cloud, params, stats
from bharnet.ros.payload import recognition_json
from bharnet.ros.replay import load_keypoints


def _msg(rows, tracks, columns, *, stamp_ms=1234.5, pad=0, big=False, fields=None, data=None):
    """A duck-typed PointCloud2 as the replay publisher builds it (optionally with padded rows)."""
    layout, step = cloud.cloud_layout(columns)
    r, v, _ = rows.shape
    raw = cloud.encode(rows, tracks, columns)
    if pad:
        raw = b"".join(raw[i * v * step:(i + 1) * v * step] + b"\xee" * pad for i in range(r))
    sec, nsec = cloud.ms_to_stamp(stamp_ms)
    return SimpleNamespace(
        height=r, width=v, point_step=step, row_step=v * step + pad, is_bigendian=big,
        fields=fields or [SimpleNamespace(name=n, offset=o, datatype=d, count=1) for n, o, d in layout],
        data=raw if data is None else data,
        header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nsec)))


def test_cloud_round_trip_keeps_values_nan_and_tracks():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(3, 75, 4)).astype(np.float32)
    rows[0, 5, 0] = np.nan
    rows[1, 40:] = 0.0                                   # a missing hand stays zeros
    out = cloud.decode(_msg(rows, [7, 2, 7], cloud.COLUMNS))
    assert [t for t, _ in out] == [7, 2]                 # first-appearance order
    np.testing.assert_array_equal(out[0][1], rows[[0, 2]])   # rows sharing a track: persons
    np.testing.assert_array_equal(out[1][1], rows[1])        # one row: [V, C]
    assert out[0][1].dtype == np.float32 and isinstance(out[0][0], int)


def test_cloud_fields_become_the_columns_the_sdk_reads():
    """The SDK tells a row's columns apart by their number; the cloud's names must not be lost:
    x,y,score of a 3D source gains z = 0, a 2D detector's z is dropped."""
    rng = np.random.default_rng(1)
    xys = rng.normal(size=(1, 75, 3)).astype(np.float32)
    got = cloud.decode(_msg(xys, [0], ("x", "y", "score")))[0][1]
    np.testing.assert_array_equal(got, np.stack([xys[0, :, 0], xys[0, :, 1], 0 * xys[0, :, 0],
                                                 xys[0, :, 2]], -1))
    xyz = rng.normal(size=(1, 133, 3)).astype(np.float32)
    np.testing.assert_array_equal(cloud.decode(_msg(xyz, [0], ("x", "y", "z")))[0][1], xyz[0, :, :2])
    full = rng.normal(size=(1, 133, 4)).astype(np.float32)
    np.testing.assert_array_equal(cloud.decode(_msg(full, [0], cloud.COLUMNS))[0][1],
                                  full[0][:, [0, 1, 3]])


def test_cloud_padded_rows_and_no_track_field():
    rows = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3)
    out = cloud.decode(_msg(rows, [4, 4], ("x", "y", "score"), pad=8))
    np.testing.assert_array_equal(out[0][1], rows)
    msg = _msg(rows[:1], [9], ("x", "y", "score"))
    msg.fields = [f for f in msg.fields if f.name != "track"]   # no track field: track 0
    assert cloud.decode(msg)[0][0] == 0


def test_cloud_reads_other_field_types_and_byte_orders():
    v = 25
    xyz = np.random.default_rng(1).normal(size=(v, 3))
    dt = np.dtype([("z", ">f8"), ("y", ">f8"), ("x", ">f8"), ("track", ">u2")])
    rec = np.zeros(v, dt)
    rec["x"], rec["y"], rec["z"], rec["track"] = xyz[:, 0], xyz[:, 1], xyz[:, 2], 3
    fields = [SimpleNamespace(name=n, offset=dt.fields[n][1], datatype=t, count=1)
              for n, t in (("z", 8), ("y", 8), ("x", 8), ("track", 4))]
    msg = SimpleNamespace(height=1, width=v, point_step=dt.itemsize, row_step=v * dt.itemsize,
                          is_bigendian=True, fields=fields, data=rec.tobytes())
    (tid, frame), = cloud.decode(msg)
    assert tid == 3
    np.testing.assert_allclose(frame, xyz.astype(np.float32))   # columns back in x, y, z order


@pytest.mark.parametrize("change, match", [
    (lambda m: setattr(m, "fields", m.fields[1:]), "lack x and y"),
    (lambda m: setattr(m.fields[0], "datatype", 99), "unknown PointField datatype 99"),
    (lambda m: setattr(m.fields[1], "count", 3), "count 3"),
    (lambda m: setattr(m, "data", m.data[:-10]), "data holds"),
    (lambda m: setattr(m, "width", 0), "empty cloud"),
    (lambda m: setattr(m, "row_step", 4), "row_step"),
    (lambda m: setattr(m.fields[2], "name", "x"), "appears twice"),
    (lambda m: setattr(m.fields[3], "offset", 64), "point_step"),
])
def test_cloud_errors_name_the_problem(change, match):
    msg = _msg(np.zeros((1, 5, 4), np.float32), [0], cloud.COLUMNS)
    change(msg)
    with pytest.raises(cloud.CloudError, match=match):
        cloud.decode(msg)


def test_cloud_refuses_a_track_that_changes_within_a_row():
    msg = _msg(np.zeros((1, 4, 2), np.float32), [1], ("x", "y"))
    raw = bytearray(msg.data)
    raw[-4:] = np.int32(2).tobytes()
    msg.data = bytes(raw)
    with pytest.raises(cloud.CloudError, match="differs within a row"):
        cloud.decode(msg)


def test_columns():
    assert cloud.default_columns(75, 4) == ("x", "y", "z", "score")
    assert cloud.default_columns(75, 3) == ("x", "y", "z")
    assert cloud.default_columns(25, 3) == ("x", "y", "z")
    assert cloud.default_columns(133, 3) == ("x", "y", "score")
    assert cloud.default_columns(17, 2) == ("x", "y")
    with pytest.raises(ValueError, match="5 columns"):
        cloud.default_columns(75, 5)
    for bad in (("y", "x"), ("x", "y", "score", "z"), ("x", "y", "w")):
        with pytest.raises(ValueError, match="expected x,y"):
            cloud.check_columns(bad)


def test_stamps_round_trip_to_the_nanosecond():
    for ms in (0.0, 35.714285714285715, 1796288140438.3896, 999.9999994):
        sec, nsec = cloud.ms_to_stamp(ms)
        assert 0 <= nsec < 1_000_000_000
        back = cloud.stamp_to_ms(SimpleNamespace(sec=sec, nanosec=nsec))
        assert abs(back - ms) <= 5e-7 + abs(ms) * 1e-15


def test_recognizer_kwargs_pass_only_what_is_set():
    from bharnet.sdk.events import EventRule

    assert params.recognizer_kwargs(params.DEFAULTS) == {
        "backend": "auto", "top_k": 5, "idle_timeout_ms": 10000.0, "max_tracks": 16,
        "events": EventRule()}
    kw = params.recognizer_kwargs({**params.DEFAULTS, "mode": "continual", "window": 48,
                                   "model": "m.bharnet", "max_gap_ms": -1.0, "threads": 2})
    assert kw["mode"] == "continual" and kw["window"] == 48 and kw["model"] == "m.bharnet"
    assert kw["max_gap_ms"] == float("inf") and kw["threads"] == 2
    with pytest.raises(KeyError, match="unknown parameter"):
        params.recognizer_kwargs({"windw": 3})


def test_event_parameters_make_the_sdk_rule():
    from bharnet.sdk.events import EventRule, EventRuleError

    kw = params.recognizer_kwargs({**params.DEFAULTS, "event_enter": 0.9, "event_exit": 0.5,
                                   "event_min_ms": 0.0, "event_gap_ms": 120.0,
                                   "event_background": " no_gesture , idle,"})
    assert kw["events"] == EventRule(enter=0.9, exit=0.5, min_ms=0.0, gap_ms=120.0,
                                     background=("no_gesture", "idle"))
    assert params.recognizer_kwargs({**params.DEFAULTS, "events": False})["events"] is False
    assert params.recognizer_kwargs({**params.DEFAULTS, "event_background": ""})[
        "events"].background == ()
    with pytest.raises(EventRuleError, match="exit"):
        params.recognizer_kwargs({**params.DEFAULTS, "event_enter": 0.3, "event_exit": 0.5})


def test_event_payload_is_the_sdk_event():
    """The `events` topic's JSON is Event.to_dict() of what the SDK emitted, numpy values too."""
    from bharnet.sdk import Recognizer
    from bharnet.ros.payload import event_json

    rng = np.random.default_rng(0)
    frames = rng.normal(size=(80, 75, 4)).astype(np.float32)
    evs = []
    rec = Recognizer(events={"enter": 0.05, "exit": 0.01, "min_ms": 0.0, "background": ()},
                     on_event=evs.append)
    for i, f in enumerate(frames):
        rec.push(f, i * 1000 / 30, 7)
    rec.reset(7)   # closes the open event: its "end" reaches the topic too
    assert {e.kind for e in evs} == {"start", "end"}
    for e in evs:
        d = json.loads(event_json(e))
        assert d == e.to_dict() and d["track_id"] == 7
        assert {"label", "start_ms", "end_ms", "peak_score", "latency_start_ms",
                "latency_end_ms", "emitted_ms"} <= set(d)
    e = evs[0]
    e.peak_score = np.float32(0.5)
    assert json.loads(event_json(e))["peak_score"] == 0.5


def test_default_parameters_build_the_default_recognizer():
    from bharnet.sdk import Recognizer

    a, b = Recognizer(), Recognizer(**params.recognizer_kwargs(params.DEFAULTS))
    assert a.info == b.info and a.top_k == b.top_k and a.max_gap_ms == b.max_gap_ms


def test_node_stats_counts_percentiles_and_forgets_dead_tracks():
    st = stats.NodeStats()
    for i in range(100):
        st.frame(1, float(i), finite=i != 3)
    st.frame(2, 5.0, True)
    st.result(1, 9.0, 4.0)
    st.drop("timestamp")
    st.drop("timestamp")
    v = st.values()
    assert v["frames"] == 101 and v["results"] == 1 and v["dropped"] == 2
    assert v["dropped.timestamp"] == 2 and v["nonfinite_frames"] == 1
    assert v["track.1.frames"] == 100 and v["track.1.results"] == 1 and v["track.2.results"] == 0
    assert v["push_ms.p50"] == pytest.approx(np.percentile(list(range(100)) + [5.0], 50))
    assert v["backend_ms.p95"] == 4.0
    st.forget_tracks([2])
    assert "track.1.frames" not in st.values() and st.values()["tracks"] == 1


def test_throttle_one_line_per_reason_per_period():
    now = [0.0]
    th = stats.Throttle(1.0, clock=lambda: now[0])
    assert th("timestamp") == 0 and th("bad_frame") == 0   # reasons are independent
    assert th("timestamp") is None and th("timestamp") is None
    now[0] = 1.5
    assert th("timestamp") == 2                            # the held-back lines are told


def test_flatten():
    assert stats.flatten({"a": 1, "b": {"c": 2, "d": [1, 2]}}, "sdk") == \
        {"sdk.a": 1, "sdk.b.c": 2, "sdk.b.d": [1, 2]}


def test_payload_is_to_dict_and_carries_new_fields():
    from dataclasses import dataclass

    from bharnet.sdk import Recognition

    rec = Recognition(label="wave", score=0.9, top_k=[("wave", 0.9)], track_id=3,
                      start_ms=0.0, end_ms=1.0, hand_presence=(1.0, 0.5))
    assert json.loads(recognition_json(rec)) == json.loads(json.dumps(rec.to_dict()))

    @dataclass
    class Later(Recognition):          # fields an SDK adds later, one of them NumPy-typed
        body_presence: float | None = None

    out = json.loads(recognition_json(Later(label=None, score=0.0, body_presence=np.float32(0.25))))
    assert out["body_presence"] == 0.25 and out["label"] is None


def test_load_keypoints(tmp_path):
    a = np.zeros((10, 75, 4), np.float32)
    np.save(tmp_path / "a.npy", a)
    kp, fps = load_keypoints(tmp_path / "a.npy")
    assert kp.shape == (1, 10, 75, 4) and fps is None
    np.savez(tmp_path / "b.npz", keypoints=np.zeros((2, 10, 17, 3)), fps=25)
    kp, fps = load_keypoints(tmp_path / "b.npz")
    assert kp.shape == (2, 10, 17, 3) and fps == 25.0
    np.save(tmp_path / "c.npy", np.zeros((10, 75)))
    with pytest.raises(ValueError, match=r"expected keypoints \[T,V,C\]"):
        load_keypoints(tmp_path / "c.npy")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_keypoints(tmp_path / "nope.npy")


def _cli(*args, block_rclpy=True):
    code = ("import sys\n"
            + ("sys.modules['rclpy'] = None\n" if block_rclpy else "")
            + "from bharnet.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)


def test_commands_without_ros_fail_in_one_line():
    for cmd in (["ros"], ["ros-replay", "x.npy"]):
        p = _cli(*cmd)
        assert p.returncode == 2, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "ROS 2 (rclpy) is not importable" in lines[0], p.stderr
    help_ = _cli("--help")
    assert help_.returncode == 0 and "ros-replay" in help_.stdout


def test_importing_the_package_imports_no_ros():
    code = ("import sys, bharnet.ros, bharnet.ros.cli, bharnet.ros.cloud, bharnet.ros.stats, "
            "bharnet.ros.params, bharnet.ros.payload, bharnet.ros.replay, bharnet.sdk\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'sensor_msgs', 'std_msgs', 'diagnostic_msgs', 'torch')]\n"
            "assert not bad, bad")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
