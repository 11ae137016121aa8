"""The recognizer node: keypoint clouds in, Recognitions out as JSON, action events (sdk.Event,
with the track and both stamps) as JSON on `events`, statistics on /diagnostics.

    bharnet ros [--model m.bharnet ...] [--ros-args -p window:=32 -r keypoints:=/camera/keypoints]

Imports rclpy and the ROS messages at module level: import it only where ROS 2 is installed
(the command handler does so lazily).
"""
from __future__ import annotations


import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from ..sdk import Recognizer
from .cloud import CloudError, decode, stamp_to_ms
from .feed import push_cloud
from .params import NODE_PARAMS, recognizer_kwargs
from .payload import event_json, recognition_json
from .session import RosError, first_line
from .stats import NodeStats, Throttle, flatten

NODE_NAME = "bharnet_recognizer"
INPUT_TOPIC, OUTPUT_TOPIC, DIAGNOSTICS_TOPIC = "keypoints", "recognitions", "/diagnostics"
EVENTS_TOPIC = "events"


class RecognizerNode(Node):
    """Subscribes to `keypoints` (sensor_msgs/PointCloud2), publishes `recognitions`
    (std_msgs/String, JSON), `events` (std_msgs/String, JSON: the SDK's Events, parameter
    events:=true) and `/diagnostics` (diagnostic_msgs/DiagnosticArray)."""

    def __init__(self, overrides: dict | None = None):
        super().__init__(NODE_NAME, parameter_overrides=[
            Parameter(k, value=v) for k, v in (overrides or {}).items()])
        for p in NODE_PARAMS:   # read-only: changing them later would need a new Recognizer
            self.declare_parameter(p.name, p.default,
                                   ParameterDescriptor(description=p.help, read_only=True))
        self.values = {p.name: self.get_parameter(p.name).value for p in NODE_PARAMS}
        self.events = 0
        self.event_pub = None
        try:
            # the SDK calls on_event from push(), in this thread: events go out as they happen
            self.rec = Recognizer(**recognizer_kwargs(self.values), on_event=self._on_event)
        except Exception as e:   # a bundle that does not load, a backend that is not there, ...
            self.destroy_node()
            raise RosError(
                f"cannot start the recognizer on model {self.values['model'] or '(embedded)'!r} "
                f"with backend {self.values['backend']!r}: {type(e).__name__}: {first_line(e)}"
            ) from None
        self.stats = NodeStats()
        self._dropped_before = 0
        self._quiet = Throttle(1.0)

        depth = max(1, int(self.values["input_depth"]))
        sensor_qos = QoSProfile(history=qos_profile_sensor_data.history, depth=depth,
                                reliability=qos_profile_sensor_data.reliability,
                                durability=qos_profile_sensor_data.durability)
        self.pub = self.create_publisher(
            String, OUTPUT_TOPIC, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        if self.values["events"]:   # reliable: a lost start or end would garble the action
            self.event_pub = self.create_publisher(
                String, EVENTS_TOPIC, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self.sub = self.create_subscription(PointCloud2, INPUT_TOPIC, self._on_cloud, sensor_qos)
        self.timer = self.create_timer(float(self.values["diagnostics_period_s"]), self._diagnose)
        info = self.rec.info
        self.get_logger().info(
            f"ready: model {info.get('bundle') or 'embedded'} ({info.get('variant')}, "
            f"{len(info.get('classes', []))} classes), backend {info.get('backend')}, window "
            f"{info.get('window')}, stride {info.get('stride')}, layout {info.get('layout') or 'auto'}; "
            f"{self.sub.topic_name} -> {self.pub.topic_name}"
            + (f", {self.event_pub.topic_name}" if self.event_pub is not None else ""))

    # ---- input ------------------------------------------------------------------------------
    def _on_cloud(self, msg: PointCloud2) -> None:
        self.stats.messages += 1
        try:
            frames = decode(msg)
        except CloudError as e:
            self._drop("bad_message", f"dropped a keypoint message: {e}")
            return
        ts = stamp_to_ms(msg.header.stamp)
        # every person of the cloud in one call (Recognizer.push_many: one native call for all)
        for p in push_cloud(self.rec, frames, ts):
            self._pushed(p, ts)

    def _pushed(self, p, ts: float) -> None:
        if p.drop is not None:
            self._drop(p.drop, p.error, error=p.drop == "error")
            return
        finite = bool(np.isfinite(p.frame).all())
        self.stats.frame(p.track_id, p.push_ms, finite)
        if not finite:
            self._say("nonfinite", f"track {p.track_id} at {ts} ms: NaN/inf keypoints, read as "
                                   f"missing")
        if p.recognition is not None:
            self.pub.publish(String(data=recognition_json(p.recognition)))
            self.stats.result(p.track_id, p.push_ms, float(p.recognition.latency_ms))

    def _on_event(self, event) -> None:
        if self.event_pub is None:   # the Recognizer was built before the publisher
            return
        self.event_pub.publish(String(data=event_json(event)))
        self.events += 1

    def _drop(self, reason: str, line: str, error: bool = False) -> None:
        self.stats.drop(reason)
        self._say(reason, line, error)

    def _say(self, reason: str, line: str, error: bool = False) -> None:
        held = self._quiet(reason)
        if held is None:
            return
        if held:
            line += f" ({held} more like this in the last second)"
        (self.get_logger().error if error else self.get_logger().warning)(line)

    # ---- diagnostics ------------------------------------------------------------------------
    def _diagnose(self) -> None:
        self.stats.forget_tracks(self.rec.tracks)
        values = self.stats.values()
        if self.event_pub is not None:
            values["events"] = self.events
        if callable(getattr(self.rec, "stats", None)):   # the SDK's own counters, where it has them
            try:
                values.update(flatten(self.rec.stats(), "sdk"))
            except Exception as e:   # statistics must never stop the recognizer
                self._say("stats", f"Recognizer.stats() failed: {type(e).__name__}: "
                                   f"{first_line(e)}", error=True)
        st = self.stats
        dropped = sum(st.drops.values())
        fresh_drops, self._dropped_before = dropped - self._dropped_before, dropped
        status = DiagnosticStatus(   # WARN while frames are being dropped, OK again after
            level=DiagnosticStatus.WARN if fresh_drops else DiagnosticStatus.OK,
            name=f"{self.get_fully_qualified_name()}: recognizer",
            hardware_id=f"bharnet/{self.rec.info.get('backend')}",
            message=f"{st.frames} frames, {st.results} recognitions, "
                    f"{dropped} dropped, {values['tracks']} tracks",
            values=[KeyValue(key=k, value=_kv(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def _kv(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def run_node(overrides: dict, ros_args: list[str]) -> int:
    """`bharnet ros`: run the node until SIGINT / SIGTERM. A node that cannot start (model,
    backend, parameter types) is one line on stderr and exit status 2 (cli.main prints it)."""
    from .session import ros_session, spin

    with ros_session(ros_args) as rclpy:
        try:
            node = RecognizerNode(overrides)
        except RosError:
            raise
        except Exception as e:   # rclpy refusing a parameter (type, read-only, name)
            raise RosError(f"cannot start the recognizer: {type(e).__name__}: "
                            f"{first_line(e)}") from None
        spin(rclpy, node)
    return 0
