"""Build tests/cpp/test_kernels.cpp and run it on every ISA path the target CPU can take.

    python tests/cpp/run_kernel_test.py                       # this (x86-64) machine
    python tests/cpp/run_kernel_test.py --target aarch64      # cross-built, run under qemu

The dispatcher (csrc/kernels/gemm_dispatch.cpp) picks AVX-512, AVX2 or the baseline (SSE2 / NEON)
once per process; BHARNET_CPU_ISA caps it, so each path is one run. On x86-64 the paths are those
this CPU has; on aarch64 there is only the NEON baseline. A run whose dispatcher picked another
path than the one asked for is a failure, as is a missing compiler: nothing here skips.
Used by tests/test_kernels_cpp.py (x86) and tools/aarch64/test.sh (aarch64).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOOLCHAIN_FILE = REPO / "tools/aarch64/toolchain.cmake"
SUMMARY = re.compile(r"kernel-test isa=(\w+) checks=(\d+) failed=(\d+) "
                     r"max_rel_err_f32=(\S+) max_rel_err_f64=(\S+)")


class KernelTestError(RuntimeError):
    pass


def build(build_dir: pathlib.Path, target: str = "host") -> pathlib.Path:
    """Configure and build the test (incrementally); returns the executable."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise KernelTestError("cmake not found: the C++ kernel test needs cmake and a C++17 compiler")
    args = [cmake, "-S", str(HERE), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"]
    if target == "aarch64":
        args.append(f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN_FILE}")
    for cmd in (args, [cmake, "--build", str(build_dir), "-j", str(os.cpu_count() or 1)]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise KernelTestError(f"{' '.join(cmd[:2])} ... failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    exe = build_dir / "test_kernels"
    if not exe.is_file():
        raise KernelTestError(f"build produced no {exe}")
    return exe


def x86_paths(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The dispatcher's paths this CPU supports, widest first (same feature tests as
    gemm_dispatch.cpp: avx512f+avx512vl, avx2+fma)."""
    flags: set[str] = set()
    for line in pathlib.Path(cpuinfo).read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    paths = []
    if {"avx512f", "avx512vl"} <= flags:
        paths.append("avx512")
    if {"avx2", "fma"} <= flags:
        paths.append("avx2")
    return paths + ["baseline"]


def isa_paths(target: str) -> list[str]:
    return ["baseline"] if target == "aarch64" else x86_paths()


def run_path(exe: pathlib.Path, isa: str, prefix: list[str] | None = None,
             cap: bool = True) -> dict:
    """One run capped at `isa` (cap=False: no cap, the dispatcher's own choice must be `isa`)."""
    env = dict(os.environ)
    env.pop("BHARNET_CPU_ISA", None)
    if cap:
        env["BHARNET_CPU_ISA"] = isa
    p = subprocess.run([*(prefix or []), str(exe)], capture_output=True, text=True, env=env)
    m = SUMMARY.search(p.stdout)
    if m is None:
        raise KernelTestError(f"{exe} ({isa}) printed no summary (exit {p.returncode}):\n"
                              f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    res = {"isa": m[1], "checks": int(m[2]), "failed": int(m[3]),
           "max_rel_err_f32": float(m[4]), "max_rel_err_f64": float(m[5]), "capped": cap}
    if p.returncode != 0 or res["failed"]:
        fails = "\n".join(line for line in p.stdout.splitlines() if line.startswith("FAIL"))
        raise KernelTestError(f"kernel test failed on {res['isa']}: {res['failed']} of "
                              f"{res['checks']} checks\n{fails[:4000]}")
    if res["isa"] != isa:
        raise KernelTestError(f"asked for the {isa} path ({'capped' if cap else 'uncapped'}), "
                              f"the dispatcher picked {res['isa']}")
    if res["checks"] == 0:
        raise KernelTestError(f"{exe} ran no checks")
    return res


def run_all(exe: pathlib.Path, target: str, prefix: list[str] | None = None) -> list[dict]:
    """Every path capped explicitly, plus the uncapped run (which must pick the widest)."""
    paths = isa_paths(target)
    results = [run_path(exe, isa, prefix) for isa in paths]
    results.append(run_path(exe, paths[0], prefix, cap=False))
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=("host", "aarch64"), default="host")
    ap.add_argument("--build-dir", type=pathlib.Path, default=None)
    ap.add_argument("--qemu-cpu", default=os.environ.get("BHARNET_QEMU_CPU", "cortex-a76"),
                    help="CPU model qemu emulates for --target aarch64")
    ap.add_argument("--sysroot", type=pathlib.Path, default=REPO / "build/aarch64/toolchain",
                    help="aarch64 runtime libraries for qemu -L (the toolchain's glibc 2.31)")
    args = ap.parse_args(argv)
    build_dir = args.build_dir or REPO / "build" / f"kernel-test-{args.target}"
    prefix = None
    if args.target == "aarch64":
        qemu = shutil.which("qemu-aarch64-static")
        if qemu is None:
            print("ERROR: qemu-aarch64-static not found (apt-get install qemu-user-static)", file=sys.stderr)
            return 1
        prefix = [qemu, "-cpu", args.qemu_cpu, "-L", str(args.sysroot / "usr/aarch64-linux-gnu")]
    try:
        exe = build(build_dir, args.target)
        results = run_all(exe, args.target, prefix)
    except KernelTestError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    where = f"aarch64 under qemu -cpu {args.qemu_cpu}" if prefix else "this CPU"
    for r in results:
        print(f"kernel test [{where}] {'cap' if r['capped'] else 'no cap'} -> {r['isa']}: "
              f"{r['checks']} checks passed, max rel err f32 {r['max_rel_err_f32']:.3g}, "
              f"f64 {r['max_rel_err_f64']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
