"""The C++ kernel reference test (tests/cpp) on every ISA path this CPU has. It needs cmake and a
C++17 compiler and fails, not skips, without them: the kernels ship in every wheel."""
from __future__ import annotations

import importlib.util
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("run_kernel_test", HERE / "cpp/run_kernel_test.py")
kt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kt)


def test_kernels_match_reference_loops_on_every_isa_path():
    exe = kt.build(HERE.parent / "build/kernel-test-host", "host")
    results = kt.run_all(exe, "host")
    paths = kt.isa_paths("host")
    assert [r["isa"] for r in results] == paths + [paths[0]]
    assert all(r["failed"] == 0 for r in results)


def test_x86_paths_follow_the_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert kt.x86_paths(str(info)) == ["avx2", "baseline"]
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f avx512vl\n")
    assert kt.x86_paths(str(info)) == ["avx512", "avx2", "baseline"]
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")   # AVX2 without FMA: baseline
    assert kt.x86_paths(str(info)) == ["baseline"]
