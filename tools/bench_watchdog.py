#!/usr/bin/env python3
"""Benchmark of aiowatchdog's hang catcher: the figures the project's issue asks for.

It measures, in this one run, (1) detection latency: how long after a block
starts the first report is on disk, for four kinds of block, each in N fresh
subprocesses with the block at a different heartbeat phase; (2) the slowdown a
running watchdog costs a busy loop of 100 tasks, in alternating off/on phases
of one process, with the off-vs-off spread printed beside it so the noise can
be judged; (3) the CPU an idle loop burns with the watchdog on. It prints a
table per measurement, next to the targets, and never fails on a timing: it
exits non-zero only when something broke (a child crashed, no report came).

    python3 tools/bench_watchdog.py [--quick] [--json FILE]

The children are this same file run with `--child ...`, by the same
interpreter: they import the package it has installed (a venv's wheel, or an
editable install of the tree). tools/test.sh leaves a venv per interpreter in
build/testenv/; for sid's, run it inside the root (tools/sid_root.sh --enter).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATENCY_INTERVAL = 0.25
BLOCK_S = 1.5              # how long each latency child blocks its loop
BUSY_TASKS = 100
BUSY_INTERVALS = (0.25, 0.01)
# None: the watchdog stays off; "0.25 no looks": at 0.25 without the looks at
# an idle loop for a GIL wait (gil_wait.h), to show what they cost.
IDLE_SETTINGS = ((None, True), (0.25, True), (0.25, False), (0.01, True))
CHILD_TIMEOUT_S = 120
CLOCK_REALTIME_COARSE = 5  # Linux clock id; file timestamps come from it

# Targets from the issue, in the units printed.
LATENCY_MEDIAN_SLACK_MS = 20
LATENCY_MAX_SLACK_MS = 50
BUSY_TARGET_PCT = {0.25: 1.0, 0.01: 2.0}
IDLE_TARGET_PCT = {0.25: 0.02, 0.01: 0.3}


# --------------------------------------------------------------------------
# Children: the blocks, the busy loop, the idle loop.
# --------------------------------------------------------------------------

def sleepy_helper() -> None:
    time.sleep(BLOCK_S)


def busy_compute() -> int:
    deadline = time.monotonic() + BLOCK_S
    spins = 0
    while time.monotonic() < deadline:
        spins += 1
    return spins


async def sleep_in_coroutine() -> None:
    time.sleep(BLOCK_S)


async def call_sleepy_helper() -> None:
    sleepy_helper()


async def call_busy_compute() -> None:
    busy_compute()


async def acquire_held_lock(lock: threading.Lock) -> None:
    with lock:
        pass


def hold_lock(lock: threading.Lock, held: threading.Event, go: threading.Event) -> None:
    with lock:
        held.set()
        go.wait()
        time.sleep(BLOCK_S)


class LockBlock:
    """Another thread takes the lock first; calling the block lets it start its
    BLOCK_S countdown and returns the coroutine that waits for the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.go = threading.Event()
        held = threading.Event()
        threading.Thread(target=hold_lock, args=(self.lock, held, self.go),
                         name="lock-holder", daemon=True).start()
        held.wait()

    def __call__(self) -> Any:
        self.go.set()
        return acquire_held_lock(self.lock)


def calls_native_holding_gil() -> None:
    """A C function that sleeps BLOCK_S holding the GIL (tests/programs/
    native_blockers.c through ctypes.PyDLL): invisible to Python-level tools."""
    import ctypes

    ctypes.PyDLL(os.environ["AIOWATCHDOG_BENCH_NATIVE_LIB"]).awd_test_sleep_holding_gil(
        int(BLOCK_S * 1000))


async def call_native_holding_gil() -> None:
    calls_native_holding_gil()


def sums_a_huge_range() -> int:
    return sum(range(10**8))  # one C call of 1.5-2.5 s


async def call_long_builtin() -> None:
    sums_a_huge_range()


