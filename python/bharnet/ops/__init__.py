"""Torch operations for the models: the native kernels, and their plain-PyTorch references.

graph_conv and pool_attention are torch custom ops (bharnet::graph_conv,
bharnet::pool_attention) with fake impls and autograd rules, dispatching to the CPU or CUDA
kernels of bharnet._C. They never run the reference in the kernels' place: where the kernel
cannot run they raise KernelUnavailable. graph_conv_ref and pool_attention_ref are the plain
PyTorch path, chosen explicitly (a model's use_kernels: false).
"""
from __future__ import annotations

import torch

from . import _native
from ._native import KernelUnavailable
from .graph_conv import graph_conv
from .pool_attention import pool_attention
from .reference import graph_conv_ref, pool_attention_ref

_ENTRY_POINTS = ("graph_conv_forward_ptr", "graph_conv_backward_ptr", "pool_attention_forward_ptr")


def kernels_available(device: torch.device | str = "cpu") -> bool:
    """True when both ops run native kernels on `device` (float32/float64 inputs)."""
    return all(_native.supports(device, e) for e in _ENTRY_POINTS)


def require_kernels(device: torch.device | str = "cpu", who: str = "model.use_kernels") -> None:
    """Raises KernelUnavailable, naming `who` asked for them, unless both ops run on `device`."""
    reasons = {_native.unavailable_reason(device, e) for e in _ENTRY_POINTS} - {None}
    if reasons:
        raise KernelUnavailable(f"{who} asks for the native kernels on {torch.device(device).type}, "
                                f"but {'; '.join(sorted(reasons))}. Set model.use_kernels: false "
                                "(or auto) to train with plain PyTorch")


def cuda_built() -> bool:
    """Whether bharnet._C has the CUDA kernels (False without the extension)."""
    return _native.cuda_built()


def cpu_isa() -> str | None:
    """Vector ISA the CPU kernels use ("avx512", "avx2", "baseline"), None without the extension."""
    return _native._C.cpu_isa() if _native._C is not None else None


__all__ = ["graph_conv", "pool_attention", "graph_conv_ref", "pool_attention_ref",
           "KernelUnavailable", "kernels_available", "require_kernels", "cuda_built", "cpu_isa"]
