#!/usr/bin/env python3
"""What the toolkit costs a busy loop: 100 tasks that compute a little and
yield, in one process, in phases rotated through each setting (off,
aiowatchdog.watch(0.05), log_slow_callbacks.enable(0.05), a bare
Handle._run timing wrapper as aiodebug's log_slow_callbacks has it, for
reference, and an allow_blocking section entered and left by every task step),
several rounds. Then how well watch(threshold=0.005) catches short blocks:
100 CPU-bound blocks each of 6, 8, 10 and 20 ms, how many were told, how
many named the blocking function, and the median duration told. Last, the
two per-event costs: one allow_blocking section entered and left, and the
garbage-collector hook (aiowatchdog/_gc_phase.py) per collection: median
time of a young-generation gc.collect(0) with the hook in gc.callbacks
and without it, alternating.
Prints task steps per CPU second per setting as the median over rounds and
its ratio to "off" measured in the same run; off-vs-off spread (the first and
second half of the "off" phases) is printed so the noise can be judged.
Never fails on a timing.

    python3 tools/bench_toolkit.py [--rounds 8] [--phase 0.5]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiowatchdog  # noqa: E402
from aiowatchdog import log_slow_callbacks  # noqa: E402

TASKS = 100
SETTINGS = ("off", "watch", "log_slow_callbacks", "bare Handle._run wrapper",
            "allow_blocking per step")


def bare_wrapper() -> Callable[[], None]:
    """aiodebug's way, for reference: time each callback, nothing more."""
    original = asyncio.events.Handle._run

    def _run(self: asyncio.Handle) -> None:
        started = time.monotonic()
        original(self)
        if time.monotonic() - started >= 0.05:
            print("slow callback", file=sys.stderr)

    asyncio.events.Handle._run = _run  # type: ignore[method-assign]
    return lambda: setattr(asyncio.events.Handle, "_run", original)


async def run(rounds: int, phase_s: float) -> Dict[str, List[float]]:
    steps = [0]
    running = [True]
    per_step_section = [False]
    allowed = aiowatchdog.allow_blocking()

    async def worker() -> None:
        while running[0]:
            if per_step_section[0]:
                with allowed:
                    sum(range(50))
            else:
                sum(range(50))
            steps[0] += 1
            await asyncio.sleep(0)

    def setting_on(name: str) -> Callable[[], None]:
        if name == "watch":
            w = aiowatchdog.watch(0.05)
            w.__enter__()
            return lambda: w.__exit__(None, None, None)
        if name == "log_slow_callbacks":
            log_slow_callbacks.enable(0.05)
            return log_slow_callbacks.disable
        if name == "bare Handle._run wrapper":
            return bare_wrapper()
        if name == "allow_blocking per step":
            per_step_section[0] = True
            return lambda: per_step_section.__setitem__(0, False)
        return lambda: None

    async def phase(name: str) -> float:
        off = setting_on(name)
        await asyncio.sleep(0)
        count0, cpu0 = steps[0], time.process_time()
        await asyncio.sleep(phase_s)
        rate = (steps[0] - count0) / (time.process_time() - cpu0)
        off()
        return rate

    workers = [asyncio.ensure_future(worker()) for _ in range(TASKS)]
    await phase("off")  # warm-up
    rates: Dict[str, List[float]] = {name: [] for name in SETTINGS}
    for r in range(rounds):
        order = SETTINGS[r % len(SETTINGS):] + SETTINGS[:r % len(SETTINGS)]
        for name in order:
            rates[name].append(await phase(name))
    running[0] = False
    await asyncio.gather(*workers)
    return rates


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def short_blocks(block_s: float, count: int = 100) -> str:
    told: List[aiowatchdog.BlockInfo] = []
    with aiowatchdog.watch(0.005, told.append):
        for _ in range(count):
            await asyncio.sleep(0.002)
            spin(block_s)
    named = sum(1 for b in told if b.function == "spin")
    durations = sorted(b.duration for b in told)
    median = f"{durations[len(durations) // 2] * 1000:.1f} ms" if durations else "-"
    return f"{block_s * 1000:>8.0f} ms{len(told):>10}/{count}{named:>10}{median:>14}"


def per_call_ns(stmt: Callable[[], None], calls: int = 20_000) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        stmt()
    return (time.perf_counter_ns() - started) / calls


def allow_blocking_section_ns() -> float:
    section = aiowatchdog.allow_blocking()

    def enter_and_leave() -> None:
        with section:
            pass
    return statistics.median(per_call_ns(enter_and_leave) for _ in range(5))


def gc_hook_ns(rounds: int = 10) -> Tuple[float, float]:
    """Median ns of gc.collect(0) without and with the hook."""
    from aiowatchdog import _gc_phase

    def collect() -> None:
        gc.collect(0)
    without: List[float] = []
    with_hook: List[float] = []
    for _ in range(rounds):
        without.append(per_call_ns(collect, 2_000))
        _gc_phase.retain()
        try:
            with_hook.append(per_call_ns(collect, 2_000))
        finally:
            _gc_phase.release()
    return statistics.median(without), statistics.median(with_hook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--phase", type=float, default=0.5, help="seconds per phase")
    args = parser.parse_args()
    rates = asyncio.run(run(args.rounds, args.phase))
    off = statistics.median(rates["off"])
    half = len(rates["off"]) // 2
    spread = statistics.median(rates["off"][:half]) / statistics.median(rates["off"][half:]) - 1
    print(f"busy loop, {TASKS} tasks, {args.rounds} rounds of {args.phase} s per setting "
          f"(CPython {sys.version.split()[0]})")
    print(f"{'setting':<26}{'steps/CPU s (median)':>22}{'vs off':>10}")
    for name in SETTINGS:
        median = statistics.median(rates[name])
        print(f"{name:<26}{median:>22,.0f}{(median / off - 1) * 100:>+9.1f}%")
    print(f"off vs off (first half / second half of its phases): {spread * 100:+.1f}%")
    print()
    print("watch(threshold=0.005), 100 CPU-bound blocks per length")
    print(f"{'block':>11}{'told':>14}{'named':>10}{'median told':>14}")
    for block_s in (0.006, 0.008, 0.010, 0.020):
        print(asyncio.run(short_blocks(block_s)))
    print()
    print(f"allow_blocking section, entered and left: {allow_blocking_section_ns():,.0f} ns")
    without, with_hook = gc_hook_ns()
    print(f"gc.collect(0): {without:,.0f} ns without the gc hook, {with_hook:,.0f} ns with it "
          f"(+{with_hook - without:,.0f} ns per collection)")


if __name__ == "__main__":
    main()
