#!/usr/bin/env bash
# Prints the interpreters the tests run on, one per line: AIOWATCHDOG_PYTHONS
# if set, else every pyenv CPython 3.9-3.13 on the machine (newest patch of
# each), else `python3`. Missing minor versions are named on stderr.
set -euo pipefail
if [ -n "${AIOWATCHDOG_PYTHONS:-}" ]; then
  printf '%s\n' $AIOWATCHDOG_PYTHONS
  exit 0
fi
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
found=0
for minor in 3.9 3.10 3.11 3.12 3.13; do
  best=$(ls -d "$root"/versions/"$minor".* 2>/dev/null | grep -E "/$minor\.[0-9]+$" | sort -V | tail -n 1 || true)
  if [ -n "$best" ] && [ -x "$best/bin/python3" ]; then
    echo "$best/bin/python3"
    found=1
  else
    echo "pythons.sh: no CPython $minor under $root/versions; not tested" >&2
  fi
done
[ "$found" = 1 ] || command -v python3
