"""Fixtures shared by the suite, and how it treats what is absent (see prereq.py).

BHARNET_SHARED=path: the shared data (default: shared/ beside the repository).
BHARNET_STRICT=1 (.ci/run): a skip is a failure unless it is a machine skip (no CUDA device,
no TensorRT, no [video] extra, no ROS 2: prereq.MACHINE_KINDS); the skips that remain are listed at the end of the run.
"""
import collections
import os
import pathlib

import pytest

from prereq import STRICT, is_machine_skip, machine, missing

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("BHARNET_SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    if not SHARED.is_dir():
        missing(f"the shared data is not at {SHARED} (put shared/ beside the repository or set "
                "BHARNET_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def holistic_stream(shared_dir):
    import numpy as np

    return np.load(shared_dir / "data/streams/demo_skeleton_holistic.npy")


@pytest.fixture(scope="session")
def native_kernels():
    """bharnet._C's CPU kernels behind the torch ops."""
    from bharnet.ops import _native

    for entry in ("graph_conv_forward_ptr", "pool_attention_forward_ptr"):
        why = _native.unavailable_reason("cpu", entry)
        if why:
            missing(why)


@pytest.fixture(scope="session")
def cuda_kernels(native_kernels):
    """A CUDA device and a bharnet._C compiled with CUDA. A device with a CPU-only _C always
    fails: the ops would refuse, and a test that compared anything else would prove nothing."""
    import torch

    from bharnet import ops

    if not torch.cuda.is_available():
        machine("gpu", "no CUDA device")
    if not ops.cuda_built():
        pytest.fail("a CUDA device is here but bharnet._C was built without CUDA "
                    "(bharnet._C.has_cuda() is False); build it with CUDA (make gpu-check)",
                    pytrace=False)


# ---- the gpu marker -------------------------------------------------------------------------
def _cuda_device() -> str | None:
    """None when a CUDA device is usable, else why not."""
    try:
        import torch
    except ImportError as e:
        return f"torch does not import ({e})"
    return None if torch.cuda.is_available() else "no CUDA device (torch.cuda.is_available() is False)"


def pytest_collection_modifyitems(config, items):
    gpu = [it for it in items if it.get_closest_marker("gpu")]
    why = _cuda_device() if gpu else None
    if why:
        mark = pytest.mark.skip(reason=f"[machine: gpu] {why}")
        for it in gpu:
            it.add_marker(mark)


# ---- strict mode: a skip that is not a machine skip fails -----------------------------------
def _skip_reason(report) -> str:
    lr = report.longrepr
    text = lr[2] if isinstance(lr, tuple) else str(lr)
    return text.removeprefix("Skipped: ")


def _strict(report) -> None:
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if not is_machine_skip(reason):
            report.outcome = "failed"
            report.longrepr = (f"BHARNET_STRICT=1: skipped, and not for want of a GPU, TensorRT "
                               f"or the [video] extra: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _strict(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _strict(outcome.get_result())  # a whole module skipped at import (importorskip at the top)


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    counts = collections.Counter(_skip_reason(r) for r in skipped)
    terminalreporter.section(f"skips ({len(skipped)})")
    for reason, n in counts.most_common():
        terminalreporter.line(f"{n:5d}  {reason}")
    if STRICT:
        terminalreporter.line("BHARNET_STRICT=1: only machine skips remain (every other skip failed)")


@pytest.fixture(scope="session")
def windowed_bundle() -> pathlib.Path:
    """A small windowed bundle (random weights; tests/data/make_windowed_bundle.py writes it): what
    only windowed bundles do, now that the embedded default model streams."""
    return REPO / "tests/data/windowed.bharnet"


@pytest.fixture(scope="session")
def streaming_bundle(tmp_path_factory):
    """A small streaming bundle (vanilla, valid 3x1 convs, causal-v1; random weights) with both
    step graphs: exported once per session (the step-graph export is the slow part)."""
    pytest.importorskip("torch")
    from continual_helpers import streaming_checkpoint

    from bharnet.export.builder import export_checkpoint

    d = tmp_path_factory.mktemp("streaming")
    return export_checkpoint(str(streaming_checkpoint(d / "s.pt")), d / "s.bharnet", fp16=False,
                             quiet=True)
