"""The native C++ step runtime (csrc/runtime, bharnet.backends.native_step) against the eager torch
step module (export/program_torch.py), which is the reference for step behaviour, and against
the ONNX step graph on ONNX Runtime (slow): every variant, both schedules, every prediction
point, from the steady state of missing frames over a stream with hands that come and go."""
import math
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
_C = pytest.importorskip("bharnet._C")

from continual_helpers import random_model, small_config, valid_program, window_runner  # noqa: E402

from bharnet.backends.native_step import NativeStepRunner  # noqa: E402
from bharnet.export import continual as C  # noqa: E402
from bharnet.program import ProgramError  # noqa: E402

TOL = 1e-5
_CACHE = {}


def program(variant: str, tcn: str, persons: int = 1):
    key = (variant, tcn, persons)
    if key not in _CACHE:
        cfg = small_config(variant, tcn, persons=persons)
        _CACHE[key] = valid_program(random_model(cfg), cfg)
    return _CACHE[key]


def stream(prog, frames: int, seed: int) -> dict:
    """C._stream's structured frames, with a hand's keypoints zeroed while it is absent (as the
    SDK feeds them), [1, ...] per input."""
    s = C._stream(prog, frames, seed)
    if "hand" in s:
        absent = s["hand_mask"][:, None, :, None, :] == 0          # [1, 1, T, 1, I]
        s["hand"] = np.where(absent, 0.0, s["hand"]).astype(np.float32)
    return s


def frame(s: dict, f: int) -> dict:
    return {n: np.ascontiguousarray(x[0, f] if n == "hand_mask" else x[0, :, f]) for n, x in s.items()}


def run_native(runner, s: dict, frames: int, state=None) -> list:
    """[(frame index, outputs)] of every prediction."""
    state = runner.new_state() if state is None else state
    out = []
    for f in range(frames):
        o = runner.step(frame(s, f), state)
        if o is not None:
            out.append((f, o))
    return out


def torch_reference(case: tuple, schedule: str, seed: int) -> tuple[dict, int, list]:
    """(stream, frames, the torch step module's predictions) of a case, computed once per run."""
    key = (case, schedule, seed)
    if key not in _CACHE:
        prog, w = program(*case)
        frames = stream_frames(prog, C.total_stride(prog) if schedule == "native" else 1)
        s = stream(prog, frames, seed)
        _CACHE[key] = s, frames, run_torch_step(prog, w, schedule, s, frames)
    return _CACHE[key]


