"""The recognizer node and the replay publisher as a user runs them: separate processes on a
ROS 2 bus that never leaves this host (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST,
ROS_LOCALHOST_ONLY=1, a random ROS_DOMAIN_ID per test), the shared real MediaPipe stream in,
recognitions out, compared with the SDK on the same frames and timestamps.

Needs ROS 2 (the [ros] extra): skipped where rclpy is missing, except with BHARNET_REQUIRE_ROS=1
(tests/smoke/ros_smoke.sh, CI), where a missing rclpy fails the run.
"""
from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
import pytest

pytestmark = pytest.mark.ros

try:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import PointCloud2, PointField
    from std_msgs.msg import String
except ImportError as e:
    if os.environ.get("BHARNET_REQUIRE_ROS") == "1":
        raise ImportError(f"BHARNET_REQUIRE_ROS=1 but ROS 2 is not importable: {e}") from e
    pytest.skip(f"[machine: ros] ROS 2 not installed ({e}); tests/smoke/ros_smoke.sh runs these",
                allow_module_level=True)

from bharnet.ros import cloud
from bharnet.ros.replay import SETTLE_S
from bharnet.sdk import Recognizer

FPS = 28.0   # the shared stream's video rate (shared/data/streams/README.md)
LOOPBACK_ONLY = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_LOCALHOST_ONLY": "1"}
# what rcl itself prints about ROS_LOCALHOST_ONLY on Jazzy (deprecated there, still honoured)
_RCL_ENV_WARNING = re.compile(r"^\[WARN\] \[[\d.]+\] \[rcl\]: ")
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def _bharnet() -> list[str]:
    exe = pathlib.Path(sys.executable).with_name("bharnet")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bharnet.cli"]


@pytest.fixture
def ros_env(tmp_path, monkeypatch):
    """Loopback-only discovery on a domain of this test's own, for this process and children."""
    env = {**LOOPBACK_ONLY, "ROS_DOMAIN_ID": str(random.SystemRandom().randint(1, 100)),
           "ROS_LOG_DIR": str(tmp_path / "roslog"), "RCUTILS_COLORIZED_OUTPUT": "0",
           "RCUTILS_LOGGING_BUFFERED_STREAM": "0", "PYTHONUNBUFFERED": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return {**os.environ, **env}


class Proc:
    """A child process whose stdout and stderr go to files (read while it runs)."""

    def __init__(self, cmd, env, log: pathlib.Path):
        self.log = log
        self.cmd = cmd
        # a session of its own: signals go to its whole group (strace and the traced command)
        self.p = subprocess.Popen(cmd, env=env, stdout=open(f"{log}.out", "w"),
                                  stderr=open(f"{log}.err", "w"), start_new_session=True)

    def err(self) -> str:
        return pathlib.Path(f"{self.log}.err").read_text()

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while text not in self.err():
            if self.p.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"{self.cmd}: no {text!r} (exit {self.p.poll()}):\n{self.err()}")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGINT, timeout: float = 20.0) -> int:
        if self.p.poll() is None:
            os.killpg(self.p.pid, sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            raise AssertionError(f"{self.cmd} did not stop on {sig!r}:\n{self.err()}") from None


class Processes:
    """Starts this test's node and replay processes; whatever still runs at the end is killed,
    so a failing test leaves no node behind to answer on a later test's domain."""

    def __init__(self, env, tmp_path: pathlib.Path):
        self.env, self.tmp, self.started = env, tmp_path, []

    def start(self, name: str, cmd: list[str]) -> Proc:
        proc = Proc(cmd, self.env, self.tmp / name)
        self.started.append(proc)
        return proc

    def node(self, *args, name="node", launcher=None, ready_timeout=60.0) -> Proc:
        node = self.start(name, [*(launcher or [*_bharnet(), "ros"]), *args])
        node.wait_for("ready:", ready_timeout)
        return node

    def replay(self, path, *args, name="replay", prefix=()) -> Proc:
        return self.start(name, [*prefix, *_bharnet(), "ros-replay", str(path), "--fps", str(FPS),
                                 *args])

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.p.poll() is None:
                os.killpg(proc.p.pid, signal.SIGKILL)
                proc.p.wait(10)


@pytest.fixture
def procs(ros_env, tmp_path):
    ps = Processes(ros_env, tmp_path)
    yield ps
    ps.kill_all()


class Bus:
    """This test's own node: sees the keypoints on the wire, the recognitions and /diagnostics,
    and can publish keypoint messages of its own."""

    def __init__(self, env):
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("bharnet_test_bus", context=self.ctx)
        self.inputs: list[tuple[float, float, list]] = []    # (received ms, stamp ms, frames)
        self.results: list[tuple[float, dict]] = []          # (received ms, recognition)
        self.events: list[dict] = []                          # the node's `events` topic
        self.diags: list[tuple[float, dict, int]] = []       # (received ms, values, level)
        self.node.create_subscription(PointCloud2, "keypoints", self._on_input, RELIABLE)
        self.node.create_subscription(String, "recognitions", self._on_result, RELIABLE)
        self.node.create_subscription(String, "events", lambda m: self.events.append(
            json.loads(m.data)), RELIABLE)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 100)
        self.pub = self.node.create_publisher(PointCloud2, "keypoints", RELIABLE)
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)

    def _on_input(self, msg):
        try:
            frames = cloud.decode(msg)
        except cloud.CloudError:   # this test's own malformed messages
            frames = []
        self.inputs.append((time.time() * 1000, cloud.stamp_to_ms(msg.header.stamp), frames))

    def _on_result(self, msg):
        self.results.append((time.time() * 1000, json.loads(msg.data)))

    def _on_diag(self, msg):
        st = msg.status[0]
        self.diags.append((time.time() * 1000, {kv.key: kv.value for kv in st.values}, st.level))

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                return False
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def diag(self) -> dict:
        return self.diags[-1][1] if self.diags else {}

    def publish(self, rows, track, stamp_ms, columns=cloud.COLUMNS, drop_field=None):
        fields, step = cloud.cloud_layout(columns)
        msg = PointCloud2(height=rows.shape[0], width=rows.shape[1], point_step=step,
                          row_step=step * rows.shape[1], is_dense=False,
                          fields=[PointField(name=n, offset=o, datatype=d, count=1)
                                  for n, o, d in fields if n != drop_field])
        msg.header.stamp.sec, msg.header.stamp.nanosec = cloud.ms_to_stamp(stamp_ms)
        msg.data = cloud.encode(rows, [track] * rows.shape[0], columns)
        self.pub.publish(msg)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


