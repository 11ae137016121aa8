"""The per-frame path of continual mode (issue 22): what Recognizer.push costs around the model's
step, on the native frame path (frame_path="native") and on the Python reference path
(frame_path="python"), side by side in one run.

    taskset -c 1 python bench/frame_path.py              # full run (~5 min here, plus one export)
    python bench/frame_path.py --quick                   # smoke run (seconds of soak, few repeats)

Models: demo width = the embedded model (sdk.Recognizer()'s default, training/configs/
demo_streaming.yaml, trained); default width = training/configs/default_streaming.yaml with
random weights (bench/streaming.py's bundle_for exports it once; cached in
work_dirs/bench_streaming/, --fresh exports it again). Input: the real MediaPipe stream (shared/data/streams), repeated.

Rows (thread CPU per frame, median over repeats; every unit of a group interleaved A B C A B C,
so the shared machine's drift hits them alike; ratios are taken within one group: the targets
use the paired ratio, the median over repeats of the two units' times in the same repeat, and
the ratio of the medians is stored beside it):
  bare            NativeStepRunner.step on the real stream's frames, prepared beforehand by the
                  Python reference (CausalPreparer): the model step alone, as Python calls it
  push_native     Recognizer.push, continual mode, native backend, frame_path="native"
  push_python     the same with frame_path="python" (the path before issue 22)
  native_call     the native frame path's call alone (NativeFramePath.push on rows validated
                  beforehand): push_native minus this is the Python API's share of a frame
  sep16 / many16  16 tracks, each camera frame pushed as 16 push() calls / one push_many()
                  (which steps the tracks together: StepProgram.step_many, GEMMs batched)
  many16_unbatched  push_many with batching off (each track stepped alone)
  bare16          16 tracks' bare steps, one step() each
  bare16_batched  the same through step_many, as push_many batches them (the floor of many16)
Batching: n step() calls vs one step_many over n tracks, n = 2..16 (FrameRuntime's rule).
FLOPs: the demo model's FLOPs per frame, the GFLOP/s its bare steps ran at, and torch's
single-thread matmul of two 512 x 512 matrices on the same core (a large GEMM's rate).
CPU share: 8 tracks at 30 fps, from the per-frame cost (x 240 frames/s) and from a real-time
paced run (process CPU / wall). Memory: bytes per track (buffered_bytes) and the RSS growth of
admitting 64 tracks. Soak: 8 tracks pushed as fast as they go for --soak-s seconds, ids retired
and reset as they go, RSS sampled every second after a warm-up.
aarch64 under emulation (--emulated, run in the Debian arm64 root by `make bench-aarch64`,
tools/aarch64/test.sh): the same groups but for the CPU share, memory and soak, which are absolute
times and sizes that emulation makes meaningless; only the ratios count there. The default-width
bundle comes from --default-bundle (exported on the host: the root has no torch).
Writes bench/results/frame_path.json and frame_path.png (frame_path_aarch64.json, no PNG, when
emulated).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results"
SHARED = pathlib.Path(os.environ.get("BHARNET_SHARED") or ROOT.parent / "shared")
STREAM = SHARED / "data/streams/demo_skeleton_holistic.npy"
LAYOUT = "mediapipe_holistic"
FPS = 30.0
BLOCK = 16            # frames per timed call of a unit
TARGETS = {"demo_push_vs_bare": 1.5, "default_push_vs_bare": 1.1, "many16_vs_sep16": 0.5,
           "share_8x30fps": 0.05}


# ---- models ------------------------------------------------------------------------------------
def _streaming_bench():
    """bench/streaming.py, whose bundle cache and FLOP counter this script shares (both need
    torch, which the emulated aarch64 root has not: imported only where they are used)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    import streaming

    return streaming


