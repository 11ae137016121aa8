"""Per-frame CPU time of continual inference: the native C++ step runtime against ONNX Runtime
running the exported step graph, and against recomputing the window graph at stride 1 and 8.

    python bench/step_runtime.py [--widths demo default] [--variant vanilla] [--repeats 30]

One thread everywhere (ORT: 1 intra-op thread, no spinning; the runtime never uses a pool),
batch 1, one track. Each model is a random-weight streaming program (valid temporal ops, as
tests/continual_helpers.valid_program makes them) at the window window_for(steps):
  demo     base 16, 6 stages, inflate [4], down [3, 5], conv TCN (kernel 9), steps 8;
  default  base 64, 10 stages, inflate/down [5, 8], multi-scale TCN, steps 16.
Rows, per schedule (native: a prediction every total-stride frames; atrous: every frame):
  native runtime  NativeStepRunner.step, one frame per call, through the Python API;
  ORT step        the step graph, k frames per call, IOBinding with ping-pong state buffers
                  bound once (and plain run(): the faster is kept, both are recorded);
  window s1 / s8  ORT on the window graph (the valid program at its window), once per frame /
                  once per 8 frames.
  native runtime (gemm_nn)  the same runtime with its fused step GEMM replaced by the kernels'
                  gemm_nn (BHARNET_STEP_GEMM=gemm_nn, in a child process): what the fusion buys.
Times: thread CPU time and wall, per frame, median over --repeats blocks of 16 frames (every
phase of the strided layers). Prints one table; writes bench/results/step_runtime.json.
"""
from __future__ import annotations

import argparse
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

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results" / "step_runtime.json"
# The random streaming programs come from the test helpers until a trained streaming recipe
# exists (issue 12, point 1); then this should load its bundle instead.
sys.path.insert(0, str(HERE.parent / "tests"))

WIDTHS = {
    "demo": ({"base_channels": 16, "num_stages": 6, "inflate_stages": [4], "down_stages": [3, 5],
              "tcn": "conv"}, 8),
    "default": ({}, 16),
}
BLOCK = 16  # frames per timed block: a multiple of every total stride in use (4)


def build(width: str, variant: str, classes: int):
    from continual_helpers import random_model, valid_program

    from bharnet.training.config import load_config

    backbone, steps = WIDTHS[width]
    cfg = load_config({"model": {"variant": variant, "use_kernels": False, "backbone": backbone},
                       "data": {"body_layout": "coco17", "num_person": 1}})
    return valid_program(random_model(cfg, classes=classes), cfg, steps)


def export_window_onnx(program, weights) -> bytes:
    """The window graph of the valid program at its window (a streaming bundle's model.onnx)."""
    import torch

    from bharnet.export.continual import _missing
    from bharnet.export.program_torch import ProgramModule

    mod = ProgramModule(program, weights, "window").eval()
    args = tuple(_missing(program, program.window))
    with torch.no_grad():
        onnx_prog = torch.onnx.export(mod, args, dynamo=True, opset_version=18, optimize=True,
                                      verbose=False, input_names=list(program.inputs),
                                      output_names=list(program.outputs), external_data=False)
    return onnx_prog.model_proto.SerializeToString()


