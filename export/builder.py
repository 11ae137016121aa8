"""Checkpoint -> model bundle: portable ONNX (+ FP16 and plugin-mode graphs), weights, metadata."""
from __future__ import annotations

import pathlib

import numpy as np

from .onnx_export import BATCH_DIM, DEFAULT_OPSET, MAX_BATCH, export_onnx
from .ort_check import max_abs_diff, run_ort, run_torch

DEFAULT_STRIDE = 8
PORTABLE = "model.onnx"
PORTABLE_FP16 = "model.fp16.onnx"
PLUGIN = "model.plugin.onnx"
WEIGHTS = "weights.safetensors"


def _weights_bytes(model) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in model.state_dict().items()})


def _plain(obj):
    """Config values as plain JSON (tuples -> lists)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def bundle_metadata(ckpt: dict, model, opset: int, graphs: dict, checks: dict) -> dict:
    from bharnet.data import InputSpec, normalisation_metadata

    import torch

    spec = InputSpec.from_dict(ckpt["spec"])
    cfg = ckpt["config"]
    return {
        "layout": ckpt.get("source_layout") or cfg["data"].get("layout"),
        "classes": list(ckpt["classes"]),
        "num_classes": int(ckpt["num_classes"]),
        "hand_intensive": [int(i) for i in ckpt.get("hand_intensive", [])],
        "window": int(spec.window),
        "stride": DEFAULT_STRIDE,
        "normalisation": _plain(normalisation_metadata(spec)),
        "streams": [spec.stream],
        "variant": model.variant,
        "spec": spec.to_dict(),
        "input_names": list(model.input_names),
        # per-sample shapes; the batch axis is dynamic and named BATCH_DIM in the graphs
        "input_shapes": {k: list(v) for k, v in spec.input_shapes().items()},
        "output_names": list(model.output_names),
        "batch_dim": BATCH_DIM,
        "max_batch": MAX_BATCH,
        "opset": int(opset),
        "graphs": graphs,
        "export_check": checks,
        "model_config": _plain(cfg["model"]),
        "config": _plain(cfg),  # the full training config, so a torch backend rebuilds it exactly
        "exporter": {"torch": torch.__version__, "bharnet_ckpt": ckpt.get("format")},
    }


def _check_inputs(cfg: dict, batch: int, seed: int) -> dict:
    from bharnet.training.config import example_inputs

    return {k: v.numpy() for k, v in example_inputs(cfg, batch=batch, seed=seed).items()}


def export_checkpoint(ckpt, out, opset: int = DEFAULT_OPSET, fp16: bool = True, plugin: bool = False,
                      tol: float = 1e-4) -> pathlib.Path:
    """Write the bundle for a checkpoint (path or loaded dict). Refuses if ORT and torch disagree."""
    from bharnet.bundle import write_bundle
    from bharnet.training.checkpoint import load_checkpoint, model_from_checkpoint

    if not isinstance(ckpt, dict):
        ckpt = load_checkpoint(ckpt)
    model = model_from_checkpoint(ckpt, use_kernels=False)  # standard ops only
    cfg = ckpt["config"]
    import torch

    example = {k: torch.as_tensor(v) for k, v in _check_inputs(cfg, 2, 0).items()}
    proto = export_onnx(model, example, opset=opset)
    members = {PORTABLE: proto.SerializeToString(), WEIGHTS: _weights_bytes(model)}
    graphs = {PORTABLE: {"precision": "fp32", "ops": "standard", "io": "fp32"}}

    probe = _check_inputs(cfg, 3, 1)
    ref = run_torch(model, probe)
    diff = max_abs_diff(run_ort(members[PORTABLE], probe), ref)
    # absolute for logits of order 1, relative beyond: trained models have large logits
    scale = max(1.0, max(float(np.abs(v).max()) for v in ref.values()))
    if max(diff.values()) > tol * scale:
        raise RuntimeError(f"ONNX export disagrees with torch (max-abs {diff}, logit scale {scale:.3g}); "
                           "bundle not written")
    checks = {"ort_vs_torch_max_abs": diff, "probe_batch": 3, "logit_scale": scale}

    if fp16:
        from .fp16 import convert_fp16

        members[PORTABLE_FP16] = convert_fp16(proto).SerializeToString()
        graphs[PORTABLE_FP16] = {"precision": "fp16", "ops": "standard", "io": "fp32"}
    if plugin:
        from .plugin import export_plugin_onnx

        members[PLUGIN] = export_plugin_onnx(model, example, opset=opset).SerializeToString()
        graphs[PLUGIN] = {"precision": "fp32", "ops": "bharnet plugins (GraphConv, PoolAttention)",
                          "io": "fp32"}
    meta = bundle_metadata(ckpt, model, opset, graphs, checks)
    path = write_bundle(out, meta, members)
    if "rgb_model" in ckpt:  # BHaRNet-M: the same bundle also carries the RGB graphs
        from .rgb_export import add_rgb_to_bundle

        path = add_rgb_to_bundle(path, ckpt, opset=opset, tol=tol)
    return path
