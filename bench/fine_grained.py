"""The fine-grained benchmark: every BHaRNet variant and baseline, one recipe, synthetic data.

    python bench/fine_grained.py [--data FILE] [--epochs N] [--variants ...] [--threads 1]

Generates the synthetic fine-grained COCO-WholeBody dataset with `bharnet data synth` (unless
--data is given), trains each variant with training/configs/synth.yaml (only model.variant
changes), and writes bench/results/fine_grained.json and fine_grained.png: overall top-1,
hand-intensive top-1, params, GFLOPs (training/cost.py, batch 1) and training time per model.
Timings are wall-clock on whatever machine runs this and are noisy on a shared CPU.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = ("body_only", "hand_only", "unified", "late_fusion", "vanilla", "pam", "expertized", "noisy_or")
CONFIG = REPO / "training/configs/synth.yaml"


def synth_data(path: pathlib.Path, clips_per_class: int, seed: int) -> pathlib.Path:
    if not path.is_file():
        subprocess.run([sys.executable, "-m", "bharnet.cli", "data", "synth", "--out", str(path),
                        "--clips-per-class", str(clips_per_class), "--seed", str(seed)], check=True)
    return path


def run_variant(variant: str, data, work: pathlib.Path, epochs, seed, threads) -> dict:
    from bharnet.training.config import load_config
    from bharnet.training.cost import cost_of
    from bharnet.training.train import train

    t0 = time.perf_counter()
    m = train(CONFIG, work / variant, data=data, epochs=epochs, seed=seed, variant=variant,
              threads=threads)
    wall = time.perf_counter() - t0
    cfg = load_config(CONFIG)
    cfg["model"]["variant"] = variant
    cost = cost_of(cfg, num_classes=len(m["per_class"]))
    return {"variant": variant, "top1": m["top1"], "hand_intensive_top1": m.get("hand_intensive_top1"),
            "non_hand_intensive_top1": m.get("non_hand_intensive_top1"),
            "mean_class_acc": m["mean_class_acc"], "params": cost["params"], "gflops": cost["gflops"],
            "train_s": round(m["timing"]["train_s"], 1), "wall_s": round(wall, 1),
            "epochs": m["epochs"]}


def table(rows: list[dict]) -> str:
    head = f"{'variant':<12} {'top1':>6} {'hand-int':>8} {'other':>6} {'params':>9} {'GFLOPs':>7} {'train s':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['variant']:<12} {r['top1']:>6.3f} {r['hand_intensive_top1']:>8.3f} "
                     f"{r['non_hand_intensive_top1']:>6.3f} {r['params']:>9,d} {r['gflops']:>7.4f} "
                     f"{r['train_s']:>8.0f}")
    return "\n".join(lines)


def plot(rows: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(rows))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    a1.bar(x - 0.2, [r["top1"] for r in rows], 0.4, label="overall top-1")
    a1.bar(x + 0.2, [r["hand_intensive_top1"] for r in rows], 0.4, label="hand-intensive top-1")
    a1.set_xticks(x, [r["variant"] for r in rows], rotation=30)
    a1.set_ylim(0, 1)
    a1.legend(loc="lower right")
    a1.set_title("synthetic fine-grained benchmark (same recipe)")
    a2.bar(x, [r["gflops"] for r in rows], color="gray")
    a2.set_xticks(x, [r["variant"] for r in rows], rotation=30)
    a2.set_ylabel("GFLOPs / clip")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def merge(parts: list, out: pathlib.Path) -> int:
    """Combine per-variant result files (same data, config and seed) in the canonical order."""
    docs = [json.loads(pathlib.Path(p).read_text()) for p in parts]
    for d in docs:
        d["data"] = str(pathlib.Path(d["data"]).resolve())
    for key in ("config", "data", "seed"):
        if len({str(d[key]) for d in docs}) != 1:
            raise SystemExit(f"cannot merge: the parts differ in {key}")
    rows = {r["variant"]: r for d in docs for r in d["results"]}
    ordered = [rows[v] for v in VARIANTS if v in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**docs[0], "results": ordered,
                               "note": "variants trained in parallel processes on a shared 2-core "
                                       "CPU: train_s is wall time under contention"}, indent=2) + "\n")
    plot(ordered, out.with_suffix(".png"))
    print(table(ordered))
    print(f"-> {out}, {out.with_suffix('.png')}")
    return 0


def aggregate(parts: list, out: pathlib.Path) -> int:
    """Mean and std over result files that differ only in the training seed."""
    import numpy as np

    docs = [json.loads(pathlib.Path(p).read_text()) for p in parts]
    seeds = [d["seed"] for d in docs]
    if len(set(seeds)) != len(seeds) or len({str(pathlib.Path(d["data"]).resolve()) for d in docs}) != 1:
        raise SystemExit("cannot aggregate: the files must share data and differ in seed")
    rows = []
    for v in VARIANTS:
        per = [r for d in docs for r in d["results"] if r["variant"] == v]
        if len(per) != len(docs):
            continue
        row = {"variant": v, "params": per[0]["params"], "gflops": per[0]["gflops"], "seeds": seeds}
        for k in ("top1", "hand_intensive_top1", "non_hand_intensive_top1", "mean_class_acc", "train_s"):
            vals = np.array([r[k] for r in per], float)
            row[k], row[k + "_std"] = float(vals.mean()), float(vals.std())
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**{k: docs[0][k] for k in ("config", "data", "machine")},
                               "seeds": seeds, "results": rows,
                               "per_seed": [d["results"] for d in docs],
                               "note": "mean and population std over training seeds (same data)"},
                              indent=2) + "\n")
    plot(rows, out.with_suffix(".png"))
    print(table(rows))
    print("std over seeds: " + ", ".join(f"{r['variant']} {r['top1_std']:.3f}/{r['hand_intensive_top1_std']:.3f}"
                                          for r in rows))
    print(f"-> {out}, {out.with_suffix('.png')}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="dataset file (default: generate with bharnet data synth)")
    ap.add_argument("--clips-per-class", type=int, default=60)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs of synth.yaml")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work-dir", default=str(REPO / "work_dirs/fine_grained"))
    ap.add_argument("--out", default=str(REPO / "bench/results/fine_grained.json"))
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="only combine result files of runs made in parallel (one per variant) into --out")
    ap.add_argument("--aggregate", nargs="+", metavar="JSON",
                    help="only average result files of different seeds into --out")
    args = ap.parse_args(argv)
    if args.aggregate:
        return aggregate(args.aggregate, pathlib.Path(args.out))
    if args.merge:
        return merge(args.merge, pathlib.Path(args.out))

    work = pathlib.Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    data = pathlib.Path(args.data) if args.data else synth_data(
        work / f"synth_{args.clips_per_class}_{args.data_seed}.pkl", args.clips_per_class, args.data_seed)
    out = pathlib.Path(args.out)
    rows = []
    for v in args.variants:
        rows.append(run_variant(v, data, work, args.epochs, args.seed, args.threads))
        print(table(rows), flush=True)
        # written after every model, so an interrupted benchmark keeps what it measured
        result = {"config": str(CONFIG.relative_to(REPO)), "data": str(data),
                  "clips_per_class": None if args.data else args.clips_per_class,
                  "seed": args.seed, "machine": platform.platform(), "results": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, out.with_suffix(".png"))
    print(f"-> {out}, {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
