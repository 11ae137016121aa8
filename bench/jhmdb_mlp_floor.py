"""The MLP floor on a JHMDB split: resampled, neck-centred positions + velocities -> 2-layer MLP.

    python bench/jhmdb_mlp_floor.py [--data FILE] [--seeds 0 1 2]

The same function runs inside `bharnet train` when the config sets train.mlp_floor (the jhmdb
configs do), so metrics.json carries `mlp_floor_top1` beside `top1` from the same run.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

DEFAULT = str(pathlib.Path(__file__).resolve().parents[2] / "shared/data/jhmdb14/jhmdb14_split1.pkl")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from bharnet.training.floor import mlp_floor_top1
    from bharnet.training.loader import read_dataset

    torch.set_num_threads(args.threads)
    ds = read_dataset(args.data)
    accs = [mlp_floor_top1(ds.split("train"), ds.split("test"), ds.layout, len(ds.classes), s)
            for s in args.seeds]
    print(json.dumps({"data": args.data, "seeds": args.seeds, "top1": accs,
                      "mean": float(np.mean(accs)), "std": float(np.std(accs))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
