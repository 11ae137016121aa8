"""What each BHaRNet variant and baseline computes: the one table that the torch model, the loss,
the exporter and every backend read, plus the NumPy form of the fusions.

    variant     experts          pooling      fusion     coupling loss  heads
    vanilla     body + hand      GAP          sum        yes            body, hand
    pam         body + hand      PAM          sum        yes            body, hand
    expertized  body + hand      PAM (+ GAP)  sum of 4   yes            body, hand (interactive) + 2 private
    noisy_or    body + hand      GAP          noisy_or   yes            body, hand
    body_only   body             GAP          single     (fused only)   body
    hand_only   hand             GAP          single     (fused only)   hand
    unified     unified (65 j.)  GAP          single     (fused only)   unified
    late_fusion body + hand      GAP          mean       no             body, hand

"sum" adds the experts' logits; "noisy_or" and "mean" fuse in probability space and return
log-probabilities (valid logits): noisy_or p = 1 - prod_m (1 - softmax(z_m)), renormalised, so a
confident expert is not vetoed by an unsure one; mean averages the probabilities.

NumPy + stdlib only (the SDK imports this without torch).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FUSIONS = ("sum", "noisy_or", "mean", "single")


@dataclass(frozen=True)
class Variant:
    name: str
    experts: tuple[str, ...]       # "body", "hand" or "unified"
    pooling: str                   # "gap" | "pam"
    fusion: str                    # one of FUSIONS
    coupling: bool                 # the loss has the L_cpl term on the fused logits
    private_branches: bool = False  # expertized: each expert's last blocks also run as a private branch
    baseline: bool = False         # a baseline the paper argues against (not a BHaRNet variant)

    @property
    def has_body(self) -> bool:
        return "body" in self.experts

    @property
    def has_hand(self) -> bool:
        return "hand" in self.experts

    @property
    def is_unified(self) -> bool:
        return self.experts == ("unified",)

    @property
    def single(self) -> bool:
        """One network: only the fused term of the loss applies."""
        return len(self.experts) == 1


_TABLE = (
    Variant("vanilla", ("body", "hand"), "gap", "sum", True),
    Variant("pam", ("body", "hand"), "pam", "sum", True),
    Variant("expertized", ("body", "hand"), "pam", "sum", True, private_branches=True),
    Variant("noisy_or", ("body", "hand"), "gap", "noisy_or", True),
    Variant("body_only", ("body",), "gap", "single", True, baseline=True),
    Variant("hand_only", ("hand",), "gap", "single", True, baseline=True),
    Variant("unified", ("unified",), "gap", "single", True, baseline=True),
    Variant("late_fusion", ("body", "hand"), "gap", "mean", False, baseline=True),
)
VARIANTS: dict[str, Variant] = {v.name: v for v in _TABLE}
BHARNET_VARIANTS = tuple(v.name for v in _TABLE if not v.baseline)
BASELINES = tuple(v.name for v in _TABLE if v.baseline)


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}") from None


# ---- NumPy fusion (backends, the RGB branch) ----------------------------------------------------
def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def fuse(logits: list[np.ndarray], how: str, weights: list[float] | None = None) -> np.ndarray:
    """Fuse expert logits [..., classes] as `how` says (see the module docstring).

    weights scale the logits of "sum" (the RGB branch's fusion weight); probability fusions take
    none. Returns float32 logits (log-probabilities for noisy_or and mean).
    """
    if how in ("sum", "single"):
        w = weights or [1.0] * len(logits)
        return sum(np.asarray(z, np.float64) * wi for z, wi in zip(logits, w)).astype(np.float32)
    if how not in ("noisy_or", "mean"):
        raise ValueError(f"unknown fusion {how!r}; choose one of {', '.join(FUSIONS)}")
    if weights is not None:
        raise ValueError(f"fusion {how!r} takes no weights")
    probs = [softmax(z) for z in logits]
    if how == "noisy_or":
        miss = np.ones_like(probs[0])
        for p in probs:
            miss *= 1.0 - p
        fused = 1.0 - miss
    else:
        fused = sum(probs) / len(probs)
    fused /= fused.sum(-1, keepdims=True)
    return np.log(np.maximum(fused, 1e-12)).astype(np.float32)


__all__ = ["Variant", "VARIANTS", "BHARNET_VARIANTS", "BASELINES", "FUSIONS", "get_variant", "softmax",
           "fuse"]
