"""Build the embedded demo bundle (sdk/default_model/default.bharnet), reproducibly.

    python -m bharnet.sdk.make_default_model [--out PATH] [--epochs N] [--seed S]

1. synthetic fine-grained body+hand clips from bharnet.data.synth (COCO-WholeBody 2D), plus an
   "idle" class (the rest pose between actions, so a stream has something to say between actions);
2. a small BHaRNet (vanilla: body + hand expert, summed logits) trained on CPU with the method's
   ensemble loss, through the shared NumPy pipeline (the SDK's own preprocessing);
3. a checkpoint in training/checkpoint.py's format, exported to a bundle by bharnet.export where
   it provides `export_checkpoint`, else by a minimal ONNX + safetensors writer here.

This is a demo model trained on synthetic data; it needs torch (the [train] extra).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from functools import partial

import numpy as np

from .model import default_model_path

print = partial(print, flush=True)  # noqa: A001  (progress shows up when piped to a log)

WINDOW = 32
# training crops WINDOW contiguous frames at native speed: exactly what the sliding window sees
SAMPLING = "crop"
STRIDE = 8
LAYOUT = "coco_wholebody"
# small enough to train in minutes on two cores and to ship inside the wheel
CONFIG = {
    "model": {
        "variant": "vanilla",
        "backbone": {"base_channels": 16, "num_stages": 6, "inflate_stages": [4],
                     "down_stages": [3, 5], "tcn": "conv"},
        "use_kernels": False,
    },
    "data": {"layout": LAYOUT, "body_layout": "coco17", "stream": "j", "coords": 2,
             "with_score": True, "window": WINDOW, "num_person": 1, "score_threshold": 0.3},
    "train": {"epochs": 25, "batch_size": 32, "lr": 0.05, "weight_decay": 5e-4, "seed": 0},
}


def make_dataset(seed: int, clips_per_class: int):
    from ..data import synth

    classes = tuple(synth.DEFAULT_CLASSES) + ("idle",)
    return synth.generate(classes=classes, clips_per_class=clips_per_class, seed=seed)


def _batches(clips, spec, rng, batch_size, train):
    from ..data.pipeline import collate, prepare_clip

    order = rng.permutation(len(clips)) if train else np.arange(len(clips))
    for s in range(0, len(order), batch_size):
        chunk = [clips[i] for i in order[s:s + batch_size]]
        samples = [{k: v[0] for k, v in prepare_clip(c.keypoint, c.score, LAYOUT, spec,
                                                     train=train, rng=rng, mode=SAMPLING).items()}
                   for c in chunk]
        yield collate(samples), np.array([c.label for c in chunk])


def evaluate(model, clips, spec) -> float:
    import torch

    correct = 0
    model.eval()
    with torch.inference_mode():
        for x, y in _batches(clips, spec, np.random.default_rng(0), 64, train=False):
            out = model(**{k: torch.from_numpy(v) for k, v in x.items()})
            correct += int((out["logits"].argmax(1).numpy() == y).sum())
    return correct / max(1, len(clips))


def train(cfg: dict, ds, epochs: int, seed: int, log=print):
    import torch

    from bharnet.training.config import build_model, input_spec
    from bharnet.training.models import ensemble_loss

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    spec = input_spec(cfg)
    model = build_model(cfg, num_classes=len(ds.classes))
    t = cfg["train"]
    opt = torch.optim.SGD(model.parameters(), lr=t["lr"], momentum=0.9, nesterov=True,
                          weight_decay=t["weight_decay"])
    train_clips, test_clips = ds.subset("train"), ds.subset("test")
    steps = epochs * int(np.ceil(len(train_clips) / t["batch_size"]))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=t["lr"], total_steps=steps,
                                                pct_start=0.15)
    rng = np.random.default_rng(seed)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        losses = []
        for x, y in _batches(train_clips, spec, rng, t["batch_size"], train=True):
            xt = {k: torch.from_numpy(v) for k, v in x.items()}
            out = model(**xt)
            loss, _ = ensemble_loss(out, torch.from_numpy(y), cfg["model"]["variant"],
                                    hand_present=xt.get("hand_mask"))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        if ep % 5 == 4 or ep == epochs - 1:
            acc = evaluate(model, test_clips, spec)
            log(f"epoch {ep + 1}/{epochs}  loss {np.mean(losses):.3f}  test top-1 {acc:.3f}  "
                f"({time.time() - t0:.0f} s)")
    return model.eval(), spec, evaluate(model, test_clips, spec)


def _fallback_bundle(model, cfg, classes, hand_intensive, spec, out: pathlib.Path,
                     extra: dict) -> pathlib.Path:
    """ONNX (fixed T, dynamic batch) + safetensors + metadata, written with bharnet.bundle; only
    for installs without bharnet.export."""
    import io

    import torch
    from safetensors.numpy import save

    from ..bundle import write_bundle
    from ..data.pipeline import normalisation_metadata
    from bharnet.training.config import example_inputs

    class _Export(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *args):
            return self.m.export_outputs(self.m(**dict(zip(self.m.input_names, args))))

    ex = example_inputs(cfg, batch=2)
    args = tuple(ex[k] for k in model.input_names)
    buf = io.BytesIO()
    torch.onnx.export(_Export(model), args, buf, input_names=list(model.input_names),
                      output_names=list(model.output_names), opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch"} for n in model.input_names + model.output_names})
    weights = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    meta = {
        "layout": LAYOUT, "classes": list(classes), "window": spec.window, "stride": STRIDE,
        "spec": spec.to_dict(), "variant": cfg["model"]["variant"],
        "hand_intensive": list(hand_intensive), "input_names": list(model.input_names),
        "output_names": list(model.output_names), "normalisation": normalisation_metadata(spec),
        "config": cfg, **extra,
    }
    return write_bundle(out, meta, {"model.onnx": buf.getvalue(),
                                    "weights.safetensors": save(weights)})


def save_checkpoint(model, cfg, ds, spec, extra: dict, workdir: pathlib.Path) -> pathlib.Path:
    """The trained model in training/checkpoint.py's format (what `bharnet export` reads)."""
    from bharnet.training.checkpoint import save_checkpoint as save

    return save(workdir / "default_model.pth", config=cfg, num_classes=len(ds.classes),
                classes=list(ds.classes), hand_intensive=list(ds.hand_intensive),
                source_layout=LAYOUT, spec=spec.to_dict(), model=model.state_dict(),
                epoch=cfg["train"]["epochs"], metrics=extra["metrics"], demo=extra)