# kind -> (label, makes the block: a callable returning the coroutine to await,
#          the function the loop thread's innermost Python frame should name)
BLOCK_KINDS: Dict[str, Any] = {
    "sleep": ("time.sleep in a coroutine", lambda: sleep_in_coroutine, "sleep_in_coroutine"),
    "helper": ("plain function that sleeps", lambda: call_sleepy_helper, "sleepy_helper"),
    "cpu": ("CPU-bound pure Python", lambda: call_busy_compute, "busy_compute"),
    "lock": ("threading.Lock held elsewhere", LockBlock, "acquire_held_lock"),
    "native": ("C code holding the GIL", lambda: call_native_holding_gil,
               "calls_native_holding_gil"),
    "builtin": ("long C builtin (sum)", lambda: call_long_builtin, "sums_a_huge_range"),
}

CAPTURE_THREADS = 200       # idle threads beside the loop in the capture-cost child
CAPTURE_BLOCKS = 10         # blocks (one sample each) measured
PAUSE_TARGET_MS = 1.0       # loop thread's time in our handler, per sample
CAPTURE_TARGET_MS = 20.0    # a whole sample, all threads


async def latency_child(kind: str, directory: str, interval: float, delay: float) -> Dict[str, Any]:
    from aiowatchdog import hang_inspection
    block = BLOCK_KINDS[kind][1]()
    dumper = hang_inspection.start(directory, interval=interval, samples=1)
    await asyncio.sleep(delay)
    t0_ns = time.time_ns()
    await block()
    await hang_inspection.stop_wait(dumper)
    return {"t0_ns": t0_ns}


async def busy_child(directory: str, interval: float, phases: int, phase_s: float) -> Dict[str, Any]:
    """Warm-up phase, then `phases` per setting in ABBA order (balances drift);
    returns each phase's task steps per wall second and per CPU second (the
    process's CPU, all threads: immune to time spent descheduled)."""
    from aiowatchdog import hang_inspection
    steps = [0]
    running = [True]

    async def worker() -> None:
        while running[0]:
            sum(range(50))
            steps[0] += 1
            await asyncio.sleep(0)

    async def phase(on: bool) -> Dict[str, float]:
        dumper = hang_inspection.start(directory, interval=interval) if on else None
        await asyncio.sleep(0)
        count0, wall0, cpu0 = steps[0], time.perf_counter(), time.process_time()
        await asyncio.sleep(phase_s)
        count = steps[0] - count0
        rates = {"wall": count / (time.perf_counter() - wall0),
                 "cpu": count / (time.process_time() - cpu0)}
        if dumper is not None:
            await hang_inspection.stop_wait(dumper)
        return rates

    workers = [asyncio.ensure_future(worker()) for _ in range(BUSY_TASKS)]
    await phase(False)  # warm-up, discarded
    result: Dict[str, List[float]] = {"off": [], "on": [], "off_cpu": [], "on_cpu": []}
    for pair in range(phases):
        first_on = pair % 2 == 1
        for on in (first_on, not first_on):
            rates = await phase(on)
            setting = "on" if on else "off"
            result[setting].append(rates["wall"])
            result[setting + "_cpu"].append(rates["cpu"])
    running[0] = False
    await asyncio.gather(*workers)
    return result


async def idle_child(directory: str, interval: Optional[float], seconds: float,
                     idle_looks: bool) -> Dict[str, Any]:
    """The loop only awaits asyncio.sleep(3600); one timer ends the window."""
    from aiowatchdog import _native, hang_inspection
    _native.set_idle_looks(idle_looks)
    loop = asyncio.get_running_loop()
    dumper = hang_inspection.start(directory, interval=interval) if interval else None
    await asyncio.sleep(1.0)  # let start-up work settle

    def snapshot() -> Dict[str, int]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu_ns": time.process_time_ns(), "wall_ns": time.monotonic_ns(),
                "loop_thread_cpu_ns": thread_cpu_ns(threading.get_native_id()),
                "nvcsw": usage.ru_nvcsw, "nivcsw": usage.ru_nivcsw}

    before = snapshot()
    idle = asyncio.ensure_future(asyncio.sleep(3600))
    result: Dict[str, Any] = {}

    def end_window() -> None:
        after = snapshot()
        result.update({k: after[k] - before[k] for k in after})
        idle.cancel()

    loop.call_later(seconds, end_window)
    try:
        await idle
    except asyncio.CancelledError:
        pass
    if dumper is not None:
        await hang_inspection.stop_wait(dumper)
    return result


