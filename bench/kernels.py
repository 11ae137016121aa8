"""Native kernels against the best plain-PyTorch formulation, on CPU or CUDA.

    python bench/kernels.py [--threads 2] [--reps 15] [--out bench/results/kernels_cpu.json]
    python bench/kernels.py --device cuda      (-> bench/results/kernels_cuda.json)

On CPU both sides run with the same torch.set_num_threads (the ops pass torch's thread count to
the native pool). On CUDA each call is timed with CUDA events on the current stream, and the
model epoch is also run under bf16 autocast (training's amp: auto). Calls of all variants are
interleaved and repeated and the median is reported, because the machine this was written on is
shared and noisy. Ratios are baseline / ours, so > 1 means the native op is faster. The
baseline is, per shape, the fastest of:
  einsum       - reference.graph_conv_ref (two einsums, then bias/residual/ReLU)
  matmul_conv  - x @ A broadcast over K, then a 1x1 conv over the K*C channels
  conv_einsum  - a 1x1 conv to K*O channels first, then the einsum with A
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from bharnet import ops
from bharnet.ops.reference import graph_conv_ref, pool_attention_ref

K = 3
STAGES = ((64, 64), (128, 32), (256, 16))  # (C = O, T): channels double as time halves
JOINTS = (17, 21)


# ---- plain-PyTorch formulations -------------------------------------------------------------
def matmul_conv(x, A, W, b=None, relu=False, residual=None):
    n, c, t, v = x.shape
    k, o = A.shape[0], W.shape[1]
    xa = torch.matmul(x.unsqueeze(1), A.unsqueeze(1)).reshape(n, k * c, t, v)
    y = F.conv2d(xa, W.transpose(0, 1).reshape(o, k * c, 1, 1), b)
    if residual is not None:
        y = y + residual
    return F.relu(y) if relu else y


def conv_einsum(x, A, W, b=None, relu=False, residual=None):
    n, c, t, v = x.shape
    k, o = A.shape[0], W.shape[1]
    z = F.conv2d(x, W.reshape(k * o, c, 1, 1)).view(n, k, o, t, v)
    y = torch.einsum("nkotv,kvw->notw", z, A)
    if b is not None:
        y = y + b.view(1, -1, 1, 1)
    if residual is not None:
        y = y + residual
    return F.relu(y) if relu else y


BASELINES = {"einsum": graph_conv_ref, "matmul_conv": matmul_conv, "conv_einsum": conv_einsum}


# ---- timing ---------------------------------------------------------------------------------
# "wall": time.perf_counter. "cpu": time.thread_time, the calling thread's CPU time, which on a
# shared machine excludes time spent preempted; it is only meaningful with --threads 1.
# CUDA: events recorded on the current stream before and after the call, then synchronised: the
# stream's time for the call, gaps while the host launches its kernels included (both sides pay).
CLOCK = {"wall": time.perf_counter, "cpu": time.thread_time}
clock = time.perf_counter
DEVICE = torch.device("cpu")


def timed(fn) -> float:
    """Seconds one call of fn takes, by the selected clock."""
    if DEVICE.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    t0 = clock()
    fn()
    return clock() - t0


def rand(*shape):
    return torch.randn(*shape, device=DEVICE)


def interleaved(fns: dict, reps: int, warmup: int = 2) -> dict:
    """Median seconds per variant; variants alternate (rotating order) within each repetition."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times = {k: [] for k in fns}
    names = list(fns)
    for r in range(reps):
        for k in names[r % len(names):] + names[:r % len(names)]:
            times[k].append(timed(fns[k]))
    return {k: statistics.median(v) for k, v in times.items()}


def gc_flops(n, c, t, v, o):
    return 2 * n * K * c * t * v * v + 2 * n * K * o * c * t * v


def row(kind, shape, med, flops, nbytes):
    base_name = min((k for k in med if k != "ours"), key=med.get)
    base, ours = med[base_name], med["ours"]
    return {"kind": kind, "shape": shape, "ours_ms": ours * 1e3, "baseline": base_name,
            "baseline_ms": base * 1e3, "ratio": base / ours,
            "all_ms": {k: v * 1e3 for k, v in med.items()},
            "gflop": flops / 1e9, "ours_gflops": flops / ours / 1e9,
            "baseline_gflops": flops / base / 1e9, "min_mbytes": nbytes / 1e6}


def bench_graph_conv_inference(reps, batches):
    out = []
    for n in batches:
        for c, t in STAGES:
            for v in JOINTS:
                x, A, W = rand(n, c, t, v), rand(K, v, v), rand(K, c, c)
                b, res = rand(c), rand(n, c, t, v)
                fns = {"ours": lambda: ops.graph_conv(x, A, W, b, relu=True, residual=res)}
                fns.update({k: (lambda f=f: f(x, A, W, b, True, res)) for k, f in BASELINES.items()})
                with torch.inference_mode():
                    med = interleaved(fns, reps)
                nbytes = 4 * (3 * n * c * t * v + K * v * v + K * c * c + c)
                out.append(row("inference", dict(N=n, C=c, O=c, T=t, V=v, K=K), med,
                               gc_flops(n, c, t, v, c), nbytes))
                report(out[-1])
    return out


