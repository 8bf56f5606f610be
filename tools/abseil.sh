#!/usr/bin/env bash
# Builds Abseil as static, position-independent libraries from the Debian
# source package of the libabsl-dev this system has (`apt-get source abseil`,
# Debian's patches applied), once per machine, and prints the install prefix
# (give it to CMake as CMAKE_PREFIX_PATH). Release wheels link it, hidden
# (CMakeLists.txt's AIOWATCHDOG_SELF_CONTAINED): Debian's own libabsl_*.a are
# not -fPIC and cannot go into a shared object (R_X86_64_TPOFF32 relocations).
#
#   tools/abseil.sh        # build or reuse; prints the prefix on stdout
#
# The cache, ${AIOWATCHDOG_CACHE:-/var/cache/aiowatchdog}/abseil/KEY, is keyed
# on the source version, the compiler's version and the flags below, so a new
# compiler or Abseil gives a new build, never a mixed one. A prefix is complete
# when its stamp exists; a partial one is removed and built again. Runs on the
# host (bookworm) and inside the sid root (tools/sid_root.sh --enter), each
# with its own compiler, Debian release and cache. The build uses
# ${AIOWATCHDOG_ABSEIL_JOBS:-2} jobs at low priority: it takes minutes.
set -euo pipefail

CACHE=${AIOWATCHDOG_CACHE:-/var/cache/aiowatchdog}
JOBS=${AIOWATCHDOG_ABSEIL_JOBS:-2}
CXX=${CXX:-c++}
# Changing these changes the cache key.
CXXFLAGS_ABSL="-O2 -g0 -fPIC -fvisibility=hidden -fvisibility-inlines-hidden"
FLAGS_VERSION=1

log() { echo "abseil.sh: $*" >&2; }

# The source version of this system's libabsl-dev (installed or candidate):
# its headers are what a development build compiles against, so the wheels
# use the same Abseil.
version=$(dpkg-query -W -f='${source:Version}' libabsl-dev 2>/dev/null || true)
if [ -z "$version" ]; then
  version=$(apt-cache policy libabsl-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || {
  log "cannot tell Debian's Abseil version: neither libabsl-dev installed nor a candidate (apt-get update?)"
  exit 1; }

compiler=$("$CXX" --version | head -n 1)
key=$(printf '%s|%s|%s|%s' "$version" "$compiler" "$CXXFLAGS_ABSL" "$FLAGS_VERSION" | sha256sum | cut -c1-12)
prefix=$CACHE/abseil/${version//[^A-Za-z0-9.+-]/_}-$key
stamp=$prefix/.aiowatchdog-complete
if [ -f "$stamp" ]; then
  echo "$prefix"
  exit 0
fi

log "building Abseil $version with '$compiler' into $prefix (-j$JOBS, a few minutes)"
rm -rf "$prefix"
work=$(mktemp -d "${TMPDIR:-/tmp}/aiowatchdog-abseil.XXXXXX")
trap 'rm -rf "$work"' EXIT

# deb-src lines for this system's suites in a private apt configuration: the
# machine's own apt state is not touched.
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts"
sources=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
{
  # The deb lines of the machine's apt sources, one-line and deb822 forms, as
  # deb-src lines (awk: the sid root may have no python3).
  for f in "${sources[@]}"; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources) awk 'BEGIN { RS = ""; FS = "\n" }
        { t = ""; u = ""; s = ""; c = "main"; on = 1
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^#/) continue
            split($i, kv, ":"); k = tolower(kv[1]); v = substr($i, length(kv[1]) + 2)
            gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (k == "types") t = v; else if (k == "uris") u = v
            else if (k == "suites") s = v; else if (k == "components") c = v
            else if (k == "enabled" && v == "no") on = 0 }
          if (!on || (" " t " ") !~ / deb /) next
          nu = split(u, us, " "); ns = split(s, ss, " ")
          for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) print "deb-src " us[a] " " ss[b] " " c }' "$f" ;;
      *) awk '$1 == "deb" { $1 = ""; out = "deb-src"
            for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) out = out " " $i
            print out }' "$f" ;;
    esac
  done
} | awk '!seen[$0]++' > "$work/apt/sources.list"
[ -s "$work/apt/sources.list" ] || { log "no deb lines in this machine's apt sources"; exit 1; }
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=$work/apt/parts"
          -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
          -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$work" && apt-get "${apt_opts[@]}" -qq source "abseil=$version" >&2) || {
  log "apt-get source abseil=$version failed (is dpkg-dev installed? the mirror reachable?)"; exit 1; }
src=$(find "$work" -maxdepth 1 -type d -name 'abseil-*' | head -n 1)
[ -n "$src" ] && [ -f "$src/CMakeLists.txt" ] || { log "no unpacked abseil source in $work"; exit 1; }

# Static, PIC, no debug info, C++17 (the standard our code uses: Abseil's
# options then pick std::optional/string_view/variant, as our code expects).
# --hidden visibility: the extension exports nothing of Abseil anyway
# (--exclude-libs,ALL), and this keeps it out of the dynamic symbol table even
# for a link that forgets that flag.
nice -n 10 cmake -S "$src" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 -DABSL_PROPAGATE_CXX_STD=ON \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS_ABSL" -DCMAKE_CXX_FLAGS_RELEASE="-DNDEBUG" \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF \
  -DABSL_BUILD_TESTING=OFF -DABSL_ENABLE_INSTALL=ON \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >&2
nice -n 10 cmake --build "$work/build" -j "$JOBS" >&2
cmake --install "$work/build" >&2
printf 'abseil %s\ncompiler %s\ncxxflags %s\n' "$version" "$compiler" "$CXXFLAGS_ABSL" > "$stamp"
log "done: $prefix"
echo "$prefix"
