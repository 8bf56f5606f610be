#!/usr/bin/env bash
# The one test command (README, .ci/run): sets everything up on a fresh
# machine, then runs every test: the native GoogleTest suite through CTest
# first, the same suite under ASan+UBSan and under TSan (tools/sanitize.sh),
# then pytest against the package installed in editable mode.
#
#   tools/test.sh            # everything
#   tools/test.sh -k report  # extra arguments go to pytest
#   AIOWATCHDOG_SKIP_SANITIZERS=1 tools/test.sh   # quicker local runs
set -euo pipefail
cd "$(dirname "$0")/.."

tools/bootstrap.sh

BUILD_DIR=${AIOWATCHDOG_BUILD_DIR:-build/native}
echo "== native tests (GoogleTest via CTest) =="
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAIOWATCHDOG_BUILD_PYTHON=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"

if [ -z "${AIOWATCHDOG_SKIP_SANITIZERS:-}" ]; then
  tools/sanitize.sh
fi

echo "== Python extension (pip install -e .) =="
# No build isolation: bootstrap.sh installed the build requirements already.
python3 -m pip install -q --disable-pip-version-check --no-build-isolation -e .

echo "== pytest =="
python3 -m pytest "$@"
