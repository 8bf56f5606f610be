#!/usr/bin/env bash
# Installs everything a fresh Debian machine lacks to build and test aiowatchdog:
# the C++ toolchain and -dev packages (apt), then the Python build and test
# requirements (pip) for every interpreter named in AIOWATCHDOG_PYTHONS (default:
# the `python3` on PATH). Idempotent: a second run installs nothing and is quick.
#
#   tools/bootstrap.sh               # build and test requirements
#   tools/bootstrap.sh --benchmarks  # also what benchmarks/run.py compares and
#                                    # drives: wrk (apt) and the peers, aiohttp
#                                    # and matplotlib (pip, for python3 only)
#   tools/bootstrap.sh --system      # the apt packages only: tools/test.sh
#                                    # tests installed wheels in venvs of their own
set -euo pipefail

BENCHMARKS=0 SYSTEM_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --benchmarks) BENCHMARKS=1 ;;
    --system) SYSTEM_ONLY=1 ;;
    *) echo "bootstrap.sh: unknown argument '$arg' (allowed: --benchmarks, --system)" >&2; exit 2 ;;
  esac
done

# dpkg-dev: tools/abseil.sh's `apt-get source`; debootstrap: the sid and
# bookworm roots; python3-venv: venvs of Debian's own python3.11, on which
# tools/test.sh tests the cp311 wheel too.
APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config dpkg-dev debootstrap python3-venv
  libabsl-dev libdw-dev libfmt-dev libgtest-dev libgmock-dev python3.11-dbg libc6-dbg
)
[ "$BENCHMARKS" = 1 ] && APT_PACKAGES+=(wrk)
# statsd, prometheus_client and pytest-asyncio: the toolkit is tested against them
# (issue 5); none is a runtime dependency.
PY_PACKAGES=(pybind11 "setuptools>=61" wheel pytest hypothesis uvloop pytest-asyncio statsd prometheus_client)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "$SYSTEM_ONLY" = 1 ] && exit 0

for py in ${AIOWATCHDOG_PYTHONS:-python3}; do
  if ! "$py" -c 'import pybind11, pytest, hypothesis, uvloop, setuptools, wheel, pytest_asyncio, statsd, prometheus_client' 2>/dev/null; then
    echo "bootstrap: installing Python requirements for $py"
    "$py" -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
  fi
done

# The peers of benchmarks/run.py, on the interpreter it runs with.
BENCH_PACKAGES=(aiohttp aiodebug asyncio-event-loop-monitor pyinstrument matplotlib)
if [ "$BENCHMARKS" = 1 ] && ! python3 -c 'import aiohttp, aiodebug, asyncio_event_loop_monitor, pyinstrument, matplotlib' 2>/dev/null; then
  echo "bootstrap: installing the benchmarks' peers for python3"
  python3 -m pip install -q --disable-pip-version-check "${BENCH_PACKAGES[@]}"
fi
