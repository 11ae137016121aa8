"""bharnet::graph_conv: the graph convolution as a torch custom op over the native kernels.

Forward and backward each run one native kernel (CPU or CUDA). The op has a fake impl and an
autograd rule, so torch.compile and torch.export treat it as one opaque node. Where the kernel
cannot run (no _C, a CUDA tensor with a CPU-only _C, a dtype other than float32/float64) the op
raises KernelUnavailable; reference.graph_conv_ref is the explicit plain-PyTorch path. Under
autocast the op takes float32 (the kernels have no half-precision path).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import _native


def _dims(x: Tensor, A: Tensor, W: Tensor) -> tuple:
    n, c, t, v = x.shape
    k, o = A.shape[0], W.shape[1]
    return (n, c, t, v, k, o)


def _check(x, A, W, b, residual):
    torch._check(x.dim() == 4, lambda: f"graph_conv: x must be [N,C,T,V], got {tuple(x.shape)}")
    n, c, t, v = x.shape
    torch._check(A.dim() == 3 and A.shape[1] == v and A.shape[2] == v,
                 lambda: f"graph_conv: A must be [K,{v},{v}], got {tuple(A.shape)}")
    torch._check(W.dim() == 3 and W.shape[0] == A.shape[0] and W.shape[2] == c,
                 lambda: f"graph_conv: W must be [K,O,{c}], got {tuple(W.shape)}")
    o = W.shape[1]
    if b is not None:
        torch._check(b.shape == (o,), lambda: f"graph_conv: b must be [{o}], got {tuple(b.shape)}")
    if residual is not None:
        torch._check(residual.shape == (n, o, t, v),
                     lambda: f"graph_conv: residual must be [N,O,T,V], got {tuple(residual.shape)}")


@torch.library.custom_op("bharnet::graph_conv", mutates_args=())
def graph_conv_op(x: Tensor, A: Tensor, W: Tensor, b: Optional[Tensor], relu: bool,
                  residual: Optional[Tensor]) -> Tensor:
    _check(x, A, W, b, residual)
    _native.require("graph_conv", "graph_conv_forward_ptr", (x, A, W, b, residual))
    x, A, W = x.contiguous(), A.contiguous(), W.contiguous()
    b = None if b is None else b.contiguous()
    residual = None if residual is None else residual.contiguous()
    dims = _dims(x, A, W)
    y = x.new_empty(dims[0], dims[5], dims[2], dims[3])
    cuda = x.device.type == "cuda"
    ws = _native._C.graph_conv_workspace_bytes(dims, x.element_size(), False) if cuda else 0
    _native.launch(_native._C.graph_conv_forward_ptr, x.device, ws,
                   _native.dtype_name(x), cuda, dims,
                   x.data_ptr(), A.data_ptr(), W.data_ptr(), _native.ptr(b), _native.ptr(residual),
                   relu, y.data_ptr())
    return y


@graph_conv_op.register_fake
def _(x, A, W, b, relu, residual):
    _check(x, A, W, b, residual)
    return x.new_empty(x.shape[0], W.shape[1], x.shape[2], x.shape[3])


@torch.library.custom_op("bharnet::graph_conv_backward", mutates_args=())
def graph_conv_backward_op(gy: Tensor, x: Tensor, A: Tensor, W: Tensor, y: Optional[Tensor],
                           relu: bool, need_pre: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Returns (dx, dA, dW, db, d_pre); d_pre (the gradient before the ReLU) is empty unless
    need_pre. y, the forward output, is required when relu is set."""
    torch._check(not relu or y is not None, lambda: "graph_conv_backward: relu needs y")
    _native.require("graph_conv", "graph_conv_backward_ptr", (gy, x, A, W, y))
    gy, x, A, W = gy.contiguous(), x.contiguous(), A.contiguous(), W.contiguous()
    y = None if y is None else y.contiguous()
    dims = _dims(x, A, W)
    gx, gA, gW = torch.empty_like(x), torch.empty_like(A), torch.empty_like(W)
    gb = x.new_empty(dims[5])
    g_pre = torch.empty_like(gy) if need_pre else gy.new_empty(0)
    cuda = x.device.type == "cuda"
    ws = _native._C.graph_conv_workspace_bytes(dims, x.element_size(), True) if cuda else 0
    _native.launch(_native._C.graph_conv_backward_ptr, x.device, ws,
                   _native.dtype_name(x), cuda, dims,
                   gy.data_ptr(), x.data_ptr(), A.data_ptr(), W.data_ptr(), _native.ptr(y), relu,
                   gx.data_ptr(), gA.data_ptr(), gW.data_ptr(), gb.data_ptr(),
                   g_pre.data_ptr() if need_pre else 0)
    return gx, gA, gW, gb, g_pre


@graph_conv_backward_op.register_fake
def _(gy, x, A, W, y, relu, need_pre):
    pre = torch.empty_like(gy) if need_pre else gy.new_empty(0)
    return (torch.empty_like(x), torch.empty_like(A), torch.empty_like(W),
            x.new_empty(W.shape[1]), pre)


def _setup_context(ctx, inputs, output):
    x, A, W, b, relu, residual = inputs
    ctx.relu = relu
    ctx.has_bias = b is not None
    ctx.has_residual = residual is not None
    ctx.save_for_backward(x, A, W, output if relu else None)


def _backward(ctx, gy):
    x, A, W, y = ctx.saved_tensors
    need_pre = ctx.relu and ctx.has_residual
    gx, gA, gW, gb, g_pre = graph_conv_backward_op(gy, x, A, W, y, ctx.relu, need_pre)
    g_res = None
    if ctx.has_residual:
        g_res = g_pre if ctx.relu else gy
    return gx, gA, gW, (gb if ctx.has_bias else None), None, g_res


graph_conv_op.register_autograd(_backward, setup_context=_setup_context)
for _device in ("cpu", "cuda"):
    torch.library.register_autocast("bharnet::graph_conv", _device, torch.float32)


def graph_conv(x: Tensor, A: Tensor, W: Tensor, b: Optional[Tensor] = None, relu: bool = False,
               residual: Optional[Tensor] = None) -> Tensor:
    """y[n,o,t,w] = sum_k sum_v sum_c W[k,o,c] x[n,c,t,v] A[k,v,w] + b[o] (+ residual, then ReLU).

    x [N,C,T,V], A [K,V,V], W [K,O,C], b [O] or None, residual [N,O,T,V] or None -> [N,O,T,V].
    Same contract as reference.graph_conv_ref.
    """
    return graph_conv_op(x, A, W, b, relu, residual)
