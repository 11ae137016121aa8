"""`bharnet train` and `bharnet eval` (torch is imported inside the handlers only)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model from a YAML config",
                       description="Train a config (SGD Nesterov, warm-up + cosine, ensemble loss). "
                                   "Multi-GPU/multi-node: torchrun --nproc_per_node=N -m bharnet.cli train ...")
    p.add_argument("config", help="YAML config (see training/configs/)")
    p.add_argument("--data", help="dataset file (overrides data.path)")
    p.add_argument("--work-dir", default=None,
                   help="run folder (default work_dirs/<config name>); an existing run there is "
                        "refused unless --resume or --force")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--variant", help="override model.variant")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--resume", action="store_true", help="continue the run in WORK_DIR (from its last.pt)")
    p.add_argument("--force", action="store_true",
                   help="WORK_DIR holds an earlier run: delete it and start afresh (default: refuse)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress and no per-epoch lines (notices and the result stay)")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many epochs of this run (the schedule still spans --epochs)")
    p.set_defaults(func=_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint, or an ensemble of checkpoints",
                       description="Top-1/top-5/mean-class/per-class accuracy (and hand-intensive top-1). "
                                   "With several checkpoints (e.g. J, B, JM, BM streams) their softmax "
                                   "scores are summed with --weights.")
    e.add_argument("ckpt", nargs="+", help="checkpoint(s) written by bharnet train")
    e.add_argument("--ensemble", action="store_true", help="fuse several checkpoints (implied by >1)")
    e.add_argument("--weights", type=float, nargs="+", help="one weight per checkpoint")
    e.add_argument("--data", help="dataset file (default: the one recorded in the checkpoint; a relative "
                                  "path is looked up from here, then from where the training ran)")
    e.add_argument("--split", default="test", help="the dataset split to evaluate")
    e.add_argument("--test-clips", type=int, default=None, help="override the checkpoint's train.test_clips")
    e.add_argument("--test-flip", choices=("on", "off"), default=None,
                   help="override train.test_flip (average with mirrored views)")
    e.add_argument("--out", default=None, help="folder for metrics.json and confusion.png")
    e.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    e.set_defaults(func=_eval)


def _train(args) -> int:
    import pathlib

    from bharnet import progress
    from bharnet.warnings_filter import install

    from . import run_folder
    from .config import apply_overrides, load_config

    install()
    progress.configure(quiet=args.quiet)
    work = args.work_dir or str(pathlib.Path("work_dirs") / pathlib.Path(args.config).stem)
    # everything that can be refused is refused before the run folder exists
    cfg = apply_overrides(load_config(args.config), args.data, args.epochs, args.seed, args.variant)
    data = cfg["data"]["path"]
    if not data:
        raise ValueError("no dataset: give --data PATH or data.path in the config")
    if not pathlib.Path(data).is_file():
        raise FileNotFoundError(f"dataset file not found: {data}")
    rgb = cfg["model"]["variant"] == "rgb"
    if rgb and (args.resume or args.stop_after):
        raise ValueError("model.variant rgb (BHaRNet-M) cannot --resume or --stop-after: its two "
                         "stages run in one go")
    if not run_folder.is_rank0():  # under torchrun rank 0 owns the folder and its log
        return _train_in(args, cfg, work, rgb)
    with run_folder.run_folder(work, cfg, force=args.force, resume=args.resume):
        return _train_in(args, cfg, work, rgb)


def _train_in(args, cfg, work, rgb) -> int:
    if rgb:  # BHaRNet-M: the skeleton stage, then the guided RGB CNN (rgb_train.py)
        from .rgb_train import train_rgb

        train_rgb(cfg, work, threads=args.threads, quiet=args.quiet)
        return 0
    from .train import train

    m = train(cfg, work, device=args.device, resume=args.resume, stop_after=args.stop_after,
              threads=args.threads, quiet=args.quiet)
    if args.quiet and m:  # quiet keeps the result
        from .evaluate import summary_line

        print(summary_line(m))
    return 0


def _eval(args) -> int:
    import json

    from bharnet.warnings_filter import install

    from .evaluate import evaluate_checkpoints, summary_line

    install()
    if len(args.ckpt) > 1 and not args.ensemble:
        args.ensemble = True
    over = {}
    if args.test_clips is not None:
        over["test_clips"] = args.test_clips
    if args.test_flip is not None:
        over["test_flip"] = args.test_flip == "on"
    m = evaluate_checkpoints(args.ckpt, args.data, args.split, args.weights, args.device, args.out, over)
    for mem in m.get("ensemble", {}).get("members", []):
        print(f"  {mem['checkpoint']} ({mem['variant']}, {mem['stream']}): top1 {mem['top1']:.4f}")
    print(summary_line(m))
    print(json.dumps({k: m[k] for k in m if k not in ("confusion",)}, indent=1)
          if args.out is None else f"-> {args.out}/metrics.json")
    return 0
