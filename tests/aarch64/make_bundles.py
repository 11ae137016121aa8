"""Bundles for the x86/aarch64 parity check besides the embedded default: tiny models trained for
two epochs on synthetic clips (tests/train_helpers.py) and exported, here on x86, since torch is
not installed on the aarch64 side. Deterministic (fixed seeds), so both sides get the same files.

    .venv/bin/python tests/aarch64/make_bundles.py --out DIR     # needs the [train] extra

Which variants: those that exercise different native code (the pooling-attention kernel, the
noisy-OR fusion) and one the native backend refuses (multi-scale TCN), which must be refused the
same way on both platforms while onnxruntime runs it.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))   # tests/: train_helpers

from train_helpers import TINY_BACKBONE, tiny_config, tiny_synth  # noqa: E402

CONV = {**TINY_BACKBONE, "tcn": "conv"}   # the native backend runs the plain 9x1 temporal conv only
# name -> (variant, backbone)
BUNDLES = {
    "pam_conv": ("pam", CONV),
    "noisy_or_conv": ("noisy_or", CONV),
    "body_only_mstcn": ("body_only", TINY_BACKBONE),
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
            variant, backbone = BUNDLES[name]
            t0 = time.perf_counter()
            work = pathlib.Path(tmp) / name
            cfg = tiny_config(variant, model={"backbone": backbone}, train={"seed": 0})
            train(cfg, work, data=str(data), quiet=True)
            path = export_checkpoint(str(work / "last.pt"), args.out / f"{name}.bharnet", fp16=False)
            print(f"  {path.name}: {variant}, tcn {backbone.get('tcn', 'mstcn')}, "
                  f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
