"""Checkpoint -> model bundle, composed here and written once (the bundle's one writer).

Members, each checked before anything is written:
  model.onnx (+ model.fp16.onnx, model.plugin.onnx)   the window graph: ORT against torch
  program.json + program.safetensors                 the layer program: against torch
  model.step*.onnx + init_state.safetensors           streaming models: against the window graph
  rgb.onnx, rgb_guide.onnx                            BHaRNet-M checkpoints: against torch
  weights.safetensors                                 the training state dict (torch backend)
"""
from __future__ import annotations

import pathlib

import numpy as np

from bharnet.bundle import DEFAULT_STRIDE, TORCH_WEIGHTS, WINDOW_GRAPH, BundleMeta, write_bundle
from bharnet.progress import stage
from bharnet.program import MEMBER as PROGRAM, WEIGHTS_MEMBER as PROGRAM_WEIGHTS

from .onnx_export import DEFAULT_OPSET, export_onnx
from .ort_check import max_abs_diff, run_ort, run_torch

PORTABLE_FP16 = "model.fp16.onnx"
PLUGIN = "model.plugin.onnx"


def _safetensors(arrays: dict) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v) for k, v in arrays.items()})


def _plain(obj):
    """Config values as plain JSON (tuples -> lists)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _probe(cfg: dict, batch: int, seed: int) -> dict:
    from bharnet.training.config import example_inputs

    return {k: v.numpy() for k, v in example_inputs(cfg, batch=batch, seed=seed).items()}


def _scaled_check(what: str, got: dict, ref: dict, tol: float) -> dict:
    """Max-abs differences, refused above tol (absolute for logits of order 1, relative beyond:
    trained models have large logits)."""
    diff = max_abs_diff(got, ref)
    scale = max(1.0, max(float(np.abs(v).max()) for v in ref.values()))
    if max(diff.values()) > tol * scale:
        raise RuntimeError(f"{what} disagrees with torch (max-abs {diff}, logit scale {scale:.3g}); "
                           "bundle not written")
    return {"max_abs": diff, "logit_scale": scale}


def _program_members(model, spec, probe: dict, ref: dict, tol: float, quiet: bool):
    """(program, weights, members, metadata["program"], check) of the layer program, checked
    against ref (the torch model's outputs on probe); program and weights are None when the model
    has none (CTR-GCN units)."""
    import torch

    from bharnet.program import ProgramError

    from .program_export import program_of
    from .program_torch import ProgramModule

    try:
        program, weights = program_of(model, spec)
    except ProgramError as e:
        if not quiet:
            print(f"no layer program ({e}): the native backend will refuse this bundle", flush=True)
        return None, None, {}, None, {"skipped": str(e)}
    with torch.no_grad():
        out = ProgramModule(program, weights)(*(torch.as_tensor(probe[k]) for k in program.inputs))
    got = {k: v.numpy() for k, v in zip(program.outputs, out)}
    check = _scaled_check("the layer program", got, ref, tol)
    members = {PROGRAM: program.to_json(), PROGRAM_WEIGHTS: _safetensors(weights)}
    meta = {"graph": PROGRAM, "weights": PROGRAM_WEIGHTS, "ops": len(program.ops),
            "padding": program.padding, "receptive_field": program.receptive_field()}
    return program, weights, members, meta, check


def preprocessing_of(cfg: dict, spec) -> dict:
    """How a clip becomes model inputs: what serving must repeat to equal evaluation."""
    from bharnet.data import normalisation_metadata

    d, t = cfg["data"], cfg["train"]
    return {"normalisation": _plain(normalisation_metadata(spec)), "stream": spec.stream,
            "sampling": d.get("sample", "uniform"), "test_clips": int(t.get("test_clips", 1)),
            "test_flip": bool(t.get("test_flip", False))}


def export_checkpoint(ckpt, out, opset: int = DEFAULT_OPSET, fp16: bool = True, plugin: bool = False,
                      tol: float = 1e-4, stride: int | None = None, name: str = "",
                      description: str = "", schedules=None, quiet: bool = False,
                      signing_key=None) -> pathlib.Path:
    """Write the bundle for a checkpoint (path or loaded dict). Refuses if any graph disagrees.

    A streaming model (temporal_padding: valid, causal preprocessing) also gets its step graphs,
    one per schedule (default both: export/continual.py); schedules= on any other model is refused
    before anything is exported. signing_key: an Ed25519 private key that signs the
    bundle as it is written (bharnet.signing)."""
    import torch

    from bharnet.data import InputSpec
    from bharnet.training.checkpoint import load_checkpoint, model_from_checkpoint

    if not isinstance(ckpt, dict):
        ckpt = load_checkpoint(ckpt)
    model = model_from_checkpoint(ckpt, use_kernels=False)  # standard ops only
    cfg = ckpt["config"]
    spec = InputSpec.from_dict(ckpt["spec"])
    if schedules and not spec.causal:   # refused before the (slow) export, not after it
        raise ValueError("step graphs need a streaming model (model.backbone.temporal_padding: valid "
                         "with causal preprocessing); this one normalises whole windows")

    example = {k: torch.as_tensor(v) for k, v in _probe(cfg, 2, 0).items()}
    with stage("window graph (ONNX), checked on ONNX Runtime", quiet=quiet):
        proto = export_onnx(model, example, opset=opset)
        members = {WINDOW_GRAPH: proto.SerializeToString(), TORCH_WEIGHTS: _safetensors(
            {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})}
        probe = _probe(cfg, 3, 1)
        ref = run_torch(model, probe)
        ort_check = _scaled_check("the ONNX window graph", run_ort(members[WINDOW_GRAPH], probe),
                                  ref, tol)
    graphs = {WINDOW_GRAPH: {"role": "window", "precision": "fp32", "ops": "standard"}}
    checks = {"ort_vs_torch_max_abs": ort_check["max_abs"], "logit_scale": ort_check["logit_scale"],
              "probe_batch": 3, "tol": tol}
    if fp16:
        from .fp16 import convert_fp16

        with stage("FP16 graph", quiet=quiet):
            members[PORTABLE_FP16] = convert_fp16(proto).SerializeToString()
        graphs[PORTABLE_FP16] = {"role": "window-fp16", "precision": "fp16", "ops": "standard"}
    if plugin:
        from .plugin import export_plugin_onnx

        with stage("plugin-mode graph", quiet=quiet):
            members[PLUGIN] = export_plugin_onnx(model, example, opset=opset).SerializeToString()
        graphs[PLUGIN] = {"role": "window-plugin", "precision": "fp32",
                          "ops": "bharnet plugins (GraphConv, PoolAttention)"}

    with stage("layer program (native runtime), checked against torch", quiet=quiet):
        prog, prog_weights, prog_members, program, prog_check = _program_members(
            model, spec, probe, ref, tol, quiet)
    members.update(prog_members)
    checks["program_vs_torch"] = prog_check

    continual = None
    causal = spec.causal
    if prog is not None and prog.streamable and not causal and not quiet:
        print("no step graphs: the model is valid-padded but normalises each window as a whole "
              "(data.normalisation: window), so frames cannot be prepared once each", flush=True)
    if prog is not None and prog.streamable and causal:
        from bharnet.program import SCHEDULES

        from .continual import continual_members
        from .ort_check import ort_session

        window = ort_session(members[WINDOW_GRAPH], threads=1)
        step_members, step_graphs, continual = continual_members(
            prog, prog_weights, lambda x: run_ort(window, x), opset, tol,
            schedules or SCHEDULES, quiet)
        members.update(step_members)
        graphs.update(step_graphs)
    elif schedules:
        raise ValueError("step graphs need a streaming model (model.backbone.temporal_padding: valid "
                         "with causal preprocessing, and a layer program); this one is not")

    rgb = None
    if "rgb_model" in ckpt:   # BHaRNet-M: the same bundle also carries the RGB graphs
        from .rgb_export import rgb_members

        with stage("RGB branch graphs", quiet=quiet):
            rgb_graphs, rgb = rgb_members(ckpt, opset=opset, tol=tol)
        members.update(rgb_graphs)
        graphs.update({n: {"role": role, "precision": "fp32", "ops": "standard"}
                       for n, role in ((rgb["graph"], "rgb"), (rgb.get("guide_graph"), "rgb-guide"))
                       if n})

    meta = BundleMeta(
        spec=spec.to_dict(), layout=ckpt.get("source_layout") or cfg["data"].get("layout"),
        classes=[str(c) for c in ckpt["classes"]], variant=model.variant, window=int(spec.window),
        # a streaming model recognises as often as its native step predicts, by default
        stride=int(stride or (continual["total_stride"] if continual else DEFAULT_STRIDE)),
        preprocessing=preprocessing_of(cfg, spec),
        input_names=list(model.input_names), output_names=list(model.output_names), graphs=graphs,
        hand_intensive=[int(i) for i in ckpt.get("hand_intensive", [])], program=program,
        continual=continual, rgb=rgb, config=_plain(cfg), opset=int(opset), export_check=checks,
        exporter={"torch": torch.__version__, "bharnet_ckpt": ckpt.get("format")},
        name=name, description=description, metrics=_metrics(ckpt))
    return write_bundle(out, meta, members, signing_key=signing_key)


def _metrics(ckpt: dict) -> dict:
    """The checkpoint's headline test metrics (what the model is worth), if it has any."""
    import json

    m = ckpt.get("metrics")
    if isinstance(m, str):
        m = json.loads(m)
    if not isinstance(m, dict):
        return {}
    keep = ("top1", "top5", "mean_class_acc", "hand_intensive_top1", "non_hand_intensive_top1")
    return {k: float(m[k]) for k in keep if isinstance(m.get(k), (int, float))}


__all__ = ["export_checkpoint", "preprocessing_of", "PORTABLE_FP16", "PLUGIN"]
