#!/usr/bin/env python3
"""Figures for issue #16 (capture without side effects), before and after in
one run: each child process runs the same program twice, with reads from
outside off (every thread signalled, as before) and on.

For 201 and 2,001 threads (the loop's and 200 / 2,000 threads blocked in
Event.wait, i.e. in futex), while the loop blocks in time.sleep with hangs
captured every 50 ms, it prints per sample: signals sent (threads captured by
a signal), the loop thread's pause in our handler, and the whole sample's
time (capture_ms), as medians over the samples. Then a race stress: 8 worker
threads call a bare libc usleep(200 us) in a loop (no EINTR retry) while hangs
are captured for 3 s; it counts the calls cut short (EINTR), i.e. how often a
thread entered a system call just as it was signalled (or was woken in the
kernel and not yet run).

    python3 tools/bench_remote_capture.py [--quick]

It measures the aiowatchdog the interpreter imports (a test venv's installed
wheel, or an editable install), not the source tree.

Timings on a shared machine are noisy: compare the two columns of one run.
One run (CPython 3.11.7, a 2-core VM at load 4-6, 2026-12-07):

     threads    mode  samples  signals  loop pause ms  sample ms   max ms
         201  before       38    201.0          0.094      18.39    50.14
         201   after       36      0.0          0.000      27.75    54.36
        2001  before        5     2001          0.155     228.48   266.25
        2001   after        5        0          0.000     230.63   293.16
    race stress (8 threads in usleep(200 us) loops, captures every 20 ms):
      before: 148 samples, 96,045 calls, 1,053 cut short (EINTR)
      after:  148 samples, 97,101 calls,   436 cut short
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

def child_samples(threads: int, remote: bool, seconds: float) -> dict:
    from aiowatchdog import _native, hang_inspection

    _native.set_remote_capture(remote)
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    directory = tempfile.mkdtemp()

    async def main():
        dumper = hang_inspection.start(directory, interval=0.05, samples=1000,
                                       sample_interval=0.05, max_reports=10000,
                                       max_threads=4096, max_bytes=1 << 30)
        await asyncio.sleep(0.3)
        time.sleep(seconds)  # the hang
        await asyncio.sleep(0.1)
        await hang_inspection.stop_wait(dumper)

    asyncio.run(main())
    stop.set()
    signals, pauses, captures = [], [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as f:
            report = json.load(f)
        signalled = [t for t in report["threads"]
                     if not t.get("captured_by", "signal").startswith("outside")]
        signals.append(len(signalled))
        pauses.append(report["loop_pause_ms"])
        captures.append(report["capture_ms"])
    return {"samples": len(captures), "signals": statistics.median(signals),
            "pause_ms": statistics.median(pauses), "capture_ms": statistics.median(captures),
            "capture_ms_max": max(captures)}


def child_race(remote: bool, seconds: float) -> dict:
    from aiowatchdog import _native, hang_inspection

    _native.set_remote_capture(remote)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    stop = threading.Event()
    counts = []

    def worker():
        calls = cut = 0
        while not stop.is_set():
            ctypes.set_errno(0)
            if libc.usleep(200) != 0 and ctypes.get_errno() == 4:
                cut += 1
            calls += 1
        counts.append((calls, cut))

    workers = [threading.Thread(target=worker) for _ in range(8)]
    for w in workers:
        w.start()
    directory = tempfile.mkdtemp()

    async def main():
        dumper = hang_inspection.start(directory, interval=0.05, samples=1000,
                                       sample_interval=0.02, max_reports=10000)
        await asyncio.sleep(0.3)
        time.sleep(seconds)
        await asyncio.sleep(0.1)
        await hang_inspection.stop_wait(dumper)

    asyncio.run(main())
    stop.set()
    for w in workers:
        w.join()
    samples = len(glob.glob(os.path.join(directory, "*.json")))
    return {"samples": samples, "calls": sum(c for c, _ in counts),
            "cut_short": sum(c for _, c in counts)}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "samples":
            result = child_samples(int(rest[0]), rest[1] == "on", float(rest[2]))
        else:
            result = child_race(rest[0] == "on", float(rest[1]))
        print(json.dumps(result))
        return
    seconds = "1.0" if args.quick else "2.0"
    print(f"python {sys.version.split()[0]}; medians per sample; 'before' = every thread signalled")
    print(f"{'threads':>8} {'mode':>7} {'samples':>8} {'signals':>8} {'loop pause ms':>14}"
          f" {'sample ms':>10} {'max ms':>8}")
    for threads in (200, 2000):
        for mode in ("off", "on"):
            r = run_child("samples", str(threads), mode, seconds)
            print(f"{threads + 1:>8} {'before' if mode == 'off' else 'after':>7} {r['samples']:>8}"
                  f" {r['signals']:>8} {r['pause_ms']:>14.3f} {r['capture_ms']:>10.2f}"
                  f" {r['capture_ms_max']:>8.2f}")
    print("\nrace stress: 8 threads in a bare usleep(200 us) loop, hangs captured every 20 ms")
    print(f"{'mode':>7} {'samples':>8} {'usleep calls':>13} {'cut short (EINTR)':>18}")
    for mode in ("off", "on"):
        r = run_child("race", mode, "1.5" if args.quick else "3.0")
        print(f"{'before' if mode == 'off' else 'after':>7} {r['samples']:>8} {r['calls']:>13}"
              f" {r['cut_short']:>18}")


if __name__ == "__main__":
    main()