@pytest.fixture
def bus(ros_env):
    b = Bus(ros_env)
    yield b
    b.close()


def _same(a, b, path="") -> list[str]:
    """Differences between two recognitions (floats within 1e-5), whatever fields they carry."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a if k != "latency_ms" for d in _same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        return [] if b is not None and abs(a - b) <= 1e-5 else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _noisy(stream: np.ndarray) -> np.ndarray:
    """The real stream with what live feeds do: NaN/inf keypoints, hands that come and go, a
    broken frame."""
    rng = np.random.default_rng(0)
    a = stream.copy()
    a[rng.integers(0, len(a), 30), rng.integers(0, 75, 30), 0] = np.nan
    a[rng.integers(0, len(a), 5), rng.integers(0, 75, 5), 1] = np.inf
    a[::2, 54:75] = 0.0      # right hand missing in every other frame
    a[10:30, 33:75] = 0.0    # both hands missing for a while
    a[40] = np.nan           # a broken frame
    return a


def _pct(values) -> str:
    p50, p95 = np.percentile(values, (50, 95))
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms (n={len(values)})"


# an event rule that fires on the shared stream with the embedded model (which calls it all
# `idle`, so idle is no background here): a start, an end when its score dips, a start again
EVENT_ARGS = ["--event-enter", "0.9", "--event-exit", "0.85", "--event-min-ms", "0",
              "--event-background", ""]
EVENT_RULE = {"enter": 0.9, "exit": 0.85, "min_ms": 0.0, "background": ()}


def test_replayed_streams_match_the_sdk(procs, bus, tmp_path, holistic_stream):
    node = procs.node(*EVENT_ARGS)
    noisy = tmp_path / "noisy.npy"
    np.save(noisy, _noisy(holistic_stream))
    clean = tmp_path / "clean.npy"
    np.save(clean, holistic_stream)
    # two tracks at once, each from its own publisher process: the clean stream and the noisy one
    replays = [procs.replay(path, "--track-id", str(t), "--wait-subscribers", "2",
                            name=f"replay{t}") for t, path in ((1, clean), (2, noisy))]
    assert bus.spin_until(lambda: all(r.p.poll() is not None for r in replays), 120)
    for r in replays:
        assert r.p.returncode == 0, r.err()

    # what went over the wire, per track: the file's frames, bit for bit
    sent = defaultdict(list)
    for _, stamp, frames in bus.inputs:
        for tid, frame in frames:
            sent[tid].append((stamp, frame))
    assert sorted(sent) == [1, 2] and all(len(v) == len(holistic_stream) for v in sent.values())
    np.testing.assert_array_equal(np.stack([f for _, f in sent[1]]), holistic_stream)
    np.testing.assert_array_equal(np.stack([f for _, f in sent[2]]), np.load(noisy))

    # every frame reached the node (its input is best effort: a frame lost would shift windows)
    n_sent = str(2 * len(holistic_stream))
    assert bus.spin_until(lambda: bus.diag().get("frames") == n_sent, 10), \
        f"the node took {bus.diag().get('frames')} of {n_sent} frames: {bus.diag()}"

    # the SDK on the same frames with the same timestamps
    ref_events = []
    ref = Recognizer(events=EVENT_RULE, on_event=ref_events.append)
    expected = {tid: [r.to_dict() for r in (ref.push(f, ts, tid) for ts, f in frames) if r]
                for tid, frames in sent.items()}
    run = [r.to_dict() for r in Recognizer().run([f for _, f in sent[1]], track_id=1,
                                                 timestamps=[ts for ts, _ in sent[1]], flush=False)]
    assert not _same(run, expected[1])
    total = sum(map(len, expected.values()))
    assert total >= 2 * 5
    bus.spin_until(lambda: len(bus.results) >= total, 30)
    bus.spin_for(0.5)   # anything beyond the expected count would arrive now
    got = defaultdict(list)
    for _, r in bus.results:
        got[r["track_id"]].append(r)
    for tid in expected:
        assert len(got[tid]) == len(expected[tid]), (tid, len(got[tid]), len(expected[tid]))
        diffs = _same(got[tid], expected[tid])
        assert not diffs, diffs[:5]
    assert sorted(got) == sorted(expected)

    # the `events` topic: the SDK's events, per track in order, with both stamps and latencies
    want = defaultdict(list)
    for e in ref_events:
        want[e.track_id].append(e.to_dict())
    assert sum(e.kind == "end" for e in ref_events) >= 1 and len(want[1]) >= 2, ref_events
    bus.spin_until(lambda: len(bus.events) >= len(ref_events), 10)
    got_events = defaultdict(list)
    for e in bus.events:
        got_events[e["track_id"]].append(e)
    for tid in want:
        diffs = _same(got_events[tid], want[tid])
        assert not diffs, diffs[:5]
    assert len(bus.events) == len(ref_events)

    # statistics: once a second, counting what happened
    bus.spin_for(1.1)
    d = bus.diag()
    assert d["results"] == str(total) and d["dropped"] == "0", d
    assert d["events"] == str(len(ref_events)), d
    assert d["track.1.frames"] == str(len(holistic_stream)) and d["track.2.results"] == str(
        len(expected[2])), d
    assert int(d["nonfinite_frames"]) > 0
    gaps = np.diff([t for t, _, _ in bus.diags]) / 1000
    assert len(gaps) >= 2 and 0.8 < np.median(gaps) < 1.3, gaps

    # latency: push in the node (its /diagnostics) and publish -> received here; the replay's
    # stamps are the ROS clock at publishing (system time), so received - end_ms is end to end
    e2e = [t - r["end_ms"] for t, r in bus.results]
    print(f"\nROS node: push latency p50 {float(d['push_ms.p50']):.3f} ms, p95 "
          f"{float(d['push_ms.p95']):.3f} ms (all frames); pushes that recognised p50 "
          f"{float(d['result_push_ms.p50']):.2f} ms, p95 {float(d['result_push_ms.p95']):.2f} ms; "
          f"backend p50 {float(d['backend_ms.p50']):.2f} ms")
    print(f"ROS end to end (frame published -> recognition received): {_pct(e2e)}")
    assert node.stop() == 0, node.err()
    assert "Traceback" not in node.err()


def test_bad_inputs_are_dropped_with_one_line_and_the_node_goes_on(procs, bus, holistic_stream):
    node = procs.node()
    assert bus.spin_until(lambda: bus.pub.get_subscription_count() >= 2, 30)  # node + bus
    bus.spin_for(SETTLE_S)   # the node's best-effort reader matches this writer on its own time
    t0 = time.time() * 1000
    frame = holistic_stream[0][None]
    sends = [
        (frame, t0, {}),
        (frame, t0 + 40, {}),
        (frame, t0 + 10, {}),                                        # time goes back
        (frame[:, :10], t0 + 80, {}),                                # 10 keypoints, not 75
        (frame, t0 + 120, {"drop_field": "x"}),                      # no x field
        (np.full_like(frame, np.nan), t0 + 160, {}),                 # a NaN frame: accepted
        (frame, t0 + 200, {}),
    ]
    for rows, ts, kw in sends:
        bus.publish(rows, 70, ts, **kw)
        bus.spin_for(0.05)
    assert bus.spin_until(lambda: bus.diag().get("track.70.frames") == "4"
                          and bus.diag().get("dropped") == "3", 10), bus.diag()
    d = bus.diag()
    assert (d["dropped.timestamp"], d["dropped.bad_frame"], d["dropped.bad_message"]) == \
        ("1", "1", "1"), d
    assert d["nonfinite_frames"] == "1"
    assert node.p.poll() is None, node.err()
    warnings = [ln for ln in node.err().splitlines() if "[WARN]" in ln and "[rcl]" not in ln]
    assert len(warnings) == 4, warnings                 # one line per bad input
    assert "does not increase" in warnings[0]
    assert "75 keypoints per frame" in warnings[1] and "track 70" in warnings[1]
    assert "lack x and y" in warnings[2]
    assert "NaN/inf keypoints, read as missing" in warnings[3]
    # and it still recognises: a full window of good frames on another track
    for i, f in enumerate(holistic_stream[:40]):
        bus.publish(f[None], 71, t0 + 1000 + i * 1000 / FPS)
        bus.spin_for(0.01)
    assert bus.spin_until(lambda: any(r["track_id"] == 71 for _, r in bus.results), 10)
    assert node.stop() == 0 and "Traceback" not in node.err()


def _error_lines(text: str) -> list[str]:
    return [ln for ln in text.strip().splitlines() if ln and not _RCL_ENV_WARNING.match(ln)]


@pytest.mark.parametrize("args, needle", [
    (["--model", "/nonexistent/model.bharnet"], "/nonexistent/model.bharnet"),
    (["--model", "GARBAGE"], "GARBAGE"),
    (["--ros-args", "-p", "window:=abc"], "window"),
    (["--backend", "nope"], "nope"),
])
def test_a_node_that_cannot_start_says_why_in_one_line(ros_env, tmp_path, args, needle):
    if "GARBAGE" in args:
        bad = tmp_path / "garbage.bharnet"
        bad.write_bytes(b"not a bundle" * 100)
        args = [str(bad) if a == "GARBAGE" else a for a in args]
        needle = str(bad)
    p = subprocess.run([*_bharnet(), "ros", *args], env=ros_env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode != 0
    lines = _error_lines(p.stderr)
    assert len(lines) == 1 and lines[0].startswith("bharnet ros: error:"), p.stderr
    assert needle in lines[0] and "Traceback" not in p.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_node_and_replay_cleanly(procs, bus, tmp_path, holistic_stream, sig):
    np.save(tmp_path / "s.npy", holistic_stream)
    # `python -m bharnet.ros`, the other way to start it
    node = procs.node(launcher=[sys.executable, "-m", "bharnet.ros"])
    replay = procs.replay(tmp_path / "s.npy", "--loop", "--rate", "4")
    assert bus.spin_until(lambda: len(bus.results) >= 2, 30), node.err()   # busy, mid-stream
    assert replay.stop(sig) == 0, replay.err()
    assert node.stop(sig) == 0, node.err()
    for p in (node, replay):
        assert "Traceback" not in p.err() and not _error_lines(
            "\n".join(ln for ln in p.err().splitlines() if "[INFO]" not in ln)), p.err()


_INET = re.compile(r'inet_addr\("([\d.]+)"\)|inet_pton\(AF_INET6, "([0-9a-f:.]+)"')


def _destinations(trace: pathlib.Path) -> list[str]:
    """IPv4/IPv6 addresses the traced processes sent to or connected to."""
    out = []
    for line in trace.read_text().splitlines():
        if re.search(r"\b(sendto|sendmsg|sendmmsg|connect)\(", line):
            out += [a or b for a, b in _INET.findall(line)]
    return out


def test_traffic_stays_on_loopback(procs, tmp_path, holistic_stream):
    """Every datagram the node and the replay send goes to a loopback address (strace)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace not installed: cannot watch the sockets")
    np.save(tmp_path / "s.npy", holistic_stream)
    traced = [strace, "-f", "-qq", "-e", "trace=sendto,sendmsg,sendmmsg,connect", "-o"]
    node = procs.node(launcher=[*traced, str(tmp_path / "node.trace"), *_bharnet(), "ros"],
                      ready_timeout=120)
    replay = procs.replay(tmp_path / "s.npy", "--rate", "4",
                          prefix=[*traced, str(tmp_path / "replay.trace")])
    assert replay.p.wait(120) == 0, replay.err()
    assert node.stop() == 0, node.err()
    for name in ("node", "replay"):
        dest = _destinations(tmp_path / f"{name}.trace")
        assert dest, f"{name}: no IP traffic seen at all (is strace tracing?)"
        outside = sorted({a for a in dest if not ipaddress.ip_address(a).is_loopback})
        assert not outside, f"{name} sent to {outside}"
    # the replay's frames reached the node (not dropped for lack of a route)
    assert "published 72 frames" in replay.err()


