#!/usr/bin/env bash
# make wheel-aarch64: a CPython 3.11 aarch64 wheel (CPU kernels, BHARNET_CUDA=OFF), cross-built
# with Debian 11's GCC 10 against glibc 2.31, repaired by auditwheel to a manylinux tag, then
# checked: the tag's glibc floor is <= 2.31, and glibc 2.31's own loader resolves every symbol
# of bharnet._C except the Python C API.
#
# Output: build/aarch64/dist/bharnet-*-cp311-cp311-manylinux_*_aarch64.whl
set -euo pipefail
source "$(dirname "$0")/common.sh"
mkdir -p "$WORK"
: >"$TIMINGS"

step "apt: host tools" install_host_tools
bash "$TOOLS/toolchain.sh"

PYBUILD="${PYTHON311:-python$PY_MINOR}"
command -v "$PYBUILD" >/dev/null || die "need a CPython $PY_MINOR interpreter ($PYBUILD) to build the cp${PY_MINOR/./} wheel"
"$PYBUILD" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$PY_MINOR'.split('.'))), sys.version" \
  || die "$PYBUILD is not CPython $PY_MINOR"

build_venv() {
  rm -rf "$WORK/venv"
  "$PYBUILD" -m venv "$WORK/venv"
  "$WORK/venv/bin/python" -m pip install -q "${BUILD_TOOLS[@]}"
}
if reuse && [[ -x "$WORK/venv/bin/auditwheel" ]]; then log "reusing $WORK/venv"; else
  step "pip: build tools" build_venv
fi
VPY="$WORK/venv/bin/python"

cross_build() {
  rm -rf "$WORK/cmake-build" "$WORK/raw"
  # The tag and the extension suffix name the target, not the (x86) interpreter running the build.
  env BHARNET_CUDA=OFF BHARNET_TRT=OFF BHARNET_AARCH64_TOOLCHAIN="$TOOLCHAIN" \
      _PYTHON_HOST_PLATFORM=linux-aarch64 \
      SETUPTOOLS_EXT_SUFFIX=".cpython-${PY_MINOR/./}-aarch64-linux-gnu.so" \
      CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$VPY" -m pip wheel -q --no-build-isolation --no-deps -w "$WORK/raw" \
      -C build-dir="$WORK/cmake-build" \
      -C cmake.toolchain-file="$TOOLS/toolchain.cmake" \
      -C cmake.python-hints=false \
      -C cmake.define.Python_EXECUTABLE="$VPY" \
      -C cmake.define.Python_INCLUDE_DIR="$TOOLCHAIN/usr/include/python$PY_MINOR" \
      -C cmake.define.PYBIND11_USE_CROSSCOMPILING=ON \
      "$REPO"
  ls "$WORK"/raw/bharnet-*-linux_aarch64.whl >/dev/null || die "no linux_aarch64 wheel was built"
}
step "cross build (cmake+gcc10)" cross_build

repair() {
  rm -rf "$DIST"
  PATH="$WORK/venv/bin:$PATH" "$WORK/venv/bin/auditwheel" repair -w "$DIST" "$WORK"/raw/bharnet-*.whl
  "$WORK/venv/bin/auditwheel" show "$DIST"/bharnet-*.whl
}
step "auditwheel repair+show" repair

WHEEL="$(ls "$DIST"/bharnet-*.whl)"
# the highest manylinux_2_x among the wheel's tags: a conservative reading of its glibc floor
floor="$(basename "$WHEEL" | grep -oE 'manylinux_2_[0-9]+' | sed 's/manylinux_2_//' | sort -n | tail -n1)"
[[ -n "$floor" ]] || die "$(basename "$WHEEL") carries no manylinux_2_x tag"
(( floor <= 31 )) || die "glibc floor 2.$floor is above 2.31 (JetPack 5): $(basename "$WHEEL")"
log "   wheel: $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB), glibc floor 2.$floor"

# The tag says which symbol versions are used; this says they all exist in glibc 2.31 (and
# GCC 10's libstdc++): the loader of the toolchain's glibc resolves the module with BIND_NOW.
load_check() {
  local d; d="$(mktemp -d -t bharnet-whl-XXXXXX)"
  "$VPY" -m zipfile -e "$WHEEL" "$d"
  local so; so="$(ls "$d"/bharnet/_C.cpython-*-aarch64-linux-gnu.so)" || die "no aarch64 bharnet._C in the wheel"
  local lib="$TOOLCHAIN/usr/aarch64-linux-gnu/lib"
  local out
  out="$(LD_TRACE_LOADED_OBJECTS=1 LD_BIND_NOW=1 LD_WARN=1 qemu-aarch64-static \
          "$lib/ld-linux-aarch64.so.1" --library-path "$lib" "$so" 2>&1)" || true
  local missing; missing="$(grep -E 'undefined symbol|not found' <<<"$out" | grep -vE 'undefined symbol: _?Py' || true)"
  grep -q 'libc.so.6' <<<"$out" || { echo "$out" >&2; die "glibc $TOOLCHAIN_GLIBC's loader could not trace $so"; }
  [[ -z "$missing" ]] || { echo "$missing" >&2; die "bharnet._C needs symbols glibc $TOOLCHAIN_GLIBC / GCC 10 lack"; }
  log "   glibc $TOOLCHAIN_GLIBC loader: every non-Python symbol of $(basename "$so") resolves"
  sed 's/^/     /' <<<"$(grep '=>' <<<"$out")" >&2
  rm -rf "$d"
}
step "glibc 2.31 load check" load_check
echo "$WHEEL"