def default_width_bundle(quiet: bool, fresh: bool = False) -> tuple[pathlib.Path, dict]:
    """The default-width streaming bundle (random weights), exported once by bench/streaming.py's
    bundle_for and cached in work_dirs/bench_streaming/ (--fresh exports it again): only its
    structure matters to these timings, not the exporter version that wrote it."""
    import hashlib

    import torch

    sb = _streaming_bench()
    cached = sorted(sb.CACHE.glob("frame_path_default-*.bharnet"))
    cached = [p for p in cached if ".partial" not in p.name]
    if cached and not fresh:
        return cached[-1], {"reused": True, "export_s": None}
    h = hashlib.sha256(torch.__version__.encode())
    for d in ("export", "training"):
        for p in sorted((ROOT / d).rglob("*.py")):
            h.update(str(p.relative_to(ROOT)).encode() + p.read_bytes())
    w = sb.WIDTHS["default"]
    return sb.bundle_for("frame_path_default", sb.config_of(w["streaming"]), w["classes"],
                         h.hexdigest(), fresh, quiet)


def recognizer(model, frame_path: str, **kw):
    from bharnet import sdk

    return sdk.Recognizer(None if model is None else str(model), backend="native", threads=1,
                          layout=LAYOUT, frame_path=frame_path, max_gap_ms=None,
                          idle_timeout_ms=None, **kw)


# ---- timing ------------------------------------------------------------------------------------
def interleave(units: dict, repeats: int) -> dict:
    """units: {name: (fn, frames)}; each fn() handles `frames` frames. Per-frame thread CPU (us),
    median and min over repeats, the order rotated each repeat."""
    names = list(units)
    for fn, _ in units.values():
        fn()
    cpu = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            fn, frames = units[n]
            c0 = time.thread_time_ns()
            fn()
            cpu[n].append((time.thread_time_ns() - c0) / frames / 1e3)
    return {n: {"cpu_us": statistics.median(v), "cpu_us_min": min(v), "repeats": repeats,
                "samples": v} for n, v in cpu.items()}


def paired(t: dict, a: str, b: str) -> float:
    """The median over repeats of a's time / b's time within the same repeat (the two ran next
    to each other): drift between repeats cancels, which the ratio of medians does not do."""
    return statistics.median(x / y for x, y in zip(t[a]["samples"], t[b]["samples"]))


def _drop_samples(t: dict) -> dict:
    return {n: {k: v for k, v in r.items() if k != "samples"} for n, r in t.items()}


class Feed:
    """Pushes the real stream into a Recognizer: push(n) sends the next n frames of each track.
    The frames are sliced once and each camera frame's per-track list is built beforehand, so the
    loop around push costs about what bare_unit's loop around step does (an index and a call):
    the harness is not charged to the SDK."""

    def __init__(self, rec, stream, tracks: int = 1, many: bool = False):
        self.rec, self.tracks, self.many, self.i = rec, tracks, many, 0
        self.results = 0
        self.ids = list(range(tracks))
        rows = list(stream)   # views, one per frame
        # camera frame i shows track t the stream's frame (i + 7 t) mod len: a cycle of len(rows)
        self.frames = [[rows[(i + 7 * t) % len(rows)] for t in self.ids] for i in range(len(rows))]

    def __call__(self, n: int = BLOCK) -> None:
        rec, frames, ids, cycle = self.rec, self.frames, self.ids, len(self.frames)
        results = 0
        for i in range(self.i, self.i + n):
            fr, ts = frames[i % cycle], i * 1000.0 / FPS
            if self.many:
                out = rec.push_many(fr, [ts] * len(ids), ids)
                results += sum(r is not None for r in out)
            else:
                push = rec.push
                for t in ids:
                    results += push(fr[t], ts, t) is not None
        self.i += n
        self.results += results


def prepared_frames(rec, stream, n: int) -> list:
    """The real stream's frames prepared by the Python reference, as the step runner takes them."""
    from bharnet.data.causal import CausalPreparer
    from bharnet.data.inputs import TIME_AXIS
    from bharnet.sdk.adapters import split_rows

    prep = CausalPreparer(LAYOUT, rec.spec)
    out = []
    for i in range(n):
        kp, sc = split_rows(stream[i % len(stream)], LAYOUT)
        x = prep.push(kp[None], sc[None])
        out.append({k: np.ascontiguousarray(np.take(v, 0, axis=TIME_AXIS[k])) for k, v in x.items()})
    return out