def test_node_passes_mode_only_when_set_and_reports_sdk_stats(ros_env, monkeypatch,
                                                              holistic_stream):
    """In-process, against an SDK that has what other developers are adding: a `mode=` keyword,
    Recognizer.stats(), new Recognition fields (`body_presence`, `label=None`)."""
    from dataclasses import dataclass

    from bharnet.ros import node as node_mod
    from bharnet.sdk import Recognition

    @dataclass
    class Later(Recognition):
        body_presence: float | None = None

    class NewerRecognizer(Recognizer):
        def __init__(self, **kw):
            self.kw = dict(kw)
            kw.pop("mode", None)
            super().__init__(**kw)

        def push(self, frame, timestamp_ms, track_id=0, image=None):
            return Later(label=None, score=0.0, track_id=track_id, end_ms=timestamp_ms,
                         body_presence=0.0)

        def stats(self):
            return {"frames": 5, "tracks": {"1": {"frames": 3}}}

    monkeypatch.setattr(node_mod, "Recognizer", NewerRecognizer)
    rclpy.init(domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    try:
        plain = node_mod.RecognizerNode()
        assert "mode" not in plain.rec.kw and plain.event_pub.topic_name == "/events"
        plain.destroy_node()
        quiet = node_mod.RecognizerNode({"events": False})   # no `events` topic at all
        assert quiet.event_pub is None and quiet.rec.kw["events"] is False
        quiet.destroy_node()
        n = node_mod.RecognizerNode({"mode": "continual"})
        assert n.rec.kw["mode"] == "continual"
        out, diags = [], []
        monkeypatch.setattr(n.pub, "publish", out.append)
        monkeypatch.setattr(n.diag_pub, "publish", diags.append)
        fields, step = cloud.cloud_layout(cloud.COLUMNS)
        msg = PointCloud2(height=1, width=75, point_step=step, row_step=75 * step,
                          fields=[PointField(name=a, offset=o, datatype=d, count=1)
                                  for a, o, d in fields])
        msg.header.stamp.sec = 12
        msg.data = cloud.encode(holistic_stream[:1], [1], cloud.COLUMNS)
        n._on_cloud(msg)
        n._diagnose()
        n.destroy_node()
    finally:
        rclpy.shutdown()
    assert json.loads(out[0].data) == Later(label=None, score=0.0, track_id=1, end_ms=12000.0,
                                            body_presence=0.0).to_dict()
    values = {kv.key: kv.value for kv in diags[0].status[0].values}
    assert values["sdk.frames"] == "5" and values["sdk.tracks.1.frames"] == "3"
    assert values["frames"] == "1" and values["results"] == "1"
