"""bharnet.ros: the Recognizer as a ROS 2 node, and a keypoint replay publisher.

    bharnet ros          (python -m bharnet.ros)  the recognizer node
    bharnet ros-replay   keypoints.npy            publish a keypoint file on `keypoints`

Importing this package imports no ROS: rclpy is imported by the command handlers, so
`import bharnet.sdk` and `bharnet --help` work where ROS 2 is not installed. Message schema:
cloud.py and docs/guides/ros2.md.
"""