async def capture_child(directory: str) -> Dict[str, Any]:
    """CAPTURE_BLOCKS short blocks with CAPTURE_THREADS idle threads around:
    each report says how long its capture took and the loop thread's pause."""
    from aiowatchdog import hang_inspection
    release = threading.Event()
    idle = [threading.Thread(target=release.wait, name=f"idle-{i}", daemon=True)
            for i in range(CAPTURE_THREADS)]
    for thread in idle:
        thread.start()
    async with hang_inspection.start(directory, interval=0.1, samples=1,
                                     max_episodes_per_minute=1000):
        for _ in range(CAPTURE_BLOCKS):
            await asyncio.sleep(0.2)
            time.sleep(0.3)
    release.set()
    return {"threads": threading.active_count()}


def thread_cpu_ns(tid: int) -> int:
    """One thread's time on CPU (ns), from /proc/self/task/<tid>/schedstat."""
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0])


def child_main(args: argparse.Namespace) -> None:
    if args.child == "latency":
        coro = latency_child(args.kind, args.dir, args.interval, args.delay)
    elif args.child == "capture":
        coro = capture_child(args.dir)
    elif args.child == "busy":
        coro = busy_child(args.dir, args.interval, args.phases, args.phase_seconds)
    else:
        coro = idle_child(args.dir, args.interval or None, args.seconds, not args.no_idle_looks)
    print(json.dumps(asyncio.run(coro)), flush=True)


# --------------------------------------------------------------------------
# Parent: run children, read reports, summarise.
# --------------------------------------------------------------------------

class BenchError(Exception):
    """Something broke (not a slow figure)."""


def run_child(*child_args: str) -> Dict[str, Any]:
    # The package as this interpreter imports it: a venv's installed wheel, or
    # an editable install of the tree (the tree alone has no extension).
    cmd = [sys.executable, os.path.abspath(__file__), "--child", *child_args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"child timed out: {' '.join(child_args)}") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise BenchError(f"child {' '.join(child_args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def list_reports(directory: str) -> List[str]:
    """Finished text reports (in-flight ones have a dot-prefixed name)."""
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name.startswith("stacktrace-") and name.endswith(".txt"))


def innermost_loop_function(report: Dict[str, Any]) -> Optional[str]:
    for thread in report["threads"]:
        if thread.get("is_loop"):
            frames = [f for f in thread["frames"] if f.get("kind", "python") == "python"]
            return frames[-1]["function"] if frames else None
    return None


def first_report_after(directory: str, t0_ns: int) -> Dict[str, Any]:
    """The earliest report written after the block began, and how many came
    before it (false alarms)."""
    found = []
    for txt in list_reports(directory):
        with open(txt[:-len(".txt")] + ".json") as f:
            report = json.load(f)
        found.append((os.stat(txt).st_mtime_ns, report))
    found.sort(key=lambda item: item[0])
    # mtime comes from a coarse clock and may read a few ms early: compare
    # the capture time, which the watchdog takes from the fine clock.
    after = [item for item in found if item[1]["captured_unix_ns"] >= t0_ns]
    if not after:
        raise BenchError(f"no report appeared in {directory} after the block began")
    mtime_ns, report = after[0]
    return {"mtime_ns": mtime_ns, "report": report, "early": len(found) - len(after)}


