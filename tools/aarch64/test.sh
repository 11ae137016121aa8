#!/usr/bin/env bash
# make test-aarch64: the aarch64 wheel (make wheel-aarch64) tested under qemu user emulation.
#  1. an arm64 Debian 12 root with CPython 3.11, the wheel and the host's numpy / onnxruntime /
#     safetensors versions (aarch64 wheels from PyPI) installed by pip running in the root;
#  2. the torch-free test suite there (tests/aarch64/torch_free_tests.txt; a skip fails);
#  3. the C++ kernel test on every ISA path, for aarch64 (qemu) and this x86 CPU;
#  4. SDK parity: the same bundles and real streams on x86 (.venv) and aarch64, per backend.
# make bench-aarch64 (BHARNET_AARCH64_BENCH=1) runs the frame path's ratio bench there instead.
# Needs root (apt-get, binfmt_misc, chroot, mounts); every mount is undone on exit.
#   BHARNET_PARITY_STREAMS="a.npy b.npy"   streams to compare (default: ../shared/data/streams/*.npy)
#   BHARNET_QEMU_CPU=cortex-a76            the emulated CPU (ARMv8.2 + dot product + FP16, no SVE,
#                                          like Jetson Orin's Cortex-A78AE)
set -euo pipefail
source "$(dirname "$0")/common.sh"
[[ $(id -u) -eq 0 ]] || die "test-aarch64 needs root (binfmt_misc, chroot, mounts)"

