#!/usr/bin/env bash
# The one test command (README, .ci/run): sets everything up on a fresh
# machine, then runs every test: the native GoogleTest suite through CTest
# first; then, for every CPython 3.9-3.13 on the machine (tools/pythons.sh),
# the extension built for it (pip install -e ., all of them at once, each
# linking the core compiled for the native tests) and the whole pytest suite;
# last, the production-safety figures at full size on the default python3
# (tools/fault_figures.py: 10,000 hangs, 1,000 start/stop, 20 forks, 100
# kills, 10,000 bad inputs, and the native suite under ASan+UBSan and TSan
# through tools/sanitize.sh), which fail the run if anything leaked or broke.
#
#   tools/test.sh            # everything
#   tools/test.sh -k report  # extra arguments go to pytest
#   AIOWATCHDOG_SKIP_SANITIZERS=1 AIOWATCHDOG_SKIP_FAULT_FIGURES=1 tools/test.sh
#                            # quicker local runs
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHONS=$(tools/pythons.sh | tr '\n' ' ')
# --benchmarks: wrk and the peers, for tests/integration/test_benchmarks.py.
AIOWATCHDOG_PYTHONS="$PYTHONS" tools/bootstrap.sh --benchmarks

BUILD_DIR=${AIOWATCHDOG_BUILD_DIR:-build/native}
echo "== native tests (GoogleTest via CTest) =="
# The build type setup.py gives the extension: every interpreter's extension
# links the core built here (AIOWATCHDOG_PREBUILT_CORE) instead of compiling
# it again, and CMake refuses a core built another way.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${AIOWATCHDOG_BUILD_TYPE:-RelWithDebInfo}" \
  -DAIOWATCHDOG_BUILD_PYTHON=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
core="$(cd "$BUILD_DIR" && pwd)/libaiowatchdog_core.a"

echo "== extensions (pip install -e .), one per interpreter =="
# All of them before any pytest, as many at once as there are CPUs: with the
# core library prebuilt, a build is one long compile (module.cc) on one CPU.
# No build isolation: bootstrap.sh installed the build requirements already.
printf '%s\n' $PYTHONS |
  CMAKE_ARGS="${CMAKE_ARGS:+$CMAKE_ARGS }-DAIOWATCHDOG_PREBUILT_CORE=$core" \
  xargs -P "$(nproc)" -n 1 sh -c '"$1" -m pip install -q --disable-pip-version-check \
    --no-build-isolation -e . || { echo "tools/test.sh: no extension for $1" >&2; exit 1; }' sh

default=$(python3 -c 'import platform; print(platform.python_version())')
for py in $PYTHONS; do
  version=$("$py" -c 'import platform; print(platform.python_version())')
  echo "== CPython $version: pytest =="
  # Property tests at full size on the default interpreter, a fifth elsewhere
  # (tests/fuzz_scale.py).
  scale=1
  [ "$version" = "$default" ] || scale=${AIOWATCHDOG_FUZZ_SCALE:-0.2}
  AIOWATCHDOG_FUZZ_SCALE=$scale "$py" -m pytest "$@"
done

if [ -z "${AIOWATCHDOG_SKIP_FAULT_FIGURES:-}" ]; then
  echo "== production-safety figures (tools/fault_figures.py) =="
  python3 tools/fault_figures.py ${AIOWATCHDOG_SKIP_SANITIZERS:+--no-sanitizers}
elif [ -z "${AIOWATCHDOG_SKIP_SANITIZERS:-}" ]; then
  tools/sanitize.sh
fi
