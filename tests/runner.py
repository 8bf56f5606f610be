"""Runs a real program from tests/programs in a subprocess and reads the
reports it leaves."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from aiowatchdog._report_files import list_reports, loop_thread, read_report

PROGRAMS = Path(__file__).parent / "programs"
NATIVE_BLOCKERS_SOURCE = PROGRAMS / "native_blockers.c"


def build_native_blockers(directory: Path) -> Path:
    """Compiles programs/native_blockers.c into a shared library."""
    library = directory / "libnative_blockers.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-g", "-o", str(library),
                    str(NATIVE_BLOCKERS_SOURCE), "-lpthread"], check=True)
    return library


def native_thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


@dataclass
class Run:
    """A finished program run: its events, output and reports."""

    returncode: int
    stdout: str
    stderr: str
    directory: Path
    events: List[Dict] = field(default_factory=list)

    def event(self, name: str, index: int = 0) -> Dict:
        return [e for e in self.events if e["event"] == name][index]

    def reports(self) -> List[Dict]:
        """JSON reports with their text twins parsed, oldest first."""
        out = []
        for path in list_reports(str(self.directory), ".json"):
            report = read_report(path)
            report["text"] = read_report(path[: -len(".json")] + ".txt")
            report["path"] = path
            out.append(report)
        return out


def run_program(script: str, *args: str, timeout: float = 60, env: Dict[str, str] = None) -> Run:
    directory = Path(args[0])
    proc = subprocess.run(
        [sys.executable, str(PROGRAMS / script), *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return Run(proc.returncode, proc.stdout, proc.stderr, directory, events)


def loop_functions(report: Dict) -> List[str]:
    thread = loop_thread(report)
    assert thread is not None, "the report has no section for the loop's thread"
    return [frame["function"] for frame in thread["frames"]]
