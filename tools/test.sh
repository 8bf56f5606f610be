#!/usr/bin/env bash
# The one test command (README, .ci/run): sets everything up on a fresh
# machine, then tests what users install:
# 1. the native GoogleTest suite through CTest (Debian's shared -dev packages);
# 2. tools/build_wheels.sh: the sdist, and from it a self-contained manylinux
#    wheel per interpreter (pyenv 3.9-3.13 here; 3.14 and 3.15 in the Debian
#    sid root, tools/sid_root.sh), Abseil built once per machine;
# 3. for each interpreter — pyenv's 3.9-3.13, Debian's own /usr/bin/python3.11
#    (the cp311 wheel, as on pyenv's 3.11), sid's 3.14 and 3.15 — a fresh venv
#    with its wheel installed and the whole pytest suite run against it
#    (tools/test_installed.sh), two interpreters at a time, the cp311 run also
#    installing that wheel on a bare bookworm root
#    (tests/packaging/test_fresh_machine.py);
# 4. the native suite under ASan+UBSan and TSan (tools/sanitize.sh);
# 5. the production-safety figures at full size on the default interpreter's
#    install (tools/fault_figures.py: 10,000 hangs, 1,000 start/stop, 20
#    forks, 100 kills, 10,000 bad inputs, the attacks of tests/attacks).
# Each step's time is printed at the end.
#
#   tools/test.sh            # everything
#   tools/test.sh -k report  # extra arguments go to pytest
#   AIOWATCHDOG_SID_PYTHONS= AIOWATCHDOG_DEBIAN_PYTHON= AIOWATCHDOG_SKIP_SANITIZERS=1 \
#     AIOWATCHDOG_SKIP_FAULT_FIGURES=1 tools/test.sh   # quicker local runs
#
# Development (editable installs, one interpreter): CONTRIBUTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."

