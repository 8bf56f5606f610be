#!/usr/bin/env bash
# Makes (once per machine) a minimal Debian bookworm root as a user's machine
# is: `debootstrap --variant=minbase` with python3 and python3-venv only (no
# compiler, no -dev package, no Abseil, no fmt). tests/packaging/
# test_fresh_machine.py installs the built cp311 wheel there and runs the
# command line. Idempotent: a complete root (its stamp exists) is reused, a
# partial one made again. Prints the root's path.
#
#   tools/bookworm_root.sh                 # make or reuse ${AIOWATCHDOG_CACHE:-/var/cache/aiowatchdog}/bookworm-minbase
#   tools/bookworm_root.sh --enter CMD...  # run CMD inside it (mounts /proc, /dev first)
set -euo pipefail

CACHE=${AIOWATCHDOG_CACHE:-/var/cache/aiowatchdog}
ROOT=$CACHE/bookworm-minbase
STAMP=$ROOT/.aiowatchdog-complete
PACKAGES=python3,python3-venv

log() { echo "bookworm_root: $*" >&2; }

# mirror, mount_api
. "$(dirname "$0")/debian_root.sh"

if [ "$(id -u)" -ne 0 ]; then log "needs root (debootstrap, chroot, mount)"; exit 2; fi
if [ ! -f "$STAMP" ]; then
  command -v debootstrap >/dev/null || {
    apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
  log "debootstrap --variant=minbase bookworm into $ROOT (a few minutes)"
  for m in proc dev; do mountpoint -q "$ROOT/$m" 2>/dev/null && umount "$ROOT/$m"; done
  rm -rf "$ROOT"; mkdir -p "$CACHE"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT" "$(mirror)" >&2
  touch "$STAMP"
fi
mount_api

if [ "${1:-}" = "--enter" ]; then
  shift
  exec chroot "$ROOT" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1 "$@"
fi
echo "$ROOT"