def bare_unit(rec, stream, tracks: int = 1, batch: int = 0, frames=None):
    """The model step alone on `tracks` states: one step() per state, or with batch > 0
    StepProgram.step_many on `batch` states at a time (the GEMMs batched across tracks)."""
    runner = rec._runner
    frames = frames or prepared_frames(rec, stream, 4 * BLOCK)
    states = [runner.new_state() for _ in range(tracks)]
    many = runner._impl.step_many
    pos = [0]

    def run():
        for _ in range(BLOCK):
            fr = frames[pos[0] % len(frames)]
            if batch:
                for k in range(0, tracks, batch):
                    many(states[k:k + batch], [fr] * len(states[k:k + batch]))
            else:
                for st in states:
                    runner.step(fr, st)
            pos[0] += 1
    return run


def native_call_unit(rec, stream):
    """The native frame path's own call (NativeFramePath.push, raw rows validated beforehand) on
    a track of its own, without the Python API around it (clock and gap rule, track table, input
    checks, the Recognition): push's cost beyond the bare step splits into this call's share
    (preparation, windows, outputs) and the API's."""
    path = rec._native
    track = path.new_stream().track
    rows = [rec._native_rows(stream[i % len(stream)]) for i in range(4 * BLOCK)]
    pos = [0]

    def run():
        for _ in range(BLOCK):
            r, col = rows[pos[0] % len(rows)]
            path.push(track, r, pos[0] * 1000.0 / FPS, col)
            pos[0] += 1
    return run


def warm(feed, frames: int) -> None:
    feed(frames)   # past the first window: recognitions come every stride from here on


# ---- groups --------------------------------------------------------------------------------------
def width_group(name: str, model, stream, repeats: int) -> dict:
    native, python = recognizer(model, "native"), recognizer(model, "python")
    assert native.stats()["frame_path"]["path"] == "native", native.stats()["frame_path"]
    feeds = {"push_native": Feed(native, stream), "push_python": Feed(python, stream)}
    for f in feeds.values():
        warm(f, native.window + 8)
    units = {"bare": (bare_unit(native, stream), BLOCK),
             "native_call": (native_call_unit(native, stream), BLOCK),
             "push_native": (feeds["push_native"], BLOCK),
             "push_python": (feeds["push_python"], BLOCK)}
    t = interleave(units, repeats)
    bare = t["bare"]["cpu_us"]
    ratios = {"push_native_vs_bare_paired": paired(t, "push_native", "bare"),
              "push_python_vs_bare_paired": paired(t, "push_python", "bare"),
              "native_call_vs_bare_paired": paired(t, "native_call", "bare"),
              "push_native_vs_native_call_paired": paired(t, "push_native", "native_call")}
    t = _drop_samples(t)
    return {**ratios,
            "model": "embedded (demo_streaming.yaml, trained)" if model is None else
            "default_streaming.yaml, random weights", "bundle": str(model or "embedded"),
            "classes": len(native.classes), "stride": native.stride, "schedule": native.schedule,
            "rows": t,
            "push_native_vs_bare": t["push_native"]["cpu_us"] / bare,
            "push_python_vs_bare": t["push_python"]["cpu_us"] / bare,
            "push_native_vs_bare_min": t["push_native"]["cpu_us_min"] / t["bare"]["cpu_us_min"],
            "python_vs_native": t["push_python"]["cpu_us"] / t["push_native"]["cpu_us"],
            "recognitions_per_frame": feeds["push_native"].results / max(1, feeds["push_native"].i)}


