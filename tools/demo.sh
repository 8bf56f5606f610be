#!/usr/bin/env bash
# The README's demo command: sets everything up on a fresh machine, installs
# the package in editable mode and runs `python -m aiowatchdog demo`.
# Extra arguments go to the demo (e.g. --dir /tmp/hangs).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
python3 -m pip install -q --disable-pip-version-check --no-build-isolation -e .
exec python3 -m aiowatchdog demo "$@"
