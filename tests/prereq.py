"""What a test does when something it needs is absent.

Two kinds of absence, told apart by the tag at the start of the skip reason:
- `machine(kind, why)`: this machine cannot have it (a CUDA device, TensorRT), or it lives in an
  environment of its own that CI runs separately (the [video] extra: tests/smoke/no_torch_smoke.sh;
  ROS 2: tests/smoke/ros_smoke.sh). Always a skip, tagged "[machine: kind]"; the summary counts them.
- `missing(why)`: the suite is meant to have it (../shared, bharnet._C, a declared dependency).
  A skip tagged "[missing]" in a local run; a FAILURE under BHARNET_STRICT=1 (.ci/run sets it).
Under BHARNET_STRICT=1 conftest.py also turns any other skip (a bare pytest.skip, importorskip,
skipif) into a failure, so a new hidden skip cannot slip into CI.
"""
from __future__ import annotations

import importlib
import os

import pytest

STRICT = os.environ.get("BHARNET_STRICT", "") == "1"
MACHINE_KINDS = ("gpu", "tensorrt", "video", "ros")


def machine(kind: str, why: str):
    if kind not in MACHINE_KINDS:
        raise ValueError(f"unknown machine kind {kind!r}; known: {MACHINE_KINDS}")
    pytest.skip(f"[machine: {kind}] {why}")


def machine_import(kind: str, module: str):
    """importlib.import_module(module), or a machine skip of `kind` when it does not import."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        machine(kind, f"{module} does not import here ({e})")


def missing(why: str):
    if STRICT:
        pytest.fail(f"BHARNET_STRICT=1 and {why}", pytrace=False)
    pytest.skip(f"[missing] {why}")


def is_machine_skip(reason: str) -> bool:
    return any(reason.startswith(f"[machine: {k}]") for k in MACHINE_KINDS)
