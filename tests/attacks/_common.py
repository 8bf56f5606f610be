"""Helpers shared by the attack programs and their drivers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

HERE = Path(__file__).resolve().parent


def threads_of(pid: int) -> List[str]:
    """Each thread of `pid`: its name, state, kernel wait channel and system
    call, from /proc (what a hung process's threads are waiting on)."""
    found = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        fields = []
        for name in ("comm", "wchan", "syscall"):
            try:
                fields.append((task / name).read_text().strip().split(" ")[0] if name == "syscall"
                              else (task / name).read_text().strip())
            except OSError:
                fields.append("?")
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "?"
        found.append(f"{task.name} {fields[0]} {state} wchan={fields[1]} syscall={fields[2]}")
    return found


def wait_child(pid: int, timeout: float) -> Union[int, str]:
    """The child's exit code (negative: killed by that signal), or "hung"
    (then killed) if it has not exited within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            # Where it hangs, for the test's message (the driver collects it).
            sys.stderr.write(f"hung child {pid}: {threads_of(pid)}\n")
            sys.stderr.flush()
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "hung"
        time.sleep(0.005)


def run_attack(module: str, args: Sequence[str], timeout: float = 120,
               python: Optional[str] = None,
               env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs tests/attacks/<module>.py as a program of `python` (default: this
    interpreter), which must import aiowatchdog from its install: nothing is
    added to its path (the source tree's package has no extension). `env`:
    variables added to this process's environment."""
    try:
        return subprocess.run([python or sys.executable, str(HERE / f"{module}.py"), *args],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, "hung", e.stdout or "", e.stderr or "")


def first_failure(procs: List[subprocess.CompletedProcess], ok: Sequence = (0,)) -> str:
    """The end of the first run's stderr whose exit status is not in `ok`
    ("" if none): what a result's reader needs to see why."""
    for proc in procs:
        if proc.returncode not in ok:
            return f"status {proc.returncode}: {(proc.stderr or '')[-600:]}"
    return ""


def last_json(stdout: str) -> Dict:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def tally(values: List) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out