def bench_graph_conv_training(reps, batches):
    out = []
    for n in batches:
        for c, t in STAGES:
            for v in JOINTS:
                leaves = [rand(n, c, t, v), rand(K, v, v), rand(K, c, c), rand(c)]
                leaves = [z.requires_grad_() for z in leaves]
                gy = rand(n, c, t, v)

                def step(f):
                    y = f(*leaves)  # training form: BN follows, so no ReLU/residual inside
                    return torch.autograd.grad(y, leaves, gy)

                fns = {"ours": lambda: step(ops.graph_conv)}
                fns.update({k: (lambda f=f: step(f)) for k, f in BASELINES.items()})
                med = interleaved(fns, reps)
                # forward + three backward GEMM families (dx, dW, dA) ~ 3x the forward flops
                out.append(row("training", dict(N=n, C=c, O=c, T=t, V=v, K=K), med,
                               3 * gc_flops(n, c, t, v, c), 4 * 4 * n * c * t * v))
                report(out[-1])
    return out


def bench_pool_attention(reps, inference_batches, training_batches):
    out = []
    # the defaults of the model's PAM (dim 128, 4 heads) on the last-stage features
    d, h, cb, ch, t = 128, 4, 256, 256, 16
    cases = [(n, False) for n in inference_batches] + [(n, True) for n in training_batches]
    for n, train in cases:
        x, ctx = rand(n, cb, t, 17, 1), rand(n, ch, t, 21, 2)
        ctx_mask = torch.ones(n, 2, device=DEVICE)
        ctx_mask[::3, 1] = 0
        ws = [rand(d, cb) / cb ** 0.5, rand(d, ch) / ch ** 0.5,
              rand(d, ch) / ch ** 0.5, rand(cb, d) / d ** 0.5]
        if train:
            leaves = [z.requires_grad_() for z in (x, ctx, *ws)]
            g = rand(n, cb)

            def step(f):
                y = f(leaves[0], leaves[1], None, ctx_mask, *leaves[2:], h)
                return torch.autograd.grad(y, leaves, g)

            fns = {"ours": lambda: step(ops.pool_attention), "reference": lambda: step(pool_attention_ref)}
            med = interleaved(fns, reps)
        else:
            fns = {"ours": lambda: ops.pool_attention(x, ctx, None, ctx_mask, *ws, h),
                   "reference": lambda: pool_attention_ref(x, ctx, None, ctx_mask, *ws, h)}
            with torch.inference_mode():
                med = interleaved(fns, reps)
        nbytes = 4 * (x.numel() + ctx.numel() + sum(w.numel() for w in ws))
        out.append(row("training" if train else "inference",
                       dict(N=n, C=cb, T=t, V=17, I=1, Cc=ch, T2=t, V2=21, I2=2, D=d, H=h), med,
                       0, nbytes))
        report(out[-1], "pool_attention")
    return out


