"""Torch operations for the models: native kernels where built, plain PyTorch otherwise.

graph_conv and pool_attention are torch custom ops (bharnet::graph_conv,
bharnet::pool_attention) with fake impls and autograd rules, dispatching to the CPU or CUDA
kernels of bharnet._C. Where the extension lacks an op they are the plain-PyTorch references.
"""
from __future__ import annotations

import torch

from . import _native
from .reference import graph_conv_ref, pool_attention_ref

if _native.has("graph_conv_forward_ptr"):
    from .graph_conv import graph_conv
else:
    graph_conv = graph_conv_ref

if _native.has("pool_attention_forward_ptr"):
    from .pool_attention import pool_attention
else:
    pool_attention = pool_attention_ref


def kernels_available(device: torch.device | str = "cpu") -> bool:
    """True when both ops run native kernels on `device` (float32/float64 inputs)."""
    return (_native.supports(device, "graph_conv_forward_ptr")
            and _native.supports(device, "pool_attention_forward_ptr"))


def cpu_isa() -> str | None:
    """Vector ISA the CPU kernels use ("avx512", "avx2", "baseline"), None without the extension."""
    return _native._C.cpu_isa() if _native._C is not None else None


__all__ = ["graph_conv", "pool_attention", "graph_conv_ref", "pool_attention_ref",
           "kernels_available", "cpu_isa"]
