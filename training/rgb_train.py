"""Training BHaRNet-M (`model.variant: rgb`) in the MMNet manner.

1. The skeleton model (`model.rgb.skeleton_variant`, e.g. vanilla) is trained first with the normal
   loop (`training.train.train`), or loaded from `model.rgb.skeleton_checkpoint`. It is then frozen.
2. Per clip, the deterministic test window (and, for training, `train_views - 1` random windows)
   gives skeleton inputs and a spatio-temporal ROI image of K frames of that window. The frozen
   skeleton's guidance (`SkeletonGuide`) is computed once per view and masked by the blank tiles.
3. The RGB CNN is trained on (ROI image, guidance) with cross-entropy (AdamW, cosine schedule).
4. Evaluation reports skeleton-only, RGB-only and fused (`sum` and `noisy_or`) top-1, plus
   hand-intensive top-1 where the dataset defines it.

Outputs in the work dir: `skeleton/` (the skeleton run), `final.pt` (skeleton weights and
config as a normal checkpoint, plus `rgb_model` and `rgb` metadata: `bharnet export` of it yields the
skeleton bundle, `export/rgb_export.py` adds the RGB graphs), `rgb_metrics.json`.
"""
from __future__ import annotations

import copy
import json
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F

from bharnet.rgb.roi import ROIConfig, frame_positions, to_model_input

from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import apply_overrides, load_config
from .evaluate import metrics_from_scores, write_metrics
from .models.rgb import FUSIONS, GUIDE_SOURCES, RGBNet, SkeletonGuide, fuse

RGB_FORMAT = "bharnet-rgb-1"
RGB_DEFAULTS: dict = {
    "skeleton_variant": "vanilla",   # the BHaRNet variant trained (or loaded) in stage 1
    "skeleton_checkpoint": None,     # a trained skeleton checkpoint: skip stage 1
    "guide": "body",                 # body | body+hand | none
    "fusion": "sum",                 # sum (skeleton + w * rgb logits) | noisy_or
    "fusion_weight": 1.0,
    "width": 16,                     # CNN base channels (w, 2w, 4w)
    "dropout": 0.2,
    "roi": {"tile": 32, "frames": 4, "hand_fallback": "wrist"},
    "frames": "auto",                # auto | roi | video | render (see training/rgb_data.py)
    "render_scale": 0.5,             # synthetic frames: drawn at this fraction of keypoint pixels
    "epochs": 20,
    "batch_size": 32,
    "lr": 2e-3,
    "weight_decay": 1e-4,
    "train_views": 3,                # windows per training clip (1 deterministic + random ones)
}


