#!/usr/bin/env python3
"""Figures of what users install, per interpreter: the wheel's size, the time
and memory (RSS) `import aiowatchdog` costs, and the memory of a started
dumper (hang_inspection.start on a running loop, its watchdog thread up).

Each interpreter is a venv that tools/test.sh made with its installed wheel
(build/testenv/NAME); sid-* ones run inside the sid root (tools/sid_root.sh).
Each figure is the median of --runs fresh processes. It reports, it does not
assert.

    python3 tools/bench_install.py              # every build/testenv/*
    python3 tools/bench_install.py --runs 5 pyenv-3.11 sid-3.14
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: RSS (VmRSS) before and after the import, the
# import's wall time, then RSS with a dumper started on a running loop.
PROBE = r"""
import asyncio, json, sys, tempfile, time
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
before = rss_kib()
t = time.perf_counter()
import aiowatchdog
from aiowatchdog import hang_inspection
import_s = time.perf_counter() - t
imported = rss_kib()
async def main():
    with tempfile.TemporaryDirectory() as d:
        dumper = hang_inspection.start(d, interval=0.25)
        await asyncio.sleep(0.3)
        started = rss_kib()
        await hang_inspection.stop_wait(dumper)
        return started
asyncio.run(asyncio.sleep(0.3))  # a loop run once: its own memory is not the dumper's
loop_only = rss_kib()
started = asyncio.run(main())
print(json.dumps({"import_ms": import_s * 1000, "rss_before_kib": before,
                  "rss_import_kib": imported - before, "rss_loop_kib": loop_only,
                  "rss_dumper_kib": started - loop_only, "python": sys.version.split()[0]}))
"""


def command_for(name: str) -> list:
    python = TREE / "build" / "testenv" / name / "bin" / "python"
    if name.startswith("sid-"):
        return [str(TREE / "tools" / "sid_root.sh"), "--bind", str(TREE), "--enter", str(python)]
    return [str(python)]


def wheel_for(python_version: str) -> str:
    major, minor = python_version.split(".")[:2]
    tag = f"cp{major}{minor}"
    found = glob.glob(str(TREE / "dist" / f"aiowatchdog-*-{tag}-{tag}-*.whl"))
    return found[0] if found else ""


def measure(name: str, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        out = subprocess.run(command_for(name) + ["-c", PROBE], capture_output=True, text=True,
                             cwd="/", timeout=120)
        if out.returncode != 0:
            raise SystemExit(f"bench_install: {name}: {out.stderr.strip()[-2000:]}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {"name": name, "python": samples[0]["python"]}
    for key in ("import_ms", "rss_import_kib", "rss_dumper_kib"):
        result[key] = statistics.median(s[key] for s in samples)
    wheel = wheel_for(result["python"])
    result["wheel"] = os.path.basename(wheel)
    result["wheel_bytes"] = os.path.getsize(wheel) if wheel else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="build/testenv/NAME venvs (default: all)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    # lexists: a sid venv's python links to the root's /usr/bin/python3.x,
    # which the host does not have.
    names = args.names or sorted(p.name for p in (TREE / "build" / "testenv").iterdir()
                                 if os.path.lexists(p / "bin" / "python"))
    if not names:
        print("bench_install: no venvs in build/testenv (run tools/test.sh first)", file=sys.stderr)
        return 1
    rows = [measure(name, args.runs) for name in names]
    print(f"# installed wheels: median of {args.runs} fresh processes each")
    print("| interpreter | wheel | size | import time | RSS of the import | RSS of a started dumper |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        size = f"{r['wheel_bytes'] / 1024:.0f} KiB" if r["wheel_bytes"] else "?"
        print(f"| {r['name']} (CPython {r['python']}) | {r['wheel'] or '?'} | {size} | "
              f"{r['import_ms']:.1f} ms | {r['rss_import_kib'] / 1024:.1f} MiB | "
              f"{r['rss_dumper_kib'] / 1024:.2f} MiB |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