def measure_latency_once(kind: str, interval: float, delay: float) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as directory:
        child = run_child("latency", "--kind", kind, "--dir", directory,
                          "--interval", str(interval), "--delay", f"{delay:.4f}")
        first = first_report_after(directory, child["t0_ns"])
    report = first["report"]
    return {
        "delay_s": delay,
        "detect_ms": (first["mtime_ns"] - child["t0_ns"]) / 1e6,
        "capture_ms": (report["captured_unix_ns"] - child["t0_ns"]) / 1e6,
        "overshoot_ms": (report["blocked_s"] - interval) * 1e3,
        "innermost": innermost_loop_function(report),
        "named": innermost_loop_function(report) == BLOCK_KINDS[kind][2],
        "early_reports": first["early"],
    }


def bench_capture() -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as directory:
        child = run_child("capture", "--dir", directory)
        reports = []
        for txt in list_reports(directory):
            with open(txt[:-len(".txt")] + ".json") as f:
                reports.append(json.load(f))
    if not reports:
        raise BenchError("the capture-cost child wrote no report")
    capture = [r["capture_ms"] for r in reports]
    pause = [r["loop_pause_ms"] for r in reports]
    return {"threads": child["threads"], "samples": len(reports),
            "threads_in_report": statistics.median(len(r["threads"]) for r in reports),
            "capture_ms": {"median": statistics.median(capture), "max": max(capture)},
            "loop_pause_ms": {"median": statistics.median(pause), "max": max(pause)}}


def print_capture(capture: Dict[str, Any]) -> None:
    rows = []
    for key, label, target in (("loop_pause_ms", "loop thread's pause (in our handler)", PAUSE_TARGET_MS),
                               ("capture_ms", "whole sample, all threads", CAPTURE_TARGET_MS)):
        st = capture[key]
        rows.append([label, f"{st['median']:.3f}", f"{st['max']:.3f}", f"<= {target:g}",
                     verdict(st["max"] <= target)])
    print_table(f"4. Capture cost: {capture['samples']} samples of a process with "
                f"{capture['threads']} threads ({capture['threads_in_report']:.0f} sections per report), "
                "native stacks on (ms)",
                ["figure", "median", "max", "target", ""], rows)


def build_native_lib(directory: str) -> str:
    """tests/programs/native_blockers.c as a shared library, for the
    'C code holding the GIL' block."""
    library = os.path.join(directory, "libnative_blockers.so")
    source = os.path.join(REPO, "tests", "programs", "native_blockers.c")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-g", "-o", library, source, "-lpthread"],
                   check=True)
    return library


def spread_delays(n: int) -> List[float]:
    """Pre-block sleeps 0.3..0.55 s, stratified so the block start sweeps the
    heartbeat phase (period interval/2) evenly even for small n."""
    delays = [0.3 + 0.25 * (i + random.random()) / n for i in range(n)]
    random.shuffle(delays)
    return delays


def bench_latency(n: int, interval: float, progress: Callable[[str], None]) -> Dict[str, Any]:
    results = {}
    for kind, (label, _, expected) in BLOCK_KINDS.items():
        progress(f"latency: {label} x{n}")
        runs = [measure_latency_once(kind, interval, d) for d in spread_delays(n)]
        results[kind] = {"label": label, "expected_function": expected, "runs": runs,
                         **latency_stats(runs, interval)}
    return results


def latency_stats(runs: List[Dict[str, Any]], interval: float) -> Dict[str, Any]:
    over = interval * 1e3

    def col(key: str) -> List[float]:
        return [r[key] for r in runs]

    return {
        "detect_median_minus_interval_ms": statistics.median(col("detect_ms")) - over,
        "detect_max_minus_interval_ms": max(col("detect_ms")) - over,
        "detect_min_minus_interval_ms": min(col("detect_ms")) - over,
        "capture_median_minus_interval_ms": statistics.median(col("capture_ms")) - over,
        "capture_max_minus_interval_ms": max(col("capture_ms")) - over,
        "overshoot_median_ms": statistics.median(col("overshoot_ms")),
        "overshoot_max_ms": max(col("overshoot_ms")),
        "write_median_ms": statistics.median(d - c for d, c in zip(col("detect_ms"), col("capture_ms"))),
        "named": sum(r["named"] for r in runs),
        "early_reports": sum(r["early_reports"] for r in runs),
        "n": len(runs),
    }


