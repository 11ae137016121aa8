"""GCN backbones shared by every expert and baseline: ST-GCN++-style (default) and CTR-GCN-style.

Tensors are channel-first, [N, C, T, V, M] at the backbone boundary (M = instances: persons for
the body, hands for the hand expert) and [N*M, C, T, V] inside.

Temporal padding (BackboneConfig.temporal_padding):
- "same" (default): every temporal op is zero-padded, T -> ceil(T / stride) per block.
- "valid": no temporal padding anywhere, so every output depends on a fixed run of input frames
  whatever the window: what a continual (frame-by-frame) runtime can reproduce exactly. In a block
  of half-span D (the widest branch's), a branch of half-span d < D sees its input centre-cropped
  by D - d frames on each side before its temporal op (the max-pool branch likewise, d = 1), the
  1x1 branch and the residual see it cropped by D and subsample with the stride (frames D, D+s, ...),
  so output j of every branch is centred on input frame j*s + D and
  T_out = floor((T - 2D - 1) / s) + 1. The weights are those of the "same" model (a same-padded
  checkpoint fine-tunes without conversion); on interior positions the two compute the same values.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bharnet import ops


@dataclass
class BackboneConfig:
    gcn: str = "stgcnpp"            # "stgcnpp" | "ctrgcn"
    base_channels: int = 64
    num_stages: int = 10
    inflate_stages: tuple = (5, 8)  # 1-based blocks where channels double
    down_stages: tuple = (5, 8)     # 1-based blocks with temporal stride 2
    tcn: str = "mstcn"              # "mstcn" (multi-scale) | "conv" (one kx1 conv)
    dropout: float = 0.0
    use_kernels: bool = True        # bharnet.ops native kernels (must be built) or plain PyTorch
    temporal_padding: str = "same"  # "same" | "valid" (see the module docstring)
    tcn_kernel: int = 9             # tcn "conv": temporal kernel size (odd)
    dilations: tuple = (1, 2, 3, 4)  # tcn "mstcn": one 3x1 branch per dilation

    def __post_init__(self):
        if self.temporal_padding not in ("same", "valid"):
            raise ValueError(f"temporal_padding must be 'same' or 'valid', got {self.temporal_padding!r}")
        if self.temporal_padding == "valid" and self.gcn == "ctrgcn":
            raise ValueError("temporal_padding 'valid' cannot be used with gcn 'ctrgcn': its topology "
                             "refinement averages over the whole window, so no output depends on a "
                             "fixed run of frames (use gcn 'stgcnpp')")
        k = self.tcn_kernel
        if not isinstance(k, int) or k < 1 or k % 2 == 0:
            raise ValueError(f"tcn_kernel must be a positive odd integer, got {k!r}")
        d = tuple(self.dilations)
        if not d or any(not isinstance(x, int) or x < 1 for x in d):
            raise ValueError(f"dilations must be a non-empty list of positive integers, got {self.dilations!r}")
        if self.tcn == "mstcn" and k != 9:
            raise ValueError("tcn_kernel applies to tcn 'conv' only; the multi-scale TCN takes dilations")
        if self.tcn == "conv" and d != (1, 2, 3, 4):
            raise ValueError("dilations apply to tcn 'mstcn' only; the plain TCN takes tcn_kernel")

    @classmethod
    def from_dict(cls, d: dict | None) -> "BackboneConfig":
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown backbone option(s) {sorted(unknown)}; known: {sorted(known)}")
        for k in ("inflate_stages", "down_stages", "dilations"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    def channels(self) -> list[tuple[int, int, int]]:
        """(in, out, stride) of blocks 2..num_stages; block 1 maps the input to base_channels."""
        plan, c = [], self.base_channels
        for i in range(2, self.num_stages + 1):
            cin = c
            if i in self.inflate_stages:
                c *= 2
            plan.append((cin, c, 2 if i in self.down_stages else 1))
        return plan

    @property
    def out_channels(self) -> int:
        return self.base_channels * 2 ** sum(1 for s in self.inflate_stages if 2 <= s <= self.num_stages)

    # ---- temporal structure (the same for both paddings) -------------------------------------
    @property
    def half_span(self) -> int:
        """D: every block's temporal ops reach D input steps either side of their centre."""
        if self.tcn == "conv":
            return (self.tcn_kernel - 1) // 2
        return max(max(self.dilations), 1)  # the max-pool branch reaches 1

    def strides(self) -> list[int]:
        """Temporal stride of every block (block 1 first)."""
        return [1] + [s for _, _, s in self.channels()]

    @property
    def total_stride(self) -> int:
        """Input frames per output step."""
        return int(np.prod(self.strides()))

    @property
    def receptive_field(self) -> int:
        """Input frames one output step depends on: 1 + 2 * sum_i D * S_i, S_i being block i's input
        spacing in frames. A valid backbone needs T >= receptive_field and gives
        (T - receptive_field) // total_stride + 1 steps."""
        spacing, total = 1, 0
        for s in self.strides():
            total += self.half_span * spacing
            spacing *= s
        return 1 + 2 * total


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c)


