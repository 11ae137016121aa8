"""tools/gpu_check.sh (make gpu-check) as far as a machine without a GPU can check it: the plan it
prints, and a clear failure, before building anything, when there is no CUDA device."""
import os
import pathlib
import subprocess
import sys

import pytest

from prereq import machine

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "tools" / "gpu_check.sh"


def run(*args, **env):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GPU_PY": sys.executable, **env})


def test_dry_run_prints_every_stage_and_runs_nothing(tmp_path):
    r = run("--dry-run", "--results", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for stage in ("env", "build", "tests", "bench"):
        assert f"== {stage} (timeout" in r.stdout
    assert "-DBHARNET_CUDA=ON" in r.stdout and "-m gpu" in r.stdout and "--device cuda" in r.stdout
    assert "dry run, nothing was run" in r.stdout
    assert list(tmp_path.iterdir()) == []


def test_without_a_cuda_device_it_fails_before_building(tmp_path):
    import torch

    if torch.cuda.is_available():
        machine("gpu", "this checks the no-device path")
    r = run("--results", str(tmp_path))
    assert r.returncode == 1
    assert "MISSING: a CUDA device" in r.stdout
    assert "gpu-check: FAILED" in r.stdout
    for stage in ("build", "tests", "bench"):
        assert any(line.split()[:3] == [stage, "not", "run"] for line in r.stdout.splitlines()), stage
    assert (tmp_path / "gpu_check.log").read_text().count("MISSING: a CUDA device") == 1


def test_unknown_option_is_refused():
    r = run("--bogus")
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