def mad(values: Sequence[float]) -> float:
    med = statistics.median(values)
    return statistics.median(abs(v - med) for v in values)


def slowdown_stats(off: List[float], on: List[float]) -> Dict[str, float]:
    """Slowdown and, to judge it by, the off-vs-off noise (off phases split
    alternately into two halves) and the off phases' MAD."""
    off_a, off_b = off[0::2], off[1::2]
    return {
        "off_median": statistics.median(off), "on_median": statistics.median(on),
        "slowdown_pct": 100 * (1 - statistics.median(on) / statistics.median(off)),
        "paired_slowdown_pct": 100 * statistics.median(1 - b / a for a, b in zip(off, on)),
        "off_vs_off_pct": 100 * (1 - statistics.median(off_b) / statistics.median(off_a)),
        "off_mad_pct": 100 * mad(off) / statistics.median(off),
    }


def bench_busy(interval: float, phases: int, phase_s: float) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as directory:
        child = run_child("busy", "--dir", directory, "--interval", str(interval),
                          "--phases", str(phases), "--phase-seconds", str(phase_s))
        false_alarms = len(list_reports(directory))
    return {
        "interval": interval, "phases_per_setting": phases, "phase_s": phase_s,
        "reports_written": false_alarms, "rates": child,
        "per_wall_s": slowdown_stats(child["off"], child["on"]),
        "per_cpu_s": slowdown_stats(child["off_cpu"], child["on_cpu"]),
    }


def bench_idle(interval: Optional[float], idle_looks: bool, seconds: float) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as directory:
        child = run_child("idle", "--dir", directory, "--interval", str(interval or 0),
                          "--seconds", str(seconds), *([] if idle_looks else ["--no-idle-looks"]))
        reports = len(list_reports(directory))
    wall_s = child["wall_ns"] / 1e9
    return {
        "interval": interval, "idle_looks": idle_looks, "seconds": wall_s,
        "cpu_ms": child["cpu_ns"] / 1e6,
        "cpu_pct": 100 * child["cpu_ns"] / child["wall_ns"],
        "loop_thread_cpu_ms": child["loop_thread_cpu_ns"] / 1e6,
        "other_threads_cpu_ms": (child["cpu_ns"] - child["loop_thread_cpu_ns"]) / 1e6,
        "wakeups_per_s": (child["nvcsw"] + child["nivcsw"]) / wall_s,
        "reports_written": reports,
    }


# --------------------------------------------------------------------------
# Printing.
# --------------------------------------------------------------------------

def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  " + "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_latency(latency: Dict[str, Any], interval: float) -> None:
    rows = []
    for s in latency.values():
        med, worst = s["detect_median_minus_interval_ms"], s["detect_max_minus_interval_ms"]
        ok = med <= LATENCY_MEDIAN_SLACK_MS and worst <= LATENCY_MAX_SLACK_MS
        rows.append([s["label"], f"{med:+.1f}", f"{worst:+.1f}",
                     f"{s['detect_min_minus_interval_ms']:+.1f}",
                     f"{s['capture_median_minus_interval_ms']:+.1f}",
                     f"{s['capture_max_minus_interval_ms']:+.1f}",
                     f"{s['overshoot_median_ms']:.2f}/{s['overshoot_max_ms']:.2f}",
                     f"{s['write_median_ms']:.2f}", f"{s['named']}/{s['n']}", verdict(ok)])
    print_table(
        f"1. Detection latency at interval={interval} s: block start -> first report on disk, "
        f"minus interval (ms). Target: median <= +{LATENCY_MEDIAN_SLACK_MS}, max <= +{LATENCY_MAX_SLACK_MS}",
        ["block", "median", "max", "min", "capt med", "capt max", "late med/max", "write",
         "named", "target"], rows)
    print("   median/max/min: .txt st_mtime_ns - block start; capt: JSON captured_unix_ns - block start;\n"
          "   late: blocked_s - interval (how far past its deadline the watchdog fired);\n"
          "   write: mtime - captured (ms; can be negative: mtime comes from the kernel's coarse clock);\n"
          "   named: the loop thread's innermost Python frame is the blocking function.")
    early = sum(s["early_reports"] for s in latency.values())
    if early:
        print(f"   NOTE: {early} report(s) were written before a block began (false alarms).")