class Conv1x1BN(nn.Sequential):
    def __init__(self, cin, cout, stride=1):
        super().__init__(nn.Conv2d(cin, cout, 1, stride=(stride, 1)), _bn(cout))


class GraphConvUnit(nn.Module):
    """ST-GCN++ spatial unit: y = BN(sum_k W_k x A_k + b) + residual, ReLU.

    The adjacency is a parameter initialised from the layout's graph (it keeps learning).
    """

    def __init__(self, cin: int, cout: int, A: np.ndarray, use_kernels: bool = True):
        super().__init__()
        k = A.shape[0]
        self.A = nn.Parameter(torch.as_tensor(A, dtype=torch.float32).clone())
        self.weight = nn.Parameter(torch.empty(k, cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_normal_(self.weight.view(k * cout, cin), mode="fan_out", nonlinearity="relu")
        self.bn = _bn(cout)
        self.down = nn.Identity() if cin == cout else Conv1x1BN(cin, cout)
        if use_kernels:
            ops.require_kernels()  # fail here, not at the first forward deep inside training
        self.use_kernels = use_kernels

    def forward(self, x):
        conv = ops.graph_conv if self.use_kernels else ops.graph_conv_ref
        return F.relu(self.bn(conv(x, self.A, self.weight, self.bias)) + self.down(x))


class CTRGraphConvUnit(nn.Module):
    """CTR-GCN-style unit: each channel group refines the shared topology with a learned,
    sample-dependent correction (tanh of pairwise joint feature differences)."""

    def __init__(self, cin: int, cout: int, A: np.ndarray, use_kernels: bool = True, reduction: int = 8):
        super().__init__()
        k = A.shape[0]
        rel = max(cin // reduction, 8)
        self.A = nn.Parameter(torch.as_tensor(A, dtype=torch.float32).clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.q = nn.ModuleList(nn.Conv2d(cin, rel, 1) for _ in range(k))
        self.k = nn.ModuleList(nn.Conv2d(cin, rel, 1) for _ in range(k))
        self.v = nn.ModuleList(nn.Conv2d(cin, cout, 1) for _ in range(k))
        self.expand = nn.ModuleList(nn.Conv2d(rel, cout, 1) for _ in range(k))
        self.bn = _bn(cout)
        self.down = nn.Identity() if cin == cout else Conv1x1BN(cin, cout)

    def forward(self, x):
        out = 0
        for i in range(self.A.shape[0]):
            q, k = self.q[i](x).mean(2), self.k[i](x).mean(2)             # [N,R,V]
            refine = self.expand[i](torch.tanh(q.unsqueeze(-1) - k.unsqueeze(-2)))  # [N,O,V,V]
            adj = self.A[i] + self.alpha * refine                          # per-channel graph
            out = out + torch.einsum("notv,novw->notw", self.v[i](x), adj)
        return F.relu(self.bn(out) + self.down(x))


def crop_time(x, c: int):
    """x [N, C, T, V] without its first and last c frames."""
    return x[:, :, c:x.shape[2] - c] if c else x


class MultiScaleTCN(nn.Module):
    """Multi-scale temporal conv: dilated 3x1 branches, a max-pool branch and a 1x1 branch.

    valid=True: no padding; branch i's input to its temporal op is centre-cropped by crops[i]
    frames (D minus the branch's own half-span) so that all branches end up aligned.
    """

    def __init__(self, cin, cout, stride=1, dilations=(1, 2, 3, 4), dropout=0.0, valid=False):
        super().__init__()
        nb = len(dilations) + 2
        mid = cout // nb
        widths = [cout - mid * (nb - 1)] + [mid] * (nb - 1)
        span = max(max(dilations), 1)
        branches = []
        for w, d in zip(widths, dilations):
            branches.append(nn.Sequential(
                nn.Conv2d(cin, w, 1), _bn(w), nn.ReLU(inplace=True),
                nn.Conv2d(w, w, (3, 1), stride=(stride, 1), padding=(0 if valid else d, 0),
                          dilation=(d, 1))))
        w = widths[len(dilations)]
        branches.append(nn.Sequential(
            nn.Conv2d(cin, w, 1), _bn(w), nn.ReLU(inplace=True),
            nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(0 if valid else 1, 0))))
        branches.append(nn.Conv2d(cin, widths[-1], 1, stride=(stride, 1)))
        self.branches = nn.ModuleList(branches)
        self.fuse = nn.Sequential(_bn(cout), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 1))
        self.bn = _bn(cout)
        self.drop = nn.Dropout(dropout)
        self.valid = valid
        self.crops = [span - d for d in dilations] + [span - 1, span] if valid else None

    def forward(self, x):
        if self.valid:
            y = torch.cat([self._valid_branch(b, c, x) for b, c in zip(self.branches, self.crops)], dim=1)
        else:
            y = torch.cat([b(x) for b in self.branches], dim=1)
        return self.drop(self.bn(self.fuse(y)))

    @staticmethod
    def _valid_branch(branch, crop, x):
        if isinstance(branch, nn.Sequential):  # 1x1 conv, BN, ReLU, then the temporal op
            return branch[-1](crop_time(branch[:-1](x), crop))
        return branch(crop_time(x, crop))      # the strided 1x1 branch


class PlainTCN(nn.Sequential):
    def __init__(self, cin, cout, stride=1, dropout=0.0, kernel=9, valid=False):
        super().__init__(nn.Conv2d(cin, cout, (kernel, 1), stride=(stride, 1),
                                   padding=(0 if valid else kernel // 2, 0)), _bn(cout),
                         nn.Dropout(dropout))


class STBlock(nn.Module):
    def __init__(self, cin, cout, A, cfg: BackboneConfig, stride=1, residual=True):
        super().__init__()
        unit = GraphConvUnit if cfg.gcn == "stgcnpp" else CTRGraphConvUnit
        self.gcn = unit(cin, cout, A, use_kernels=cfg.use_kernels)
        valid = cfg.temporal_padding == "valid"
        self.tcn = (MultiScaleTCN(cout, cout, stride, cfg.dilations, cfg.dropout, valid)
                    if cfg.tcn == "mstcn"
                    else PlainTCN(cout, cout, stride, cfg.dropout, cfg.tcn_kernel, valid))
        if not residual:
            self.res = None
        elif cin == cout and stride == 1:
            self.res = nn.Identity()
        else:
            self.res = Conv1x1BN(cin, cout, stride)
        # valid: the residual takes the input cropped by D, so frame j*s + D meets output j
        self.res_crop = cfg.half_span if valid else 0

    def forward(self, x):
        y = self.tcn(self.gcn(x))
        if self.res is None:
            return F.relu(y)
        return F.relu(y + self.res(crop_time(x, self.res_crop)))


class GCNBackbone(nn.Module):
    """x [N, C, T, V, M] -> features [N, C', T', V, M]."""

    def __init__(self, in_channels: int, A: np.ndarray, cfg: BackboneConfig):
        super().__init__()
        if cfg.gcn not in ("stgcnpp", "ctrgcn"):
            raise ValueError(f"unknown gcn type {cfg.gcn!r} (stgcnpp | ctrgcn)")
        if cfg.tcn not in ("mstcn", "conv"):
            raise ValueError(f"unknown tcn type {cfg.tcn!r} (mstcn | conv)")
        self.cfg = cfg
        v = A.shape[-1]
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        blocks = [STBlock(in_channels, cfg.base_channels, A, cfg, residual=False)]
        blocks += [STBlock(cin, cout, A, cfg, stride=s) for cin, cout, s in cfg.channels()]
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = cfg.out_channels

    def embed(self, x):
        """[N,C,T,V,M] -> [N*M, C, T, V] after the per-joint input BatchNorm."""
        n, c, t, v, m = x.shape
        if self.cfg.temporal_padding == "valid" and t < self.cfg.receptive_field:
            raise ValueError(f"a valid backbone needs at least its receptive field of "
                             f"{self.cfg.receptive_field} frames, got T={t}")
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        x = self.data_bn(x)
        return x.view(n * m, v, c, t).permute(0, 2, 3, 1).contiguous()

    def run_blocks(self, x, start=0, stop=None):
        for blk in self.blocks[start:stop]:
            x = blk(x)
        return x

    def forward(self, x):
        n, m = x.shape[0], x.shape[-1]
        return to_instances(self.run_blocks(self.embed(x)), n, m)


def to_instances(h, n: int, m: int):
    """[N*M, C, T, V] -> [N, C, T, V, M]."""
    _, c, t, v = h.shape
    return h.view(n, m, c, t, v).permute(0, 2, 3, 4, 1)
