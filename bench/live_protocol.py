"""Windowed models under the live protocol beside their clip protocol (issue 24, point 5).

    python bench/live_protocol.py CKPT [CKPT ...] [--data FILE] --out bench/results/NAME.json

Clip protocol: what `bharnet eval` scores, the checkpoint's own test settings (its sampling mode,
e.g. "stretch": the whole clip spread over the window, its test clips and mirrored views).
Live protocol: what a live stream can give a windowed model: the last `window` frames at the
native rate, ending at the clip's last frame (frames before the clip's start missing: sampling
mode "stream"), one view, no mirror. The difference is how much of a windowed-vs-streaming gap is
the protocol rather than the architecture. Each checkpoint (seed) is scored both ways on the same
split; the JSON has per-checkpoint numbers and their mean and std.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def scores(ckpt_path, data_path, split: str) -> dict:
    import numpy as np

    from bharnet.data.pipeline import InputSpec
    from bharnet.training.checkpoint import load_checkpoint, model_from_checkpoint
    from bharnet.training.evaluate import predict, recorded_data_path
    from bharnet.training.loader import prepare_test, read_dataset

    ck = load_checkpoint(ckpt_path)
    cfg, spec = ck["config"], InputSpec.from_dict(ck["spec"])
    if spec.causal:
        raise ValueError(f"{ckpt_path}: a streaming model; its clip protocol already is the live one")
    data = read_dataset(data_path or recorded_data_path(cfg["data"]["path"], ckpt_path))
    clips, tc = data.split(split), cfg["train"]
    model = model_from_checkpoint(ck, use_kernels=False)
    out = {"checkpoint": str(ckpt_path), "window": spec.window, "fps_note": "native rate"}
    protocols = {"clip": (int(tc.get("test_clips", 1)), cfg["data"].get("sample", "uniform"),
                          bool(tc.get("test_flip", False))),
                 "live": (1, "stream", False)}
    for name, (k, mode, flip) in protocols.items():
        x, y = prepare_test(clips, data.layout, spec, k, mode, flip)
        pred = predict(model, x, quiet=True).argmax(1)
        out[name] = {"top1": float((pred == y).mean()), "test_clips": k, "sample": mode, "flip": flip}
    out["live_minus_clip"] = out["live"]["top1"] - out["clip"]["top1"]
    out["frames_median"] = float(np.median([c.num_frames for c in clips]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default=None, help="dataset file (default: each checkpoint's own)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import numpy as np

    runs = [scores(p, args.data, args.split) for p in args.checkpoints]
    res = {"what": "windowed models: clip protocol (as trained) vs live protocol (last window frames "
                   "at the native rate, decision at the last frame, one view)",
           "split": args.split, "machine": platform.platform(), "runs": runs}
    for k in ("clip", "live"):
        v = np.array([r[k]["top1"] for r in runs])
        res[k] = {"mean": float(v.mean()), "std": float(v.std()), "n": len(v)}
    res["live_minus_clip_mean"] = res["live"]["mean"] - res["clip"]["mean"]
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"clip {res['clip']['mean']:.4f} +- {res['clip']['std']:.4f}; live {res['live']['mean']:.4f} "
          f"+- {res['live']['std']:.4f} (n={len(runs)}) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