def bench_model_epoch(reps, batches=6, batch=32, amp=None):
    """One epoch (fixed synthetic batches) of the small synth config, variant pam, kernels on/off.
    amp: an autocast dtype for the forward and loss (as training's amp does on CUDA), or None."""
    repo = pathlib.Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    try:
        from training.config import build_model, example_inputs, load_config
    except ImportError as e:  # the model code is another engineer's; skip cleanly without it
        return {"skipped": f"training package not importable: {e}"}
    cfg = load_config(str(repo / "training/configs/synth.yaml"))
    cfg["model"]["variant"] = "pam"
    classes = 10
    data = [{k: v.to(DEVICE) for k, v in example_inputs(cfg, batch=batch, seed=i).items()}
            for i in range(batches)]
    labels = [torch.randint(0, classes, (batch,), generator=torch.Generator().manual_seed(i)).to(DEVICE)
              for i in range(batches)]
    models = {}
    for on in (True, False):
        torch.manual_seed(0)
        m = build_model(cfg, num_classes=classes, use_kernels=on, device=DEVICE.type).to(DEVICE)
        models["ours" if on else "reference"] = (m, torch.optim.SGD(m.parameters(), lr=0.01))

    def epoch(key):
        m, opt = models[key]
        m.train()
        for inp, y in zip(data, labels):
            with torch.autocast(DEVICE.type, dtype=amp or torch.float32, enabled=amp is not None):
                loss = F.cross_entropy(m(**inp)["logits"], y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    med = interleaved({k: (lambda k=k: epoch(k)) for k in models}, reps, warmup=1)
    res = {"config": "training/configs/synth.yaml (variant pam)", "batches": batches,
           "batch_size": batch, "amp": str(amp).removeprefix("torch.") if amp else "off",
           "kernels_on_s": med["ours"], "kernels_off_s": med["reference"],
           "ratio": med["reference"] / med["ours"]}
    print(f"model epoch ({batches}x{batch}, synth pam, amp {res['amp']}): kernels on "
          f"{med['ours']:.4f}s, off {med['reference']:.4f}s, ratio {res['ratio']:.2f}")
    return res


def report(r, what="graph_conv"):
    s = r["shape"]
    shape = " ".join(f"{k}={v}" for k, v in s.items())
    gf = f" {r['ours_gflops']:6.1f} vs {r['baseline_gflops']:6.1f} GFLOP/s" if r["gflop"] else ""
    print(f"{what:14s} {r['kind']:9s} {shape:44s} ours {r['ours_ms']:8.3f} ms  "
          f"{r['baseline']:12s} {r['baseline_ms']:8.3f} ms  x{r['ratio']:5.2f}{gf}", flush=True)


def summary(rows, target):
    ratios = [r["ratio"] for r in rows]
    geo = statistics.geometric_mean(ratios)
    return {"geomean_ratio": geo, "min_ratio": min(ratios), "max_ratio": max(ratios),
            "target": target, "met_all": min(ratios) >= target, "met_geomean": geo >= target}


def device_meta() -> dict:
    if DEVICE.type != "cuda":
        return {"device": "cpu", "cpu_isa": ops.cpu_isa()}
    props = torch.cuda.get_device_properties(DEVICE)
    return {"device": "cuda", "gpu": props.name, "capability": f"{props.major}.{props.minor}",
            "multiprocessors": props.multi_processor_count, "torch_cuda": torch.version.cuda,
            # the plain-PyTorch side runs with torch's defaults; TF32 changes what it computes
            "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=None, help="default: 15 on CPU, 50 on CUDA")
    p.add_argument("--epoch-reps", type=int, default=None, help="default: 3 on CPU, 10 on CUDA")
    p.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                   help="CPU only (CUDA uses CUDA events). cpu: per-thread CPU time, robust to a "
                        "loaded machine (needs --threads 1)")
    p.add_argument("--only", choices=["graph_conv", "pool_attention", "model"], default=None)
    p.add_argument("--skip-model", action="store_true")
    p.add_argument("--out", default=None,
                   help="default: bench/results/kernels_cpu.json or kernels_cuda.json")
    a = p.parse_args(argv)
    cuda = a.device == "cuda"
    if a.clock == "cpu" and (a.threads != 1 or cuda):
        p.error("--clock cpu measures one CPU thread; use it with --threads 1 on --device cpu")
    global clock, DEVICE
    clock = CLOCK[a.clock]
    DEVICE = torch.device(a.device)
    reps = a.reps or (50 if cuda else 15)
    epoch_reps = a.epoch_reps or (10 if cuda else 3)
    out = pathlib.Path(a.out or pathlib.Path(__file__).parent / f"results/kernels_{a.device}.json")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device (torch.cuda.is_available() is False)")
    try:
        ops.require_kernels(DEVICE, who="bench/kernels.py")
    except ops.KernelUnavailable as e:
        sys.exit(f"nothing to compare: {e}")
    load0 = os.getloadavg()
    meta = device_meta()
    print(f"device={a.device} {meta.get('gpu', '')} threads={a.threads} "
          f"clock={'cuda-event' if cuda else a.clock} reps={reps} isa={ops.cpu_isa()} "
          f"torch={torch.__version__} loadavg={load0[0]:.1f}")
    run = lambda part: a.only in (None, part)
    # the GPU only fills up with bigger batches: CUDA adds a batch of 64 to each table
    batches_inf, batches_tr = ((1, 8, 64), (8, 64)) if cuda else ((1, 8), (8,))
    inf = bench_graph_conv_inference(reps, batches_inf) if run("graph_conv") else []
    tr = bench_graph_conv_training(reps, batches_tr) if run("graph_conv") else []
    pa = bench_pool_attention(reps, batches_inf[:2], batches_tr) if run("pool_attention") else []
    skip_model = a.skip_model or not run("model")
    model = {"skipped": "--skip-model"} if skip_model else bench_model_epoch(epoch_reps)
    res = {
        "meta": {**meta, "threads": a.threads, "clock": "cuda-event" if cuda else a.clock,
                 "reps": reps, "epoch_reps": epoch_reps, "cpu_isa": ops.cpu_isa(),
                 "torch": torch.__version__, "machine": platform.machine(),
                 "processor": platform.processor(), "cpu_count": os.cpu_count(),
                 "loadavg_start": load0, "loadavg_end": os.getloadavg(),
                 "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "command": "python bench/kernels.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                 "ratio": "baseline_ms / ours_ms (> 1: native op faster)"},
        "graph_conv_inference": inf, "graph_conv_training": tr, "pool_attention": pa,
        "model_epoch": model,
        "summary": ({"graph_conv_inference": summary(inf, 1.5),
                     "graph_conv_training": summary(tr, 1.0)} if inf else {}),
    }
    if cuda and not skip_model:  # training's amp: auto is bf16 autocast on GPUs that have it
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        res["model_epoch_amp"] = bench_model_epoch(epoch_reps, amp=amp)
    for k, v in res["summary"].items():
        print(f"{k}: geomean x{v['geomean_ratio']:.2f} (min x{v['min_ratio']:.2f}, "
              f"max x{v['max_ratio']:.2f}), target x{v['target']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
