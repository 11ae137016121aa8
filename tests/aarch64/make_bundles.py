"""Bundles for the x86/aarch64 parity check besides the embedded default: tiny models trained for
two epochs on synthetic clips (tests/train_helpers.py) and exported, here on x86, since torch is
not installed on the aarch64 side. Deterministic (fixed seeds), so both sides get the same files.

    .venv/bin/python tests/aarch64/make_bundles.py --out DIR     # needs the [train] extra

Which models: variants that exercise different native code (the pooling-attention kernel, the
noisy-OR fusion, the multi-scale TCN) and a streaming model whose step graphs serve the continual
mode; what one side refuses (a mode a bundle lacks) must be refused the same way on the other.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))   # tests/: train_helpers

from train_helpers import TINY_BACKBONE, tiny_config, tiny_synth  # noqa: E402

CONV = {**TINY_BACKBONE, "tcn": "conv"}   # the plain temporal conv (the native backend's first reach)
# a streaming model: valid 3x1 temporal convs and causal preprocessing, so the bundle also carries
# step graphs and Recognizer(mode="continual") runs it frame by frame
STREAMING = {"model": {"backbone": {**CONV, "tcn_kernel": 3, "temporal_padding": "valid"}},
             "data": {"sample": "stream", "normalisation": "causal-v1",
                      "norm_horizon": 16, "pool_steps": 3}}
# name -> (variant, tiny_config overrides)
BUNDLES = {
    "pam_conv": ("pam", {"model": {"backbone": CONV}}),
    "noisy_or_conv": ("noisy_or", {"model": {"backbone": CONV}}),
    "body_only_mstcn": ("body_only", {}),
    "vanilla_streaming": ("vanilla", STREAMING),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--only", nargs="*", choices=sorted(BUNDLES), help="a subset of the bundles")
    args = ap.parse_args(argv)
    from bharnet.export.builder import export_checkpoint
    from bharnet.training.train import train

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = tiny_synth(pathlib.Path(tmp) / "synth.pkl")
        for name in args.only or BUNDLES:
            variant, over = BUNDLES[name]
            t0 = time.perf_counter()
            work = pathlib.Path(tmp) / name
            cfg = tiny_config(variant, **over, train={"seed": 0})
            if cfg["data"].get("pool_steps"):
                del cfg["data"]["window"]       # derived from pool_steps and the receptive field
            train(cfg, work, data=str(data), quiet=True)
            path = export_checkpoint(str(work / "last.pt"), args.out / f"{name}.bharnet", fp16=False)
            print(f"  {path.name}: {variant}, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
