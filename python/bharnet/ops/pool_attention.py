"""bharnet::pool_attention: pooling-attention between the experts as a torch custom op.

The forward runs the native kernel. The op's backward recomputes the reference in plain torch
ops and differentiates it. Measured (bench/kernels.py), native forward + that recompute is
slower than differentiating the reference directly, because the recompute repeats the whole
forward; so `pool_attention` only takes the native path when no gradient is needed, and
training runs the reference under autograd. The op keeps its autograd rule for direct callers.

`pool_attention` (either path) raises KernelUnavailable where the native kernel cannot run on
its inputs, so asking for the kernels never silently means the reference everywhere;
reference.pool_attention_ref is the explicit plain-PyTorch path.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import _native
from .reference import pool_attention_ref


def _dims(x, ctx, wq, num_heads) -> tuple:
    n, c, t, v, i = x.shape
    _, cc, t2, v2, i2 = ctx.shape
    return (n, c, t, v, i, cc, t2, v2, i2, wq.shape[0], num_heads)


def _check(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads):
    torch._check(x.dim() == 5 and ctx.dim() == 5, lambda: "pool_attention: x and ctx are 5-D")
    n, c = x.shape[:2]
    cc = ctx.shape[1]
    d = wq.shape[0]
    torch._check(ctx.shape[0] == n, lambda: "pool_attention: batch sizes differ")
    torch._check(wq.shape == (d, c) and wk.shape == (d, cc) and wv.shape == (d, cc)
                 and wo.shape == (c, d), lambda: "pool_attention: wq [D,C], wk/wv [D,Cc], wo [C,D]")
    torch._check(num_heads > 0 and d % num_heads == 0,
                 lambda: f"pool_attention: D={d} not divisible by num_heads={num_heads}")
    if x_mask is not None:
        torch._check(x_mask.shape == (n, x.shape[4]), lambda: "pool_attention: x_mask [N,I]")
    if ctx_mask is not None:
        torch._check(ctx_mask.shape == (n, ctx.shape[4]), lambda: "pool_attention: ctx_mask [N,I2]")


def _require(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo) -> None:
    _native.require("pool_attention", "pool_attention_forward_ptr", (x, ctx, wq, wk, wv, wo),
                    same_device=(x_mask, ctx_mask))


@torch.library.custom_op("bharnet::pool_attention", mutates_args=())
def pool_attention_op(x: Tensor, ctx: Tensor, x_mask: Optional[Tensor], ctx_mask: Optional[Tensor],
                      wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor, num_heads: int) -> Tensor:
    _check(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads)
    _require(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo)
    x, ctx, wq, wk, wv, wo = (t.contiguous() for t in (x, ctx, wq, wk, wv, wo))
    xm = None if x_mask is None else x_mask.to(x.dtype).contiguous()
    cm = None if ctx_mask is None else ctx_mask.to(x.dtype).contiguous()
    dims = _dims(x, ctx, wq, num_heads)
    out = x.new_empty(x.shape[0], x.shape[1])
    cuda = x.device.type == "cuda"
    ws = _native._C.pool_attention_workspace_bytes(dims, x.element_size()) if cuda else 0
    _native.launch(_native._C.pool_attention_forward_ptr, x.device, ws,
                   _native.dtype_name(x), cuda, dims,
                   x.data_ptr(), ctx.data_ptr(), _native.ptr(xm), _native.ptr(cm), wq.data_ptr(),
                   wk.data_ptr(), wv.data_ptr(), wo.data_ptr(), out.data_ptr())
    return out


@pool_attention_op.register_fake
def _(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads):
    _check(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads)
    return x.new_empty(x.shape[0], x.shape[1])


def _grad_mode_guard():
    """Custom-op bodies run with the autograd dispatch keys excluded; the recompute needs them
    back (only them), plus grad mode."""
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.ADInplaceOrView)
    for name in ("AutogradOther", "AutogradCPU", "AutogradCUDA", "AutogradNestedTensor"):
        keys = keys | torch._C.DispatchKeySet(getattr(torch._C.DispatchKey, name))
    exclude = torch._C._dispatch_tls_local_exclude_set() - keys
    return torch._C._ForceDispatchKeyGuard(torch._C._dispatch_tls_local_include_set(), exclude)


@torch.library.custom_op("bharnet::pool_attention_backward", mutates_args=())
def pool_attention_backward_op(grad: Tensor, x: Tensor, ctx: Tensor, x_mask: Optional[Tensor],
                               ctx_mask: Optional[Tensor], wq: Tensor, wk: Tensor, wv: Tensor,
                               wo: Tensor, num_heads: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients for (x, ctx, wq, wk, wv, wo), by recomputing the reference under autograd."""
    with _grad_mode_guard(), torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in (x, ctx, wq, wk, wv, wo)]
        lx, lc, lq, lk, lv, lo = leaves
        out = pool_attention_ref(lx, lc, x_mask, ctx_mask, lq, lk, lv, lo, num_heads)
        grads = torch.autograd.grad(out, leaves, grad, allow_unused=True)
    return tuple(torch.zeros_like(t) if g is None else g.contiguous()
                 for g, t in zip(grads, (x, ctx, wq, wk, wv, wo)))


@pool_attention_backward_op.register_fake
def _(grad, x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads):
    return tuple(torch.empty_like(t) for t in (x, ctx, wq, wk, wv, wo))


def _setup_context(ctx, inputs, output):
    x, other, x_mask, ctx_mask, wq, wk, wv, wo, num_heads = inputs
    ctx.num_heads = num_heads
    ctx.save_for_backward(x, other, x_mask, ctx_mask, wq, wk, wv, wo)


def _backward(ctx, grad):
    x, other, x_mask, ctx_mask, wq, wk, wv, wo = ctx.saved_tensors
    gx, gc, gq, gk, gv, go = pool_attention_backward_op(grad, x, other, x_mask, ctx_mask, wq, wk,
                                                        wv, wo, ctx.num_heads)
    return gx, gc, None, None, gq, gk, gv, go, None


pool_attention_op.register_autograd(_backward, setup_context=_setup_context)
for _device in ("cpu", "cuda"):
    torch.library.register_autocast("bharnet::pool_attention", _device, torch.float32)


def pool_attention(x: Tensor, ctx: Tensor, x_mask: Optional[Tensor], ctx_mask: Optional[Tensor],
                   wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor, num_heads: int) -> Tensor:
    """Pooling-attention of x [N,C,T,V,I] against ctx [N,Cc,T2,V2,I2] -> [N,C].

    Same contract as reference.pool_attention_ref.
    """
    # the device check covers both paths; dtypes are the op's to check (autocast casts first)
    _native.require_device("pool_attention", "pool_attention_forward_ptr", x.device)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, ctx, wq, wk, wv, wo)):
        return pool_attention_ref(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads)
    return pool_attention_op(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads)
