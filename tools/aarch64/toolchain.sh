#!/usr/bin/env bash
# Unpacks Debian 11's aarch64 cross toolchain (GCC 10, glibc 2.31, libstdc++ 6.0.28) into
# build/aarch64/toolchain, adds CPython 3.11 headers for aarch64 (Debian 12's libpython3.11-dev),
# and checks that it compiles, links and runs (under qemu) a threaded C++ program.
#
# Why not the host's g++-aarch64-linux-gnu (GCC 12) with a Debian 11 --sysroot: that compiler puts
# its own glibc 2.36 headers before the sysroot's, and its static libstdc++/libgcc_eh reference
# __libc_single_threaded (glibc 2.32) and _dl_find_object (2.35), so a wheel built that way can
# pass auditwheel and still fail to load on glibc 2.31.
set -euo pipefail
source "$(dirname "$0")/common.sh"

CROSS_PACKAGES=(g++-10-aarch64-linux-gnu gcc-10-aarch64-linux-gnu cpp-10-aarch64-linux-gnu
                gcc-10-cross-base libstdc++-10-dev-arm64-cross libgcc-10-dev-arm64-cross
                libc6-dev-arm64-cross libc6-arm64-cross linux-libc-dev-arm64-cross
                libgcc-s1-arm64-cross libstdc++6-arm64-cross)

fetch() {
  rm -rf "$TOOLCHAIN"
  deb_fetch "$TOOLCHAIN_SUITE" amd64 "$TOOLCHAIN" exact "${CROSS_PACKAGES[@]}"
  deb_fetch "$ROOT_SUITE" arm64 "$TOOLCHAIN" exact "libpython$PY_MINOR-dev"
  # LTO is not used; its compiler is a third of the tree
  rm -f "$TOOLCHAIN"/usr/lib/gcc-cross/aarch64-linux-gnu/10/lto1 "$TOOLCHAIN"/usr/bin/*lto-dump*
  # GCC looks for as/ld in its tool directory; Debian's cross binutils (host package) serve
  local t
  mkdir -p "$TOOLCHAIN/usr/aarch64-linux-gnu/bin"
  for t in as ld; do
    ln -sfn "/usr/bin/aarch64-linux-gnu-$t" "$TOOLCHAIN/usr/aarch64-linux-gnu/bin/$t"
  done
  grep -q "^libc6-dev-arm64-cross_${TOOLCHAIN_GLIBC}-" "$TOOLCHAIN/.debs" \
    || die "expected glibc $TOOLCHAIN_GLIBC in $TOOLCHAIN_SUITE, got: $(grep libc6-dev "$TOOLCHAIN/.debs")"
  [[ -f "$TOOLCHAIN/usr/include/aarch64-linux-gnu/python$PY_MINOR/pyconfig.h" ]] \
    || die "libpython$PY_MINOR-dev did not provide the aarch64 pyconfig.h"
  sed 's/^/   /' "$TOOLCHAIN/.debs" >&2
}

smoke() {
  local d; d="$(mktemp -d -t bharnet-tc-XXXXXX)"
  cat >"$d/t.cpp" <<'CPP'
#include <arm_neon.h>
#include <cstdio>
#include <thread>
int main() {
  float32x4_t v = vdupq_n_f32(1.5f);
  float s = 0;
  std::thread t([&] { s = vaddvq_f32(vmulq_f32(v, v)); });
  t.join();
  std::printf("%g\n", s);
  return s == 9.0f ? 0 : 1;
}
CPP
  "$TOOLCHAIN/usr/bin/aarch64-linux-gnu-g++-10" --sysroot="$TOOLCHAIN" -O2 -pthread "$d/t.cpp" \
    -o "$d/t" 2> >(grep -v 'header version' >&2)
  local out
  out="$(qemu-aarch64-static -L "$TOOLCHAIN/usr/aarch64-linux-gnu" "$d/t")" \
    || die "the toolchain's test program failed under qemu"
  [[ "$out" == 9 ]] || die "toolchain smoke test printed '$out', expected 9"
  rm -rf "$d"
  log "   toolchain OK: GCC $("$TOOLCHAIN/usr/bin/aarch64-linux-gnu-g++-10" -dumpfullversion 2>/dev/null), glibc $TOOLCHAIN_GLIBC"
}

if reuse && [[ -x "$TOOLCHAIN/usr/bin/aarch64-linux-gnu-g++-10" ]]; then
  log "reusing $TOOLCHAIN"
else
  step "toolchain: fetch+unpack" fetch
fi
smoke