def export(ckpt_path: pathlib.Path, out: pathlib.Path, extra: dict, workdir: pathlib.Path,
           log=print) -> pathlib.Path:
    """Checkpoint -> bundle through the export engineer's tools (fallback: a minimal writer)."""
    try:
        from bharnet.export.builder import export_checkpoint
    except ImportError:
        export_checkpoint = None
    if export_checkpoint is None:
        from bharnet.data.spec import InputSpec
        from bharnet.training.checkpoint import load_checkpoint, model_from_checkpoint

        log("bharnet.export is not installed here: minimal ONNX + safetensors writer")
        ck = load_checkpoint(ckpt_path)
        model = model_from_checkpoint(ck, use_kernels=False)
        return _fallback_bundle(model, ck["config"], ck["classes"], ck["hand_intensive"],
                                InputSpec.from_dict(ck["spec"]), out, extra)
    log(f"exporting {ckpt_path} with bharnet.export (ONNX checked against torch)")
    # fp32 graph only: an fp16 copy would double what the wheel carries
    tmp = export_checkpoint(ckpt_path, workdir / "export.bharnet", fp16=False)
    return _with_metadata(tmp, out, extra)


def _with_metadata(src, out: pathlib.Path, extra: dict) -> pathlib.Path:
    """Re-seal a bundle with a few more metadata keys (what the model is, how it was made)."""
    from ..bundle import open_bundle, write_bundle

    b = open_bundle(src)
    meta = {k: v for k, v in b.metadata.items() if k not in ("members", "format", "format_version")}
    meta.update(extra)
    meta["stride"] = STRIDE
    return write_bundle(out, meta, {n: b.member(n) for n in b.member_names})


def _describe(metrics: dict, args) -> dict:
    """Metadata that says what the model is and how it was made."""
    return {"name": "bharnet-default-demo",
            "description": "demo model trained on synthetic data (bharnet.data.synth); "
                           "not trained on real recordings",
            "metrics": metrics,
            "trained_by": "python -m bharnet.sdk.make_default_model "
                          f"--epochs {args.epochs} --clips-per-class {args.clips_per_class} "
                          f"--seed {args.seed}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bharnet.sdk.make_default_model",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=default_model_path())
    ap.add_argument("--epochs", type=int, default=CONFIG["train"]["epochs"])
    ap.add_argument("--clips-per-class", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work-dir", type=pathlib.Path, default=pathlib.Path("work_dirs/default_model"))
    ap.add_argument("--export-only", action="store_true",
                    help="re-export WORK_DIR/default_model.pth without training again")
    args = ap.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ckpt = args.work_dir / "default_model.pth"
    if args.export_only:
        from bharnet.training.checkpoint import load_checkpoint

        ck = load_checkpoint(ckpt)
        extra, classes = ck.get("demo") or _describe(ck["metrics"], args), ck["classes"]
    else:
        from bharnet.training.config import load_config

        cfg = load_config(CONFIG)
        cfg["train"]["epochs"] = args.epochs
        cfg["train"]["seed"] = args.seed
        ds = make_dataset(args.seed, args.clips_per_class)
        print(f"synthetic data: {len(ds)} clips, {len(ds.classes)} classes "
              f"({time.time() - t0:.0f} s)")
        model, spec, acc = train(cfg, ds, args.epochs, args.seed)
        extra = _describe({"synthetic_test_top1": round(acc, 4),
                           "test_clips": len(ds.subset("test"))}, args)
        classes = list(ds.classes)
        save_checkpoint(model, cfg, ds, spec, extra, args.work_dir)
    path = export(ckpt, args.out, extra, args.work_dir)
    print(json.dumps({"bundle": str(path), "bytes": path.stat().st_size,
                      "metrics": extra["metrics"], "classes": classes,
                      "seconds": round(time.time() - t0)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