HOST_PY="$REPO/.venv/bin/python"
[[ -x "$HOST_PY" ]] || die "no $HOST_PY: run make build first (the x86 side of the parity check)"
WHEEL="$(ls "$DIST"/bharnet-*-manylinux_*_aarch64.whl 2>/dev/null | head -n1)"
[[ -n "$WHEEL" ]] || die "no aarch64 wheel in $DIST: run make wheel-aarch64"
export BHARNET_QEMU_CPU="${BHARNET_QEMU_CPU:-cortex-a76}"
SHARED="$(cd "$REPO/.." && pwd)/shared"
read -r -a STREAMS <<<"${BHARNET_PARITY_STREAMS:-$(ls "$SHARED"/data/streams/*.npy 2>/dev/null | tr '\n' ' ')}"
[[ ${#STREAMS[@]} -gt 0 ]] || die "no keypoint streams: set BHARNET_PARITY_STREAMS or provide $SHARED/data/streams/*.npy"
OUT="$WORK/results"
SUMMARY="$WORK/summary.txt"
BACKENDS=(onnxruntime native)   # the parity check's backends; one more is one more word
MODES=(window continual continual-atrous)   # and its Recognizer modes (parity.py MODES)

# ---- mounts: proc (with an ARM cpuinfo over the host's x86 one) and binfmt_misc -----------------
unmount_root() {
  local m
  # deepest first; also cleans up after a run that was killed
  for m in $(awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}
cleanup() {
  local rc=$?
  unmount_root || true
  binfmt_down || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_root() {
  # onnxruntime's CPU detection (cpuinfo) segfaults under qemu 7.2 when it finds the host's CPUs
  # in sysfs and the host's x86 /proc/cpuinfo: it gets an ARM cpuinfo, and CPU lists as plain
  # files in the root's /sys (sysfs itself is not mounted)
  local n cpus; cpus="$(nproc)"
  : >"$WORK/cpuinfo"
  for ((n = 0; n < cpus; n++)); do sed "s/@N@/$n/" "$TOOLS/cpuinfo.in" >>"$WORK/cpuinfo"; done
  mkdir -p "$ROOT/sys/devices/system/cpu"
  for n in possible present online; do echo "0-$((cpus - 1))" >"$ROOT/sys/devices/system/cpu/$n"; done
  mount -t proc proc "$ROOT/proc"
  mount --bind "$WORK/cpuinfo" "$ROOT/proc/cpuinfo"
}

# in_root CMD...: run CMD in the root under qemu with a clean environment
CHROOT="$(command -v chroot)"
in_root() {
  env -i HOME=/root USER=root LANG=C.UTF-8 PATH=/opt/venv/bin:/usr/bin:/bin \
    QEMU_CPU="$BHARNET_QEMU_CPU" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    "$CHROOT" "$ROOT" "$@"
}

# ---- the root ------------------------------------------------------------------------------------
make_root() {
  unmount_root
  rm -rf --one-file-system "$ROOT"
  # shells and the basic tools too: some tests pipe through `sh -c ... | head` or run bash scripts
  deb_fetch "$ROOT_SUITE" arm64 "$ROOT" closure "python$PY_MINOR" libstdc++6 libgcc-s1 \
    dash bash coreutils sed grep
  mkdir -p "$ROOT"/{proc,dev,tmp,root,src,wheels}
  chmod 1777 "$ROOT/tmp"
  local node
  for node in "null 1 3" "zero 1 5" "random 1 8" "urandom 1 9"; do
    set -- $node
    mknod -m 666 "$ROOT/dev/$1" c "$2" "$3"
  done
}

# aarch64 wheels for the root, resolved and downloaded on the host (fast) at the host venv's
# exact versions, so both sides of the parity check run the same numpy and onnxruntime.
download_wheels() {
  "$HOST_PY" -m pip freeze --exclude-editable | grep -E '^[A-Za-z0-9_.-]+==' >"$WORK/constraints.txt"
  local pip_version; pip_version="$("$HOST_PY" -m pip --version | awk '{print $2}')"
  local plats=() v root_glibc
  root_glibc="$(grep -oE '^libc6_2\.[0-9]+' "$ROOT/.debs" | cut -d. -f2)"
  for ((v = 17; v <= root_glibc; v++)); do plats+=(--platform "manylinux_2_${v}_aarch64"); done
  plats+=(--platform manylinux2014_aarch64)
  "$HOST_PY" -m pip download -q -d "$ROOT/wheels" --only-binary=:all: --python-version "$PY_MINOR" \
    --implementation cp --abi "cp${PY_MINOR/./}" --abi abi3 --abi none "${plats[@]}" \
    -c "$WORK/constraints.txt" "$WHEEL[test]" "pip==$pip_version" 2> >(grep -v "Location 'file:" >&2)
  log "   $(ls "$ROOT/wheels" | wc -l) wheels, $(du -sh "$ROOT/wheels" | cut -f1)"
}

install_in_root() {
  in_root "/usr/bin/python$PY_MINOR" -m venv --without-pip /opt/venv
  local pip_whl; pip_whl="$(cd "$ROOT/wheels" && ls pip-*.whl)"
  # pip runs from its wheel, under qemu: the wheel's tag is checked against this glibc and CPU
  in_root /opt/venv/bin/python "/wheels/$pip_whl/pip" install -q --no-index --find-links /wheels \
    --disable-pip-version-check "bharnet[test]"
  in_root /opt/venv/bin/python -c "
import platform, importlib.util, bharnet, bharnet._C as C, numpy, onnxruntime
assert platform.machine() == 'aarch64', platform.machine()
assert importlib.util.find_spec('torch') is None, 'torch must not be in the aarch64 root'
assert '/opt/venv/' in bharnet.__file__, bharnet.__file__
print(f'   aarch64 root: Python {platform.python_version()}, numpy {numpy.__version__}, '
      f'onnxruntime {onnxruntime.__version__}, bharnet._C ISA {C.cpu_isa()}')"
}

copy_sources() {
  rm -rf "$ROOT/src"
  mkdir -p "$ROOT/src/bharnet" "$ROOT/src/shared" "$ROOT/src/streams" "$ROOT/src/bundles" "$ROOT/src/results"
  # the tests and their data, not the build outputs; ../shared sits beside the repo, as here
  (cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$ROOT/src/bharnet"
  [[ -d "$SHARED/data" ]] && cp -r "$SHARED/data" "$ROOT/src/shared/"
  local s
  for s in "${STREAMS[@]}"; do
    [[ -e "$ROOT/src/streams/$(basename "$s")" ]] && die "two parity streams named $(basename "$s")"
    cp "$s" "$ROOT/src/streams/"
  done
  if compgen -G "$WORK/bundles/*.bharnet" >/dev/null; then cp "$WORK"/bundles/*.bharnet "$ROOT/src/bundles/"; fi
}

make_bundles() {
  rm -rf "$WORK/bundles"
  "$HOST_PY" tests/aarch64/make_bundles.py --out "$WORK/bundles" >"$OUT/make_bundles.log" 2>&1 \
    || { tail -n 30 "$OUT/make_bundles.log" >&2; die "make_bundles.py failed"; }
  grep -E '^  [^ ]+\.bharnet: ' "$OUT/make_bundles.log" >&2
}

torch_free_suite() {
  in_root /opt/venv/bin/python /src/bharnet/tests/aarch64/run_torch_free.py --durations=15 \
    | tee "$OUT/torch_free.log" | tail -n 25
  grep 'torch-free suite:' "$OUT/torch_free.log" | sed 's/^/aarch64 /' >>"$SUMMARY"
}

kernel_test() {  # kernel_test host|aarch64
  "$HOST_PY" tests/cpp/run_kernel_test.py --target "$1" --build-dir "$WORK/kernel-test-$1" \
    --sysroot "$TOOLCHAIN" | tee -a "$SUMMARY"
}

parity_x86() {
  local bundles=(default "$WORK"/bundles/*.bharnet)
  "$HOST_PY" tests/aarch64/parity.py run --bundles "${bundles[@]}" --streams "${STREAMS[@]}" \
    --backends "${BACKENDS[@]}" --modes "${MODES[@]}" --out "$OUT/parity-x86_64.json" | tail -n 3
}

parity_aarch64() {
  local bundles=(default) streams=() f
  for f in "$WORK"/bundles/*.bharnet; do bundles+=("/src/bundles/$(basename "$f")"); done
  for f in "${STREAMS[@]}"; do streams+=("/src/streams/$(basename "$f")"); done
  in_root /opt/venv/bin/python /src/bharnet/tests/aarch64/parity.py run --bundles "${bundles[@]}" \
    --streams "${streams[@]}" --backends "${BACKENDS[@]}" --modes "${MODES[@]}" \
    --out /src/results/parity-aarch64.json | tail -n 3
  cp "$ROOT/src/results/parity-aarch64.json" "$OUT/"
}

# make bench-aarch64 (BHARNET_AARCH64_BENCH=1): instead of the tests, the per-frame path's ratios
# (bench/frame_path.py --emulated). Emulated times mean nothing absolute; a ratio of two units timed
# side by side under the same emulation is what issue 22 asks for. The default-width bundle is
# exported on the host (the root has no torch).
bench_frame_path() {
  local bundle; bundle="$("$HOST_PY" bench/frame_path.py --print-default-bundle | tail -n 1)"
  [[ -f "$bundle" ]] || die "no default-width bundle from bench/frame_path.py --print-default-bundle"
  cp "$bundle" "$ROOT/src/bundles/"
  in_root /opt/venv/bin/python /src/bharnet/bench/frame_path.py --emulated \
    --repeats "${BHARNET_AARCH64_BENCH_REPEATS:-8}" \
    --default-bundle "/src/bundles/$(basename "$bundle")" --out /src/results/frame_path_aarch64.json
  cp "$ROOT/src/results/frame_path_aarch64.json" "$REPO/bench/results/"
  log "wrote bench/results/frame_path_aarch64.json"
}

parity_compare() {
  "$HOST_PY" tests/aarch64/parity.py compare "$OUT/parity-x86_64.json" "$OUT/parity-aarch64.json" \
    --tol 1e-5 | tee -a "$SUMMARY"
}

mkdir -p "$WORK"
rm -rf "$OUT"
mkdir -p "$OUT"
: >"$SUMMARY"
cd "$REPO"
log "wheel: $(basename "$WHEEL"); qemu CPU: $BHARNET_QEMU_CPU; streams: ${STREAMS[*]}"
step "apt: host tools" install_host_tools
[[ -x "$TOOLCHAIN/usr/bin/aarch64-linux-gnu-g++-10" ]] || bash "$TOOLS/toolchain.sh"
if reuse && [[ -x "$ROOT/opt/venv/bin/python" ]]; then
  log "reusing $ROOT"
  unmount_root
  binfmt_up
  mount_root
else
  step "root: debs (bookworm arm64)" make_root
  step "root: wheels (host pip)" download_wheels
  binfmt_up
  mount_root
  step "root: pip install (emulated)" install_in_root
fi
if [[ "${BHARNET_AARCH64_BENCH:-0}" == 1 ]]; then mkdir -p "$WORK/bundles"   # the bench brings its own
elif reuse && ls "$WORK"/bundles/*.bharnet >/dev/null 2>&1; then log "reusing $WORK/bundles"; else
  step "bundles: train+export (x86)" make_bundles
fi
copy_sources
if [[ "${BHARNET_AARCH64_BENCH:-0}" == 1 ]]; then
  step "bench: frame path (emulated)" bench_frame_path
  cat "$TIMINGS" >&2
  exit 0
fi
step "tests: torch-free (emulated)" torch_free_suite
step "tests: C++ kernels x86" kernel_test host
step "tests: C++ kernels aarch64" kernel_test aarch64
step "parity: x86 run" parity_x86
step "parity: aarch64 run (emu)" parity_aarch64
step "parity: compare" parity_compare

log "== summary"
cat "$SUMMARY" >&2
log "== timings (s)"
cat "$TIMINGS" >&2
