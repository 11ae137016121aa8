"""The paper's ensemble loss: L = w_B CE(z_B) + w_H CE(z_H) + w_cpl CE(fused)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bharnet.variants import get_variant

DEFAULT_WEIGHTS = {"body": 1.0, "hand": 1.0, "cpl": 1.0}


def ensemble_loss(out: dict, labels, variant: str, weights: dict | None = None, hand_present=None,
                  label_smoothing: float = 0.0):
    """Returns (total loss, dict of the individual terms as floats).

    `hand_present`: the hand mask [N,T,I] or presence [N,I]. The hand term is averaged only over samples where a hand was seen, so clips with absent hands
    neither dominate nor dilute it. For single-network baselines only the fused term applies.
    """
    # a variant without the coupling term (late fusion) trains its experts separately
    w = {**DEFAULT_WEIGHTS, **({} if get_variant(variant).coupling else {"cpl": 0.0}), **(weights or {})}
    ce = lambda z, y: F.cross_entropy(z, y, label_smoothing=label_smoothing)  # noqa: E731
    terms = {}
    single = out.get("body") is None or out.get("hand") is None
    if single:
        terms["cpl"] = ce(out["logits"], labels)
        total = terms["cpl"]
    else:
        terms["body"] = ce(out["body"], labels)
        if hand_present is not None:
            seen = (hand_present.flatten(1).amax(1) > 0).to(out["hand"].dtype)  # [N]
            per = F.cross_entropy(out["hand"], labels, reduction="none", label_smoothing=label_smoothing)
            terms["hand"] = (per * seen).sum() / seen.sum().clamp_min(1)
        else:
            terms["hand"] = ce(out["hand"], labels)
        total = w["body"] * terms["body"] + w["hand"] * terms["hand"]
        if w["cpl"]:
            terms["cpl"] = ce(out["logits"], labels)
            total = total + w["cpl"] * terms["cpl"]
    return total, {k: float(v.detach()) for k, v in terms.items()}