def tracks_group(stream, repeats: int, tracks: int = 16) -> dict:
    sep, many, unbatched = (recognizer(None, "native") for _ in range(3))
    batch = many._native._impl.batch
    unbatched._native._impl.set_batching(tracks + 1, batch)   # push_many, each track stepped alone
    fs, fm = Feed(sep, stream, tracks), Feed(many, stream, tracks, many=True)
    fu = Feed(unbatched, stream, tracks, many=True)
    for f in (fs, fm, fu):
        warm(f, sep.window + 8)
    frames = prepared_frames(sep, stream, 4 * BLOCK)
    units = {"bare16": (bare_unit(sep, stream, tracks, frames=frames), BLOCK * tracks),
             "bare16_batched": (bare_unit(sep, stream, tracks, batch, frames), BLOCK * tracks),
             "sep16": (lambda: fs(BLOCK), BLOCK * tracks),
             "many16": (lambda: fm(BLOCK), BLOCK * tracks),
             "many16_unbatched": (lambda: fu(BLOCK), BLOCK * tracks)}
    t = interleave(units, repeats)
    ratios = {"many16_vs_sep16_paired": paired(t, "many16", "sep16"),
              "bare16_vs_sep16_paired": paired(t, "bare16", "sep16"),
              "bare16_batched_vs_sep16_paired": paired(t, "bare16_batched", "sep16"),
              "bare16_batched_vs_bare16_paired": paired(t, "bare16_batched", "bare16"),
              "many16_vs_many16_unbatched_paired": paired(t, "many16", "many16_unbatched")}
    t = _drop_samples(t)
    return {**ratios, "tracks": tracks, "batch": batch, "batch_min": many._native._impl.batch_min,
            "rows": t,
            "many16_vs_sep16": t["many16"]["cpu_us"] / t["sep16"]["cpu_us"],
            "many16_vs_bare16": t["many16"]["cpu_us"] / t["bare16"]["cpu_us"],
            "sep16_vs_bare16": t["sep16"]["cpu_us"] / t["bare16"]["cpu_us"],
            "note": "per frame of one track (a call's CPU / (frames x tracks)). bare16: 16 step() "
                    "calls; bare16_batched: StepProgram.step_many, `batch` tracks per call (what "
                    "push_many runs); many16_unbatched: push_many with batching off. "
                    "bare16_batched / sep16 is the least push_many could reach without a cheaper "
                    "model step"}


def batching_group(stream, repeats: int, sizes=(2, 4, 8, 16)) -> dict:
    """The model step of n tracks: n step() calls vs one step_many over all n (paired, per track),
    the measurement behind FrameRuntime's batching rule (batch_min, batch)."""
    rec = recognizer(None, "native")
    frames = prepared_frames(rec, stream, 4 * BLOCK)
    out = {}
    for n in sizes:
        units = {"single": (bare_unit(rec, stream, n, frames=frames), BLOCK * n),
                 "batched": (bare_unit(rec, stream, n, n, frames), BLOCK * n)}
        t = interleave(units, repeats)
        out[str(n)] = {"batched_vs_single_paired": paired(t, "batched", "single"),
                       "rows": _drop_samples(t)}
    return out


def flop_group(tracks16: dict, repeats: int = 7, n: int = 512) -> dict:
    """Why the 16-track target is a question of FLOPs: the demo model's FLOPs per frame (counted
    on the step program, bench/streaming.step_mflop), the rate the bare steps of `tracks16` ran
    at, and, on the same core, torch's single-thread matmul of two n x n matrices (a large GEMM:
    what a GEMM kernel reaches when its operands are big enough to hide every overhead), timed
    right after that group."""
    import torch

    sb = _streaming_bench()
    rec = recognizer(None, "native")
    mflop, k = sb.step_mflop(rec.backend._program, rec.backend._weights, rec.schedule)
    per_frame = mflop / k
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        cpu = []
        for _ in range(repeats):
            c0 = time.thread_time_ns()
            torch.mm(a, b)
            cpu.append(time.thread_time_ns() - c0)
    finally:
        torch.set_num_threads(threads)
    rows = tracks16["rows"]
    rate = {u: per_frame / rows[u]["cpu_us"] * 1e3 for u in ("bare16", "bare16_batched")}
    return {"step_mflop_per_frame": per_frame, "frames_per_step_call": k,
            "step_gflops": rate,
            "torch_mm_gflops": 2 * n ** 3 / statistics.median(cpu), "torch_mm_n": n,
            "note": "GFLOP/s of the whole bare step (GEMMs, the other ops and the Python call "
                    "around it) against torch's single-thread matmul of two n x n matrices on "
                    "the same core: a step already at or above that rate leaves the 16-track "
                    "target to fewer FLOPs per frame, not to a faster GEMM"}


