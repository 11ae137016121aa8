"""The RGB branch in the model bundle: two more ONNX graphs and metadata["rgb"].

- `rgb.onnx`:       roi [N, 3, P*S, K*S] (float 0..1), guidance [N, P, K] -> rgb_logits [N, classes]
- `rgb_guide.onnx`: the skeleton inputs it needs (body; + hand, hand_mask for "body+hand")
                    -> guidance [N, P, K]. Absent when the guide is "none" (uniform weights).
The guide graph repeats the body expert's backbone (model.onnx exports logits only); that costs one
more body-expert pass per recognition and keeps the skeleton graph untouched. The SDK multiplies the
guidance by the tile mask, runs rgb.onnx and fuses with model.onnx's logits as metadata["rgb"] says.
Each graph is checked against torch on ONNX Runtime (max-abs <= tol); the bundle builder
(export/builder.py) adds these members to the skeleton bundle it writes.
"""
from __future__ import annotations

import pathlib

import numpy as np

RGB_GRAPH = "rgb.onnx"
GUIDE_GRAPH = "rgb_guide.onnx"


def _probe_rgb(meta: dict, batch: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    p, k = len(meta["roi"]["parts"]), meta["roi"]["frames"]
    g = rng.uniform(0.2, 2.0, (batch, p, k)).astype(np.float32)
    g[0, 1] = 0.0  # a blank tile
    return {"roi": rng.random((batch, *meta["roi_input_shape"]), dtype=np.float32), "guidance": g}


def _probe_guide(skel_cfg: dict, batch: int, seed: int) -> dict:
    from bharnet.training.config import example_inputs

    return {k: v.numpy() for k, v in example_inputs(skel_cfg, batch=batch, seed=seed).items()}


def _export_checked(model, example: dict, probe: dict, opset: int, tol: float):
    import torch

    from .onnx_export import export_onnx
    from .ort_check import max_abs_diff, run_ort, run_torch

    model.eval()
    proto = export_onnx(model, {k: torch.as_tensor(v) for k, v in example.items()}, opset=opset)
    data = proto.SerializeToString()
    diff = max_abs_diff(run_ort(data, probe), run_torch(model, probe))
    if max(diff.values()) > tol:
        raise RuntimeError(f"{type(model).__name__}: ONNX disagrees with torch (max-abs {diff} > {tol})")
    return data, diff


def rgb_members(ckpt, opset: int = 18, tol: float = 1e-4) -> tuple[dict, dict]:
    """(members {name: bytes}, metadata["rgb"]) of an RGB checkpoint (path or loaded dict)."""
    from bharnet.training.checkpoint import load_checkpoint
    from bharnet.training.rgb_train import rgb_from_checkpoint

    if not isinstance(ckpt, dict):
        ckpt = load_checkpoint(ckpt)
    _, rgb, guide, meta = rgb_from_checkpoint(ckpt)
    members, checks = {}, {}
    members[RGB_GRAPH], checks[RGB_GRAPH] = _export_checked(
        rgb, _probe_rgb(meta, 2, 0), _probe_rgb(meta, 3, 1), opset, tol)
    if meta["guide"] != "none":
        cfg = ckpt["config"]
        members[GUIDE_GRAPH], checks[GUIDE_GRAPH] = _export_checked(
            guide, _probe_guide(cfg, 2, 0), _probe_guide(cfg, 3, 1), opset, tol)
    else:
        meta = {**meta, "guide_graph": None}
    return members, {**meta, "export_check": {"ort_vs_torch_max_abs": checks, "tol": tol}}


__all__ = ["RGB_GRAPH", "GUIDE_GRAPH", "rgb_members"]
