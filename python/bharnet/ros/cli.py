"""`bharnet ros` and `bharnet ros-replay`. Only argparse here: rclpy is imported by the handlers."""
from __future__ import annotations

import argparse
import pathlib

from .params import NODE_PARAMS


def _ros_args(p: argparse.ArgumentParser) -> None:
    # everything after --ros-args goes to rclpy untouched (remappings, -p, --params-file, ...)
    p.add_argument("--ros-args", dest="ros_args", nargs=argparse.REMAINDER, default=[],
                   help="ROS arguments, e.g. --ros-args -r keypoints:=/camera/keypoints "
                        "-p window:=32 (must come last)")


def register(sub) -> None:
    n = sub.add_parser(
        "ros", help="run the recognizer as a ROS 2 node (needs the [ros] extra or a system ROS 2)",
        description="ROS 2 node: sensor_msgs/PointCloud2 keypoints on `keypoints` -> "
                    "std_msgs/String JSON recognitions on `recognitions`, statistics on "
                    "/diagnostics. Each flag sets the ROS parameter of the same name (and wins "
                    "over --ros-args -p).")
    for prm in NODE_PARAMS:
        n.add_argument(f"--{prm.name.replace('_', '-')}", dest=prm.name, type=type(prm.default),
                       default=None, help=f"{prm.help} (default: {prm.default!r})")
    _ros_args(n)
    n.set_defaults(func=cmd_ros)

    r = sub.add_parser(
        "ros-replay", help="publish a keypoint file on the ROS 2 topic `keypoints`",
        description="Publishes [T,V,C] or [M,T,V,C] keypoints (.npy, or .npz with 'keypoints' "
                    "and optionally 'fps') as sensor_msgs/PointCloud2, one message per frame.")
    r.add_argument("file", type=pathlib.Path, help="keypoint file to publish (.npy or .npz)")
    r.add_argument("--fps", type=float, default=None,
                   help="the recording's frame rate (default: the .npz's fps, else 30)")
    r.add_argument("--rate", type=float, default=1.0, help="playback speed multiplier")
    r.add_argument("--loop", action="store_true", help="start again at the end (stamps go on)")
    r.add_argument("--track-id", type=int, default=0, help="the track id every frame carries")
    r.add_argument("--fields", default=None,
                   help="names of the file's columns: x,y | x,y,z | x,y,score | x,y,z,score "
                        "(default: by the column count; 3 columns are x,y,z for 75 or 25 "
                        "keypoints, else x,y,score)")
    r.add_argument("--frame-id", default="camera", help="header.frame_id (coordinate frame)")
    r.add_argument("--stamps", choices=("now", "zero"), default="now",
                   help="header stamps start at the ROS clock's now, or at 0")
    r.add_argument("--wait-subscribers", type=int, default=1,
                   help="wait for this many subscribers before the first frame")
    r.add_argument("--wait", type=float, default=10.0, help="... for at most this many seconds")
    _ros_args(r)
    r.set_defaults(func=cmd_replay)


def cmd_ros(args) -> int:
    overrides = {p.name: getattr(args, p.name) for p in NODE_PARAMS
                 if getattr(args, p.name) is not None}
    try:
        from .session import need_rclpy

        need_rclpy()
        from .node import run_node

        return run_node(overrides, args.ros_args)
    except KeyboardInterrupt:   # Ctrl-C before the node spins: as quiet as after
        return 0


def cmd_replay(args) -> int:
    try:
        from .session import need_rclpy

        need_rclpy()
        from .replay import run_replay

        return run_replay(args)
    except KeyboardInterrupt:
        return 0