def busy_verdict(st: Dict[str, float], target: float) -> str:
    """Flags a figure whose own noise floor is above the target."""
    noisy = abs(st["off_vs_off_pct"]) > target or st["off_mad_pct"] > target
    return verdict(st["slowdown_pct"] <= target) + (", noisy" if noisy else "")


def print_busy(busy: List[Dict[str, Any]]) -> None:
    rows = []
    for b in busy:
        target = BUSY_TARGET_PCT[b["interval"]]
        for per in ("wall", "cpu"):
            st = b[f"per_{per}_s"]
            rows.append([f"{b['interval']}", f"{per} s", f"{st['off_median']:,.0f}",
                         f"{st['on_median']:,.0f}", f"{st['slowdown_pct']:+.2f}",
                         f"{st['paired_slowdown_pct']:+.2f}", f"{st['off_vs_off_pct']:+.2f}",
                         f"{st['off_mad_pct']:.2f}", str(b["reports_written"]), f"<= {target}",
                         busy_verdict(st, target)])
    b0 = busy[0]
    print_table(
        f"2. Busy-loop overhead: {BUSY_TASKS} tasks of sum(range(50)) + sleep(0); "
        f"{b0['phases_per_setting']} x {b0['phase_s']} s phases per setting, ABBA order, warm-up dropped",
        ["interval", "steps per", "off", "on", "slowdown %", "paired %", "off-vs-off %",
         "off MAD %", "reports", "target %", ""], rows)
    print("   steps per wall s: the issue's figure; per cpu s: steps per second of the process's CPU\n"
          "   time (all threads, so the watchdog thread's work counts), unaffected by time spent\n"
          "   descheduled by other processes.\n"
          "   slowdown = 1 - median(on)/median(off); paired = median of per-pair slowdowns;\n"
          "   off-vs-off = 1 - median(even off phases)/median(odd off phases): the noise floor;\n"
          "   reports = hang reports written during the run (false alarms);\n"
          "   noisy: the off-vs-off spread or the MAD exceeds the target, so the verdict is unreliable.")


def print_idle(idle: List[Dict[str, Any]]) -> None:
    rows = []
    for r in idle:
        target = IDLE_TARGET_PCT.get(r["interval"])
        setting = "off" if r["interval"] is None else str(r["interval"])
        if r["interval"] is not None and not r["idle_looks"]:
            setting += " no looks"
        rows.append([setting, f"{r['seconds']:.1f}",
                     f"{r['cpu_ms']:.2f}", f"{r['loop_thread_cpu_ms']:.2f}",
                     f"{r['other_threads_cpu_ms']:.2f}", f"{r['cpu_pct']:.4f}", f"{r['wakeups_per_s']:.1f}",
                     str(r["reports_written"]), "-" if target is None else f"<= {target}",
                     "" if target is None else verdict(r["cpu_pct"] <= target)])
    print_table("3. Idle CPU: loop awaiting asyncio.sleep(3600), one subprocess each",
                ["watchdog", "window s", "CPU ms", "loop thr ms", "other thr ms", "% of a core",
                 "ctx switches/s", "reports", "target %", ""], rows)
    print("   CPU = CLOCK_PROCESS_CPUTIME_ID (all threads), split into the loop thread and the rest\n"
          "   (/proc/self/task/*/schedstat); ctx switches = voluntary+involuntary, all threads.\n"
          "   no looks: without the watchdog's look at the idle loop once an interval for a\n"
          "   wait for the GIL (gil_wait.h): what those looks cost.")


