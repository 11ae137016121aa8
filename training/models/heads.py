"""Pooling, heads and the pooling-attention module that replace GAP in the experts."""
from __future__ import annotations

import torch
import torch.nn as nn

from bharnet import ops


def masked_gap(feat, inst_mask=None):
    """Global average pool of [N, C, T, V, I] -> [N, C], ignoring absent instances."""
    if inst_mask is None:
        return feat.mean((2, 3, 4))
    m = inst_mask.to(feat.dtype)
    per_inst = feat.mean((2, 3))                                  # [N, C, I]
    return (per_inst * m.unsqueeze(1)).sum(2) / m.sum(1, keepdim=True).clamp_min(1e-6)


class ClassifierHead(nn.Sequential):
    def __init__(self, cin: int, num_classes: int, dropout: float = 0.0):
        super().__init__(nn.Dropout(dropout), nn.Linear(cin, num_classes))


class PoolingAttention(nn.Module):
    """PAM: this expert's features attend, per axis (T, V, I), to the other expert's pooled tokens.

    Keys and values come from the other expert, so the two PAMs of a model are linked.
    """

    def __init__(self, channels: int, ctx_channels: int, dim: int = 128, heads: int = 4,
                 use_kernels: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"PAM dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.wq = nn.Parameter(torch.empty(dim, channels))
        self.wk = nn.Parameter(torch.empty(dim, ctx_channels))
        self.wv = nn.Parameter(torch.empty(dim, ctx_channels))
        # zero output projection: the module starts as plain GAP and learns how much to attend
        self.wo = nn.Parameter(torch.zeros(channels, dim))
        for w in (self.wq, self.wk, self.wv):
            nn.init.xavier_uniform_(w)
        if use_kernels:
            ops.require_kernels()  # fail here, not at the first forward deep inside training
        self.use_kernels = use_kernels

    def forward(self, feat, ctx, feat_mask=None, ctx_mask=None):
        fn = ops.pool_attention if self.use_kernels else ops.pool_attention_ref
        # the three axis summaries are summed: divide by 3 so the scale matches GAP
        return fn(feat, ctx, feat_mask, ctx_mask, self.wq, self.wk, self.wv, self.wo, self.heads) / 3.0
