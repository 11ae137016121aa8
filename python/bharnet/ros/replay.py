"""`bharnet ros-replay`: publish a keypoint file on `keypoints` as a camera + pose estimator would.

Frames go out at the file's rate (or --fps), scaled by --rate; header stamps are spaced by the
recorded period whatever the rate, so what the node recognises does not depend on --rate.
"""
from __future__ import annotations

import pathlib
import time

import numpy as np

from .cloud import check_columns, cloud_layout, default_columns, encode, ms_to_stamp

DEFAULT_FPS = 30.0
LINGER_S = 0.5   # after the last frame: best-effort readers have no acknowledgement to wait for
# Discovery is two-sided: this writer can see a reader before that reader has matched this writer,
# and a best-effort reader drops what comes from a writer it has not matched yet. 0.5 s was not
# always enough on a loaded 2-core machine (the first frame lost now and then).
SETTLE_S = 2.0


def load_keypoints(path) -> tuple[np.ndarray, float | None]:
    """A .npy [T,V,C] / [M,T,V,C] (or a .npz with `keypoints` and optionally `fps`) ->
    ([M,T,V,C] float32, fps or None)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    fps = None
    with open(path, "rb") as f:
        data = np.load(f, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            if "keypoints" not in data.files:
                raise ValueError(f"{path}: a .npz needs a 'keypoints' array, has {data.files}")
            fps = float(data["fps"]) if "fps" in data.files else None
            data = data["keypoints"]
    kp = np.asarray(data, np.float32)
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or kp.shape[1] < 1:
        raise ValueError(f"{path}: expected keypoints [T,V,C] or [M,T,V,C], got {data.shape}")
    return kp, fps


def run_replay(args) -> int:
    from .session import ros_session

    kp, file_fps = load_keypoints(args.file)
    fps = float(args.fps or file_fps or DEFAULT_FPS)
    if fps <= 0 or args.rate <= 0:
        raise ValueError(f"--fps and --rate must be > 0, got {fps} and {args.rate}")
    m, t, v, c = kp.shape
    columns = check_columns(args.fields.split(",")) if args.fields else default_columns(v, c)
    if len(columns) != c:
        raise ValueError(f"--fields {','.join(columns)} names {len(columns)} columns, the file "
                         f"has {c}")
    with ros_session(args.ros_args) as rclpy:
        node = rclpy.create_node("bharnet_replay")
        try:
            _publish(rclpy, node, kp, fps, columns, args)
        finally:
            node.destroy_node()
    return 0


def _template(node_msgs, m: int, v: int, columns, frame_id: str):
    PointCloud2, PointField = node_msgs
    fields, step = cloud_layout(columns)
    msg = PointCloud2(height=m, width=v, is_bigendian=False, point_step=step, row_step=step * v,
                      is_dense=False,
                      fields=[PointField(name=n, offset=o, datatype=d, count=1) for n, o, d in fields])
    msg.header.frame_id = frame_id
    return msg


def _wait_for_readers(rclpy, pub, n: int, wait_s: float) -> bool:
    """Wait until `n` subscriptions match; False (and a warning) after `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while pub.get_subscription_count() < n and rclpy.ok():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _publish(rclpy, node, kp, fps, columns, args) -> None:
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import PointCloud2, PointField

    # reliable: serves best-effort subscribers (the recognizer node) and reliable ones alike
    pub = node.create_publisher(PointCloud2, "keypoints",
                                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    log = node.get_logger()
    m, t, v, c = kp.shape
    if args.wait_subscribers > 0:
        if _wait_for_readers(rclpy, pub, args.wait_subscribers, args.wait):
            time.sleep(SETTLE_S)
        else:
            log.warning(f"{pub.get_subscription_count()} of {args.wait_subscribers} subscribers "
                        f"after {args.wait:g} s; publishing anyway")
    msg = _template((PointCloud2, PointField), m, v, columns, args.frame_id)
    frames = kp.transpose(1, 0, 2, 3)            # [T, M, V, C]
    tracks = [args.track_id] * m                 # the file's persons are one track's persons
    period_ms = 1000.0 / fps
    log.info(f"publishing {t} frames of {m}x{v}x{c} ({','.join(columns)}) at {fps:g} fps "
             f"x{args.rate:g}{' in a loop' if args.loop else ''}, track {args.track_id}, on "
             f"{pub.topic_name}")
    base_ms = node.get_clock().now().nanoseconds / 1e6 if args.stamps == "now" else 0.0
    start = time.monotonic()
    n = 0
    while rclpy.ok():
        i = n % t
        if i == 0 and n and not args.loop:
            break
        wait = start + n * period_ms / 1000.0 / args.rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        msg.header.stamp.sec, msg.header.stamp.nanosec = ms_to_stamp(base_ms + n * period_ms)
        msg.data = encode(frames[i], tracks, columns)
        try:
            pub.publish(msg)
        except Exception:
            if rclpy.ok():
                raise
            break   # SIGTERM shut the context down between the check and the publish
        n += 1
    if rclpy.ok():   # not after SIGTERM: the context is gone
        pub.wait_for_all_acked(Duration(seconds=2.0))
        time.sleep(LINGER_S)
        log.info(f"published {n} frames")
