#!/usr/bin/env bash
# The one test command (README, .ci/run): sets everything up on a fresh
# machine, then runs every test: the native GoogleTest suite through CTest
# first, the same suite under ASan+UBSan and under TSan (tools/sanitize.sh),
# then, for every CPython 3.9-3.13 on the machine (tools/pythons.sh), the
# extension built for it (pip install -e .) and the whole pytest suite.
#
#   tools/test.sh            # everything
#   tools/test.sh -k report  # extra arguments go to pytest
#   AIOWATCHDOG_SKIP_SANITIZERS=1 tools/test.sh   # quicker local runs
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

if [ -z "${AIOWATCHDOG_SKIP_SANITIZERS:-}" ]; then
  tools/sanitize.sh
fi

for py in $PYTHONS; do
  version=$("$py" -c 'import platform; print(platform.python_version())')
  echo "== CPython $version: extension (pip install -e .) and pytest =="
  # No build isolation: bootstrap.sh installed the build requirements already.
  "$py" -m pip install -q --disable-pip-version-check --no-build-isolation -e .
  "$py" -m pytest "$@"
done
