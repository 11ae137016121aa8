#!/usr/bin/env bash
# The prepared GPU check: on a machine with a CUDA device, nvcc and a CUDA build of torch, and no
# network, build bharnet._C with CUDA, run every gpu-marked test, and time the kernels on CUDA
# against plain PyTorch. Within 10 minutes; each stage has its own timeout.
#
#   make gpu-check                              (GPU_PY=python3: the machine's own Python)
#   tools/gpu_check.sh [--dry-run] [--build-only] [--results DIR]
#
#   --dry-run     print what each stage would run, run nothing
#   --build-only  check the tools and build _C with CUDA; no device needed (a CPU machine with nvcc)
#   --results     where the figures and logs go (default bench/results):
#                   kernels_cuda.json      bench/kernels.py --device cuda
#                   gpu_check_tests.log    the pytest runs
#                   gpu_check.log          everything this script printed, summary included
#
# It installs and downloads nothing: _C is a plain CMake build in build/gpu (torch is not needed
# to build it), and build/gpu/pkg/bharnet assembles the package from the source folders with
# symlinks, the way the wheel maps them (python/bharnet, training -> bharnet.training, export ->
# bharnet.export); build/gpu/pkg goes on PYTHONPATH. A checkout copied without build/ and .venv/
# is enough. Environment: GPU_PY (python3), BHARNET_CUDA_ARCH (the device's, else 90), JOBS (16).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DRY=0 BUILD_ONLY=0 RESULTS="bench/results"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --build-only) BUILD_ONLY=1 ;;
    --results) RESULTS="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

PY="${GPU_PY:-python3}"
JOBS="${JOBS:-16}"
BUILD="$ROOT/build/gpu"
PKG="$BUILD/pkg"
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
LOG="$RESULTS/gpu_check.log"
TESTLOG="$RESULTS/gpu_check_tests.log"
if [[ $DRY == 0 ]]; then
  exec > >(tee "$LOG") 2>&1
  : >"$TESTLOG"
fi
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

declare -a NAMES STATUS SECONDS_TAKEN
FAILED=0 BENCH_DONE=0

# stage NAME TIMEOUT_S CMD...: runs CMD (a program or one of the functions below, exported) in a
# bash of its own under `timeout`; records ok / FAILED (exit code) / TIMEOUT.
stage() {
  local name="$1" limit="$2"; shift 2
  echo
  echo "== $name (timeout ${limit}s): $*"
  if [[ $DRY == 1 ]]; then
    declare -F "$1" >/dev/null && declare -f "$1" | sed 's/^/    /'
    NAMES+=("$name"); STATUS+=("dry-run"); SECONDS_TAKEN+=(0); return 0
  fi
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" bash -o pipefail -c '"$@"' stage "$@"
  rc=$?
  NAMES+=("$name"); SECONDS_TAKEN+=($((SECONDS - t0)))
  if [[ $rc == 0 ]]; then STATUS+=("ok")
  elif [[ $rc == 124 || $rc == 137 ]]; then STATUS+=("TIMEOUT after ${limit}s"); FAILED=1
  else STATUS+=("FAILED (exit $rc)"); FAILED=1; fi
  return $rc
}

skip_rest() {  # stages that cannot run once an earlier one failed
  for name in "$@"; do NAMES+=("$name"); STATUS+=("not run"); SECONDS_TAKEN+=(0); done
}

summary() {
  echo
  echo "== gpu-check summary ($(date -u +%FT%TZ), $(hostname))"
  for i in "${!NAMES[@]}"; do
    printf '  %-8s %-24s %4ss\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECONDS_TAKEN[$i]}"
  done
  if [[ $BENCH_DONE == 1 ]]; then  # this run's figures, not a file left from an earlier one
    "$PY" - "$RESULTS/kernels_cuda.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
m = r["meta"]
print(f"  device {m.get('gpu')} (sm {m.get('capability')}), torch {m['torch']} cuda {m.get('torch_cuda')}")
for k, v in r.get("summary", {}).items():
    print(f"  {k}: geomean x{v['geomean_ratio']:.2f} (min x{v['min_ratio']:.2f}, max x{v['max_ratio']:.2f})")
for k in ("model_epoch", "model_epoch_amp"):
    e = r.get(k) or {}
    if "ratio" in e:
        print(f"  {k} (amp {e['amp']}): kernels on {e['kernels_on_s'] * 1e3:.1f} ms, off "
              f"{e['kernels_off_s'] * 1e3:.1f} ms, ratio off/on x{e['ratio']:.2f}")
PY
  fi
  if [[ $DRY == 1 ]]; then echo "gpu-check: dry run, nothing was run"; return; fi
  echo "  logs: $LOG, $TESTLOG"
  if [[ $FAILED != 0 ]]; then echo "gpu-check: FAILED"
  elif [[ $BUILD_ONLY == 1 ]]; then echo "gpu-check: build ok (--build-only: nothing ran on a GPU)"
  else echo "gpu-check: ok"; fi
}
trap summary EXIT

# ---- 1. tools and device ----------------------------------------------------------------------
PYBIN="$("$PY" -c 'import sys; print(sys.executable)' 2>/dev/null || true)"
if [[ -z "$PYBIN" ]]; then echo "gpu_check: $PY does not run (set GPU_PY)"; FAILED=1; exit 1; fi
PY="$PYBIN"  # one interpreter, by its full path, for every stage and for CMake
# the interpreter's own bin folder holds cmake and ninja where they came as Python packages
PATH="$("$PY" -c 'import os, sys; print(os.path.dirname(sys.executable))'):$PATH"
NVCC="$(command -v nvcc || true)"
[[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]] && NVCC=/usr/local/cuda/bin/nvcc
export GPU_CHECK_BUILD_ONLY=$BUILD_ONLY PY PYBIN NVCC ROOT BUILD PKG JOBS TESTLOG PATH

