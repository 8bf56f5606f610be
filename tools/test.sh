#!/usr/bin/env bash
# The one test command (README, .ci/run): sets everything up on a fresh
# machine, then runs every test: the native GoogleTest suite through CTest
# first; then, for every CPython 3.9-3.13 on the machine (tools/pythons.sh),
# the extension built for it (pip install -e .) and the whole pytest suite;
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
AIOWATCHDOG_PYTHONS="$PYTHONS" tools/bootstrap.sh

BUILD_DIR=${AIOWATCHDOG_BUILD_DIR:-build/native}
echo "== native tests (GoogleTest via CTest) =="
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAIOWATCHDOG_BUILD_PYTHON=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"

default=$(python3 -c 'import platform; print(platform.python_version())')
for py in $PYTHONS; do
  version=$("$py" -c 'import platform; print(platform.python_version())')
  echo "== CPython $version: extension (pip install -e .) and pytest =="
  # No build isolation: bootstrap.sh installed the build requirements already.
  "$py" -m pip install -q --disable-pip-version-check --no-build-isolation -e .
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
