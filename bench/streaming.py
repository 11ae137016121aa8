"""Continual streaming benchmark (issue 12): windowed recompute against continual inference, on
real exported bundles, at the demo model's width and at the default backbone's width.

    python bench/streaming.py                 # full run (5-10 min here, most of it exporting)
    python bench/streaming.py --quick         # smoke run: few repeats, no gemm_nn child
    python bench/streaming.py --widths demo --repeats 20 --out /tmp/s.json --png /tmp/s.png

Models (vanilla BHaRNet, COCO-WholeBody input -> coco17 body + two hands, one person; random
weights with non-trivial BatchNorm statistics, tests/continual_helpers.random_model), each written
as a training checkpoint and exported by bharnet.export.builder.export_checkpoint (bundles cached
in work_dirs/bench_streaming/, keyed by config and the exporter's sources; --fresh re-exports):
  demo     today  training/configs/demo.yaml (base 16, 6 blocks, 9x1 conv TCN, T=32, same padding)
           stream training/configs/demo_streaming.yaml (valid, 3x1 convs, window 31)
  default  today  the default backbone (base 64, 10 blocks, multi-scale TCN, T=64, same padding)
           stream training/configs/default_streaming.yaml (valid, dilations [1], window 63)

Rows per width (batch 1, one track, 1 thread everywhere):
  today_window_s1/_s8    ONNX Runtime on today's window graph, recomputed every 1 / 8 frames
  stream_window_s1/_s4   the same on the streaming bundle's window graph (stride 4 equals continual)
  ort_step_native/atrous the bundle's step graphs on ONNX Runtime (the faster of plain run() and
                         IOBinding with ping-pong state buffers; both are stored)
  native_step_*          the native C++ step runtime (NativeStepRunner) on the bundle's program
The window rows time one window run and divide by the stride: the stride changes how often the
window runs, not its cost. Every timed unit of one width is interleaved (A B C ... A B C ...), so
drift on this shared machine hits them all alike; the figure is the median over repeats of thread
CPU time per frame (wall time too). FLOPs: torch.utils.flop_counter on export/program_torch's
ProgramModule (window forward per window; step forward per call / frames per call), checked
against training/cost.py's count of today's torch models.

End to end (the SDK): Recognizer.push on the real MediaPipe stream (shared/data/streams, repeated),
including the causal preparation, in window and continual mode, on onnxruntime and native; thread
CPU per frame over chunks of 16 frames after the first window, interleaved the same way. Parity:
the SDK's window and continual modes on the real stream compared at every common prediction
(logits), with the step graphs' own export checks. Accuracy: read from
bench/results/streaming_accuracy.json and streaming_demo.json (bench/streaming_accuracy.py); never
measured here. Writes bench/results/streaming.json and streaming.png.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training/configs"
RESULTS = ROOT / "bench/results"
CACHE = ROOT / "work_dirs/bench_streaming"
SHARED = pathlib.Path(os.environ.get("BHARNET_SHARED") or ROOT.parent / "shared")   # as the tests
STREAM = SHARED / "data/streams/demo_skeleton_holistic.npy"

FPS = 30.0
BLOCK = 16        # frames per timed block: a multiple of every stride and frames-per-call in use
SEED = 0
COMMON = {"model": {"variant": "vanilla", "use_kernels": False},
          "data": {"layout": "coco_wholebody", "body_layout": "coco17", "num_person": 1}}
WIDTHS = {  # config file (None: the defaults) of today's model and of the streaming one; classes
    "demo": {"today": "demo.yaml", "streaming": "demo_streaming.yaml", "classes": 15},
    "default": {"today": None, "streaming": "default_streaming.yaml", "classes": 60},
}
TOL = 1e-4


# ---- models and bundles ---------------------------------------------------------------------------
def config_of(name: str | None) -> dict:
    import yaml

    from bharnet.training.config import load_config, merge

    raw = yaml.safe_load((CONFIGS / name).read_text()) if name else {}
    return load_config(merge(raw, COMMON))


def sources_digest() -> str:
    """What an exported bundle depends on: the exporter, the models, the package, torch."""
    import torch

    h = hashlib.sha256(torch.__version__.encode())
    for d in ("export", "training", "python/bharnet"):
        for p in sorted((ROOT / d).rglob("*.py")):
            h.update(str(p.relative_to(ROOT)).encode() + p.read_bytes())
    return h.hexdigest()


def bundle_for(name: str, cfg: dict, classes: int, digest: str, fresh: bool, quiet: bool):
    """(path, info) of the bundle of a random-weight checkpoint of `cfg`, exported (or cached)."""
    key = hashlib.sha256(json.dumps({"cfg": cfg, "classes": classes, "seed": SEED, "src": digest},
                                    sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = CACHE / f"{name}-{key}.bharnet"
    if path.is_file() and not fresh:
        return path, {"reused": True, "export_s": None}
    sys.path.insert(0, str(ROOT / "tests"))   # continual_helpers.random_model: the tests' weights
    from continual_helpers import random_model

    from bharnet.export.builder import export_checkpoint
    from bharnet.training.checkpoint import save_checkpoint
    from bharnet.training.config import input_spec

    ckpt = save_checkpoint(path.with_suffix(".pt"), config=cfg, num_classes=classes,
                           classes=[f"action_{i}" for i in range(classes)], hand_intensive=[1],
                           source_layout=cfg["data"]["layout"], spec=input_spec(cfg).to_dict(),
                           model=random_model(cfg, seed=SEED, classes=classes).state_dict())
    print(f"exporting {name} (bharnet.export.builder.export_checkpoint)", flush=True)
    t0 = time.perf_counter()
    tmp = path.with_name(path.stem + ".partial.bharnet")
    export_checkpoint(ckpt, tmp, fp16=False, quiet=quiet)
    tmp.replace(path)
    for old in CACHE.glob(f"{name}-*"):   # bundles of older sources or configs: never read again
        if old.stem.split(".")[0] != path.stem:
            old.unlink()
    return path, {"reused": False, "export_s": round(time.perf_counter() - t0, 1)}


# ---- FLOPs ----------------------------------------------------------------------------------------
def _zeros(program, frames: int) -> list:
    import torch

    return [torch.zeros((1, frames, s[1]) if n == "hand_mask" else (1, s[0], frames, s[2], s[3]))
            for n, s in program.inputs.items()]


def _count(module, args) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        module(*args)
    return int(fc.get_total_flops())


def window_mflop(program, weights) -> float:
    from bharnet.export.program_torch import ProgramModule

    return _count(ProgramModule(program, weights, "window").eval(), _zeros(program, program.window)) / 1e6


def step_mflop(program, weights, schedule: str) -> tuple[float, int]:
    """(MFLOP of one step call, frames per call)."""
    from bharnet.export.continual import step_module

    m = step_module(program, weights, schedule).eval()
    return _count(m, _zeros(m.program, m.k) + m.zero_state(1)) / 1e6, m.k


def cost_py_mflop(cfg: dict, classes: int) -> float:
    """training/cost.py's count on the torch model of a config (the counter's cross-check)."""
    from bharnet.training.config import build_model, example_inputs
    from bharnet.training.cost import count_flops

    model = build_model(cfg, num_classes=classes, use_kernels=False)
    return count_flops(model, example_inputs(cfg, batch=1)) / 1e6


# ---- timing ---------------------------------------------------------------------------------------
def interleave(units: dict, repeats: int) -> dict:
    """units: {name: (fn, frames)}; fn() runs `frames` frames. Each unit runs once per repeat, in
    an order rotated every repeat. Per-frame thread-CPU and wall medians (microseconds)."""
    names = list(units)
    for fn, _ in units.values():
        fn()   # warm-up (first-run allocations, lazy initialisation)
    cpu = {n: [] for n in names}
    wall = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            fn, frames = units[n]
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            fn()
            cpu[n].append((time.thread_time_ns() - c0) / frames / 1e3)
            wall[n].append((time.perf_counter_ns() - w0) / frames / 1e3)
    return {n: {"cpu_us": statistics.median(cpu[n]), "wall_us": statistics.median(wall[n]),
                "cpu_us_min": min(cpu[n]), "repeats": repeats} for n in names}


def ort_session(onnx_bytes: bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def _random_feed(sess, rng, frames_axis_len=None) -> dict:
    """Batch-1 random inputs for a session's non-state inputs (values do not change the time)."""
    feed = {}
    for i in sess.get_inputs():
        if i.name.startswith("state."):
            continue
        shape = [1] + [int(d) for d in i.shape[1:]]
        x = rng.normal(0, 1, shape) if i.name != "hand_mask" else np.ones(shape)
        feed[i.name] = x.astype(np.float32)
    return feed