def rgb_settings(cfg: dict) -> dict:
    s = {**copy.deepcopy(RGB_DEFAULTS), **copy.deepcopy(cfg["model"].get("rgb") or {})}
    s["roi"] = {**RGB_DEFAULTS["roi"], **(cfg["model"].get("rgb") or {}).get("roi", {})}
    unknown = set(s) - set(RGB_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown model.rgb option(s) {sorted(unknown)}; known: {sorted(RGB_DEFAULTS)}")
    if s["guide"] not in GUIDE_SOURCES:
        raise ValueError(f"model.rgb.guide must be one of {GUIDE_SOURCES}, got {s['guide']!r}")
    if s["fusion"] not in FUSIONS:
        raise ValueError(f"model.rgb.fusion must be one of {FUSIONS}, got {s['fusion']!r}")
    if s["skeleton_variant"] == "rgb":
        raise ValueError("model.rgb.skeleton_variant must be a skeleton variant (e.g. vanilla)")
    return s


def skeleton_config(cfg: dict) -> dict:
    """The stage-1 config: the same config with the skeleton variant (the rgb section is kept, so
    the checkpoint records the whole recipe)."""
    out = copy.deepcopy(cfg)
    if out["model"]["variant"] == "rgb":
        out["model"]["variant"] = rgb_settings(cfg)["skeleton_variant"]
    return out


def rgb_metadata(settings: dict, roi_cfg: ROIConfig, window: int, guide_inputs, classes) -> dict:
    """What the bundle's metadata["rgb"] and the SDK need to run the RGB branch."""
    return {
        "format": RGB_FORMAT,
        "graph": "rgb.onnx", "guide_graph": "rgb_guide.onnx",
        "input_names": list(RGBNet.input_names), "output_names": list(RGBNet.output_names),
        "guide_input_names": list(guide_inputs), "guide_output_names": ["guidance"],
        "guide": settings["guide"], "fusion": settings["fusion"],
        "fusion_weight": float(settings["fusion_weight"]),
        "roi": roi_cfg.to_dict(), "window": int(window),
        "frame_positions": [int(p) for p in frame_positions(window, roi_cfg.frames)],
        "roi_input_shape": [3, *roi_cfg.image_shape],
        "hand_missing": roi_cfg.hand_fallback,   # "wrist": crop at the wrist; "blank": masked tile
        "cnn": {"width": int(settings["width"]), "stride": 8},
        "num_classes": len(classes),
    }


# ---- stage 1 ---------------------------------------------------------------------------------

def skeleton_stage(cfg: dict, work: pathlib.Path, settings: dict, quiet: bool, threads=None) -> dict:
    """A trained skeleton checkpoint (loaded, or trained now with the normal loop)."""
    if settings["skeleton_checkpoint"]:
        return load_checkpoint(settings["skeleton_checkpoint"])
    from .train import train

    train(skeleton_config(cfg), work / "skeleton", threads=threads, quiet=quiet)
    return load_checkpoint(work / "skeleton" / "final.pt")


# ---- stage 2 ---------------------------------------------------------------------------------

def _batches(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(s + size, n))


@torch.no_grad()
def skeleton_outputs(model, guide: SkeletonGuide, views, batch: int = 64):
    """(skeleton fused logits [N, classes], masked guidance [N, P, K]) of prepared views."""
    model.eval()
    logits, guid = [], []
    for sl in _batches(len(views.labels), batch):
        x = {k: torch.as_tensor(v[sl]) for k, v in views.inputs.items()}
        logits.append(model(**x)["logits"].float())
        g = guide(**{k: x[k] for k in guide.input_names})
        guid.append(g * torch.as_tensor(views.mask[sl]))
    return torch.cat(logits).numpy(), torch.cat(guid).numpy()


@torch.no_grad()
def rgb_logits(rgb: RGBNet, roi: np.ndarray, guidance: np.ndarray, batch: int = 64) -> np.ndarray:
    rgb.eval()
    out = [rgb(torch.as_tensor(to_model_input(roi[sl])), torch.as_tensor(guidance[sl])).float()
           for sl in _batches(len(roi), batch)]
    return torch.cat(out).numpy()


_PERMS = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])


