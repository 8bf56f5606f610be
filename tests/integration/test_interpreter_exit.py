"""Interpreter exit with a dumper still running, or in the middle of a
capture: the process exits with the code the program asked for, without a
crash or a hang, and leaves only complete reports (every file parses, text
and JSON twins both there, no dot-prefixed .tmp file). Each run is a real
process (tests/programs/exit_program.py).

os._exit during a capture is not covered: it skips atexit and ends the
process wherever the watchdog is, which is not a clean exit by definition
(the atomic rename still keeps a cut report from ever bearing a report's name).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import pytest

from aiowatchdog._report_files import REPORT_NAME, loop_thread, read_report
from runner import Run, loop_functions, run_program

pytestmark = pytest.mark.slow

# Generous: a run takes about a second; only a hang gets near this.
EXIT_TIMEOUT_S = 90
CRASH_SIGNS = ("Fatal Python error", "Segmentation fault", "Aborted", "core dumped",
               "terminate called", "Exception ignored", "AddressSanitizer")
# What each program's INTERVAL is (exit_program.py).
INTERVAL = 0.05


def run_to_exit(directory: Path, scenario: str, delay: float = 0.0) -> Run:
    try:
        return run_program("exit_program.py", str(directory), scenario, repr(delay),
                           timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{scenario} (delay {delay}) did not exit within {EXIT_TIMEOUT_S} s: a hang")


def assert_clean_exit(run: Run, expected_code: int, what: str) -> None:
    """The exit code asked for, no sign of a crash, and no watchdog thread
    left when the last atexit callback ran."""
    assert run.returncode == expected_code, f"{what}: exit code {run.returncode}\n{run.stderr[-3000:]}"
    for sign in CRASH_SIGNS:
        assert sign not in run.stderr, f"{what}: {sign!r} in stderr\n{run.stderr[-3000:]}"
    if expected_code == -signal.SIGINT:
        assert run.stderr.rstrip().endswith("KeyboardInterrupt"), f"{what}\n{run.stderr[-3000:]}"
    else:
        assert "Traceback" not in run.stderr, f"{what}\n{run.stderr[-3000:]}"
    last = run.events[-1] if run.events else {}
    assert last.get("event") == "last_atexit", f"{what}: the program did not get to its last atexit callback"
    assert last["watchdog_threads"] == [], f"{what}: a watchdog thread outlived aiowatchdog's atexit hook"


def assert_reports_complete(directory: Path, what: str) -> List[Dict]:
    """Every report under `directory` is whole: both twins, each parses in
    full and they agree; nothing half-written is left. Returns the JSON ones."""
    reports = []
    for root, _, names in os.walk(directory):
        leftovers = [n for n in names if n.startswith(".") and n.endswith(".tmp")]
        assert not leftovers, f"{what}: temporary file(s) left in {root}: {leftovers}"
        for name in names:
            assert REPORT_NAME.match(name), f"{what}: unexpected file {name}"
            twin = name[:-5] + ".txt" if name.endswith(".json") else name[:-4] + ".json"
            assert twin in names, f"{what}: {name} without its twin"
            if not name.endswith(".json"):
                continue
            report = read_report(os.path.join(root, name))
            text = read_report(os.path.join(root, twin))
            assert report["episode"] == text["episode"] and report["sample"] == text["sample"]
            assert len(report["threads"]) == len(text["threads"]) > 0, what
            assert loop_thread(report) is not None and loop_thread(text) is not None, what
            reports.append(report)
    return reports


@pytest.mark.parametrize("scenario, code", [
    ("asyncio_run_return", 0),
    ("asyncio_run_sys_exit", 3),
    ("thread_loops", 0),           # a daemon thread's loop still running at exit
    ("run_forever_stop", 0),       # stopped, never closed
    ("daemon_finalization", 0),    # daemon threads run Python while finalizing
])
def test_exit_with_a_dumper_never_stopped(tmp_path, scenario, code):
    run = run_to_exit(tmp_path, scenario)
    assert_clean_exit(run, code, scenario)
    assert_reports_complete(tmp_path, scenario)


def test_a_forgotten_dumper_keeps_watching(tmp_path):
    """start()'s result thrown away, then a garbage collection: the dumper
    still catches the hang that follows (it used to stop silently, its
    shutdown hook finalized with it)."""
    run = run_to_exit(tmp_path, "dropped_reference")
    assert_clean_exit(run, 0, "dropped_reference")
    reports = assert_reports_complete(tmp_path, "dropped_reference")
    assert any("dropped_reference_hang" in loop_functions(r) for r in reports), \
        "the forgotten dumper did not report the hang"


def test_a_forgotten_dumper_is_stopped_at_exit(tmp_path):
    """start()'s result thrown away, collected once the loop stopped, its
    watchdog sampling the stopped loop as the interpreter exits: atexit still
    stops it (it used to run on into exit(), leaving .tmp files behind)."""
    for i in range(2):
        run = run_to_exit(tmp_path / str(i), "dropped_reference_at_exit")
        assert_clean_exit(run, 0, "dropped_reference_at_exit")
        assert_reports_complete(tmp_path / str(i), "dropped_reference_at_exit")


# The ways out during a capture, each with the exit code it must give.
LEAVING = {
    "capture_sys_exit": 7,                         # sys.exit(7) in the blocking callback
    "capture_raise_exit": 8,                       # raise SystemExit(8) there
    "capture_keyboard_interrupt": -signal.SIGINT,  # uncaught: Python re-raises SIGINT
    "thread_hang_main_exit": 5,                    # loop blocked in a daemon thread; main exits
}
BLOCKING = {"thread_hang_main_exit": "stuck_forever_in_thread"}  # the others: their main()


def test_exit_while_captures_are_under_way(tmp_path):
    """24 runs, ~150 threads each (sleeping, running Python, daemon or not),
    samples back to back once the loop blocks, and the exit at a random
    moment from before detection to a quarter second after it."""
    seed = int(os.environ.get("AIOWATCHDOG_EXIT_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    runs = [(scenario, round(rng.uniform(-0.4 * INTERVAL, 0.25), 4), i)
            for i in range(6) for scenario in LEAVING]

    def one(spec):
        scenario, delay, i = spec
        directory = tmp_path / f"{scenario}-{i}"
        return spec, directory, run_to_exit(directory, scenario, delay)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, runs))
    caught = 0
    for (scenario, delay, _), directory, run in results:
        what = f"{scenario} with delay {delay} (AIOWATCHDOG_EXIT_SEED={seed})"
        assert_clean_exit(run, LEAVING[scenario], what)
        reports = assert_reports_complete(directory, what)
        # A capture that began after the program said it was blocking and
        # ended before it said it was leaving read the loop inside the
        # blocking code. Others may rightly show something else: the loop
        # starved of the GIL by the crowd before it got there, or the exit
        # under way (the loop never beat again).
        said = {e["event"]: e["t_ns"] for e in run.events if e.get("event") in ("block_start", "leaving")}
        # 3.9 and 3.10 name functions without their qualified name: "main".
        blocking = BLOCKING.get(scenario, "main")
        # (captured_at is when the loop's thread was signalled, and every
        # stack was read within capture_ms of it.) A loop thread that did not
        # answer in time on the loaded machine says so and shows no frames.
        for report in reports:
            began = report["captured_unix_ns"]
            during = said["block_start"] < began and began + report["capture_ms"] * 1e6 < said["leaving"]
            if not during:
                continue
            loop = loop_thread(report)
            if loop["status"] != "answered":
                assert loop["frames"] == [], f"{what}: frames from a thread that did not answer"
                continue
            named = [f for f in loop_functions(report) if f == blocking or f.endswith("." + blocking)]
            assert named, (
                f"{what}: a report captured during the block does not name {blocking}; "
                f"captured {(began - said['block_start']) / 1e6:.1f} ms into it, "
                f"{(said['leaving'] - began) / 1e6:.1f} ms before leaving, in {report['capture_ms']} ms; "
                f"its loop thread (truncated: {loop['truncated']}) shows "
                f"{[(f['kind'], f['function']) for f in loop['frames']]}")
            caught += 1
    # Some exits must have come after a capture, or nothing was under way.
    assert caught > 0, f"no capture finished before the exit in any run (seed {seed})"
