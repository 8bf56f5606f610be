#!/usr/bin/env python3
"""What profile_hz costs. Two figures, each the median over rounds with its
ratio to profiling off measured in the same run:

1. A healthy busy loop (100 tasks that compute a little and yield) under a
   dumper with profile_hz off and at 1000 Hz: task steps per CPU second. No
   profile tick runs outside a hang, so the two should be the same within
   noise (off-vs-off spread printed).
2. A hang: one 1 s CPU-bound callback under a dumper (interval 0.1 s) with
   profile_hz off, 100 and 1000: the work the blocked callback got done per
   second (what the interruptions slow it by), and the samples the profile
   holds against the ideal (blocked time after detection x profile_hz).

Never fails on a timing.

    python3 tools/bench_profile.py [--rounds 7] [--phase 1.0]
"""
from __future__ import annotations

import argparse
import asyncio
import glob
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aiowatchdog import hang_inspection  # noqa: E402

TASKS = 100
HANG_S = 1.0
INTERVAL = 0.1


async def busy_phase(seconds: float) -> float:
    """Task steps per CPU second of 100 tasks computing a little and yielding."""
    steps = 0
    stop = False

    async def task() -> None:
        nonlocal steps
        while not stop:
            sum(range(50))
            steps += 1
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(task()) for _ in range(TASKS)]
    cpu0 = time.process_time()
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*tasks)
    return steps / (time.process_time() - cpu0)


async def healthy(directory: str, hz: Optional[float], seconds: float) -> float:
    async with hang_inspection.start(directory, interval=0.25, profile_hz=hz):
        return await busy_phase(seconds)


async def hang(directory: str, hz: Optional[float]) -> Dict[str, float]:
    async with hang_inspection.start(directory, interval=INTERVAL, profile_hz=hz, samples=1):
        await asyncio.sleep(0.05)
        work = 0
        start = time.monotonic()
        while time.monotonic() - start < HANG_S:
            sum(range(50))
            work += 1
        await asyncio.sleep(0.05)
    result = {"work_per_s": work / HANG_S}
    profiles = glob.glob(os.path.join(directory, "profile-*.json"))
    if hz and profiles:
        with open(profiles[0], encoding="utf-8") as f:
            profile = json.load(f)
        ideal = (profile["blocked_s"] - INTERVAL) * hz
        result["sample_ratio"] = profile["samples"] / ideal
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--phase", type=float, default=1.0)
    args = parser.parse_args()
    logging.getLogger("aiowatchdog").setLevel(logging.ERROR)  # each hang's WARNING
    busy: Dict[str, List[float]] = {"off": [], "1000 Hz": [], "off (again)": []}
    hangs: Dict[str, List[Dict[str, float]]] = {"off": [], "100 Hz": [], "1000 Hz": []}
    for _ in range(args.rounds):
        for name, hz in (("off", None), ("1000 Hz", 1000.0), ("off (again)", None)):
            with tempfile.TemporaryDirectory() as d:
                busy[name].append(asyncio.run(healthy(d, hz, args.phase)))
        for name, hz in (("off", None), ("100 Hz", 100.0), ("1000 Hz", 1000.0)):
            with tempfile.TemporaryDirectory() as d:
                hangs[name].append(asyncio.run(hang(d, hz)))
    print(f"healthy busy loop, task steps per CPU second (median of {args.rounds}):")
    base = statistics.median(busy["off"])
    for name, values in busy.items():
        median = statistics.median(values)
        print(f"  {name:<12} {median:>12,.0f}  x{median / base:.3f}")
    print(f"a {HANG_S:.0f} s CPU-bound hang, work done per second in it (median of {args.rounds}):")
    base = statistics.median(h["work_per_s"] for h in hangs["off"])
    for name, values in hangs.items():
        median = statistics.median(h["work_per_s"] for h in values)
        line = f"  {name:<12} {median:>12,.0f}  x{median / base:.3f}"
        if name != "off":
            ratio = statistics.median(h.get("sample_ratio", 0.0) for h in values)
            line += f"   samples taken / ideal: {ratio:.2f}"
        print(line)


if __name__ == "__main__":
    main()