def environment() -> Dict[str, Any]:
    return {
        "python": sys.version.split()[0], "kernel": platform.release(), "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "mtime_clock_resolution_ms": time.clock_getres(CLOCK_REALTIME_COARSE) * 1e3,
    }


# --------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer runs, shorter windows (< 2 min)")
    p.add_argument("--json", metavar="FILE", help="also write all figures as JSON")
    # Child mode (internal).
    p.add_argument("--sections", default="latency,busy,idle,capture",
                   help="comma-separated sections to run (default: all): latency, busy, idle, capture")
    p.add_argument("--child", choices=["latency", "busy", "idle", "capture"], help=argparse.SUPPRESS)
    p.add_argument("--kind", choices=list(BLOCK_KINDS), help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    p.add_argument("--interval", type=float, help=argparse.SUPPRESS)
    p.add_argument("--delay", type=float, help=argparse.SUPPRESS)
    p.add_argument("--phases", type=int, help=argparse.SUPPRESS)
    p.add_argument("--phase-seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--no-idle-looks", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main() -> int:
    args = parse_args()
    if args.child:
        child_main(args)
        return 0
    n_latency, busy_phases, idle_s = (3, 6, 5.0) if args.quick else (10, 30, 20.0)
    started = time.monotonic()

    def progress(what: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {what}", file=sys.stderr, flush=True)

    env = environment()
    print(f"aiowatchdog benchmark ({'quick' if args.quick else 'full'}): Python {env['python']}, "
          f"kernel {env['kernel']}, {env['cpus']} CPUs, load avg {env['loadavg_at_start'][0]:.2f}, "
          f"mtime clock resolution {env['mtime_clock_resolution_ms']:g} ms")
    figures: Dict[str, Any] = {"mode": "quick" if args.quick else "full", "environment": env}
    lib_dir = tempfile.TemporaryDirectory(prefix="bench-native-")
    os.environ["AIOWATCHDOG_BENCH_NATIVE_LIB"] = build_native_lib(lib_dir.name)
    try:
        sections = set(args.sections.split(","))
        if "latency" in sections:
            figures["latency"] = bench_latency(n_latency, LATENCY_INTERVAL, progress)
            print_latency(figures["latency"], LATENCY_INTERVAL)
        if "busy" in sections:
            figures["busy"] = []
            for interval in BUSY_INTERVALS:
                progress(f"busy loop, interval={interval}")
                figures["busy"].append(bench_busy(interval, busy_phases, 1.0))
            print_busy(figures["busy"])
        if "idle" in sections:
            figures["idle"] = []
            for interval, idle_looks in IDLE_SETTINGS:
                progress(f"idle, watchdog {'off' if interval is None else interval}"
                         + ("" if idle_looks else ", no looks"))
                figures["idle"].append(bench_idle(interval, idle_looks, idle_s))
            print_idle(figures["idle"])
        if "capture" in sections:
            progress("capture cost")
            figures["capture"] = bench_capture()
            print_capture(figures["capture"])
    except BenchError as e:
        print(f"\nBENCHMARK BROKE: {e}", file=sys.stderr)
        return 1
    finally:
        lib_dir.cleanup()
        figures["elapsed_s"] = time.monotonic() - started
        env["loadavg_at_end"] = os.getloadavg()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=2)
    print(f"\nelapsed {figures['elapsed_s']:.0f} s; load avg at end {env['loadavg_at_end'][0]:.2f} "
          "(other processes on this machine add noise to every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
