"""Text that is not UTF-8, everywhere the watchdog meets text: a hang inside
a Latin-1 source file with non-ASCII lines, a thread named with surrogate
escapes (os.fsdecode(b"worker-\\xe9")), a kernel thread name (comm) with
invalid bytes, a report directory whose path is not UTF-8 (bytes, and the
same as a surrogate-escaped str). Each runs the victim program; nothing may
raise into it, and its reports must be complete, valid UTF-8, with the
bytes shown escaped."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from .planted_names import _report_paths
from .victim import LATIN1_MODULE

VICTIM = Path(__file__).with_name("victim.py")


@dataclass
class VictimRun:
    returncode: int
    stderr: str
    warnings: List[str]
    episodes: int
    report_paths: List[bytes] = field(default_factory=list)  # file-system bytes

    def texts(self) -> List[str]:
        """The text reports, decoded strictly (a report is always UTF-8)."""
        return [Path(os.fsdecode(p)).read_bytes().decode("utf-8") for p in self.report_paths]


def _run(argv: List[str], timeout: float = 60) -> VictimRun:
    proc = subprocess.run([sys.executable, str(VICTIM), *argv], capture_output=True, text=True,
                          timeout=timeout)
    done = [json.loads(line) for line in proc.stdout.splitlines() if '"done"' in line]
    warnings = done[0]["warnings"] if done else []
    paths = [os.fsencode(p) for w in warnings for p in _report_paths(w)]
    return VictimRun(proc.returncode, proc.stderr, warnings, done[0]["episodes"] if done else -1,
                     paths)


def hang_in_latin1_source(directory: str, loop: str = "asyncio") -> VictimRun:
    module_dir = os.path.join(directory, "modules")
    os.makedirs(module_dir, exist_ok=True)
    with open(os.path.join(module_dir, "latin1_victim.py"), "wb") as f:
        f.write(LATIN1_MODULE)
    reports = os.path.join(directory, "reports")
    return _run([reports, "--scenario", "latin1", "--module-dir", module_dir, "--loop", loop,
                 "--seconds", "0.6"])


def hang_with_bad_thread_names(directory: str, loop: str = "asyncio") -> VictimRun:
    return _run([os.path.join(directory, "reports"), "--scenario", "thread-names", "--loop", loop,
                 "--seconds", "0.6"])


def hang_into_a_non_utf8_directory(directory: str, surrogate_str: bool) -> VictimRun:
    path = os.fsencode(directory) + b"/r\xe9ports-\xff"
    argv = ["--dir-hex", path.hex(), "--scenario", "block", "--seconds", "0.6"]
    if surrogate_str:
        argv.append("--surrogate-dir")
    return _run(argv)


def all_runs(directory: str) -> Dict[str, VictimRun]:
    """Every attack of this module, each in its own subdirectory."""
    runs = {}
    for name, attack in [("latin1", lambda d: hang_in_latin1_source(d)),
                         ("thread-names", lambda d: hang_with_bad_thread_names(d)),
                         ("bytes-path", lambda d: hang_into_a_non_utf8_directory(d, False)),
                         ("surrogate-path", lambda d: hang_into_a_non_utf8_directory(d, True))]:
        sub = os.path.join(directory, name)
        os.makedirs(sub)
        runs[name] = attack(sub)
    return runs