def window_unit(bundle, rng):
    """(fn running the window graph once, bytes of one window's inputs)."""
    sess = ort_session(bundle.onnx_bytes())
    feed = _random_feed(sess, rng)
    return (lambda: sess.run(None, feed)), int(sum(v.nbytes for v in feed.values()))


def ort_step_units(bundle, schedule: str, rng) -> tuple[dict, int]:
    """{"run": fn, "iobinding": fn} each running BLOCK frames of the step graph, and the state's
    bytes. run(): inputs and the returned state handed back each call; IOBinding: two bindings
    over two state buffers (A -> B, B -> A), the frame buffers refilled in place."""
    cont = bundle.meta.continual
    member = cont["schedules"][schedule]
    sess = ort_session(bundle.member(member))
    k = int(bundle.meta.graphs[member]["frames_per_call"])
    prefix = f"{schedule}/"
    init = {n[len(prefix):]: v for n, v in bundle.weights(cont["init_state"]).items()
            if n.startswith(prefix)}
    calls = [_random_feed(sess, rng) for _ in range(BLOCK // k)]
    names_in = [i.name for i in sess.get_inputs()]
    names_out = [o.name for o in sess.get_outputs()]
    back = {o: "state." + o[len("state_out."):] for o in names_out if o.startswith("state_out.")}

    state = dict(init)

    def plain():
        nonlocal state
        for feed in calls:
            outs = sess.run(None, {**feed, **state})
            state = {back[n]: v for n, v in zip(names_out, outs) if n in back}

    bufs = {n: np.zeros_like(v) for n, v in calls[0].items()}
    a = {n: np.array(v, np.float32) for n, v in init.items()}   # a copy: ORT writes into it
    b = {n: np.zeros_like(v) for n, v in init.items()}
    outs = {o.name: np.zeros([1] + [int(d) for d in o.shape[1:]], np.float32)
            for o in sess.get_outputs() if o.name not in back}

    def binding(src, dst):
        io = sess.io_binding()
        for n in names_in:
            x = bufs[n] if n in bufs else src[n]
            io.bind_input(n, "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        for n in names_out:
            x = dst[back[n]] if n in back else outs[n]
            io.bind_output(n, "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        return io
    ping, pong = binding(a, b), binding(b, a)
    flip = [False]

    def bound(_alive=(a, b, outs)):   # the bindings hold raw pointers: keep their arrays alive
        for feed in calls:
            for n, v in feed.items():
                np.copyto(bufs[n], v)
            sess.run_with_iobinding(pong if flip[0] else ping)
            flip[0] = not flip[0]
    return {"run": plain, "iobinding": bound}, int(sum(v.nbytes for v in init.values()))


def native_step_unit(bundle, schedule: str, rng):
    """(fn running BLOCK frames through the native step runtime, state bytes, runner)."""
    from bharnet.backends.native_step import NativeStepRunner

    program, weights = bundle.program()
    runner = NativeStepRunner(program, weights, schedule)
    state = runner.new_state()
    frames = []
    for _ in range(BLOCK):
        fr = {}
        for n, s in program.inputs.items():   # [C, T, V, I] -> one frame [C, V, I]; mask [I]
            fr[n] = (np.ones(s[1]) if n == "hand_mask" else rng.normal(0, 1, (s[0], s[2], s[3])))
            fr[n] = np.ascontiguousarray(fr[n], np.float32)
        frames.append(fr)

    def run():
        for fr in frames:
            runner.step(fr, state)
    return run, runner.state_bytes(state), runner


# ---- the SDK, end to end ----------------------------------------------------------------------------
def real_frames():
    s = np.load(STREAM)
    return lambda i: s[i % len(s)]


def sdk_recognizer(path, backend: str, mode: str, stride: int, schedule: str | None = None):
    from bharnet import sdk

    kw = {"schedule": schedule} if schedule else {}
    return sdk.Recognizer(str(path), backend=backend, mode=mode, stride=stride, threads=1,
                          layout="mediapipe_holistic", max_gap_ms=None, **kw)


class SdkFeed:
    """One Recognizer fed the real stream from frame 0; push(n) pushes its next n frames."""

    def __init__(self, rec, frame):
        self.rec, self.frame, self.i = rec, frame, 0
        self.first = None        # frames pushed when the first recognition came
        self.recognitions = 0

    def push(self, n: int) -> None:
        for _ in range(n):
            out = self.rec.push(self.frame(self.i), self.i * 1000.0 / FPS)
            self.i += 1
            if out is not None:
                self.recognitions += 1
                if self.first is None:
                    self.first = self.i


def sdk_rows(today, stream, cont: dict, chunks: int) -> list[dict]:
    """Per-frame CPU of the SDK's modes on the real stream, interleaved chunk by chunk."""
    frame = real_frames()
    every = int(cont["total_stride"])
    cases = []
    for backend in ("onnxruntime", "native"):
        cases += [("today_window_s8", today, backend, "window", 8, None),
                  (f"stream_window_s{every}", stream, backend, "window", every, None),
                  (f"continual_native_s{every}", stream, backend, "continual", every, "native"),
                  ("continual_atrous_s1", stream, backend, "continual", 1, "atrous")]
    feeds, units = {}, {}
    for key, path, backend, mode, stride, schedule in cases:
        name = f"{key}_{'ort' if backend == 'onnxruntime' else backend}"
        f = SdkFeed(sdk_recognizer(path, backend, mode, stride, schedule), frame)
        f.push(f.rec.window)   # the first window fills (not timed: no model runs before it)
        feeds[name] = (f, key, backend, mode, stride, schedule)
        units[name] = ((lambda f=f: f.push(BLOCK)), BLOCK)
    before = {n: (f.i, f.recognitions) for n, (f, *_) in feeds.items()}
    timed = interleave(units, chunks)
    rows = []
    for n, (f, key, backend, mode, stride, schedule) in feeds.items():
        frames, recs = f.i - before[n][0], f.recognitions - before[n][1]
        bundle = "today" if key.startswith("today") else "streaming"
        label = (f"SDK {'today' if bundle == 'today' else 'streaming'} {mode}"
                 f"{' ' + schedule if schedule else ''} s{stride}, {'ORT' if backend == 'onnxruntime' else backend}")
        rows.append({"key": n, "label": label, "bundle": bundle, "backend": backend, "mode": mode, "schedule": f.rec.schedule, "stride": stride,
                     "cpu_us_per_frame": timed[n]["cpu_us"], "wall_us_per_frame": timed[n]["wall_us"],
                     "cpu_us_per_frame_min": timed[n]["cpu_us_min"], "chunks": chunks,
                     "predictions_per_s": recs / frames * FPS,
                     "first_prediction_frames": f.first, "first_prediction_s": f.first / FPS,
                     "buffered_bytes_per_track": f.rec.buffered_bytes()})
    return rows


class _Recording:
    """A backend or step runner that keeps the logits of its last call that returned outputs."""

    def __init__(self, inner):
        self.inner, self.last = inner, None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _keep(self, out):
        if out is not None:
            self.last = np.array(out["logits"], np.float64)
        return out

    def run(self, inputs):
        return self._keep(self.inner.run(inputs))

    def step(self, frame, state):
        return self._keep(self.inner.step(frame, state))


def sdk_parity(path, cont: dict, backend: str, frames: int) -> dict:
    """The SDK's continual recognitions (both schedules) against its window mode on the real
    stream, at every frame both recognise: max-abs logit difference and label agreement.
    (Instrumented recognizers: the window mode's backend and the continual runner are wrapped
    to keep each call's logits; these are not the timed ones.)"""
    frame = real_frames()
    every = int(cont["total_stride"])
    recs = {"window": sdk_recognizer(path, backend, "window", every),
            "native": sdk_recognizer(path, backend, "continual", every, "native"),
            "atrous": sdk_recognizer(path, backend, "continual", 1, "atrous")}
    recs["window"].backend = probe_w = _Recording(recs["window"].backend)
    probes = {"window": probe_w}
    for k in ("native", "atrous"):   # read when the track is created, at the first push
        recs[k]._runner = probes[k] = _Recording(recs[k]._runner)
    logits = {k: {} for k in recs}
    labels = {k: {} for k in recs}
    for i in range(frames):
        for k, rec in recs.items():
            out = rec.push(frame(i), i * 1000.0 / FPS)
            if out is not None and out.label is not None:
                logits[k][i], labels[k][i] = probes[k].last, out.label
    res = {}
    for k in ("native", "atrous"):
        common = sorted(set(logits["window"]) & set(logits[k]))
        diff = max((float(np.abs(logits[k][i] - logits["window"][i]).max()) for i in common),
                   default=None)
        res[k] = {"points": len(common), "max_abs": diff,
                  "labels_equal": all(labels[k][i] == labels["window"][i] for i in common),
                  "logit_scale": max((float(np.abs(logits["window"][i]).max()) for i in common),
                                     default=None)}
    return res


# ---- one width ------------------------------------------------------------------------------------
def _row(key, label, model, runtime, every, mflop_pred, mflop_frame, t, first, state_bytes, **extra):
    return {"key": key, "label": label, "model": model, "runtime": runtime,
            "frames_per_prediction": every, "predictions_per_s": FPS / every,
            "mflop_per_prediction": mflop_pred, "mflop_per_frame": mflop_frame,
            "cpu_us_per_frame": t["cpu_us"], "wall_us_per_frame": t["wall_us"],
            "cpu_us_per_frame_min": t["cpu_us_min"], "first_prediction_frames": first,
            "first_prediction_s": first / FPS if first else None, "state_bytes": state_bytes, **extra}


def _scaled(t: dict, factor: float) -> dict:
    return {k: (v / factor if k.endswith("_us") or k == "cpu_us_min" else v) for k, v in t.items()}


def bench_width(width: str, args, digest: str) -> dict:
    from bharnet.bundle import open_bundle
    from bharnet.training.config import temporal_plan

    spec = WIDTHS[width]
    cfgs = {"today": config_of(spec["today"]), "streaming": config_of(spec["streaming"])}
    paths, structures = {}, {}
    for kind, cfg in cfgs.items():
        paths[kind], info = bundle_for(f"{width}_{kind}", cfg, spec["classes"], digest, args.fresh,
                                       args.quiet)
        padding, rf, stride = temporal_plan(cfg)
        structures[kind] = {"config": f"training/configs/{spec[kind]}" if spec[kind] else
                            "defaults (training/config.py)", "backbone": cfg["model"]["backbone"] or
                            "default", "window": cfg["data"]["window"], "padding": padding,
                            "backbone_receptive_field": rf, "total_stride": stride,
                            "classes": spec["classes"], "bundle": str(paths[kind].relative_to(ROOT)),
                            **info}
    today, stream = open_bundle(paths["today"]), open_bundle(paths["streaming"])
    cont = stream.meta.continual
    every = int(cont["total_stride"])
    structures["streaming"]["program_receptive_field"] = cont["receptive_field"]
    print(f"[{width}] FLOPs", flush=True)
    tp, tw = today.program()
    sp, sw = stream.program()
    fl = {"today_window": window_mflop(tp, tw), "stream_window": window_mflop(sp, sw)}
    for sched in ("native", "atrous"):
        fl[sched] = step_mflop(sp, sw, sched)
    check = cost_py_mflop(cfgs["today"], spec["classes"])
    flops_check = {"program_window_mflop": fl["today_window"], "cost_py_mflop": check,
                   "ratio": fl["today_window"] / check}

    print(f"[{width}] model rows, {args.repeats} interleaved repeats", flush=True)
    rng = np.random.default_rng(0)
    units, state = {}, {}
    units["today_window"], state["today_window"] = window_unit(today, rng)
    units["stream_window"], state["stream_window"] = window_unit(stream, rng)
    units = {n: (fn, 1) for n, fn in units.items()}    # per window run
    for sched in ("native", "atrous"):
        ort_fns, state[f"ort_{sched}"] = ort_step_units(stream, sched, rng)
        for how, fn in ort_fns.items():
            units[f"ort_{sched}_{how}"] = (fn, BLOCK)
        fn, state[f"native_{sched}"], runner = native_step_unit(stream, sched, rng)
        units[f"native_{sched}"] = (fn, BLOCK)
        isa = runner.isa
    t = interleave(units, args.repeats)

    print(f"[{width}] SDK rows on the real stream, {args.chunks} interleaved chunks", flush=True)
    sdk = sdk_rows(paths["today"], paths["streaming"], cont, args.chunks)
    first = {r["key"]: r["first_prediction_frames"] for r in sdk}
    f_today, f_stream = first["today_window_s8_ort"], first[f"continual_native_s{every}_ort"]

    rows = []
    for s in (1, 8):
        rows.append(_row(f"today_window_s{s}", f"today's window, stride {s}", "today", "onnxruntime", s,
                         fl["today_window"], fl["today_window"] / s, _scaled(t["today_window"], s),
                         f_today, state["today_window"]))
    for s in (1, every):
        rows.append(_row(f"stream_window_s{s}", f"streaming window, stride {s}", "streaming",
                         "onnxruntime", s, fl["stream_window"], fl["stream_window"] / s,
                         _scaled(t["stream_window"], s), f_stream, state["stream_window"]))
    for sched in ("native", "atrous"):
        mflop, k = fl[sched]
        run, bound = t[f"ort_{sched}_run"], t[f"ort_{sched}_iobinding"]
        best = min((run, bound), key=lambda x: x["cpu_us"])
        rows.append(_row(f"ort_step_{sched}", f"ORT step graph, {sched}", "streaming", "onnxruntime",
                         k, mflop, mflop / k, best, f_stream, state[f"ort_{sched}"],
                         how="iobinding" if best is bound else "run", run=run, iobinding=bound))
    for sched in ("native", "atrous"):
        mflop, k = fl[sched]
        rows.append(_row(f"native_step_{sched}", f"native runtime, {sched}", "streaming", "native",
                         k, mflop, mflop / k, t[f"native_{sched}"], f_stream, state[f"native_{sched}"],
                         isa=isa))

    print(f"[{width}] parity: SDK window vs continual on the real stream", flush=True)
    parity = {"export_checks": {g["schedule"]: g["check"] for g in stream.meta.graphs.values()
                                if g.get("role") == "step"},
              "sdk": {b: sdk_parity(paths["streaming"], cont, b, stream.meta.window + args.parity_frames)
                      for b in ("onnxruntime", "native")}}
    res = {"structures": structures, "flops_check": flops_check, "rows": rows, "sdk": sdk,
           "parity": parity}
    if args.gemm_nn:
        res["native_step_gemm_nn"] = gemm_nn_in_child(paths["streaming"], args.repeats)
    return res


def gemm_nn_in_child(path, repeats: int) -> dict:
    """The native runtime with its fused step GEMM replaced by the kernels' gemm_nn
    (BHARNET_STEP_GEMM=gemm_nn, read once per process: a child): what the fusion buys. Not
    interleaved with the parent's rows (another process, just after them)."""
    cmd = [sys.executable, __file__, "--child-gemm-nn", str(path), "--repeats", str(repeats)]
    out = subprocess.run(cmd, env={**os.environ, "BHARNET_STEP_GEMM": "gemm_nn"}, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_gemm_nn(path: str, repeats: int) -> None:
    from bharnet.bundle import open_bundle

    b, rng = open_bundle(path), np.random.default_rng(0)
    units = {s: (native_step_unit(b, s, rng)[0], BLOCK) for s in ("native", "atrous")}
    print(json.dumps(interleave(units, repeats)))


# ---- targets, accuracy, report --------------------------------------------------------------------
def find(res: dict, width: str, key: str) -> dict | None:
    w = res["widths"].get(width)
    if w is None:
        return None
    return next((r for r in w["rows"] + w["sdk"] if r["key"] == key), None)


def _ratio_target(res, tid, short, name, threshold, parts, rate_min=None) -> dict:
    """A per-frame CPU target: parts = [(width, slower row, faster row)]; the ratio is the least
    part's (slower / faster), which must be >= threshold (and the faster row must predict at least
    rate_min times as often, where given)."""
    out = {"id": tid, "short": short, "target": name, "threshold": threshold, "parts": []}
    for width, num, den in parts:
        a, b = find(res, width, num), find(res, width, den)
        if a is None or b is None:
            return {**out, "ratio": None, "pass": None, "note": f"width {width!r} was not run"}
        part = {"width": width, "numerator": num, "denominator": den,
                "ratio": a["cpu_us_per_frame"] / b["cpu_us_per_frame"]}
        if rate_min is not None:
            part["prediction_rate_ratio"] = b["predictions_per_s"] / a["predictions_per_s"]
        out["parts"].append(part)
    out["ratio"] = min(p["ratio"] for p in out["parts"])
    ok = out["ratio"] >= threshold
    if rate_min is not None:
        out["rate_min"] = rate_min
        ok = ok and all(p["prediction_rate_ratio"] >= rate_min for p in out["parts"])
    return {**out, "pass": bool(ok)}


def targets(res: dict) -> list[dict]:
    ts = [
        # like for like: window recompute predicts every frame, so does the atrous schedule
        _ratio_target(res, "default_continual_vs_window_s1",
                      "default: native runtime (atrous) vs today's window stride 1, >= 15x",
                      "default width: continual (native runtime, atrous, a prediction every "
                      "frame) vs today's window recompute at stride 1, >= 15x less CPU per frame",
                      15.0, [("default", "today_window_s1", "native_step_atrous")]),
        _ratio_target(res, "default_continual_vs_today_s8",
                      "default: native runtime (native) vs today's stride 8, >= 4x, >= 2x predictions",
                      "default width: continual (native runtime, native schedule) vs today's "
                      "stride 8, >= 4x less CPU per frame, predicting >= 2x as often", 4.0,
                      [("default", "today_window_s8", "native_step_native")], rate_min=2.0),
        _ratio_target(res, "demo_native_vs_ort_step",
                      "demo: native runtime vs ORT step graph, 1 thread, >= 1.5x (both schedules)",
                      "demo width: native step runtime vs ONNX Runtime step graph, 1 thread, "
                      ">= 1.5x (both schedules)", 1.5,
                      [("demo", "ort_step_native", "native_step_native"),
                       ("demo", "ort_step_atrous", "native_step_atrous")]),
    ]
    sources = []
    for width, w in res["widths"].items():
        for sched, c in w["parity"]["export_checks"].items():
            sources.append({"source": f"{width} bundle export check, {sched} step graph vs window "
                            f"graph ({c['points']} predictions)", "max_abs": c["max_abs"]})
        for backend, p in w["parity"]["sdk"].items():
            for sched, c in p.items():
                sources.append({"source": f"{width} SDK on the real stream, {backend}, continual "
                                f"{sched} vs window ({c['points']} predictions)", "max_abs": c["max_abs"]})
    known = [s["max_abs"] for s in sources if s["max_abs"] is not None]
    worst = max(known) if known else None
    ts.append({"id": "logits_parity", "short": "continual vs windowed logits, max-abs <= 1e-4",
               "target": "continual vs windowed logits at every prediction point, <= 1e-4 max-abs",
               "threshold": TOL, "value": worst, "sources": sources,
               "pass": None if worst is None else bool(worst <= TOL)})
    return ts


def _get(doc, *path):
    for p in path:
        try:
            doc = doc[p]
        except (KeyError, IndexError, TypeError):
            return None
    return doc if isinstance(doc, (int, float)) and not isinstance(doc, bool) else None


def accuracy() -> dict:
    """Streaming vs windowed accuracy as bench/streaming_accuracy.py recorded it; None where it
    has not (nothing here trains or guesses)."""
    def load(name):
        p = RESULTS / name
        return json.loads(p.read_text()) if p.is_file() else None
    acc, demo = load("streaming_accuracy.json"), load("streaming_demo.json")
    entries = [
        ("JHMDB split 1, body_only, top-1", (acc, "jhmdb", "windowed_reference", "top1", 0),
         (acc, "jhmdb", "streaming", "top1", 0)),
        ("synthetic fine-grained, vanilla, top-1", (acc, "synth", "variants", "vanilla", "windowed", "top1", 0),
         (acc, "synth", "variants", "vanilla", "streaming", "top1", 0)),
        ("synthetic fine-grained, vanilla, hand-intensive top-1",
         (acc, "synth", "variants", "vanilla", "windowed", "hand_intensive_top1", 0),
         (acc, "synth", "variants", "vanilla", "streaming", "hand_intensive_top1", 0)),
        ("demo recipe (synthetic test), top-1", (demo, "windowed", "top1"), (demo, "streaming", "top1")),
    ]
    rows = [{"what": what, "windowed": _get(*w), "streaming": _get(*s)} for what, w, s in entries]
    for r in rows:
        r["difference"] = (None if r["windowed"] is None or r["streaming"] is None
                           else r["streaming"] - r["windowed"])
    gate = (acc or {}).get("verdict", {}).get("pass") if isinstance(acc, dict) else None
    return {"sources": ["bench/results/streaming_accuracy.json", "bench/results/streaming_demo.json"],
            "rows": rows, "gate_pass": gate if isinstance(gate, bool) else None}


def _num(x, fmt):
    return "not measured" if x is None else format(x, fmt)


def table(res: dict) -> str:
    lines = []
    hdr = (f"{'width':7} {'row':42} {'MFLOP/fr':>9} {'MFLOP/pred':>10} {'CPU us/fr':>10} {'wall us/fr':>10} "
           f"{'pred/s':>6} {'1st pred':>12} {'state KB':>9} {'CPU vs s1':>9}")
    for width, w in res["widths"].items():
        lines.append(hdr)
        base = find(res, width, "today_window_s1")["cpu_us_per_frame"]
        for r in w["rows"]:
            lines.append(f"{width:7} {r['label'] + (' (' + r['how'] + ')' if 'how' in r else ''):42} "
                         f"{r['mflop_per_frame']:9.2f} {r['mflop_per_prediction']:10.2f} "
                         f"{r['cpu_us_per_frame']:10.1f} {r['wall_us_per_frame']:10.1f} "
                         f"{r['predictions_per_s']:6.2f} {r['first_prediction_frames']:4d} fr {r['first_prediction_s']:4.2f}s "
                         f"{r['state_bytes'] / 1024:9.1f} {base / r['cpu_us_per_frame']:8.1f}x")
        for r in w["sdk"]:
            lines.append(f"{width:7} {r['label']:42} {'':9} {'':10} {r['cpu_us_per_frame']:10.1f} "
                         f"{r['wall_us_per_frame']:10.1f} {r['predictions_per_s']:6.2f} "
                         f"{r['first_prediction_frames']:4d} fr {r['first_prediction_s']:4.2f}s "
                         f"{r['buffered_bytes_per_track'] / 1024:9.1f}")
        nn = w.get("native_step_gemm_nn")
        if nn:
            lines.append(f"{width:7} native runtime with gemm_nn instead of its fused step GEMM (a child "
                         f"process, not interleaved): " + ", ".join(
                             f"{s} {nn[s]['cpu_us'] / find(res, width, 'native_step_' + s)['cpu_us_per_frame']:.2f}x "
                             f"the fused CPU" for s in ("native", "atrous")))
        fc = w["flops_check"]
        lines.append(f"{width:7} FLOP counter check: program window {fc['program_window_mflop']:.1f} MFLOP vs "
                     f"training/cost.py {fc['cost_py_mflop']:.1f} MFLOP ({fc['ratio']:.3f}x)")
        lines.append("")
    lines.append("summary (ratios, measured side by side in this run):")
    for width, w in res["widths"].items():
        sdk = {r["key"]: r for r in w["sdk"]}
        every = w["structures"]["streaming"]["total_stride"]
        for b in ("ort", "native"):
            win, con = sdk[f"stream_window_s{every}_{b}"], sdk[f"continual_native_s{every}_{b}"]
            tod = sdk[f"today_window_s8_{b}"]
            lines.append(f"  {width} SDK end to end, {b}: per-frame CPU of window mode / continual "
                         f"(stride {win['stride']}, the same recognitions) = "
                         f"{win['cpu_us_per_frame'] / con['cpu_us_per_frame']:.2f}x; today's bundle at "
                         f"stride 8 / continual = {tod['cpu_us_per_frame'] / con['cpu_us_per_frame']:.2f}x")
    for t in res["targets"]:
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[t["pass"]]
        if "ratio" in t:
            val = _num(t["ratio"], ".1f") + ("x" if t["ratio"] is not None else "")
            extra = "".join(f"; predicts {p['prediction_rate_ratio']:.1f}x as often" for p in t["parts"]
                            if "prediction_rate_ratio" in p)
        else:
            val, extra = _num(t["value"], ".2g") + " max-abs", ""
        lines.append(f"  {verdict} {t['target']}: {val}{extra}")
    lines.append("accuracy, streaming vs windowed (bench/streaming_accuracy.py):")
    for r in res["accuracy"]["rows"]:
        lines.append(f"  {r['what']}: windowed {_num(r['windowed'], '.3f')}, streaming "
                     f"{_num(r['streaming'], '.3f')}")
    return "\n".join(lines)


COLOURS = {("today", "onnxruntime"): "#1f77b4", ("streaming", "onnxruntime"): "#ff7f0e",
           ("streaming", "native"): "#2ca02c", "sdk": "#8c8c8c"}


def plot(res: dict, path: pathlib.Path) -> None:
    """Per-frame CPU of every row, one panel per width (log axis), each bar annotated with how
    many times less it needs than today's window recompute at stride 1; the targets below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    widths = list(res["widths"])
    fig, axes = plt.subplots(1, len(widths), figsize=(7.4 * len(widths), 7.0), squeeze=False)
    for ax, width in zip(axes[0], widths):
        w = res["widths"][width]
        items = [(r["label"], r, COLOURS[(r["model"], r["runtime"])]) for r in w["rows"]]
        items += [(r["label"], r, COLOURS["sdk"]) for r in w["sdk"]]
        base = find(res, width, "today_window_s1")["cpu_us_per_frame"]
        ms = [r["cpu_us_per_frame"] / 1e3 for _, r, _ in items]
        y = np.arange(len(items))[::-1]
        ax.barh(y, ms, color=[c for *_, c in items])
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_yticks(y, [f"{n}  ({r['predictions_per_s']:g}/s)" for n, r, _ in items], fontsize=8)
        ax.set_xlim(min(ms) / 2, max(ms) * 15)
        for yy, v in zip(y, ms):
            ratio = base / 1e3 / v
            ax.text(v * 1.08, yy, f"{v:.3g} ms" + (f"   {ratio:.3g}x less" if ratio > 1.0001 else
                                                    "   (reference)"), va="center", fontsize=7.5)
        ax.set_xlabel("CPU ms per frame (log scale; thread CPU, median; 1 thread, batch 1, one track)",
                      fontsize=8)
        st = w["structures"]
        ax.set_title(f"{width} width: today's window {st['today']['window']} vs streaming window "
                     f"{st['streaming']['window']}", fontsize=10)
        ax.grid(axis="x", which="both", alpha=0.3)
    handles = [Patch(color=COLOURS[("today", "onnxruntime")], label="today's model, ONNX Runtime"),
               Patch(color=COLOURS[("streaming", "onnxruntime")], label="streaming model, ONNX Runtime"),
               Patch(color=COLOURS[("streaming", "native")], label="streaming model, native step runtime"),
               Patch(color=COLOURS["sdk"], label="SDK end to end (Recognizer.push, real stream)")]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=8, frameon=False)
    notes = []
    for t in res["targets"]:
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[t["pass"]]
        val = (f"{t['ratio']:.1f}x" if t.get("ratio") is not None else
               f"{t['value']:.2g}" if t.get("value") is not None else "not measured")
        notes.append(f"{verdict} {val:>8}  {t['short']}")
    fig.text(0.01, 0.01, "targets (this run):\n" + "\n".join(notes), fontsize=8, family="monospace",
             va="bottom")
    fig.text(0.99, 0.01, "\"x less\": CPU per frame of today's window recomputed every frame "
             "(the reference) / the row's\n(n/s): the row's predictions per second of a 30 fps "
             "stream", fontsize=8, ha="right", va="bottom")
    fig.tight_layout(rect=(0, 0.12, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", nargs="+", default=list(WIDTHS), choices=list(WIDTHS))
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats of the model rows "
                    "(default 60; --quick 3)")
    ap.add_argument("--chunks", type=int, default=None, help="timed chunks of 16 frames per SDK row "
                    "(default 20; --quick 2)")
    ap.add_argument("--parity-frames", type=int, default=None,
                    help="frames after the first window in the SDK parity run (default 64; --quick 8)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few repeats, no gemm_nn child")
    ap.add_argument("--fresh", action="store_true", help="export the bundles again (not from the cache)")
    ap.add_argument("--quiet", action="store_true", help="no exporter progress lines")
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS / "streaming.json")
    ap.add_argument("--png", type=pathlib.Path, default=RESULTS / "streaming.png")
    ap.add_argument("--refresh-accuracy", action="store_true",
                    help="only re-read the accuracy block (bench/streaming_accuracy.py's results) into "
                         "the existing --out JSON; the timings stay as measured")
    ap.add_argument("--child-gemm-nn", metavar="BUNDLE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.refresh_accuracy:
        res = json.loads(args.out.read_text())
        res["accuracy"] = accuracy()
        args.out.write_text(json.dumps(res, indent=1) + "\n")
        print(table(res))
        print(f"updated the accuracy block of {args.out}")
        return 0
    for name, full, quick in (("repeats", 60, 3), ("chunks", 20, 2), ("parity_frames", 64, 8)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.child_gemm_nn:
        child_gemm_nn(args.child_gemm_nn, args.repeats)
        return 0
    if not STREAM.is_file():
        ap.error(f"the real stream {STREAM} is missing (shared/ must sit beside the repository)")
    args.gemm_nn = not args.quick
    import onnxruntime as ort
    import torch

    from bharnet.warnings_filter import install

    install()  # the exporter's internal noise, as `bharnet export` hides it

    t0 = time.perf_counter()
    res = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                       "load_avg_1m_at_start": os.getloadavg()[0], "onnxruntime": ort.__version__,
                       "torch": torch.__version__},
           "settings": {"threads": 1, "batch": 1, "tracks": 1, "fps": FPS, "block_frames": BLOCK,
                        "repeats": args.repeats, "sdk_chunks": args.chunks, "quick": args.quick,
                        "variant": "vanilla", "input": "coco_wholebody -> coco17 body + 2 hands, M=1",
                        "stream": "shared/data/streams/" + STREAM.name, "clock": "thread CPU time"},
           "widths": {}}
    digest = sources_digest()
    for width in args.widths:
        res["widths"][width] = bench_width(width, args, digest)
    res["targets"] = targets(res)
    res["accuracy"] = accuracy()
    res["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    res["run_s"] = round(time.perf_counter() - t0, 1)
    print(table(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    if args.png:
        plot(res, args.png)
    print(f"wrote {args.out}" + (f" and {args.png}" if args.png else "") + f" in {res['run_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
