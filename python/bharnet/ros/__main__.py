"""python -m bharnet.ros [flags] [--ros-args ...]: the same as `bharnet ros`."""
import sys

from ..cli import main

sys.exit(main(["ros", *sys.argv[1:]]))