check_env() {
  local ok=0
  echo "python: $PYBIN ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
  if [[ -n "$NVCC" ]]; then echo "nvcc: $NVCC ($("$NVCC" --version | tail -1))"
  else echo "MISSING: nvcc (not on PATH, not /usr/local/cuda/bin/nvcc)"; ok=1; fi
  if command -v cmake >/dev/null; then echo "cmake: $(cmake --version | head -1)"
  else echo "MISSING: cmake"; ok=1; fi
  command -v ninja >/dev/null && echo "ninja: $(ninja --version)" || echo "ninja: absent (Unix Makefiles)"
  "$PY" - <<'PY' || ok=1
import os, pathlib, sys, sysconfig
bad = []
try:
    import pybind11
    print("pybind11:", pybind11.__version__, pybind11.get_cmake_dir())
except ImportError as e:
    bad.append(f"pybind11 ({e})")
inc = pathlib.Path(sysconfig.get_paths()["include"]) / "Python.h"
print("Python.h:", inc if inc.is_file() else "MISSING")
if not inc.is_file():
    bad.append(f"the Python headers ({inc})")
for mod in ("numpy", "pytest", "yaml"):
    try:
        __import__(mod)
    except ImportError as e:
        bad.append(f"{mod} ({e})")
need_device = os.environ["GPU_CHECK_BUILD_ONLY"] != "1"
try:
    import torch
    print("torch:", torch.__version__, "cuda", torch.version.cuda)
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        print(f"device: {p.name}, sm {p.major}{p.minor}, {p.total_memory / 2**30:.0f} GiB")
    elif need_device:
        bad.append("a CUDA device: torch.cuda.is_available() is False "
                   f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
    else:
        print("device: none (--build-only)")
except ImportError as e:
    if need_device:
        bad.append(f"torch ({e})")
for b in bad:
    print("MISSING:", b)
sys.exit(1 if bad else 0)
PY
  return $ok
}

arch() {
  if [[ -n "${BHARNET_CUDA_ARCH:-}" ]]; then echo "$BHARNET_CUDA_ARCH"; return; fi
  "$PY" -c 'import torch; m, n = torch.cuda.get_device_capability(0); print(f"{m}{n}")' 2>/dev/null || echo 90
}

# ---- 2. build _C with CUDA, and the package folder ---------------------------------------------
build() {
  # a build folder configured elsewhere (another checkout path or Python) is started afresh
  local cache="$BUILD/CMakeCache.txt"
  if [[ -f "$cache" ]] && ! { grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT" "$cache" \
                              && grep -q "^Python_EXECUTABLE:[A-Z]*=$PYBIN\$" "$cache"; }; then
    echo "build/gpu was configured for another checkout or Python: starting afresh"
    rm -rf "$BUILD"
  fi
  local gen=() a
  command -v ninja >/dev/null && gen=(-G Ninja)
  a="$(arch)"
  echo "CUDA architecture: sm_$a"
  cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DBHARNET_CUDA=ON -DBHARNET_TRT=OFF -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES="$a" \
    -DPython_EXECUTABLE="$PYBIN" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" || return 1
  cmake --build "$BUILD" -j "$JOBS" || return 1
  local so
  so="$(ls "$BUILD"/_C*.so 2>/dev/null | head -1)"
  [[ -n "$so" ]] || { echo "no _C*.so in $BUILD"; return 1; }
  rm -rf "$PKG"
  mkdir -p "$PKG/bharnet"
  local f
  for f in "$ROOT"/python/bharnet/*; do
    case "$(basename "$f")" in _C*.so|__pycache__) continue ;; esac
    ln -s "$f" "$PKG/bharnet/"
  done
  ln -s "$ROOT/training" "$PKG/bharnet/training"
  ln -s "$ROOT/export" "$PKG/bharnet/export"
  cp "$so" "$PKG/bharnet/"
  PYTHONPATH="$PKG" "$PY" - "$PKG" <<'PY'
import pathlib, sys
import bharnet
from bharnet import _C
where = pathlib.Path(bharnet.__file__).parent
assert where == pathlib.Path(sys.argv[1]) / "bharnet", f"bharnet imports from {where}, not the GPU build"
assert _C.has_cuda(), "bharnet._C was built without CUDA"
print(f"bharnet._C from {_C.__file__}: has_cuda() True, cpu_isa {_C.cpu_isa()}")
PY
}

pytest_log() { "$PY" -m pytest -p no:cacheprovider -rs "$@" 2>&1 | tee -a "$TESTLOG"; }
export -f check_env arch build pytest_log

# the timeouts add up to 10 minutes; expected: seconds, 1-2 minutes, about 1, about 1
stage env 60 check_env || { skip_rest build tests bench; exit 1; }
stage build 240 build || { skip_rest tests bench; exit 1; }
if [[ $BUILD_ONLY == 1 ]]; then skip_rest tests bench; exit 0; fi

# ---- 3. every gpu-marked test: CUDA kernels and ops against the reference, a CUDA training run --
export PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}"
stage tests 180 pytest_log -q -m gpu --continue-on-collection-errors tests/

# ---- 4. the kernels on CUDA against plain PyTorch ---------------------------------------------
stage bench 120 "$PY" bench/kernels.py --device cuda --out "$RESULTS/kernels_cuda.json" && BENCH_DONE=1
[[ $FAILED == 0 ]]
