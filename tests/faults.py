"""Fault drivers shared by the stress and kill tests (tests/integration/
test_stress_and_kills.py, at a size fit for every Python) and by
tools/fault_figures.py (at the issue's full size, once): each runs
tests/programs/stress_program.py for real and returns what it found, so that
the test asserts it and the figures script counts it."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from aiowatchdog._report_files import (REPORT_NAME, ReportFormatError, list_reports,
                                       loop_thread, read_report)

STRESS_PROGRAM = Path(__file__).parent / "programs" / "stress_program.py"

# Growth allowed between the warm-up and the end of a stress run, everything
# of ours stopped both times. Threads and descriptors: none (descriptors on
# mapped shared objects, the symbolizer's cache, are counted apart by the
# program: at most one per loaded object). Memory: the allocator's noise
# (the growth measured on 10,000 hangs is in docs/figures.md). With libdw's
# symbolizer it levels off near 3 MiB: +2,848 KiB after 2,000 hangs past the
# warm-up, +3,232 to +3,688 KiB after 9,000 (three runs), where a leak of even
# 700 bytes a hang would pass 6 MiB.
RSS_GROWTH_BOUND_KIB = 6144


@dataclass
class StressResult:
    usage: Dict[str, Dict[str, int]]  # phase ("before", "warm", "end") -> usage
    done: Dict
    leaks: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)  # reports that do not show the hang

    @property
    def rss_growth_kib(self) -> int:
        return self.usage["end"]["rss_kib"] - self.usage["warm"]["rss_kib"]


def run_stress(directory: Path, mode: str, count: int, timeout: float) -> StressResult:
    """`mode` "hangs" or "startstop", `count` times; the leaks found."""
    proc = subprocess.run([sys.executable, str(STRESS_PROGRAM), str(directory), mode, str(count)],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"stress_program {mode} exited {proc.returncode}:\n{proc.stderr}")
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    usage = {e["phase"]: e for e in events if e["event"] == "usage"}
    done = next(e for e in events if e["event"] == "done")
    result = StressResult(usage, done)
    if mode == "hangs":
        # Only the newest 20 reports are kept; they show the hang (a 10 ms
        # hang is the only way this loop is ever busy for 4 ms).
        kept = [read_report(p) for p in list_reports(str(directory), ".json")]
        named = [r for r in kept if "hang_in_stress_program" in loop_functions(r)]
        if not kept or len(named) < len(kept) // 2:
            result.problems.append(f"only {len(named)} of {len(kept)} kept reports name the hang")
    before, warm, end = usage["before"], usage["warm"], usage["end"]
    if end["threads"] != before["threads"]:
        result.leaks.append(f"threads: {before['threads']} before, {end['threads']} after")
    if end["fds"] != warm["fds"]:
        result.leaks.append(f"file descriptors: {warm['fds']} after warm-up, {end['fds']} at the end")
    if result.rss_growth_kib > RSS_GROWTH_BOUND_KIB:
        result.leaks.append(f"RSS grew {result.rss_growth_kib} KiB (bound {RSS_GROWTH_BOUND_KIB})")
    return result


def loop_functions(report: Dict) -> List[str]:
    thread = loop_thread(report)
    return [] if thread is None else [frame["function"] for frame in thread["frames"]]


def report_directory_problems(directory: Path, blocking: str = "hang_until_killed") -> List[str]:
    """Every file under a report's name must be a whole report whose loop
    thread is in the `blocking` function, and every text report must have its
    JSON twin (written first)."""
    problems = []
    names = set(os.listdir(directory))
    for name in sorted(names):
        if not REPORT_NAME.match(name):
            continue
        try:
            report = read_report(str(directory / name))
        except (ReportFormatError, OSError) as e:
            problems.append(f"{name}: {e}")
            continue
        if blocking not in loop_functions(report):
            problems.append(f"{name}: the loop thread is not in {blocking}: {loop_functions(report)}")
        if name.endswith(".txt") and name[: -len(".txt")] + ".json" not in names:
            problems.append(f"{name}: no JSON twin")
    return problems


def temporaries(directory: Path) -> List[str]:
    return [name for name in os.listdir(directory) if name.startswith(".") and name.endswith(".tmp")]


@dataclass
class KillResult:
    kills: int = 0
    reports_checked: int = 0
    killed_with_temporaries: int = 0  # kills that landed inside a write
    problems: List[str] = field(default_factory=list)


def kill_at_random_moments(directory: Path, kills: int, seed: int = 0) -> KillResult:
    """Starts the hanging program `kills` times in one directory and SIGKILLs
    it at a random moment after its dumper started; after each kill the
    directory is checked. Each start also removes the temporaries of the
    previous kill, which the last step checks once more."""
    rng = random.Random(seed)
    result = KillResult()
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, str(STRESS_PROGRAM), str(directory), "forever"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            if '"started"' not in line:
                raise AssertionError(f"stress_program forever did not start: {line!r} "
                                     f"{proc.stderr.read() if proc.poll() is not None else ''}")
            time.sleep(rng.uniform(0.0, 0.5))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        result.kills += 1
        if temporaries(directory):
            result.killed_with_temporaries += 1
        result.reports_checked += sum(1 for n in os.listdir(directory) if REPORT_NAME.match(n))
        result.problems += [f"after kill {result.kills}: {p}" for p in report_directory_problems(directory)]
    # One more start removes what the last kill left.
    subprocess.run([sys.executable, "-c", "import asyncio\nfrom aiowatchdog import hang_inspection\n"
                    "async def main():\n    await hang_inspection.stop_wait("
                    f"hang_inspection.start({str(directory)!r}))\nasyncio.run(main())"],
                   check=True, timeout=60)
    if temporaries(directory):
        result.problems.append(f"temporaries left after a new start: {temporaries(directory)}")
    return result
