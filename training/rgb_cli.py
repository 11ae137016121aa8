"""`bharnet train-rgb` and `bharnet export-rgb`: the RGB branch's commands (torch imported lazily).

    bharnet train-rgb training/configs/synth_rgb.yaml --work-dir work_dirs/synth_rgb
    bharnet export-rgb work_dirs/synth_rgb/final.pt --out work_dirs/synth_rgb/model.bharnet
"""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("train-rgb", help="train BHaRNet-M: the skeleton model, then the guided RGB CNN")
    p.add_argument("config", help="YAML config with model.variant: rgb and a model.rgb section")
    p.add_argument("--work-dir", required=True,
                   help="run folder (final.pt, rgb_metrics.json, skeleton/); an existing run there is "
                        "refused unless --force")
    p.add_argument("--force", action="store_true",
                   help="WORK_DIR holds an earlier run: delete it and start afresh")
    p.add_argument("--data", default=None, help="dataset file (overrides data.path)")
    p.add_argument("--epochs", type=int, default=None, help="skeleton epochs (train.epochs)")
    p.add_argument("--rgb-epochs", type=int, default=None, help="RGB epochs (model.rgb.epochs)")
    p.add_argument("--skeleton", default=None, help="a trained skeleton checkpoint: skip stage 1")
    p.add_argument("--guide", choices=("body", "body+hand", "none"), default=None)
    p.add_argument("--seed", type=int, default=None, help="override train.seed")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress and no per-epoch lines")
    p.set_defaults(func=_train)

    e = sub.add_parser("export-rgb", help="export an RGB checkpoint to a bundle with rgb.onnx "
                                          "(what `bharnet export` does for any RGB checkpoint)")
    e.add_argument("checkpoint", help="final.pt from train-rgb (or bharnet train with variant: rgb)")
    e.add_argument("--out", required=True, help="bundle to write")
    e.add_argument("--opset", type=int, default=18, help="ONNX opset")
    e.set_defaults(func=_export)


def _train(args) -> int:
    import pathlib

    from bharnet import progress
    from bharnet.warnings_filter import install

    from .config import apply_overrides, load_config
    from .run_folder import run_folder
    from .rgb_train import train_rgb

    install()
    progress.configure(quiet=args.quiet)
    # the whole recipe as it will run, so that config.yaml records it; refused before any folder
    cfg = apply_overrides(load_config(args.config), args.data, args.epochs, args.seed)
    rgb = cfg["model"].setdefault("rgb", {})
    for key, value in (("skeleton_checkpoint", args.skeleton), ("epochs", args.rgb_epochs),
                       ("guide", args.guide)):
        if value is not None:
            rgb[key] = value
    data = cfg["data"]["path"]
    if data and not pathlib.Path(data).is_file():
        raise FileNotFoundError(f"dataset file not found: {data}")
    if not data and not args.skeleton:
        raise ValueError("no dataset: give --data PATH or data.path in the config")
    with run_folder(args.work_dir, cfg, force=args.force):
        m = train_rgb(cfg, args.work_dir, threads=args.threads, quiet=args.quiet)
        print("  ".join(f"{k} top1 {m[k]['top1']:.4f}" for k in ("skeleton", "rgb", "fused")))
    return 0


def _export(args) -> int:
    from bharnet.bundle import open_bundle
    from bharnet.export.builder import export_checkpoint
    from bharnet.progress import stage
    from bharnet.warnings_filter import install

    from .checkpoint import load_checkpoint

    install()
    ckpt = load_checkpoint(args.checkpoint)
    if "rgb_model" not in ckpt:
        raise ValueError(f"{args.checkpoint} is not an RGB checkpoint (no rgb_model): train it with "
                         f"model.variant: rgb, or export it with `bharnet export`")
    with stage(f"export {args.checkpoint} -> {args.out}"):
        path = export_checkpoint(ckpt, args.out, opset=args.opset, fp16=False)
    rgb = open_bundle(path).meta.rgb
    print(f"wrote {path}: rgb graphs {rgb['graph']}, {rgb['guide_graph']}; guide {rgb['guide']}, "
          f"fusion {rgb['fusion']}; ORT vs torch max-abs {rgb['export_check']['ort_vs_torch_max_abs']}")
    return 0
