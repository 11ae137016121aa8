"""Parameters and GFLOPs of every variant at equal width (the paper's cost claim, measured).

Prints a table and writes bench/results/cost.json. Inputs: coco_wholebody source, T=64, M=1,
2D coordinates + score; FLOPs count a multiply-add as 2 (torch.utils.flop_counter).
"""
from __future__ import annotations

import argparse
import json
import pathlib

from bharnet.training.cost import cost_of
from bharnet.training.models import VARIANTS

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--num-classes", type=int, default=60)
    ap.add_argument("--hand-width", type=int, default=None,
                    help="base channels of the hand expert (default: same as the body expert)")
    ap.add_argument("--out", default=str(RESULTS / "cost.json"))
    args = ap.parse_args(argv)

    rows = []
    for v in VARIANTS:
        model = {"variant": v}
        if args.hand_width:
            model["hand_backbone"] = {"base_channels": args.hand_width}
        cfg = {"model": model, "data": {"layout": "coco_wholebody", "window": args.window, "num_person": 1}}
        rows.append(cost_of(cfg, args.num_classes))
    uni = next(r for r in rows if r["variant"] == "unified")
    print(f"{'variant':<12} {'params (M)':>10} {'GFLOPs':>8} {'params/unified':>15} {'GFLOPs/unified':>15}")
    for r in rows:
        r["params_vs_unified"] = round(r["params"] / uni["params"], 3)
        r["gflops_vs_unified"] = round(r["gflops"] / uni["gflops"], 3)
        print(f"{r['variant']:<12} {r['params_M']:>10.3f} {r['gflops']:>8.3f} "
              f"{r['params_vs_unified']:>15.3f} {r['gflops_vs_unified']:>15.3f}")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"window": args.window, "num_classes": args.num_classes,
                               "hand_width": args.hand_width, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