def share_group(stream, per_frame_us: float, seconds: float, tracks: int = 8) -> dict:
    """8 tracks at 30 fps: the CPU share from the measured per-frame cost, and a paced run."""
    rec = recognizer(None, "native")
    feed = Feed(rec, stream, tracks, many=True)
    warm(feed, rec.window + 8)
    frames = int(seconds * FPS)
    c0, w0 = time.process_time(), time.perf_counter()
    for k in range(frames):
        feed(1)
        delay = w0 + (k + 1) / FPS - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"tracks": tracks, "fps": FPS,
            "from_per_frame_cost": per_frame_us * tracks * FPS / 1e6,
            "paced": {"seconds": wall, "process_cpu_s": cpu, "share": cpu / wall,
                      "note": "process CPU over wall time while 8 tracks are pushed at 30 fps with "
                              "push_many, sleeping between camera frames (includes the sleep "
                              "loop and the interpreter's own idle cost)"}}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(path: str) -> dict:
    """In a fresh process (so freed memory of earlier groups cannot hide the growth): 64 tracks
    of one frame path, 40 frames each; bytes per track as the SDK counts them and as RSS grows."""
    stream = np.load(STREAM)
    rec = recognizer(None, path, max_tracks=64)
    rec.push(stream[0], 0.0, "warm-up")
    rec.reset("warm-up", forget=True)
    before = rss_bytes()
    for t in range(64):
        for i in range(40):
            rec.push(stream[i % len(stream)], i * 33.0, t)
    return {"buffered_bytes_per_track": rec.buffered_bytes() / 64,
            "rss_growth_per_track": (rss_bytes() - before) / 64}


def memory_group() -> dict:
    import subprocess

    out = {}
    for path in ("native", "python"):
        run = subprocess.run([sys.executable, __file__, "--memory-child", path], check=True,
                             capture_output=True, text=True)
        out[path] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def soak_group(stream, seconds: float) -> dict:
    """8 live tracks fed as fast as they go; every 500 camera frames one id is retired
    (reset(forget=True)) and a new one takes its place, and one track is reset."""
    rec = recognizer(None, "native", max_tracks=16)
    ids = list(range(8))
    nxt = 8
    samples, k, t0 = [], 0, time.perf_counter()
    last = t0
    while time.perf_counter() - t0 < seconds:
        frames = [stream[(k + 7 * j) % len(stream)] for j in range(len(ids))]
        rec.push_many(frames, [k * 1000.0 / FPS] * len(ids), ids)
        k += 1
        if k % 500 == 0:
            rec.reset(ids[0], forget=True)
            ids = ids[1:] + [nxt]
            nxt += 1
            rec.reset(ids[3])
        now = time.perf_counter()
        if now - last >= 1.0:
            samples.append((round(now - t0, 2), rss_bytes()))
            last = now
    warm_up = [s for s in samples if s[0] >= min(10.0, seconds / 3)]
    rss = [b for _, b in warm_up] or [rss_bytes()]
    slope = float(np.polyfit([s for s, _ in warm_up], rss, 1)[0]) * 60 if len(warm_up) > 2 else None
    return {"seconds": seconds, "camera_frames": k, "frames": k * 8, "ids_used": nxt,
            "rss_mb": [(s, b / 2**20) for s, b in samples],
            "rss_after_warmup_mb": {"first": rss[0] / 2**20, "last": rss[-1] / 2**20,
                                    "max_minus_min": (max(rss) - min(rss)) / 2**20},
            "slope_mb_per_min": None if slope is None else slope / 2**20,
            "stats": {k2: v for k2, v in rec.stats().items() if k2 != "tracks"}}


# ---- report --------------------------------------------------------------------------------------
def targets(res: dict) -> list[dict]:
    w = res["widths"]
    rows = [("demo_push_vs_bare", "demo width: push (native frame path) / bare native step",
             w.get("demo", {}).get("push_native_vs_bare_paired")),
            ("default_push_vs_bare", "default width: push (native frame path) / bare native step",
             w.get("default", {}).get("push_native_vs_bare_paired")),
            ("many16_vs_sep16", "16 tracks: push_many / 16 separate pushes, per frame",
             res["tracks16"]["many16_vs_sep16_paired"]),
            ("share_8x30fps", "8 tracks x 30 fps: share of one core (from per-frame cost)",
             res["share"]["from_per_frame_cost"] if "share" in res else None)]
    return [{"id": i, "what": what, "value": v, "target": TARGETS[i],
             "pass": None if v is None else bool(v <= TARGETS[i])} for i, what, v in rows]


