"""Native frames named on a distribution's own, stripped Python (issue 18
item 4): Debian's /usr/bin/python3.11 keeps only its exported symbols; its
static functions are named from the separate debug file that python3.11-dbg
puts in /usr/lib/debug/.build-id. Run with the debug file found, and with
AIOWATCHDOG_DEBUG_DIRS pointing at an empty directory (what a machine without
the package sees)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
# Debian's own interpreter: this run's, when the suite runs on it (its venv
# holds the installed wheel), else the system's.
DEBIAN_PYTHON = (sys.executable if os.path.realpath(sys.executable) == "/usr/bin/python3.11"
                 else "/usr/bin/python3.11")

PROGRAM = r"""
import asyncio, json, sys, time
from aiowatchdog import hang_inspection
from aiowatchdog._report_files import list_reports, read_report, loop_thread

def blocked_in_debian_python():
    time.sleep(0.4)

async def main(directory):
    async with hang_inspection.start(directory, interval=0.1, samples=3, sample_interval=0.1):
        await asyncio.sleep(0.05)
        blocked_in_debian_python()
        await asyncio.sleep(0.05)
    # The first sample in which the loop's thread answered (on a loaded
    # machine one may time out and carry no stack).
    for path in list_reports(directory, ".json"):
        frames = [f for f in loop_thread(read_report(path))["frames"] if f["kind"] == "native"]
        if frames:
            break
    print(json.dumps([[f["function"], f["file"]] for f in frames]))

asyncio.run(main(sys.argv[1]))
"""


def build_id(path: str) -> str:
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Build ID:" in line:
            return line.split()[-1]
    return ""


def native_frames(tmp_path: Path, env_extra: dict) -> list:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    proc = subprocess.run([DEBIAN_PYTHON, "-c", PROGRAM, str(tmp_path)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def debian_python():
    if not os.path.exists(DEBIAN_PYTHON):
        pytest.skip("no Debian python3.11 here")
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import aiowatchdog._native"], cwd=ROOT,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"the extension was not built for {DEBIAN_PYTHON}: {probe.stderr[-300:]}")
    bid = build_id(os.path.realpath(DEBIAN_PYTHON))
    return Path("/usr/lib/debug/.build-id") / bid[:2] / f"{bid[2:]}.debug"


def interpreter_names(frames: list) -> list:
    return [name for name, library in frames if library.startswith("/usr/bin/python3.11")]


def test_the_debug_file_names_the_interpreters_static_functions(tmp_path, debian_python):
    if not debian_python.exists():
        pytest.skip("python3.11-dbg is not installed (tools/bootstrap.sh installs it)")
    frames = native_frames(tmp_path, {})
    assert frames, "no sample with the loop thread's native stack"
    names = interpreter_names(frames)
    assert any(n.startswith("time_sleep") for n in names), names
    assert not any(n.startswith("0x") for n in names), f"every interpreter frame named: {names}"


def test_without_the_debug_file_exported_names_only(tmp_path, debian_python):
    empty = tmp_path / "no-debug-files"
    empty.mkdir()
    frames = native_frames(tmp_path / "reports", {"AIOWATCHDOG_DEBUG_DIRS": str(empty)})
    assert frames, "no sample with the loop thread's native stack"
    names = interpreter_names(frames)
    assert not any(n.startswith("time_sleep") for n in names), names
    assert any(n.startswith("0x") for n in names), f"static functions unnamed: {frames}"