def _photometric(x, g: torch.Generator):
    """Random colour-channel order, gain and offset per sample. Colours of clothes, skin and
    background say nothing about the action; with few clips a CNN memorises them otherwise."""
    n = len(x)
    perm = _PERMS[torch.randint(0, 6, (n,), generator=g)]                       # [n, 3]
    x = x[torch.arange(n)[:, None], perm]
    gain = 1 + 0.3 * (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 2
    bias = 0.1 * (torch.rand(n, 3, 1, 1, generator=g) - 0.5) * 2
    return (x * gain + bias).clamp(0, 1)


def fit_rgb(rgb: RGBNet, roi: np.ndarray, guidance: np.ndarray, labels: np.ndarray, settings: dict,
            seed: int = 0, say=print) -> list[dict]:
    """Train the CNN on fixed views with photometric augmentation only: flips would swap
    left/right parts, and crops are already placed by the keypoints."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(rgb.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    epochs, bs = int(settings["epochs"]), int(settings["batch_size"])
    steps = epochs * max(1, math.ceil(len(labels) / bs))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i / steps, 1))))
    x_all = torch.as_tensor(to_model_input(roi))
    g_all, y_all = torch.as_tensor(guidance), torch.as_tensor(labels)
    history = []
    for epoch in range(epochs):
        rgb.train()
        perm = torch.randperm(len(labels), generator=g)
        tot, correct = 0.0, 0
        for sl in _batches(len(labels), bs):
            idx = perm[sl]
            x = _photometric(x_all[idx], g)
            z = rgb(x, g_all[idx])
            loss = F.cross_entropy(z, y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(idx)
            correct += int((z.argmax(1) == y_all[idx]).sum())
        rec = {"epoch": epoch + 1, "train_loss": tot / len(labels), "train_top1": correct / len(labels)}
        history.append(rec)
        say(f"rgb epoch {epoch + 1}/{epochs}  loss {rec['train_loss']:.4f}  train {rec['train_top1']:.3f}")
    return history


def evaluate_views(skel_logits, rgb_z, labels, classes, hand_intensive, settings) -> dict:
    """Skeleton-only, RGB-only and fused metrics (both fusions) on the same test views."""
    st, rt = torch.as_tensor(skel_logits), torch.as_tensor(rgb_z)
    scores = {"skeleton": skel_logits, "rgb": rgb_z,
              "fused_sum": fuse(st, rt, "sum", settings["fusion_weight"]).numpy(),
              "fused_noisy_or": fuse(st, rt, "noisy_or").numpy()}
    out = {}
    for name, s in scores.items():
        m = metrics_from_scores(s, labels, classes, hand_intensive)
        out[name] = {k: m[k] for k in ("top1", "mean_class_acc", "hand_intensive_top1",
                                       "non_hand_intensive_top1") if k in m}
    out["fused"] = out["fused_" + settings["fusion"]]
    return out


def train_rgb(config, work_dir, data=None, epochs=None, rgb_epochs=None, seed=None, skeleton=None,
              guide=None, threads=None, quiet: bool = False) -> dict:
    """The whole BHaRNet-M recipe (module docstring). Returns the metrics dict."""
    from bharnet.data.pipeline import InputSpec

    from .loader import read_dataset
    from .rgb_data import build_views, read_extras

    cfg = apply_overrides(load_config(config), data=data, epochs=epochs, seed=seed)
    cfg["model"].setdefault("rgb", {})
    if skeleton is not None:
        cfg["model"]["rgb"]["skeleton_checkpoint"] = str(skeleton)
    if rgb_epochs is not None:
        cfg["model"]["rgb"]["epochs"] = int(rgb_epochs)
    if guide is not None:
        cfg["model"]["rgb"]["guide"] = guide
    settings = rgb_settings(cfg)
    if threads:
        torch.set_num_threads(threads)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    work = pathlib.Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    timing = {}

    t0 = time.perf_counter()
    ckpt = skeleton_stage(cfg, work, settings, quiet, threads)
    timing["skeleton_s"] = time.perf_counter() - t0
    skel = model_from_checkpoint(ckpt, use_kernels=False)
    for p in skel.parameters():
        p.requires_grad_(False)
    spec = InputSpec.from_dict(ckpt["spec"])
    classes, hand_int = list(ckpt["classes"]), list(ckpt.get("hand_intensive", []))
    roi_cfg = ROIConfig.from_dict(settings["roi"])
    body_layout = ckpt["config"]["data"]["body_layout"]
    guide_m = SkeletonGuide(skel, body_layout, spec.window, frame_positions(spec.window, roi_cfg.frames),
                            settings["guide"], roi_cfg.parts)

    t0 = time.perf_counter()
    path = cfg["data"]["path"] or ckpt["config"]["data"]["path"]
    ds = read_dataset(path, cfg["data"].get("layout"))
    extras = read_extras(path)
    common = dict(source=settings["frames"], render_scale=settings["render_scale"],
                  base_dir=pathlib.Path(path).parent, seed=int(cfg["train"]["seed"]),
                  mode=cfg["data"].get("sample", "uniform"))
    tr = build_views(ds.split("train"), ds.layout, spec, roi_cfg, extras, views=settings["train_views"],
                     train=True, **common)
    te = build_views(ds.split(cfg["train"].get("test_split", "test")), ds.layout, spec, roi_cfg, extras,
                     **common)
    timing["views_s"] = time.perf_counter() - t0
    say(f"rgb views: {len(tr.labels)} train, {len(te.labels)} test, ROI image {tr.roi.shape[1:]}, "
        f"guide {settings['guide']}, {timing['views_s']:.0f}s")

    t0 = time.perf_counter()
    _, g_tr = skeleton_outputs(skel, guide_m, tr)
    s_te, g_te = skeleton_outputs(skel, guide_m, te)
    torch.manual_seed(int(cfg["train"]["seed"]))
    rgb = RGBNet(len(classes), len(roi_cfg.parts), roi_cfg.frames, roi_cfg.tile, settings["width"],
                 settings["dropout"])
    history = fit_rgb(rgb, tr.roi, g_tr, tr.labels, settings, int(cfg["train"]["seed"]), say)
    timing["rgb_train_s"] = time.perf_counter() - t0
    z_te = rgb_logits(rgb, te.roi, g_te)
    metrics = evaluate_views(s_te, z_te, te.labels, classes, hand_int, settings)
    # top level: the fused score, as a skeleton run's metrics report its own
    metrics.update(top1=metrics["fused"]["top1"], guide=settings["guide"], fusion=settings["fusion"],
                   history=history,
                   timing={k: round(v, 2) for k, v in timing.items()})

    meta = rgb_metadata(settings, roi_cfg, spec.window, guide_m.input_names, classes)
    skel_cfg = skeleton_config(cfg) if ckpt["config"]["model"]["variant"] == "rgb" else ckpt["config"]
    skel_cfg = {**skel_cfg, "model": {**skel_cfg["model"], "rgb": settings}}
    save_checkpoint(work / "final.pt", **{k: v for k, v in ckpt.items()
                                              if k not in ("format", "optimizer", "scheduler", "scaler", "rng", "config")},
                    config=skel_cfg, rgb_model=rgb.state_dict(), rgb=json.dumps(meta),
                    rgb_metrics=json.dumps(metrics))
    write_metrics(work / "rgb_metrics.json", metrics)
    say("  ".join(f"{k} {v['top1']:.3f}" for k, v in metrics.items()
                  if isinstance(v, dict) and "top1" in v and k != "fused") + f"  -> {work}")
    return metrics


def rgb_from_checkpoint(ckpt: dict):
    """(skeleton model, RGBNet, SkeletonGuide, rgb metadata) of an RGB final.pt (eval mode)."""
    if "rgb_model" not in ckpt:
        raise ValueError("not an RGB checkpoint (no rgb_model); train with model.variant: rgb")
    meta = json.loads(ckpt["rgb"])
    skel = model_from_checkpoint(ckpt, use_kernels=False)
    roi = ROIConfig.from_dict(meta["roi"])
    rgb = RGBNet(meta["num_classes"], len(roi.parts), roi.frames, roi.tile, meta["cnn"]["width"])
    rgb.load_state_dict(ckpt["rgb_model"])
    guide = SkeletonGuide(skel, ckpt["config"]["data"]["body_layout"], meta["window"],
                          meta["frame_positions"], meta["guide"], roi.parts)
    return skel, rgb.eval(), guide.eval(), meta


__all__ = ["RGB_DEFAULTS", "rgb_settings", "skeleton_config", "rgb_metadata", "train_rgb", "fit_rgb",
           "evaluate_views", "rgb_from_checkpoint", "skeleton_outputs", "rgb_logits"]