def flops_line(f: dict) -> str:
    return (f"demo model: {f['step_mflop_per_frame']:.2f} MFLOP per frame; bare steps at "
            f"{f['step_gflops']['bare16']:.0f} GFLOP/s one by one, "
            f"{f['step_gflops']['bare16_batched']:.0f} batched; torch matmul {f['torch_mm_n']}^2 "
            f"at {f['torch_mm_gflops']:.0f} GFLOP/s (1 thread, same core)")


def plot(res: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5.6))
    ax = axes[0]
    labels, vals, cols = [], [], []
    for width, g in res["widths"].items():
        for key, col in (("bare", "#888888"), ("push_native", "#2b7bb9"), ("push_python", "#d95f02")):
            labels.append(f"{width}: {key}")
            vals.append(g["rows"][key]["cpu_us"])
            cols.append(col)
    y = np.arange(len(vals))[::-1]
    ax.barh(y, vals, color=cols)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=8)
    for yy, v in zip(y, vals):
        ax.text(v * 1.05, yy, f"{v:.0f} us", va="center", fontsize=8)
    ax.set_xlim(min(vals) / 2, max(vals) * 4)
    ax.set_xlabel("thread CPU per frame, us (log; median, 1 thread)", fontsize=8)
    ax.set_title("one track: push vs the bare native step", fontsize=10)
    ax = axes[1]
    g = res["tracks16"]["rows"]
    names = [n for n in ("bare16", "bare16_batched", "sep16", "many16_unbatched", "many16") if n in g]
    colours = {"bare16": "#888888", "bare16_batched": "#555555", "sep16": "#d95f02",
               "many16_unbatched": "#9ecae1", "many16": "#2b7bb9"}
    ax.bar(names, [g[n]["cpu_us"] for n in names], color=[colours[n] for n in names])
    ax.tick_params(axis="x", labelsize=7)
    for i, n in enumerate(names):
        ax.text(i, g[n]["cpu_us"], f"{g[n]['cpu_us']:.0f} us", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("thread CPU per frame of one track, us", fontsize=8)
    ax.set_title("16 tracks (demo width): bare steps (one by one, batched), 16 push(),\n"
                 "push_many() (tracks stepped one by one, batched)", fontsize=9)
    ax = axes[2]
    soak = res["soak"]["rss_mb"]
    if soak:
        mb = [m for _, m in soak]
        ax.plot([s for s, _ in soak], mb, color="#2b7bb9")
        ax.set_ylim(min(mb) - 20, max(mb) + 20)   # flat at a readable scale (+-20 MiB)
        ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("s", fontsize=8)
    ax.set_ylabel("RSS, MiB", fontsize=8)
    ax.set_title(f"soak: 8 tracks, {res['soak']['frames']} frames, ids churned", fontsize=10)
    notes = [f"{'PASS' if t['pass'] else 'MISS'} {t['value']:.3g} (target <= {t['target']:g})  {t['what']}"
             for t in res["targets"] if t["value"] is not None]
    if "flops" in res:
        notes.append(flops_line(res["flops"]))
    fig.text(0.01, 0.01, "\n".join(notes), fontsize=8, family="monospace", va="bottom")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: few repeats, short soak")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 60)")
    ap.add_argument("--soak-s", type=float, default=None, help="soak seconds (default 120)")
    ap.add_argument("--paced-s", type=float, default=None, help="paced 8x30 fps seconds (default 10)")
    ap.add_argument("--widths", nargs="+", default=["demo", "default"], choices=["demo", "default"])
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="export the default-width bundle again")
    ap.add_argument("--memory-child", choices=["native", "python"], help=argparse.SUPPRESS)
    ap.add_argument("--plot-only", action="store_true", help="redraw --png from --out, measure nothing")
    ap.add_argument("--emulated", action="store_true",
                    help="under qemu (make bench-aarch64): ratios only; no CPU share, memory, soak, PNG")
    ap.add_argument("--default-bundle", type=pathlib.Path,
                    help="the default-width bundle to time (exported elsewhere: the aarch64 root has no torch)")
    ap.add_argument("--print-default-bundle", action="store_true",
                    help="export (or reuse) the default-width bundle, print its path, measure nothing")
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS / "frame_path.json")
    ap.add_argument("--png", type=pathlib.Path, default=RESULTS / "frame_path.png")
    args = ap.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child)))
        return 0
    if args.plot_only:
        plot(json.loads(args.out.read_text()), args.png)
        return 0
    if args.print_default_bundle:
        print(default_width_bundle(True, args.fresh)[0])
        return 0
    repeats = args.repeats or (4 if args.quick else 60)
    soak_s = args.soak_s or (4.0 if args.quick else 120.0)
    paced_s = args.paced_s or (2.0 if args.quick else 10.0)
    stream = np.load(STREAM)
    from bharnet import _C

    res = {"issue": 22, "machine": {"platform": platform.platform(), "machine": platform.machine(),
                                   "cpu_affinity": sorted(os.sched_getaffinity(0)),
                                   "isa": _C.StepProgram.isa},
           "settings": {"repeats": repeats, "block": BLOCK, "fps": FPS, "layout": LAYOUT,
                        "stream": str(STREAM.relative_to(SHARED.parent)) if STREAM.is_relative_to(
                            SHARED.parent) else str(STREAM), "quick": args.quick},
           "widths": {}}
    models = {"demo": None}
    if "default" in args.widths and args.default_bundle is not None:
        if not args.default_bundle.is_file():
            ap.error(f"--default-bundle {args.default_bundle}: no such file")
        models["default"] = args.default_bundle
        res["default_bundle"] = {"path": args.default_bundle.name, "reused": True, "export_s": None}
    elif "default" in args.widths:
        path, info = default_width_bundle(args.quiet, args.fresh)
        models["default"] = path
        res["default_bundle"] = {"path": str(path.relative_to(ROOT)), **info}
    if args.emulated:
        res["emulated"] = ("qemu user emulation: only the ratios mean anything; absolute times, "
                           "the CPU share, memory and the soak are not measured")
    for width in args.widths:
        print(f"[{width}] push vs bare step, {repeats} interleaved repeats", flush=True)
        res["widths"][width] = width_group(width, models[width], stream, repeats)
    print("[batching] n step() vs one step_many, n = 2..16", flush=True)
    res["batching"] = batching_group(stream, max(3, repeats // 3))
    print("[16 tracks] bare vs push vs push_many", flush=True)
    res["tracks16"] = tracks_group(stream, max(3, repeats // 2))
    per_frame = res["tracks16"]["rows"]["many16"]["cpu_us"]
    if not args.emulated:
        print("[FLOPs] the step's rate against a large GEMM", flush=True)
        res["flops"] = flop_group(res["tracks16"])
        print("[8 tracks x 30 fps] paced run", flush=True)
        res["share"] = share_group(stream, per_frame, paced_s)
        print("[memory] 64 tracks per path", flush=True)
        res["memory"] = memory_group()
        print(f"[soak] {soak_s:g} s", flush=True)
        res["soak"] = soak_group(stream, soak_s)
        res["aarch64"] = ("bench/results/frame_path_aarch64.json (make bench-aarch64: the same "
                          "ratios under qemu)")
    res["targets"] = targets(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    if not args.emulated:
        plot(res, args.png)
    for t in res["targets"]:
        v = "n/a" if t["value"] is None else f"{t['value']:.3g}"
        verdict = "n/a " if t["pass"] is None else ("PASS" if t["pass"] else "MISS")
        print(f"{verdict}  {v:>7}  (<= {t['target']:g})  {t['what']}")
    if "flops" in res:
        print(flops_line(res["flops"]))
    print(f"wrote {args.out}" + ("" if args.emulated else f" and {args.png}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
