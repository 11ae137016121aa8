"""Soak: one simulated hour of live feeds through one Recognizer, as fast as the machine goes.

    python bench/soak.py                      # 60 min x 30 fps x 8 tracks = 864,000 frames
    python bench/soak.py --minutes 3 --tracks 4 --stride 32 --out /tmp/s.json --plot ""

Each of `tracks` camera slots shows a sequence of people: a person (a new track id) stays for
20-120 s, leaves (the slot is silent 1-10 s), and the next one arrives; while present, a person
steps out of view now and then (a few seconds of NaN frames: "no person" windows). Frames cycle
through the real MediaPipe Holistic stream with a little noise. Timestamps are virtual (ms), and
the Recognizer's idle clock is the same virtual clock, so idle tracks are evicted as they would be
live, however fast the replay runs.

Every simulated minute it records the process RSS, window latency percentiles (push() of a frame
that completes a window, wall time), frames, results, live tracks and the SDK's counters. The
check: RSS stays within --rss-tolerance-mb (10) of its value after the first simulated minute.
Writes JSON (and a PNG plot of RSS and latency over time).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
STREAM = ROOT.parent / "shared" / "data" / "streams" / "demo_skeleton_holistic.npy"


def rss_mb() -> float:
    """Resident set size now (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Slot:
    """One camera slot: people (track ids) coming and going, with their own virtual schedule."""

    def __init__(self, k: int, rng: np.random.Generator):
        self.k, self.rng = k, rng
        self.person = 0
        self.offset = int(rng.integers(0, 1000))
        self._new_person(0.0)

    def _new_person(self, t: float) -> None:
        self.person += 1
        self.track_id = f"cam{self.k}-p{self.person}"
        self.leaves_at = t + float(self.rng.uniform(20.0, 120.0))
        self.back_at = self.leaves_at + float(self.rng.uniform(1.0, 10.0))
        self.hidden_until = -1.0

    def frame(self, t: float, base: np.ndarray, i: int):
        """(track id, frame) at virtual time t (s), or None while the slot is empty."""
        if t >= self.back_at:
            self._new_person(t)
        if t >= self.leaves_at:
            return None
        if t > self.hidden_until and self.rng.random() < 1 / 900:   # ~every 30 s: out of view
            self.hidden_until = t + float(self.rng.uniform(1.0, 4.0))
        if t < self.hidden_until:
            return self.track_id, np.full_like(base[0], np.nan)
        f = base[(i + self.offset) % len(base)].copy()
        f[:, :2] += self.rng.normal(0.0, 0.002, (f.shape[0], 2)).astype(np.float32)
        return self.track_id, f


def soak(minutes: float = 60.0, tracks: int = 8, fps: float = 30.0, stride: int | None = None,
         backend: str = "onnxruntime", threads: int | None = 1, seed: int = 0,
         progress: bool = True) -> dict:
    from bharnet import sdk

    base = np.load(STREAM)
    rng = np.random.default_rng(seed)
    vt = [0.0]
    rec = sdk.Recognizer(layout="mediapipe_holistic", backend=backend, stride=stride,
                         threads=threads, clock=lambda: vt[0])
    slots = [Slot(k, np.random.default_rng(rng.integers(1 << 32))) for k in range(tracks)]
    frames_per_minute = int(round(60 * fps))
    n_frames = int(round(minutes * 60 * fps))
    per_minute, lat, minute_frames, minute_results, outcomes = [], [], 0, 0, {}
    t_start = time.perf_counter()
    for i in range(n_frames):
        t = i / fps
        vt[0] = t
        for slot in slots:
            got = slot.frame(t, base, i)
            if got is None:
                continue
            tid, frame = got
            t0 = time.perf_counter()
            r = rec.push(frame, t * 1000.0, track_id=tid)
            minute_frames += 1
            if r is not None:
                lat.append((time.perf_counter() - t0) * 1000.0)
                minute_results += 1
                outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        if (i + 1) % frames_per_minute == 0 or i + 1 == n_frames:
            st = rec.stats()
            p = np.percentile(lat, [50, 95, 99]) if lat else [float("nan")] * 3
            per_minute.append({
                "minute": round((i + 1) / frames_per_minute, 3), "wall_s": time.perf_counter() - t_start,
                "rss_mb": rss_mb(), "frames": minute_frames, "results": minute_results,
                "latency_ms": {"p50": float(p[0]), "p95": float(p[1]), "p99": float(p[2])},
                "live_tracks": st["active_tracks"], "buffered_bytes": rec.buffered_bytes(),
                "evictions": st["evictions"], "dropped_frames": st["dropped_frames"],
                "resets": st["resets"]})
            if progress:
                m = per_minute[-1]
                print(f"  minute {m['minute']:6.2f}: rss {m['rss_mb']:.1f} MB, p50 {m['latency_ms']['p50']:.2f} "
                      f"p99 {m['latency_ms']['p99']:.2f} ms, {m['live_tracks']} live tracks, "
                      f"{m['wall_s']:.0f} s wall", file=sys.stderr, flush=True)
            lat, minute_frames, minute_results = [], 0, 0
    wall = time.perf_counter() - t_start
    st = rec.stats()
    st.pop("tracks")
    baseline = per_minute[0]["rss_mb"]
    drift = [m["rss_mb"] - baseline for m in per_minute]
    return {"config": {"minutes": minutes, "tracks": tracks, "fps": fps, "stride": rec.stride,
                       "window": rec.window, "backend": rec.backend.name, "threads": threads,
                       "seed": seed, "frames_simulated": n_frames * tracks},
            "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "wall_s": wall,   # the replay's own time, model loading excluded
            "frames_pushed": st["frames"], "frames_per_s": st["frames"] / wall,
            "outcomes": outcomes, "sdk_stats": st,
            "rss": {"after_first_minute_mb": baseline, "max_drift_mb": max(drift, key=abs),
                    "final_mb": per_minute[-1]["rss_mb"]},
            "per_minute": per_minute}


def plot(result: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pm = result["per_minute"]
    x = [m["minute"] for m in pm]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    a.plot(x, [m["rss_mb"] for m in pm], color="tab:blue")
    base = result["rss"]["after_first_minute_mb"]
    tol = result["rss"]["tolerance_mb"]
    a.axhspan(base - tol, base + tol, color="tab:green", alpha=0.15, label=f"after minute 1 +- {tol:g} MB")
    a.set_ylabel("RSS (MB)")
    a.legend(loc="lower right")
    for q, c in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
        b.plot(x, [m["latency_ms"][q] for m in pm], label=q, color=c)
    b.set_ylabel("window latency (ms)")
    b.set_xlabel("simulated minute")
    b.legend(loc="upper right")
    cfg = result["config"]
    fig.suptitle(f"soak: {result['frames_pushed']:,} frames pushed, {cfg['tracks']} camera slots at "
                 f"{cfg['fps']:g} fps, {cfg['backend']}, {result['wall_s'] / 60:.1f} min wall")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--stride", type=int, default=None, help="default: the model's")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rss-tolerance-mb", type=float, default=10.0)
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "bench/results/soak.json")
    ap.add_argument("--plot", default=str(ROOT / "bench/results/soak.png"), help="PNG ('' for none)")
    args = ap.parse_args(argv)
    res = soak(args.minutes, args.tracks, args.fps, args.stride, args.backend, args.threads, args.seed)
    res["rss"]["tolerance_mb"] = args.rss_tolerance_mb
    res["rss"]["within_tolerance"] = abs(res["rss"]["max_drift_mb"]) <= args.rss_tolerance_mb
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    if args.plot:
        plot(res, pathlib.Path(args.plot))
    print(f"soak: {res['frames_pushed']:,} frames pushed in {res['wall_s']:.0f} s "
          f"({res['frames_per_s']:.0f}/s); RSS after minute 1 {res['rss']['after_first_minute_mb']:.1f} MB, "
          f"max drift {res['rss']['max_drift_mb']:+.2f} MB; outcomes {res['outcomes']}; "
          f"dropped {res['sdk_stats']['dropped_frames']}, evictions {res['sdk_stats']['evictions']}")
    return 0 if res["rss"]["within_tolerance"] else 1


if __name__ == "__main__":
    sys.exit(main())