START=$(date +%s)
STEP_NAME="" STEP_START=$START
TIMES=()
step() {
  local now; now=$(date +%s)
  [ -n "$STEP_NAME" ] && TIMES+=("$(printf '%5ds  %s' $((now - STEP_START)) "$STEP_NAME")")
  STEP_NAME=$1 STEP_START=$now
  [ -n "$1" ] && echo "== $1 =="
  return 0
}
FAILED=()
summary() {
  step ""
  echo "== step times (tools/test.sh) =="
  printf '%s\n' "${TIMES[@]}"
  printf '%5ds  total\n' $(($(date +%s) - START))
  [ ${#FAILED[@]} -eq 0 ] || echo "tools/test.sh: FAILED: ${FAILED[*]}"
}
trap summary EXIT
# An interpreter whose tests fail does not stop the others: every failure is
# seen in one run, and the run fails at the end.
attempt() { "$@" || FAILED+=("$STEP_NAME"); }

read -r -a PYTHONS <<< "$(tools/pythons.sh | tr '\n' ' ')"
DEBIAN_PYTHON=${AIOWATCHDOG_DEBIAN_PYTHON-/usr/bin/python3.11}
SID_PYTHONS=${AIOWATCHDOG_SID_PYTHONS-3.14 3.15}
DEFAULT_VERSION=${AIOWATCHDOG_DEFAULT_VERSION:-3.11}
export AIOWATCHDOG_DIST=$PWD/dist

step "bootstrap (apt packages, Debian's python3.11 venv)"
tools/bootstrap.sh --benchmarks --system

# The Debian roots (sid: 3.14 and 3.15; bare bookworm: the fresh-machine
# test), made once per machine, mostly download and unpack: on a fresh
# machine they are made while the native tests build (not while they run:
# some of them time a capture).
mkdir -p build
(
  [ -z "$SID_PYTHONS" ] || tools/sid_root.sh >/dev/null
  tools/bookworm_root.sh >/dev/null
) > build/roots.log 2>&1 &
ROOTS_PID=$!

BUILD_DIR=${AIOWATCHDOG_BUILD_DIR:-build/native}
step "native tests: build (GoogleTest)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${AIOWATCHDOG_NATIVE_BUILD_TYPE:-RelWithDebInfo}" \
  -DAIOWATCHDOG_BUILD_PYTHON=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
step "Debian roots (tools/sid_root.sh, tools/bookworm_root.sh: made once per machine)"
wait "$ROOTS_PID" || { cat build/roots.log >&2; echo "tools/test.sh: a Debian root could not be made" >&2; exit 1; }
step "native tests (CTest)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"

step "docs (tools/docs.sh: mkdocs, warnings as errors)"
tools/docs.sh

step "wheels and sdist (tools/build_wheels.sh)"
AIOWATCHDOG_SID_PYTHONS=$SID_PYTHONS tools/build_wheels.sh

# Each interpreter's suite against its installed wheel, AIOWATCHDOG_JOBS (2)
# at a time: a suite spends about a third of its time on a core (the rest
# waits on the hangs its programs make), so two side by side fit two cores;
# the machine being busy is part of what the tests must survive. Each suite's
# output is printed whole when it ends.
# Property tests at full size on the default interpreter, a fifth elsewhere
# (tests/fuzz_scale.py).
scale_for() { [ "$1" = "$DEFAULT_VERSION" ] && echo 1 || echo "${AIOWATCHDOG_FUZZ_SCALE:-0.2}"; }
SUITES=()  # "name|label|command..." (command words separated by |)
default_venv=""
for py in "${PYTHONS[@]}"; do
  version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  name=pyenv-$version
  extra=""
  if [ "$version" = "$DEFAULT_VERSION" ]; then
    default_venv=build/testenv/$name
    extra="AIOWATCHDOG_BENCH_PEERS=1|AIOWATCHDOG_FRESH_ROOT=1|"
  fi
  SUITES+=("$name|CPython $version (pyenv): pytest on its installed wheel|env|${extra}AIOWATCHDOG_FUZZ_SCALE=$(scale_for "$version")|tools/test_installed.sh|$name|$py")
done
if [ -n "$DEBIAN_PYTHON" ]; then
  version=$("$DEBIAN_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  # The same cp311 wheel as pyenv's 3.11; full-size property tests ran there.
  SUITES+=("debian-$version|CPython $version (Debian's $DEBIAN_PYTHON): pytest on its installed wheel|env|AIOWATCHDOG_FUZZ_SCALE=${AIOWATCHDOG_FUZZ_SCALE:-0.2}|tools/test_installed.sh|debian-$version|$DEBIAN_PYTHON")
fi
for version in $SID_PYTHONS; do
  SUITES+=("sid-$version|CPython $version (sid root): pytest on its installed wheel|tools/sid_root.sh|--bind|$PWD|--enter|env|AIOWATCHDOG_DIST=$AIOWATCHDOG_DIST|AIOWATCHDOG_FUZZ_SCALE=${AIOWATCHDOG_FUZZ_SCALE:-0.2}|$PWD/tools/test_installed.sh|sid-$version|/usr/bin/python$version")
done

step "pytest on each interpreter's installed wheel, ${AIOWATCHDOG_JOBS:-2} at a time"
mkdir -p build/logs
declare -A RUNNING=()  # pid -> suite name|label
report_suite() {  # pid: prints the suite's output and its time; notes a failure
  local pid=$1 name label rc seconds
  IFS='|' read -r name label <<< "${RUNNING[$pid]}"
  unset "RUNNING[$pid]"
  read -r rc seconds < "build/logs/$name.status"
  echo "== $label (${seconds}s) =="
  cat "build/logs/$name.log"
  TIMES+=("$(printf '%5ds  %s' "$seconds" "  $label")")
  [ "$rc" = 0 ] || FAILED+=("$label")
}
for suite in "${SUITES[@]}"; do
  IFS='|' read -r -a words <<< "$suite"
  name=${words[0]} label=${words[1]}
  if [ ${#RUNNING[@]} -ge "${AIOWATCHDOG_JOBS:-2}" ]; then
    wait -n -p done_pid "${!RUNNING[@]}" || true
    report_suite "$done_pid"
  fi
  (
    begun=$(date +%s)
    rc=0; "${words[@]:2}" "$@" > "build/logs/$name.log" 2>&1 || rc=$?
    echo "$rc $(($(date +%s) - begun))" > "build/logs/$name.status"
  ) &
  RUNNING[$!]="$name|$label"
done
while [ ${#RUNNING[@]} -gt 0 ]; do
  wait -n -p done_pid "${!RUNNING[@]}" || true
  report_suite "$done_pid"
done

if [ -z "$default_venv" ]; then
  default_venv=build/testenv/pyenv-$("${PYTHONS[0]}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi
if [ -z "${AIOWATCHDOG_SKIP_SANITIZERS:-}" ]; then
  step "sanitizers (tools/sanitize.sh)"
  attempt tools/sanitize.sh
fi
if [ -z "${AIOWATCHDOG_SKIP_FAULT_FIGURES:-}" ]; then
  step "production-safety figures (tools/fault_figures.py on the installed wheel)"
  # From outside the tree: its programs (`python -c ...`) import the package
  # from their working directory first, and must get the install.
  attempt env -C "$(dirname "$default_venv")" "$PWD/$default_venv/bin/python" "$PWD/tools/fault_figures.py" \
    --no-sanitizers
fi
step ""
[ ${#FAILED[@]} -eq 0 ]
