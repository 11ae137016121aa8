"""BHaRNet-M on synthetic rendered data: skeleton-only vs RGB-only vs fused, with cost.

    python bench/rgb.py [--clips-per-class 16] [--epochs 10] [--rgb-epochs 20] [--out bench/results/rgb.json]

Data: the data area's synthetic coco_wholebody generator (14 classes, 8 hand-intensive), frames
drawn by bharnet.rgb.render (lost hands filled in for drawing, so the pixels keep what the
detector lost). Stage 1 trains the skeleton model (vanilla BHaRNet, small backbone); stage 2 trains
the RGB CNN twice on the same views, guided by the body expert (MMNet) and unguided (uniform tile
weights), so the guidance's own effect is visible. All numbers are measured here, on CPU.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def cost() -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from bharnet.training.config import load_config
    from bharnet.training.cost import count_flops, count_params
    from bharnet.training.models.rgb import RGBNet
    from bharnet.training.rgb_train import rgb_settings, skeleton_config
    from bharnet.training.config import build_model, example_inputs

    cfg = load_config(ROOT / "training/configs/synth_rgb.yaml")
    s = rgb_settings(cfg)
    skel_cfg = skeleton_config(cfg)
    skel = build_model(skel_cfg, num_classes=14, use_kernels=False)
    sk_flops = count_flops(skel, example_inputs(skel_cfg, batch=1))
    body_flops = count_flops(skel.body, {"x": example_inputs(skel_cfg, batch=1)["body"]})
    r = s["roi"]
    rgb = RGBNet(14, 5, r["frames"], r["tile"], s["width"]).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        rgb(torch.rand(1, 3, 5 * r["tile"], r["frames"] * r["tile"]), torch.ones(1, 5, r["frames"]))
    return {"skeleton": {"params": count_params(skel), "gflops": sk_flops / 1e9},
            "rgb_cnn": {"params": count_params(rgb), "gflops": fc.get_total_flops() / 1e9},
            "guide_body_pass": {"params": count_params(skel.body), "gflops": body_flops / 1e9}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips-per-class", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=10, help="skeleton epochs")
    ap.add_argument("--rgb-epochs", type=int, default=20)
    ap.add_argument("--train-views", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default=str(ROOT / "work_dirs/bench_rgb"))
    ap.add_argument("--out", default=str(ROOT / "bench/results/rgb.json"))
    args = ap.parse_args(argv)

    from bharnet.data import synth
    from bharnet.data.dataset import save
    from bharnet.training.config import load_config
    from bharnet.training.rgb_train import train_rgb

    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "synth.pkl"
    save(synth.generate(clips_per_class=args.clips_per_class, seed=args.seed), data)

    cfg = load_config(ROOT / "training/configs/synth_rgb.yaml")
    cfg["model"]["rgb"].update(epochs=args.rgb_epochs, train_views=args.train_views)
    t0 = time.perf_counter()
    guided = train_rgb(cfg, work / "guided", data=data, epochs=args.epochs, seed=args.seed,
                       threads=args.threads, quiet=True)
    t1 = time.perf_counter()
    unguided = train_rgb(cfg, work / "unguided", data=data, seed=args.seed, threads=args.threads,
                         skeleton=work / "guided/skeleton/final.pt", guide="none", quiet=True)
    t2 = time.perf_counter()
    c = cost()
    sk, rg, gd = c["skeleton"], c["rgb_cnn"], c["guide_body_pass"]
    both = {"params": sk["params"] + rg["params"], "gflops": sk["gflops"] + rg["gflops"] + gd["gflops"]}
    rows = [
        ("skeleton only (vanilla BHaRNet)", guided["skeleton"], sk),
        ("RGB only, body-guided", guided["rgb"], {"params": rg["params"], "gflops": rg["gflops"] + gd["gflops"]}),
        ("RGB only, unguided", unguided["rgb"], rg),
        ("fused sum, body-guided", guided["fused_sum"], both),
        ("fused Noisy-OR, body-guided", guided["fused_noisy_or"], both),
        ("fused sum, unguided", unguided["fused_sum"], {"params": both["params"],
                                                       "gflops": sk["gflops"] + rg["gflops"]}),
    ]
    table = [{"model": n, "top1": round(m["top1"], 4),
              "hand_intensive_top1": round(m.get("hand_intensive_top1", float("nan")), 4),
              "non_hand_intensive_top1": round(m.get("non_hand_intensive_top1") or float("nan"), 4),
              "params": int(k["params"]), "gflops": round(k["gflops"], 4)} for n, m, k in rows]
    print(f"\nBHaRNet-M on synthetic rendered data ({args.clips_per_class} clips/class, 14 classes; "
          f"time {t2 - t0:.0f}s)")
    print(f"{'model':34s} {'top1':>6s} {'hand':>6s} {'body':>6s} {'params':>9s} {'GFLOPs':>7s}")
    for r in table:
        print(f"{r['model']:34s} {r['top1']:6.3f} {r['hand_intensive_top1']:6.3f} "
              f"{r['non_hand_intensive_top1']:6.3f} {r['params']:9d} {r['gflops']:7.3f}")
    result = {"table": table, "cost": c, "settings": {**vars(args), "config": "training/configs/synth_rgb.yaml"},
              "timing_s": {"guided_total": round(t1 - t0, 1), "unguided_rgb": round(t2 - t1, 1),
                           "guided": guided["timing"]},
              "history": {"guided": guided["history"], "unguided": unguided["history"]},
              "notes": "GFLOPs per window (batch 1); the body-guided rows include one more body-expert "
                       "pass (the guide graph). Test set: the generator's held-out clips, one "
                       "deterministic window each."}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
