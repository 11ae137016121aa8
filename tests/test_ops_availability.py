"""Asking for a kernel that cannot run is an error naming what is missing, never the reference.

The absent pieces are simulated (no _C, a _C without CUDA), so these run on any machine.
"""
import types

import pytest
import torch

from bharnet import ops
from bharnet.ops import _native
from bharnet.training.config import KERNELS_FASTER, build_model, load_config, resolve_use_kernels

from train_helpers import tiny_config


@pytest.fixture
def no_extension(monkeypatch):
    monkeypatch.setattr(_native, "_C", None)
    monkeypatch.setattr(_native, "_IMPORT_ERROR", "No module named 'bharnet._C'")


@pytest.fixture
def cpu_only_extension(monkeypatch):
    """A stand-in _C with every entry point but no CUDA (nothing is launched through it)."""
    entry = ("graph_conv_forward_ptr", "graph_conv_backward_ptr", "pool_attention_forward_ptr")
    monkeypatch.setattr(_native, "_C", types.SimpleNamespace(**dict.fromkeys(entry)))
    monkeypatch.setattr(_native, "_HAS_CUDA", False)


def gc_inputs():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(2, 4, 3, 17, generator=g), torch.randn(3, 17, 17, generator=g),
            torch.randn(3, 5, 4, generator=g), torch.randn(5, generator=g))


def pa_inputs():
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return r(2, 8, 3, 17, 1), r(2, 6, 3, 21, 2), None, None, r(8, 8), r(8, 6), r(8, 6), r(8, 8), 2


def test_ops_refuse_without_the_extension(no_extension):
    with pytest.raises(ops.KernelUnavailable, match=r"_C is not built.*make build.*graph_conv_ref"):
        ops.graph_conv(*gc_inputs())
    with torch.no_grad(), pytest.raises(ops.KernelUnavailable, match="pool_attention_ref"):
        ops.pool_attention(*pa_inputs())
    x, A, W, b = (t.requires_grad_() for t in gc_inputs())
    with pytest.raises(ops.KernelUnavailable):  # training asks too: no quiet reroute either
        ops.graph_conv(x, A, W, b)
    pa = [t.requires_grad_() if isinstance(t, torch.Tensor) else t for t in pa_inputs()]
    with pytest.raises(ops.KernelUnavailable):
        ops.pool_attention(*pa)
    assert not ops.kernels_available("cpu")
    # the references stay the explicit plain path
    assert ops.graph_conv_ref(*gc_inputs()).shape == (2, 5, 3, 17)
    assert ops.pool_attention_ref(*pa_inputs()).shape == (2, 8)


def test_cuda_needs_a_cuda_build(cpu_only_extension):
    assert not ops.kernels_available("cuda") and not ops.cuda_built()
    with pytest.raises(ops.KernelUnavailable, match="built without CUDA.*BHARNET_CUDA=ON"):
        _native.require_device("graph_conv", "graph_conv_forward_ptr", "cuda")
    with pytest.raises(ops.KernelUnavailable, match="use_kernels: false"):
        ops.require_kernels("cuda")
    assert ops.kernels_available("cpu")  # the CPU kernels are there: a CUDA model is what fails
    cfg = load_config(tiny_config("pam", model={"use_kernels": True}))
    with pytest.raises(ops.KernelUnavailable, match="on cuda.*built without CUDA"):
        build_model(cfg, num_classes=3, device="cuda")


def test_has_cuda_binding_matches_the_build(native_kernels):
    assert isinstance(_native._C.has_cuda(), bool)
    assert _native._C.has_cuda() == _native._C.build_info["cuda"] == ops.cuda_built()


def test_model_with_kernels_fails_at_construction(no_extension):
    cfg = load_config(tiny_config("pam", model={"use_kernels": True}))
    with pytest.raises(ops.KernelUnavailable, match="use_kernels.*not built.*use_kernels: false"):
        build_model(cfg, num_classes=3)
    # the plain path needs no extension, and auto picks it here
    for value in (False, "auto"):
        m = build_model(load_config(tiny_config("pam", model={"use_kernels": value})), num_classes=3)
        assert not any(getattr(mod, "use_kernels", False) for mod in m.modules())


def test_auto_follows_the_measured_table(monkeypatch):
    for device, faster in KERNELS_FASTER.items():
        assert resolve_use_kernels("auto", device) == (faster and ops.kernels_available(device))
    monkeypatch.setitem(KERNELS_FASTER, "cpu", True)
    assert resolve_use_kernels("auto", "cpu") == ops.kernels_available("cpu")
    assert resolve_use_kernels(True, "cpu") is True and resolve_use_kernels(False, "cuda") is False
    with pytest.raises(ValueError, match="true, false or auto"):
        resolve_use_kernels("yes", "cpu")
