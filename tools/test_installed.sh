#!/usr/bin/env bash
# Runs the whole pytest suite against the wheel a user would install, for one
# interpreter: a FRESH venv of PYTHON (build/testenv/NAME), the wheel of its
# tag from dist/ installed into it (not editable, not from the tree), the test
# requirements, then pytest from a copy of tests/ (build/testrun/NAME) where
# `import aiowatchdog` can only find the install
# (tests/packaging/test_installed_package.py checks that it did). Called by
# tools/test.sh on this machine and inside the sid root (same paths there).
#
#   tools/test_installed.sh NAME PYTHON [pytest arguments...]
#
# AIOWATCHDOG_DIST (default dist/), AIOWATCHDOG_FUZZ_SCALE and
# AIOWATCHDOG_FRESH_ROOT pass through to the tests; AIOWATCHDOG_BENCH_PEERS=1
# also installs the peers benchmarks/run.py compares (tests/integration/
# test_benchmarks.py runs them where they are).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1 PYTHON=$2; shift 2
TREE=$PWD
DIST=$(cd "${AIOWATCHDOG_DIST:-dist}" && pwd)
log() { echo "test_installed[$NAME]: $*" >&2; }

tag=$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
wheels=("$DIST"/aiowatchdog-*-"$tag"-"$tag"-manylinux*.whl)
[ -f "${wheels[0]}" ] || { log "no $tag manylinux wheel in $DIST (tools/build_wheels.sh)"; exit 1; }
[ ${#wheels[@]} -eq 1 ] || { log "more than one $tag wheel in $DIST: ${wheels[*]}"; exit 1; }

venv=$TREE/build/testenv/$NAME
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
pip_quiet() { "$venv/bin/pip" install -q "$@" 2>&1 | { grep -v "^WARNING: Location" >&2 || true; }; }
pip_quiet "${wheels[0]}"
pip_quiet pytest hypothesis pytest-asyncio statsd prometheus_client
# uvloop where a wheel of it exists for this interpreter (no source build).
pip_quiet --only-binary=:all: uvloop || log "no uvloop wheel for $tag: its tests skip"
if [ "${AIOWATCHDOG_BENCH_PEERS:-}" = 1 ]; then
  pip_quiet aiohttp aiodebug asyncio-event-loop-monitor pyinstrument matplotlib
fi

# The tests and what they read (benchmarks/, pytest's configuration), but not
# the package: it comes from the venv.
run=$TREE/build/testrun/$NAME
rm -rf "$run"; mkdir -p "$run"
cp -r tests benchmarks pyproject.toml "$run"/
cd "$run"
where=$("$venv/bin/python" -c 'import aiowatchdog; print(aiowatchdog.__file__)')
case "$where" in "$venv"/*) ;; *) log "aiowatchdog imported from $where, not from $venv"; exit 1 ;; esac
log "$("$venv/bin/python" -c 'import platform; print("CPython", platform.python_version())'), $(basename "${wheels[0]}")"
AIOWATCHDOG_SOURCE_TREE=$TREE AIOWATCHDOG_DIST=$DIST AIOWATCHDOG_EXPECT_SELF_CONTAINED=1 \
  exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
