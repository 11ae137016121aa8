"""BHaRNet and its baselines: one model class, a `variant` switch.

Inputs (batched, channel-first; see bharnet.data.pipeline.InputSpec):
  body [N,C,T,Vb,M], hand [N,C,T,21,2M], hand_mask [N,T,2M], joints [N,C,T,65,M] (unified only).
Outputs: a dict with "logits" (fused), "body" and "hand" (each expert's own logits, None where the
variant has no such expert) and, for `expertized`, the private heads.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from bharnet import variants as _variants
from bharnet.layouts import HAND21, get_layout
from bharnet.variants import BASELINES, BHARNET_VARIANTS, get_variant

from .backbone import BackboneConfig, GCNBackbone, to_instances
from .heads import ClassifierHead, PoolingAttention, masked_gap

VARIANTS = tuple(_variants.VARIANTS)   # names, in the table's order


def experts_of(variant: str) -> tuple[bool, bool, bool]:
    """(has body expert, has hand expert, is unified) for a variant (bharnet.variants' table)."""
    v = get_variant(variant)
    return v.has_body, v.has_hand, v.is_unified


def hand_presence(hand_mask):
    """[N,T,I] per-frame presence -> [N,I]: 1 for a hand seen in at least one frame."""
    return (hand_mask.amax(1) > 0).to(hand_mask.dtype)


def probability_fusion(logits: list, how: str):
    """The torch form of bharnet.variants.fuse for the probability fusions (noisy_or, mean):
    log-probabilities, differentiable, exported to ONNX as standard ops."""
    probs = [F.softmax(z.float(), dim=-1) for z in logits]
    if how == "noisy_or":
        miss = torch.ones_like(probs[0])
        for p in probs:
            miss = miss * (1.0 - p)
        fused = 1.0 - miss
    elif how == "mean":
        fused = sum(probs) / len(probs)
    else:
        raise ValueError(how)
    fused = fused / fused.sum(-1, keepdim=True)
    return torch.log(fused.clamp_min(1e-12)).to(logits[0].dtype)


class BHaRNet(nn.Module):
    def __init__(self, num_classes: int, variant: str = "vanilla", body_layout: str = "coco17",
                 in_channels: int = 3, backbone: dict | None = None, hand_backbone: dict | None = None,
                 pam: dict | None = None, branch_stages: int = 3, dropout: float = 0.0,
                 use_kernels: bool = True):
        super().__init__()
        self.variant = variant
        self.spec = spec = get_variant(variant)
        self.num_classes = num_classes
        self.has_body, self.has_hand, self.is_unified = spec.has_body, spec.has_hand, spec.is_unified
        body_cfg = BackboneConfig.from_dict({**(backbone or {}), "use_kernels": use_kernels})
        hand_cfg = BackboneConfig.from_dict({**(backbone or {}), **(hand_backbone or {}),
                                             "use_kernels": use_kernels})
        pam = {"dim": 128, "heads": 4, **(pam or {})}

        if self.is_unified:
            self.unified = GCNBackbone(in_channels, get_layout("unified").adjacency(), body_cfg)
            self.unified_head = ClassifierHead(self.unified.out_channels, num_classes, dropout)
            return
        if self.has_body:
            self.body = GCNBackbone(in_channels, get_layout(body_layout).adjacency(), body_cfg)
            self.body_head = ClassifierHead(self.body.out_channels, num_classes, dropout)
        if self.has_hand:
            self.hand = GCNBackbone(in_channels, HAND21.adjacency(), hand_cfg)
            self.hand_head = ClassifierHead(self.hand.out_channels, num_classes, dropout)

        if spec.private_branches:
            if not 1 <= branch_stages < body_cfg.num_stages:
                raise ValueError(f"branch_stages must be in [1, {body_cfg.num_stages - 1}]")
            self.branch_from = body_cfg.num_stages - branch_stages
            # the trunk's last blocks are cloned into a private branch; the originals become the
            # interactive branch that cross-attends to the other expert
            self.body_private = copy.deepcopy(self.body.blocks[self.branch_from:])
            self.hand_private = copy.deepcopy(self.hand.blocks[self.branch_from:])
            self.body_private_head = ClassifierHead(self.body.out_channels, num_classes, dropout)
            self.hand_private_head = ClassifierHead(self.hand.out_channels, num_classes, dropout)
        if spec.pooling == "pam":
            cb, ch = self.body.out_channels, self.hand.out_channels
            self.body_pam = PoolingAttention(cb, ch, use_kernels=use_kernels, **pam)
            self.hand_pam = PoolingAttention(ch, cb, use_kernels=use_kernels, **pam)

    # ---- names for export and the SDK ------------------------------------------------
    @property
    def input_names(self) -> tuple[str, ...]:
        if self.is_unified:
            return ("joints",)
        return (("body",) if self.has_body else ()) + (("hand", "hand_mask") if self.has_hand else ())

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("logits",) + (("body_logits",) if self.has_body else ()) + \
            (("hand_logits",) if self.has_hand else ())

    # ---- forward -----------------------------------------------------------------------
    def forward(self, body=None, hand=None, hand_mask=None, joints=None):
        if self.is_unified:
            z = self.unified_head(masked_gap(self.unified(joints)))
            return {"logits": z, "body": None, "hand": None}
        present = hand_presence(hand_mask) if self.has_hand else None
        if self.spec.private_branches:
            return self._forward_expertized(body, hand, present)

        fb = self.body(body) if self.has_body else None
        fh = self.hand(hand) if self.has_hand else None
        if self.spec.pooling == "pam":
            zb = self.body_head(self.body_pam(fb, fh, None, present))
            zh = self.hand_head(self.hand_pam(fh, fb, present, None))
        else:
            zb = self.body_head(masked_gap(fb)) if fb is not None else None
            zh = self.hand_head(masked_gap(fh, present)) if fh is not None else None

        fusion = self.spec.fusion
        if fusion == "single":
            fused = zb if zb is not None else zh
        elif fusion == "sum":
            fused = zb + zh
        else:  # noisy_or, mean
            fused = probability_fusion([zb, zh], fusion)
        return {"logits": fused, "body": zb, "hand": zh}

    def _forward_expertized(self, body, hand, present):
        n, mb, mh = body.shape[0], body.shape[-1], hand.shape[-1]
        tb = self.body.run_blocks(self.body.embed(body), 0, self.branch_from)
        th = self.hand.run_blocks(self.hand.embed(hand), 0, self.branch_from)
        ib = to_instances(self.body.run_blocks(tb, self.branch_from), n, mb)
        ih = to_instances(self.hand.run_blocks(th, self.branch_from), n, mh)
        pb = to_instances(_run(self.body_private, tb), n, mb)
        ph = to_instances(_run(self.hand_private, th), n, mh)
        zb = self.body_head(self.body_pam(ib, ih, None, present))   # interactive heads
        zh = self.hand_head(self.hand_pam(ih, ib, present, None))
        zbp = self.body_private_head(masked_gap(pb))                # expertized (private) heads
        zhp = self.hand_private_head(masked_gap(ph, present))
        return {"logits": zb + zh + zbp + zhp, "body": zb, "hand": zh,
                "body_private": zbp, "hand_private": zhp}

    def export_outputs(self, out: dict) -> tuple:
        """The output tuple in `output_names` order (for ONNX export)."""
        vals = {"logits": out["logits"], "body_logits": out["body"], "hand_logits": out["hand"]}
        return tuple(vals[k] for k in self.output_names)


def _run(blocks, x):
    for b in blocks:
        x = b(x)
    return x
