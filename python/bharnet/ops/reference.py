"""Plain-PyTorch definitions of the two custom operations.

These are the specification the C++/CUDA kernels are tested against, and the fallback path the
models use when the kernels are off or unavailable.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def graph_conv_ref(x, A, W, b=None, relu: bool = False, residual=None):
    """y[n,o,t,w] = sum_k sum_v sum_c W[k,o,c] x[n,c,t,v] A[k,v,w] + b[o] (+ residual, then ReLU).

    x [N,C,T,V], A [K,V,V], W [K,O,C], b [O] or None, residual [N,O,T,V] or None.
    """
    xa = torch.einsum("nctv,kvw->nkctw", x, A)
    y = torch.einsum("nkctw,koc->notw", xa, W)
    if b is not None:
        y = y + b.view(1, -1, 1, 1)
    if residual is not None:
        y = y + residual
    return F.relu(y) if relu else y


def axis_tokens(feat, mask=None):
    """Pool a feature [N,C,T,V,I] to three token sequences [N,T,C], [N,V,C], [N,I,C].

    `mask` [N,I] (1 = instance present) excludes absent instances from the T and V tokens.
    """
    n, c, t, v, i = feat.shape
    m = feat.new_ones(n, i) if mask is None else mask.to(feat.dtype)
    denom = m.sum(1).clamp_min(1e-6)  # [N]
    inst = torch.einsum("nctvi,ni->nctv", feat, m) / denom.view(n, 1, 1, 1)
    tok_t = inst.mean(3).transpose(1, 2)           # [N,T,C]
    tok_v = inst.mean(2).transpose(1, 2)           # [N,V,C]
    tok_i = feat.mean((2, 3)).transpose(1, 2)      # [N,I,C]
    return tok_t, tok_v, tok_i


def _cross_attention(q_tok, kv_tok, key_valid, wq, wk, wv, wo, num_heads):
    """Multi-head attention of q_tok [N,L,C] over kv_tok [N,S,Cc]; key_valid [N,S] bool.

    Rows whose keys are all invalid attend to nothing and get a zero update.
    """
    n, L, _ = q_tok.shape
    s = kv_tok.shape[1]
    d = wq.shape[0]
    dh = d // num_heads
    q = (q_tok @ wq.t()).view(n, L, num_heads, dh).transpose(1, 2)   # [N,H,L,dh]
    k = (kv_tok @ wk.t()).view(n, s, num_heads, dh).transpose(1, 2)  # [N,H,S,dh]
    v = (kv_tok @ wv.t()).view(n, s, num_heads, dh).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)              # [N,H,L,S]
    valid = key_valid.view(n, 1, 1, s)
    scores = scores.masked_fill(~valid, float("-inf"))
    any_valid = key_valid.any(1).view(n, 1, 1, 1)
    attn = torch.softmax(scores.masked_fill(~any_valid, 0.0), dim=-1) * any_valid
    out = (attn @ v).transpose(1, 2).reshape(n, L, d)                 # [N,L,D]
    return out @ wo.t()                                               # [N,L,C]


def pool_attention_ref(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads: int):
    """Pooling-attention: per-axis pooling, cross-attention to the other expert, pooling again.

    x [N,C,T,V,I] (this expert), ctx [N,Cc,T2,V2,I2] (the other expert, keys and values).
    x_mask [N,I], ctx_mask [N,I2]: 1 where an instance (person or hand) is present, or None.
    wq [D,C], wk [D,Cc], wv [D,Cc], wo [C,D]; D divisible by num_heads.
    For each axis a in (T, V, I): tokens_a = pool(x); out_a = tokens_a + Attn(tokens_a, pool_a(ctx));
    then a (masked) mean over the sequence. Returns the sum over the three axes, [N,C].
    A sample with no present instance of x returns zeros.
    """
    n = x.shape[0]
    xm = x.new_ones(n, x.shape[4]) if x_mask is None else x_mask.to(x.dtype)
    cm = ctx.new_ones(n, ctx.shape[4]) if ctx_mask is None else ctx_mask.to(ctx.dtype)
    ctx_any = (cm > 0).any(1, keepdim=True)
    x_any = (xm > 0).any(1).to(x.dtype).view(n, 1)
    out = 0
    for axis, (tq, tk) in enumerate(zip(axis_tokens(x, xm), axis_tokens(ctx, cm))):
        key_valid = (cm > 0) if axis == 2 else ctx_any.expand(n, tk.shape[1])
        upd = tq + _cross_attention(tq, tk, key_valid, wq, wk, wv, wo, num_heads)
        if axis == 2:
            w = xm / xm.sum(1, keepdim=True).clamp_min(1e-6)
            out = out + torch.einsum("nlc,nl->nc", upd, w)
        else:
            out = out + upd.mean(1)
    return out * x_any
