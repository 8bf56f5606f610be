"""SIGSTOP/SIGCONT of the whole watched process (a debugger, `kill -STOP`, a
frozen container), while its loop idles or during a real block, on asyncio
and uvloop. While idle, every episode is a false one; during a block the
block must still be reported."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List

VICTIM = Path(__file__).with_name("victim.py")


@dataclass
class StopContinueResult:
    rounds: int
    episodes: int         # the dumper's count (suppressed ones included)
    reports: List[str]    # text reports written
    returncode: int
    stderr: str


def _start(directory: str, loop: str, scenario: str, seconds: float,
           interval: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(VICTIM), directory, "--scenario", scenario, "--loop", loop,
         "--seconds", str(seconds), "--interval", str(interval), "--delay", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, directory: str, rounds: int) -> StopContinueResult:
    out, err = proc.communicate(timeout=120)
    done = [json.loads(line) for line in out.splitlines() if '"done"' in line]
    episodes = done[0]["episodes"] if done else -1
    reports = sorted(p for p in os.listdir(directory)
                     if p.startswith("stacktrace-") and p.endswith(".txt"))
    return StopContinueResult(rounds, episodes, reports, proc.returncode, err)


def stop_while_idle(directory: str, loop: str, rounds: int = 4, stop_s: float = 1.0,
                    interval: float = 0.1) -> StopContinueResult:
    """`rounds` stops of `stop_s` each while the loop idles: must be 0 episodes."""
    proc = _start(directory, loop, "idle", rounds * (stop_s + 0.4) + 1.0, interval)
    assert proc.stdout is not None
    proc.stdout.readline()  # ready
    for _ in range(rounds):
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(stop_s)
        os.kill(proc.pid, signal.SIGCONT)
    return _finish(proc, directory, rounds)


def stop_during_block(directory: str, loop: str, block_s: float = 2.5, stop_s: float = 1.0,
                      interval: float = 0.1) -> StopContinueResult:
    """One stop in the middle of a real `block_s` block: it must be reported."""
    proc = _start(directory, loop, "block", block_s, interval)
    assert proc.stdout is not None
    proc.stdout.readline()  # ready
    time.sleep(0.2 + 0.05)  # the block begins 0.2 s after ready
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(stop_s)
    os.kill(proc.pid, signal.SIGCONT)
    return _finish(proc, directory, 1)
