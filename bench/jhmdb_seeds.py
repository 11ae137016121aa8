"""JHMDB body expert over several seeds: mean +- std of top-1, the MLP floor, time per run.

    python bench/jhmdb_seeds.py [--config training/configs/jhmdb14.yaml] [--data FILE] [--seeds 0 1 2]

Writes bench/results/jhmdb14_seeds.json. Each run is a full `bharnet train` (metrics.json with
`top1` and `mlp_floor_top1` in its work dir). Times are wall-clock on a shared 2-core CPU: noisy.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "training/configs/jhmdb14.yaml"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work-dir", default=str(REPO / "work_dirs/jhmdb14_seeds"))
    ap.add_argument("--reuse", action="store_true",
                    help="collect a seed's finished run (WORK_DIR/seedN/metrics.json) instead of retraining")
    ap.add_argument("--out", default=str(REPO / "bench/results/jhmdb14_seeds.json"))
    args = ap.parse_args(argv)

    import numpy as np

    from bharnet.training.config import load_config
    from bharnet.training.evaluate import evaluate_checkpoints
    from bharnet.training.train import train

    # every run is scored with the config's *current* test settings (runs collected with --reuse
    # may have been trained before a test-time setting changed; the weights do not depend on it)
    tc = load_config(args.config)["train"]
    test_settings = {"test_clips": tc.get("test_clips", 1), "test_flip": bool(tc.get("test_flip", False))}

    runs = []
    for s in args.seeds:
        work = pathlib.Path(args.work_dir) / f"seed{s}"
        if args.reuse and (work / "metrics.json").is_file():
            m = json.loads((work / "metrics.json").read_text())
            if m["seed"] != s:
                raise ValueError(f"{work}/metrics.json is a run with seed {m['seed']}, not {s}")
        else:
            m = train(args.config, work, data=args.data, seed=s, threads=args.threads)
        e = evaluate_checkpoints([work / "final.pt"], args.data, test_overrides=test_settings)
        runs.append({"seed": s, "top1": e["top1"], "top5": e["top5"],
                     "mean_class_acc": e["mean_class_acc"], "top1_as_trained": m["top1"],
                     "test_settings_as_trained": {k: m.get("test", {}).get(k) for k in test_settings},
                     "mlp_floor_top1": m.get("mlp_floor_top1"),
                     "train_s": m["timing"]["train_s"],
                     "run_s": round(sum(m["timing"].values()) - m["timing"]["data_s"]
                                    - m["timing"]["step_s"] - m["timing"]["eval_s"], 1)})
    top1 = np.array([r["top1"] for r in runs])
    floor = np.array([r["mlp_floor_top1"] for r in runs if r["mlp_floor_top1"] is not None])
    result = {"config": str(pathlib.Path(args.config).resolve().relative_to(REPO))
              if str(pathlib.Path(args.config).resolve()).startswith(str(REPO)) else args.config,
              "data": m["data"], "test_settings": test_settings, "machine": platform.platform(), "threads": args.threads,
              "top1_mean": float(top1.mean()), "top1_std": float(top1.std()),
              "mlp_floor_mean": float(floor.mean()) if len(floor) else None,
              "mlp_floor_std": float(floor.std()) if len(floor) else None,
              "run_s_mean": float(np.mean([r["run_s"] for r in runs])), "runs": runs,
              "note": "std is the population std over seeds; times are on a shared, contended CPU"}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"top1 {result['top1_mean']:.4f} +- {result['top1_std']:.4f} over seeds {args.seeds}; "
          f"MLP floor {result['mlp_floor_mean']}; -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
