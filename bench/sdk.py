"""SDK benchmark, window mode: per-window latency of each backend here, the SDK's own per-frame
overhead (buffering, adaptation, normalisation) against the model's time, and the frames per second
one track sustains on one core at stride 8. (Continual mode, where a bundle streams, is measured
against window mode in bench/streaming.py.)

    python bench/sdk.py [--model BUNDLE] [--frames N] [--repeats N] [--out bench/results/sdk_cpu.json]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

# one core for the single-track measurement: BLAS/OpenMP pools are sized at import
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

from bharnet import sdk  # noqa: E402
from bharnet.backends import BackendUnavailable, available_backends  # noqa: E402
from bharnet.data.pipeline import prepare  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
STREAM = HERE.parent.parent / "shared/data/streams/demo_skeleton_holistic.npy"


def holistic_frames(n: int) -> np.ndarray:
    """n frames of the real stream (looped back and forth), or a synthetic stand-in."""
    if STREAM.is_file():
        a = np.load(STREAM)
        a = np.concatenate([a, a[::-1]])
        return np.resize(a, (n,) + a.shape[1:]).astype(np.float32)
    from bharnet.data import synth

    kp, _ = synth.generate_stream(num_actions=max(2, n // 60), seed=0)
    return np.resize(kp, (n,) + kp.shape[1:])


def pct(x, q):
    return float(np.percentile(np.asarray(x), q))


def backend_latency(model, name: str, frames: np.ndarray, repeats: int, threads: int | None):
    rec = sdk.Recognizer(model, backend=name, layout="mediapipe_holistic", threads=threads, mode="window")
    kp, sc = sdk.split_rows(frames[: rec.window][None], "mediapipe_holistic")
    # one window as the SDK prepares it in window mode, then a batch axis of 1
    x = {k: v[None] for k, v in prepare(kp, sc, "mediapipe_holistic", rec.spec).items()}
    for _ in range(3):
        rec.backend.run(x)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rec.backend.run(x)
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": float(np.median(ts)), "p95_ms": pct(ts, 95), "min_ms": float(min(ts))}


def pipeline_cost(model, frames: np.ndarray, repeats: int) -> dict:
    """bharnet.data.pipeline.prepare on one window (adapt + normalise + streams), per call."""
    rec = sdk.Recognizer(model, layout="mediapipe_holistic", mode="window")
    kp, sc = sdk.split_rows(frames[: rec.window][None], "mediapipe_holistic")
    for _ in range(3):
        prepare(kp, sc, "mediapipe_holistic", rec.spec)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        prepare(kp, sc, "mediapipe_holistic", rec.spec)
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": float(np.median(ts)), "p95_ms": pct(ts, 95)}


def stream_cost(model, name: str, frames: np.ndarray, stride: int, threads: int | None):
    """Feed one track frame by frame; split wall time into backend and SDK (everything else)."""
    rec = sdk.Recognizer(model, backend=name, layout="mediapipe_holistic", stride=stride,
                         threads=threads, max_gap_ms=None, mode="window")
    for i in range(rec.window):  # warm-up: one window
        rec.push(frames[i], float(i), track_id="warm")
    backend_ms, windows = 0.0, 0
    sdk_push_ms = []
    t_start = time.perf_counter()
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        r = rec.push(f, i * 33.3)
        dt = (time.perf_counter() - t0) * 1e3
        if r is not None:
            backend_ms += r.latency_ms
            windows += 1
        else:
            sdk_push_ms.append(dt)
    total_ms = (time.perf_counter() - t_start) * 1e3
    sdk_ms = total_ms - backend_ms
    return {
        "frames": len(frames), "windows": windows, "stride": stride,
        "total_s": total_ms / 1e3,
        "fps": len(frames) / (total_ms / 1e3),
        "backend_ms_per_window": backend_ms / max(1, windows),
        "sdk_ms_per_frame": sdk_ms / len(frames),
        "sdk_ms_per_window": sdk_ms / max(1, windows),
        "sdk_overhead_pct_of_model": 100.0 * sdk_ms / max(1e-9, backend_ms),
        "push_only_us_median": 1e3 * float(np.median(sdk_push_ms)) if sdk_push_ms else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--frames", type=int, default=1200)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "results/sdk_cpu.json")
    args = ap.parse_args(argv)

    frames = holistic_frames(args.frames)
    res = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                       "python": sys.version.split()[0]},
           "model": str(sdk.load_model(args.model).path), "backends": {}, "stream": {}}
    info = sdk.Recognizer(args.model, layout="mediapipe_holistic", mode="window").info
    res["window"], res["variant"], res["mode"] = info["window"], info["variant"], "window"
    res["pipeline_prepare_per_window"] = pipeline_cost(args.model, frames, args.repeats)
    for name in available_backends():
        try:
            res["backends"][name] = {
                "window_latency_1thread": backend_latency(args.model, name, frames, args.repeats, 1),
                "window_latency_default_threads": backend_latency(args.model, name, frames,
                                                                  args.repeats, None),
            }
            res["stream"][name] = stream_cost(args.model, name, frames, args.stride, 1)
        except BackendUnavailable as e:
            res["backends"][name] = {"unavailable": str(e)}
        print(f"  measured {name}", file=sys.stderr)

    print(f"\nbharnet SDK, window mode, {res['variant']} window {res['window']}, {frames.shape[0]} frames of "
          f"MediaPipe Holistic input, stride {args.stride}")
    hdr = (f"{'backend':<12} {'win ms (1 thr)':>15} {'p95':>7} {'win ms (all)':>13} "
           f"{'SDK ms/frame':>13} {'SDK % of model':>15} {'fps 1 core':>11}")
    print(hdr)
    print("-" * len(hdr))
    for name, b in res["backends"].items():
        if "unavailable" in b:
            print(f"{name:<12} unavailable: {b['unavailable']}")
            continue
        s = res["stream"][name]
        l1, la = b["window_latency_1thread"], b["window_latency_default_threads"]
        print(f"{name:<12} {l1['median_ms']:>15.2f} {l1['p95_ms']:>7.2f} {la['median_ms']:>13.2f} "
              f"{s['sdk_ms_per_frame']:>13.4f} {s['sdk_overhead_pct_of_model']:>14.1f}% "
              f"{s['fps']:>11.0f}")
    pp = res["pipeline_prepare_per_window"]["median_ms"]
    print(f"\nof the SDK time: bharnet.data.pipeline.prepare {pp:.2f} ms per window "
          f"({pp / args.stride:.3f} ms per frame at stride {args.stride}); the rest is the SDK's "
          f"buffering and row adaptation (push without inference: median "
          f"{next(iter(res['stream'].values()))['push_only_us_median']:.1f} us per frame)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
