"""Latency of the exported portable graph on ONNX Runtime (CPU) vs torch eager, per variant.

    python bench/export.py [--threads 2] [--batches 1 8] [--variants vanilla pam ...] [--small]

Both runtimes get the same thread count (torch.set_num_threads / ORT intra-op threads; the
bharnet._C kernels' pool too) and wait passively (OMP_WAIT_POLICY=PASSIVE, ORT no spinning). torch eager runs the plain-PyTorch reference ops (the very graph that was exported);
--with-kernels adds a column with the bharnet custom-op kernels (how training runs it).
Median of --repeat runs after --warmup runs. Prints one table, writes bench/results/export_cpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import numpy as np

# Neither runtime may busy-wait (ORT: allow_spinning=0 below). torch's OpenMP threads spin by
# default; on a shared, oversubscribed machine that made torch eager 50-200x slower than with
# passive waiting (measured here: ~2 s vs ~18 ms for one small forward), which would flatter ORT.
# Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "export_cpu.json"
SMALL = {"backbone": {"base_channels": 16, "num_stages": 6, "inflate_stages": [4], "down_stages": [4]},
         "pam": {"dim": 32, "heads": 4}, "branch_stages": 2}


def _median_ms(fn, warmup: int, repeat: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_variant(variant: str, args) -> list[dict]:
    import torch

    from bharnet import ops
    from bharnet.export.onnx_export import export_onnx
    from bharnet.training.config import build_model, example_inputs, load_config

    model_cfg = {"variant": variant, **(SMALL if args.small else {})}
    cfg = load_config({"model": model_cfg, "data": {"window": args.window}})
    torch.manual_seed(0)
    ref_model = build_model(cfg, num_classes=args.classes, use_kernels=False).eval()
    kern_model = None
    if args.with_kernels and ops.kernels_available():
        kern_model = build_model(cfg, num_classes=args.classes, use_kernels=True).eval()
        kern_model.load_state_dict(ref_model.state_dict())
    proto = export_onnx(ref_model, example_inputs(cfg, batch=2))
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
    # no busy-waiting: idle ORT threads would otherwise steal the cores torch is timed on
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])

    rows = []
    for batch in args.batches:
        x = example_inputs(cfg, batch=batch, seed=1)
        feed = {k: v.numpy() for k, v in x.items()}

        def run_torch(m):
            with torch.inference_mode():
                m(**x)

        ort_ms = _median_ms(lambda: sess.run(None, feed), args.warmup, args.repeat)
        ref_ms = _median_ms(lambda: run_torch(ref_model), args.warmup, args.repeat)
        kern_ms = (_median_ms(lambda: run_torch(kern_model), args.warmup, args.repeat)
                   if kern_model is not None else None)
        rows.append({"variant": variant, "batch": batch, "ort_ms": ort_ms, "torch_ref_ms": ref_ms,
                     "torch_kernels_ms": kern_ms, "speedup_vs_torch_ref": ref_ms / ort_ms,
                     "speedup_vs_torch_kernels": kern_ms / ort_ms if kern_ms else None})
        print(f"  {variant:>11} b{batch}: ORT {ort_ms:8.2f} ms | torch ref {ref_ms:8.2f} ms | "
              f"torch kernels {kern_ms or float('nan'):8.2f} ms", flush=True)
    return rows


def main(argv=None) -> int:
    import onnxruntime
    import torch

    from bharnet import ops
    from bharnet.training.models import VARIANTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--classes", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--with-kernels", action="store_true",
                    help="also time torch eager with the bharnet._C custom ops; off by default because "
                         "the kernels' worker pool then shares the cores with torch's for the rest of "
                         "the process, which skewed later torch timings on a loaded 2-core machine")
    ap.add_argument("--small", action="store_true", help="a narrow 6-block backbone (quick check)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.with_kernels and ops.kernels_available():
        from bharnet import _C

        _C.set_num_threads(args.threads)
    rows = []
    for v in args.variants:
        rows += bench_variant(v, args)

    print(f"\nORT CPU (portable graph) vs torch eager, {args.threads} threads, window {args.window}, "
          f"{'small' if args.small else 'default'} backbone; median of {args.repeat}")
    def cell(v, fmt):
        return format(v, fmt) if v is not None else "-".rjust(len(format(0.0, fmt)))

    print(f"{'variant':>11} {'batch':>5} {'ORT ms':>9} {'torch ms':>9} {'torch/ORT':>9}"
          + (f" {'torch+kern ms':>13} {'kern/ORT':>8}" if args.with_kernels else ""))
    for r in rows:
        line = (f"{r['variant']:>11} {r['batch']:>5} {r['ort_ms']:9.2f} {r['torch_ref_ms']:9.2f} "
                f"{r['speedup_vs_torch_ref']:8.2f}x")
        if args.with_kernels:
            line += f" {cell(r['torch_kernels_ms'], '13.2f')} {cell(r['speedup_vs_torch_kernels'], '7.2f')}x"
        print(line)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "env": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "ort_allow_spinning": 0,
                "load_average_at_end": list(os.getloadavg()), "cpu_count": os.cpu_count(),
                "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                "cpu": platform.processor() or platform.machine(), "cpu_isa": ops.cpu_isa()},
        "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