def session(onnx_bytes: bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def timed(fn, repeats: int, frames_per_call: int) -> dict:
    """fn() runs BLOCK frames; per-frame medians of thread CPU and wall time."""
    fn()  # warm-up
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        fn()
        cpu.append((time.thread_time_ns() - c0) / BLOCK / 1e3)
        wall.append((time.perf_counter_ns() - w0) / BLOCK / 1e3)
    return {"cpu_us": statistics.median(cpu), "wall_us": statistics.median(wall),
            "cpu_us_min": min(cpu), "frames_per_call": frames_per_call}


def frames_of(program, n: int, seed: int = 0) -> dict:
    from bharnet.export.continual import _stream

    return _stream(program, n, seed)


def native_runtime(program, weights, schedule: str, stream: dict, repeats: int) -> dict:
    from bharnet.backends.native_step import NativeStepRunner

    r = NativeStepRunner(program, weights, schedule)
    state = r.new_state()
    per_frame = [{n: np.ascontiguousarray(x[0, f] if n == "hand_mask" else x[0, :, f])
                  for n, x in stream.items()} for f in range(BLOCK)]

    def block():
        for fr in per_frame:
            r.step(fr, state)
    out = timed(block, repeats, 1)
    out.update(state_bytes=r.state_bytes(state), isa=r.isa, frames_per_prediction=r.frames_per_prediction)
    return out


def native_runtime_in_child(width: str, schedule: str, args, env: dict) -> dict:
    """native_runtime in a fresh process with `env` set (the dispatch reads it once)."""
    cmd = [sys.executable, __file__, "--child", width, schedule, "--variant", args.variant,
           "--classes", str(args.classes), "--repeats", str(args.repeats)]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ort_step(program, weights, schedule: str, stream: dict, repeats: int) -> dict:
    from bharnet.export import continual as C

    module = C.step_module(program, weights, schedule)
    init = C.steady_state(module)
    t0 = time.perf_counter()
    onnx_bytes = C.export_step_onnx(module, 18)
    export_s = time.perf_counter() - t0
    sess = session(onnx_bytes)
    k = module.k
    names_in = [i.name for i in sess.get_inputs()]
    names_out = [o.name for o in sess.get_outputs()]
    calls = BLOCK // k
    chunks = [{n: np.ascontiguousarray(np.take(x, range(c * k, (c + 1) * k), axis=1 if n == "hand_mask" else 2))
               for n, x in stream.items()} for c in range(calls)]

    # plain run(): the state handed back each call
    state = dict(init)

    def plain():
        nonlocal state
        for ch in chunks:
            outs = sess.run(None, {**ch, **state})
            state = {C.STATE_IN + n[len(C.STATE_OUT):]: v
                     for n, v in zip(names_out, outs) if n.startswith(C.STATE_OUT)}
    plain_t = timed(plain, repeats, k)

    # IOBinding: two bindings over two state buffers (A -> B, B -> A), frame buffers filled in place
    bufs = {n: np.zeros_like(v) for n, v in chunks[0].items()}
    a = {n: np.ascontiguousarray(v) for n, v in init.items()}
    b = {n: np.zeros_like(v) for n, v in init.items()}
    outs = {n: np.zeros([d if isinstance(d, int) else 1 for d in o.shape], np.float32)  # batch 1
            for n, o in zip(names_out, sess.get_outputs()) if not n.startswith(C.STATE_OUT)}

    def binding(src, dst):
        io = sess.io_binding()
        for n in names_in:
            x = bufs[n] if n in bufs else src[n]
            io.bind_input(n, "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        for n in names_out:
            x = dst[C.STATE_IN + n[len(C.STATE_OUT):]] if n.startswith(C.STATE_OUT) else outs[n]
            io.bind_output(n, "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        return io
    ping, pong = binding(a, b), binding(b, a)
    flip = [False]

    def bound():
        for ch in chunks:
            for n, v in ch.items():
                np.copyto(bufs[n], v)
            sess.run_with_iobinding(pong if flip[0] else ping)
            flip[0] = not flip[0]
    bound_t = timed(bound, repeats, k)
    best = min((plain_t, bound_t), key=lambda t: t["cpu_us"])
    return {**best, "how": "iobinding" if best is bound_t else "run", "run": plain_t, "iobinding": bound_t,
            "state_bytes": int(sum(v.nbytes for v in init.values())), "export_s": export_s}


def ort_window(program, weights, stream: dict, repeats: int) -> dict:
    from bharnet.export.continual import _window

    t0 = time.perf_counter()
    sess = session(export_window_onnx(program, weights))
    export_s = time.perf_counter() - t0
    feed = _window(stream, BLOCK - 1, program.window)  # values do not change the time
    feed = {n: np.ascontiguousarray(v, np.float32) for n, v in feed.items()}

    def once():
        sess.run(None, feed)
    once()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        once()
        cpu.append((time.thread_time_ns() - c0) / 1e3)
        wall.append((time.perf_counter_ns() - w0) / 1e3)
    per_window = {"cpu_us": statistics.median(cpu), "wall_us": statistics.median(wall)}
    return {"per_window": per_window, "export_s": export_s,
            "stride1": {k: v for k, v in per_window.items()},
            "stride8": {k: v / 8 for k, v in per_window.items()}}


def bench_width(width: str, args) -> dict:
    prog, w = build(width, args.variant, args.classes)
    stream = frames_of(prog, BLOCK)
    res = {"window": prog.window, "receptive_field": prog.receptive_field(), "variant": args.variant,
           "backbone": WIDTHS[width][0] or "default", "schedules": {}}
    print(f"[{width}] window {prog.window}, receptive field {prog.receptive_field()}", flush=True)
    res["window_graph"] = ort_window(prog, w, stream, max(5, args.repeats // 3))
    for schedule in args.schedules:
        print(f"[{width}] {schedule}: native runtime", flush=True)
        nat = native_runtime(prog, w, schedule, stream, args.repeats)
        nat_nn = native_runtime_in_child(width, schedule, args, {"BHARNET_STEP_GEMM": "gemm_nn"})
        print(f"[{width}] {schedule}: ONNX Runtime step graph (export first)", flush=True)
        ort = ort_step(prog, w, schedule, stream, args.repeats)
        res["schedules"][schedule] = {
            "native_runtime": nat, "native_runtime_gemm_nn": nat_nn, "ort_step": ort,
            "ratio_gemm_nn_over_fused_cpu": nat_nn["cpu_us"] / nat["cpu_us"],
            "ratio_ort_over_native_cpu": ort["cpu_us"] / nat["cpu_us"],
            "ratio_ort_over_native_wall": ort["wall_us"] / nat["wall_us"],
            "ratio_window_s1_over_native_cpu": res["window_graph"]["stride1"]["cpu_us"] / nat["cpu_us"],
            "ratio_window_s8_over_native_cpu": res["window_graph"]["stride8"]["cpu_us"] / nat["cpu_us"]}
    return res


def table(results: dict) -> str:
    lines = [f"{'width':8} {'schedule':8} {'what':22} {'cpu us/frame':>13} {'wall us/frame':>14} "
             f"{'ORT/native':>11} {'state KB':>9}"]
    for width, r in results["widths"].items():
        wg = r["window_graph"]
        for schedule, s in r["schedules"].items():
            nat, ort = s["native_runtime"], s["ort_step"]
            lines.append(f"{width:8} {schedule:8} {'native runtime':22} {nat['cpu_us']:13.1f} "
                         f"{nat['wall_us']:14.1f} {'':>11} {nat['state_bytes'] / 1024:9.1f}")
            nn = s["native_runtime_gemm_nn"]
            lines.append(f"{width:8} {schedule:8} {'native rt (gemm_nn)':22} {nn['cpu_us']:13.1f} "
                         f"{nn['wall_us']:14.1f}")
            lines.append(f"{width:8} {schedule:8} {'ORT step (' + ort['how'] + ')':22} {ort['cpu_us']:13.1f} "
                         f"{ort['wall_us']:14.1f} {s['ratio_ort_over_native_cpu']:10.2f}x "
                         f"{ort['state_bytes'] / 1024:9.1f}")
        for stride in ("stride1", "stride8"):
            lines.append(f"{width:8} {'window':8} {'ORT window ' + stride:22} {wg[stride]['cpu_us']:13.1f} "
                         f"{wg[stride]['wall_us']:14.1f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", nargs="+", default=list(WIDTHS), choices=list(WIDTHS))
    ap.add_argument("--schedules", nargs="+", default=["native", "atrous"], choices=["native", "atrous"])
    ap.add_argument("--variant", default="vanilla")
    ap.add_argument("--classes", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS)
    ap.add_argument("--child", nargs=2, metavar=("WIDTH", "SCHEDULE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # one native-runtime measurement, as JSON on the last line
        width, schedule = args.child
        prog, w = build(width, args.variant, args.classes)
        print(json.dumps(native_runtime(prog, w, schedule, frames_of(prog, BLOCK), args.repeats)))
        return
    import onnxruntime as ort

    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "load_avg_1m_at_start": os.getloadavg()[0], "onnxruntime": ort.__version__},
               "threads": 1, "batch": 1, "block_frames": BLOCK, "repeats": args.repeats, "widths": {}}
    for width in args.widths:
        results["widths"][width] = bench_width(width, args)
    results["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
