"""Parameters and FLOPs of any config (torch.utils.flop_counter)."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import build_model, example_inputs, load_config

# the class count costed when a config takes its classes from the dataset (NTU-60's)
ASSUMED_CLASSES = 60


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model, inputs: dict) -> int:
    """FLOPs of one forward pass (a multiply-add counts as 2), batch as given.

    Counted on the plain-PyTorch path: custom kernels are opaque to the counter.
    """
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(**inputs)
    return int(fc.get_total_flops())


def cost_of(cfg: dict, num_classes: int | None = None) -> dict:
    """Cost of the skeleton model a config describes (for variant: rgb, its skeleton stage)."""
    cfg = load_config(cfg)
    if cfg["model"]["variant"] == "rgb":
        from .rgb_train import skeleton_config

        cfg = skeleton_config(cfg)
    n = num_classes or cfg["model"]["num_classes"] or ASSUMED_CLASSES
    model = build_model(cfg, num_classes=n, use_kernels=False)
    flops = count_flops(model, example_inputs(cfg, batch=1))
    return {"variant": cfg["model"]["variant"], "num_classes": n, "params": count_params(model),
            "params_M": round(count_params(model) / 1e6, 4), "gflops": round(flops / 1e9, 4),
            "inputs": {k: list(v.shape[1:]) for k, v in example_inputs(cfg).items()}}


def describe_config(path) -> dict:
    """What `bharnet info CONFIG` prints."""
    cfg = load_config(path)
    info = {"config": str(path), **cost_of(cfg)}
    info["window"] = cfg["data"]["window"]
    info["body_layout"] = cfg["data"]["body_layout"]
    info["backbone"] = cfg["model"]["backbone"] or "defaults (ST-GCN++ 10 blocks, 64-128-256)"
    if not cfg["model"]["num_classes"]:
        info["note"] = (f"counted for {ASSUMED_CLASSES} classes: the config takes its classes from the "
                        f"dataset (set model.num_classes to count the head for yours)")
    return info