def run_torch_step(prog, w, schedule: str, s: dict, frames: int) -> list:
    mod = C.step_module(prog, w, schedule)
    init = C.steady_state(mod)
    st = [torch.as_tensor(init[C.STATE_IN + n]) for n in mod.state_names]
    out = []
    for call in range(frames // mod.k):
        lo, hi = call * mod.k, (call + 1) * mod.k
        feed = [torch.as_tensor(np.take(s[n], range(lo, hi), axis=1 if n == "hand_mask" else 2))
                for n in prog.inputs]
        with torch.no_grad():
            res = mod(*feed, *st)
        st = list(res[len(mod.output_names):])
        out.append((hi - 1, {n: r.numpy() for n, r in zip(mod.output_names, res)}))
    return out


def stream_frames(prog, k: int) -> int:
    """The window (rounded up to whole calls) and three more calls of 4 frames."""
    return math.ceil(prog.window / 4) * 4 + 12 if k > 1 else prog.window + 12


def max_diff(a: list, b: list) -> float:
    assert [f for f, _ in a] == [f for f, _ in b], "predictions at different frames"
    worst = 0.0
    for (_, x), (_, y) in zip(a, b):
        assert set(x) == set(y)
        worst = max(worst, max(float(np.abs(x[n] - y[n]).max()) for n in x))
    return worst


CASES = [("vanilla", "conv", 1), ("pam", "mstcn", 1), ("expertized", "conv", 1), ("noisy_or", "mstcn", 1),
         ("body_only", "conv", 1), ("hand_only", "mstcn", 1), ("unified", "conv", 1),
         ("late_fusion", "mstcn", 1), ("vanilla", "mstcn", 2)]
# the eager atrous reference steps torch once per frame: the two slowest cases are marked slow
SLOW_ATROUS = {("expertized", "conv", 1), ("vanilla", "mstcn", 2)}


def _params():
    for schedule in C.SCHEDULES:
        for case in CASES:
            slow = schedule == "atrous" and case in SLOW_ATROUS
            yield pytest.param(*case, schedule, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("variant,tcn,persons,schedule", list(_params()))
def test_runtime_equals_torch_step_module_at_every_prediction(variant, tcn, persons, schedule):
    prog, w = program(variant, tcn, persons)
    runner = NativeStepRunner(prog, w, schedule)
    k = C.total_stride(prog) if schedule == "native" else 1
    assert runner.frames_per_prediction == k
    s, frames, ref = torch_reference((variant, tcn, persons), schedule, seed=3)
    got = run_native(runner, s, frames)
    assert len(got) == frames // k
    assert set(got[0][1]) == set(prog.outputs)
    assert all(o.shape == (1, ref[0][1][n].shape[-1]) for n, o in got[0][1].items())
    assert max_diff(got, ref) <= TOL
    # and the window forward itself: the first prediction (a window left-padded with missing
    # frames), the first from a full window, the last
    run = window_runner(prog, w)
    full = next(i for i, (f, _) in enumerate(got) if f >= prog.window - 1)
    points = [got[0], got[full], got[-1]]
    assert max_diff(points, [(f, run(C._window(s, f, prog.window))) for f, _ in points]) <= TOL


def test_tracks_interleaved_frame_by_frame_equal_separate_runs():
    prog, w = program("pam", "mstcn")
    runner = NativeStepRunner(prog, w, "native")
    frames = stream_frames(prog, 4)
    s1, s2 = stream(prog, frames, seed=5), stream(prog, frames, seed=6)
    alone1, alone2 = run_native(runner, s1, frames), run_native(runner, s2, frames)
    a, b = runner.new_state(), runner.new_state()
    inter1, inter2 = [], []
    for f in range(frames):
        for st, s, out in ((a, s1, inter1), (b, s2, inter2)):
            o = runner.step(frame(s, f), st)
            if o is not None:
                out.append((f, o))
    assert max_diff(inter1, alone1) == 0.0 and max_diff(inter2, alone2) == 0.0
    assert max_diff(alone1, alone2) > 1e-3       # different streams, different outputs


def test_threads_with_their_own_tracks_equal_one_thread():
    prog, w = program("expertized", "conv")
    runner = NativeStepRunner(prog, w, "atrous")
    frames = prog.window + 8
    streams = [stream(prog, frames, seed=10 + i) for i in range(8)]
    single = [run_native(runner, s, frames) for s in streams]
    results = [None] * len(streams)
    start = threading.Barrier(4)
    errors = []

    def worker(t):
        try:
            start.wait()
            for i in range(t, len(streams), 4):     # two tracks per thread
                results[i] = run_native(runner, streams[i], frames)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert all(max_diff(r, s) == 0.0 for r, s in zip(results, single))


def test_reset_and_state_facts():
    prog, w = program("vanilla", "conv")
    runner = NativeStepRunner(prog, w, "native")
    frames = stream_frames(prog, 4)
    s = stream(prog, frames, seed=1)
    state = runner.new_state()
    first = run_native(runner, s, frames, state)
    assert state.frame == frames
    runner.reset(state)
    assert state.frame == 0
    assert max_diff(run_native(runner, s, frames, state), first) == 0.0
    assert runner.state_bytes(state) == state.nbytes > 0
    assert runner.receptive_field == prog.receptive_field()
    # the atrous schedule caches every phase of the strided layers
    assert NativeStepRunner(prog, w, "atrous").state_bytes() > runner.state_bytes()


def test_plan_fuses_adds_views_picks_and_writes_concat_inputs_in_place():
    """What makes a frame cheap, checked on the plan: every residual add sums in a GEMM
    epilogue, every pick reads its source's ring in place, every concat input is written into
    its slice (and the results still match the reference, above)."""
    prog, w = program("pam", "mstcn")
    plan = NativeStepRunner(prog, w, "native")._impl.plan_summary
    count = {k: sum(1 for o in prog.ops if (o.op, o.attrs.get("kind")) == k)
             for k in (("add", None), ("temporal", "pick"), ("concat", None))}
    concat_inputs = sum(len(o.ins) for o in prog.ops if o.op == "concat")
    assert count[("add", None)] > 0 and "op.add" not in plan
    assert plan["tensor.fused"] == count[("add", None)]
    assert count[("temporal", "pick")] > 0 and "op.temporal_pick" not in plan
    assert plan["tensor.view"] == count[("temporal", "pick")]
    assert plan["tensor.alias"] == concat_inputs


def test_bad_input_gets_a_clear_error():
    prog, w = program("vanilla", "conv")
    runner = NativeStepRunner(prog, w, "native")
    state = runner.new_state()
    good = frame(stream(prog, 1, seed=0), 0)
    with pytest.raises(KeyError, match="hand_mask"):
        runner.step({k: v for k, v in good.items() if k != "hand_mask"}, state)
    with pytest.raises(ValueError, match=r"'body' has shape \(3, 17\), expected \(3, 17, 1\)"):
        runner.step({**good, "body": good["body"][..., 0]}, state)
    other = NativeStepRunner(*program("body_only", "conv"), "native")
    with pytest.raises(ValueError, match="another step program"):
        other.step({"body": good["body"]}, state)
    with pytest.raises(ValueError, match="schedule"):
        NativeStepRunner(prog, w, "chunked")
    from bharnet.export.program_export import program_of
    from bharnet.training.config import input_spec

    cfg = small_config("vanilla", "conv")
    same, sw = program_of(random_model(cfg), input_spec(cfg))
    with pytest.raises(ProgramError, match="valid"):
        NativeStepRunner(same, sw, "native")
    with pytest.raises(ProgramError, match="missing"):
        NativeStepRunner(prog, {}, "native")


# The child runs the runtime only (no torch): the program and weights come as files, the
# outputs go back as a file, and the parent compares them with the torch step module.
_ISA_CHILD = """
import sys
import numpy as np
from bharnet.backends.native_step import NativeStepRunner
from bharnet.program import Program
d = sys.argv[1]
prog = Program.from_json(open(d + "/program.json", "rb").read())
w = dict(np.load(d + "/weights.npz"))
s = dict(np.load(d + "/stream.npz"))
runner = NativeStepRunner(prog, w, sys.argv[2])
state = runner.new_state()
outs = {}
for f in range(int(sys.argv[3])):
    o = runner.step({n: np.ascontiguousarray(x[0, f] if n == "hand_mask" else x[0, :, f]) for n, x in s.items()}, state)
    if o is not None:
        outs.update({f"{f}/{n}": v for n, v in o.items()})
np.savez(d + "/out.npz", **outs)
print(runner.isa)
"""


@pytest.mark.parametrize("isa", ["avx2", "baseline"])
@pytest.mark.parametrize("variant,tcn,schedule", [("pam", "mstcn", "atrous"), ("vanilla", "conv", "native")])
def test_narrower_isa_paths_agree(isa, variant, tcn, schedule, tmp_path):
    """BHARNET_CPU_ISA caps the dispatch (csrc/kernels/gemm_dispatch.cpp); the step GEMM follows."""
    if isa == "avx2" and _C.cpu_isa() == "baseline":
        pytest.skip("this CPU has no AVX2")
    prog, w = program(variant, tcn)
    s, frames, ref = torch_reference((variant, tcn, 1), schedule, seed=3)
    (tmp_path / "program.json").write_bytes(prog.to_json())
    np.savez(tmp_path / "weights.npz", **w)
    np.savez(tmp_path / "stream.npz", **s)
    env = {**os.environ, "BHARNET_CPU_ISA": isa}
    out = subprocess.run([sys.executable, "-c", _ISA_CHILD, str(tmp_path), schedule, str(frames)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == isa
    got = {}
    for key, v in np.load(tmp_path / "out.npz").items():
        f, n = key.split("/")
        got.setdefault(int(f), {})[n] = v
    assert max_diff(sorted(got.items()), ref) <= TOL


@pytest.mark.slow
@pytest.mark.parametrize("variant,tcn,schedule", [("vanilla", "conv", "native"), ("pam", "mstcn", "atrous"),
                                                  ("expertized", "mstcn", "native")])
def test_runtime_equals_onnx_step_graph(variant, tcn, schedule):
    from bharnet.export.ort_check import ort_session

    prog, w = program(variant, tcn)
    mod = C.step_module(prog, w, schedule)
    state = C.steady_state(mod)
    sess = ort_session(C.export_step_onnx(mod, 18), threads=1)
    names_out = [o.name for o in sess.get_outputs()]
    frames = stream_frames(prog, mod.k)
    s = stream(prog, frames, seed=7)
    ref = []
    for call in range(frames // mod.k):
        lo, hi = call * mod.k, (call + 1) * mod.k
        feed = {n: np.take(x, range(lo, hi), axis=1 if n == "hand_mask" else 2) for n, x in s.items()}
        outs = dict(zip(names_out, sess.run(None, {**feed, **state})))
        state = {C.STATE_IN + n[len(C.STATE_OUT):]: v for n, v in outs.items() if n.startswith(C.STATE_OUT)}
        ref.append((hi - 1, {n: outs[n] for n in prog.outputs}))
    assert max_diff(run_native(NativeStepRunner(prog, w, schedule), s, frames), ref) <= TOL


@pytest.mark.slow
def test_step_gemm_neon_build_under_qemu(tmp_path):
    """The aarch64 (NEON) build of the step GEMM, cross-compiled and run under qemu against a
    plain loop (csrc/runtime/tests/seg_gemm_check.cpp); needs g++-aarch64-linux-gnu, qemu-user."""
    import shutil

    cxx, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if not (cxx and qemu):
        pytest.skip("no aarch64 cross compiler or qemu-aarch64 here")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = [os.path.join(root, "csrc", p) for p in
           ("runtime/tests/seg_gemm_check.cpp", "runtime/seg_gemm_baseline.cpp", "runtime/seg_gemm_avx2.cpp",
            "runtime/seg_gemm_avx512.cpp", "runtime/seg_gemm_dispatch.cpp", "kernels/gemm_baseline.cpp",
            "kernels/gemm_dispatch.cpp")]
    exe = str(tmp_path / "seg_gemm_check")
    subprocess.run([cxx, "-std=c++17", "-O2", "-ffp-contract=fast", "-static", "-I", os.path.join(root, "csrc"),
                    *src, "-o", exe], check=True, timeout=600)
    out = subprocess.run([qemu, exe], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split()[0] == "baseline"
