"""Runs one block in a child with one tool watching, and records what the
tool said and when it arrived: each line on the child's standard error and
each new file in its report directory, stamped on the monotonic clock that
the child's `EVENT block_start|block_end` lines use too (judge.py reads it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from benchmarks.judge import Output

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
POLL_S = 0.005
TIMEOUT_S = 60.0


@dataclass
class Observation:
    peer: str
    kind: str
    block_start: Optional[float] = None
    block_end: Optional[float] = None
    outputs: List[Output] = field(default_factory=list)
    error: str = ""   # why the run does not count, or ''


def _read_files(directory: str, seen: Dict[str, float]) -> List[Output]:
    outputs = []
    for name, arrived in seen.items():
        try:
            with open(os.path.join(directory, name), errors="replace") as f:
                outputs.append((arrived, f.read()))
        except OSError:
            pass  # pruned by its tool meanwhile
    return outputs


def observe(peer: str, kind: str, settle: float, native_lib: str) -> Observation:
    observation = Observation(peer, kind)
    with tempfile.TemporaryDirectory(prefix=f"bench-{peer}-") as out:
        with subprocess.Popen(
                [sys.executable, CHILD, "block", "--peer", peer, "--out", out, "--kind", kind,
                 "--settle", f"{settle:.3f}", "--native-lib", native_lib],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                errors="replace") as proc:
            events, stderr, seen = _watch(proc, out, observation)
        observation.outputs = stderr + _read_files(out, seen)
    observation.block_start = events.get("block_start")
    observation.block_end = events.get("block_end")
    if proc.returncode != 0 and not observation.error:
        tail = "".join(text for _, text in stderr[-5:]).strip()
        observation.error = f"child exited {proc.returncode}: {tail}"
    elif observation.block_start is None or observation.block_end is None:
        observation.error = observation.error or "the child never blocked"
    return observation


def _watch(proc: subprocess.Popen, out: str, observation: Observation
           ) -> Tuple[Dict[str, float], List[Output], Dict[str, float]]:
    """Until the child ends: its events, its standard error lines stamped as
    they arrive, and each report file's first sighting."""
    events: Dict[str, float] = {}
    stderr: List[Output] = []

    def read_events() -> None:
        for line in proc.stdout:
            words = line.split()
            if len(words) == 3 and words[0] == "EVENT":
                events[words[1]] = float(words[2])

    def read_stderr() -> None:
        for line in proc.stderr:
            stderr.append((time.monotonic(), line))

    readers = [threading.Thread(target=read_events, daemon=True),
               threading.Thread(target=read_stderr, daemon=True)]
    for reader in readers:
        reader.start()
    seen: Dict[str, float] = {}
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        finished = proc.poll() is not None
        now = time.monotonic()
        for entry in os.scandir(out):
            if not entry.name.startswith(".") and entry.name not in seen:
                seen[entry.name] = now
        if finished:
            break
        if now > deadline and not observation.error:
            proc.kill()
            observation.error = f"no end after {TIMEOUT_S:.0f} s"
        time.sleep(POLL_S)
    for reader in readers:
        reader.join()
    return events, stderr, seen
