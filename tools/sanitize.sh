#!/usr/bin/env bash
# Builds the native core and its GoogleTest suite under AddressSanitizer +
# UndefinedBehaviorSanitizer, then under ThreadSanitizer, and runs each.
# A step of tools/test.sh; any finding fails it (-fno-sanitize-recover).
set -euo pipefail
cd "$(dirname "$0")/.."

run_with() {
  local name=$1 sanitizers=$2
  local dir=build/sanitize-$name
  echo "== native tests under $sanitizers =="
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIOWATCHDOG_BUILD_PYTHON=OFF \
    -DAIOWATCHDOG_SANITIZE="$sanitizers" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
  # The binary directly, not CTest: one process, so the sanitizers also see
  # the tests interact through the process-wide handler and slot.
  "$dir/aiowatchdog_native_tests" --gtest_brief=1
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
run_with asan address,undefined
run_with tsan thread
