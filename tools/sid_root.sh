#!/usr/bin/env bash
# Makes (once per machine) a Debian sid root holding CPython 3.13, 3.14 and 3.15
# with their headers and venv, a compiler, cmake and ninja: the interpreters
# this bookworm machine does not have. Idempotent: a root that is complete
# (its stamp file exists) is reused; a partial one is removed and made again.
# Prints the root's path on stdout; progress goes to stderr.
#
#   tools/sid_root.sh            # make or reuse ${AIOWATCHDOG_CACHE:-/var/cache/aiowatchdog}/sid
#   tools/sid_root.sh --enter CMD...  # run CMD inside it (mounts /proc, /dev first)
#   tools/sid_root.sh --bind DIR --enter CMD...
#                                # DIR (e.g. the source tree) visible at the same
#                                # path inside, in a mount namespace of CMD's own
#                                # (the bind mount goes away with CMD)
#
# The mirror is the one this machine's apt sources name. Its Release file may
# be past Valid-Until, hence Acquire::Check-Valid-Until=false.
set -euo pipefail

CACHE=${AIOWATCHDOG_CACHE:-/var/cache/aiowatchdog}
ROOT=$CACHE/sid
STAMP=$ROOT/.aiowatchdog-complete
# dpkg-dev: tools/abseil.sh's `apt-get source`; the -dev packages: development
# builds in the root (release wheels link tools/abseil.sh's static Abseil and
# fmt header-only); patchelf: auditwheel.
PACKAGES=(python3.13 python3.13-dev python3.13-venv python3.14 python3.14-dev python3.14-venv
          python3.15 python3.15-dev python3.15-venv g++ cmake ninja-build ca-certificates
          dpkg-dev libabsl-dev libfmt-dev libdw-dev pkg-config libgtest-dev patchelf)

log() { echo "sid_root: $*" >&2; }

# mirror, mount_api
. "$(dirname "$0")/debian_root.sh"

copy_pip_config() {
  # pip inside the root reaches the same index as this machine's pip: its
  # configuration files and certificate bundle, copied in.
  mkdir -p "$ROOT/etc/xdg/pip" "$ROOT/etc/ssl/certs"
  local f
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt; do
    [ -f "$f" ] && cp "$f" "$ROOT$f"
  done
  if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
    mkdir -p "$ROOT$(dirname "$PIP_CERT")"; cp "$PIP_CERT" "$ROOT$PIP_CERT"
  fi
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
  if [ -n "${PIP_FIND_LINKS:-}" ] && [ -d "$PIP_FIND_LINKS" ]; then
    mkdir -p "$ROOT$PIP_FIND_LINKS"
  fi
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

make_root() {
  command -v debootstrap >/dev/null || {
    apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
  local uri; uri=$(mirror)
  log "debootstrap sid from the apt sources' mirror into $ROOT (a few minutes)"
  rm -rf "$ROOT"; mkdir -p "$CACHE"
  debootstrap --variant=minbase --include=ca-certificates sid "$ROOT" "$uri" >&2
  echo "deb $uri sid main" > "$ROOT/etc/apt/sources.list"
  mount_api
  chroot "$ROOT" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >&2
  touch "$STAMP"
}

install_missing() {
  # A root made before a package joined PACKAGES gets it now (idempotent).
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    chroot "$ROOT" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} in $ROOT"
  chroot "$ROOT" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

if [ "$(id -u)" -ne 0 ]; then log "needs root (debootstrap, chroot, mount)"; exit 2; fi
[ -f "$STAMP" ] || make_root
mount_api
install_missing
copy_pip_config

BIND=""
if [ "${1:-}" = "--bind" ]; then
  BIND=$(cd "$2" && pwd); shift 2
  [ "${1:-}" = "--enter" ] || { log "--bind DIR goes with --enter CMD"; exit 2; }
fi
if [ "${1:-}" = "--enter" ]; then
  shift
  if [ -n "$BIND" ]; then
    mkdir -p "$ROOT$BIND"
    exec unshare --mount --propagation private sh -c \
      'mount --bind "$1" "$2$1" && shift 2 && exec "$@"' sh "$BIND" "$ROOT" "$0" --enter "$@"
  fi
  exec chroot "$ROOT" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 ${PIP_CERT:+PIP_CERT=$PIP_CERT} ${PIP_DEFAULT_TIMEOUT:+PIP_DEFAULT_TIMEOUT=$PIP_DEFAULT_TIMEOUT} \
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"
fi
echo "$ROOT"
