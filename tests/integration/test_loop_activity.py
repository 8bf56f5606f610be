"""Why the loop was blocked, end to end: one run of a real program blocks its
loop in each way a report tells apart (tests/programs/activity_program.py:
on a CPU, in a system call, waiting for the GIL, starved of a CPU, inside the
garbage collector), and the report of each block, its text twin and the
recovery WARNING must say which."""
from __future__ import annotations

import math
from typing import Dict, Tuple

import pytest

from interpreter_symbols import interpreter_has_local_symbols
from runner import Run, loop_thread, run_program

pytestmark = pytest.mark.slow

# The function in activity_program.py that blocks the loop, per block kind.
BLOCKING_FUNCTION = {"cpu": "spins_in_python", "sleep": "sleeps_in_a_syscall",
                     "gil": "waits_for_the_gil", "starved": "starves_on_a_shared_cpu",
                     "gc": "collects_garbage"}

# time.sleep is clock_nanosleep from 3.11, select() before.
SLEEP_CALLS = {"clock_nanosleep", "nanosleep", "select", "pselect6"}


@pytest.fixture(scope="module")
def run(tmp_path_factory, native_blockers) -> Run:
    directory = tmp_path_factory.mktemp("activity")
    run = run_program("activity_program.py", str(directory), "--native-lib", str(native_blockers))
    assert run.returncode == 0, run.stderr
    assert run.event("done")
    return run


def block_report(run: Run, kind: str) -> Tuple[Dict, Dict]:
    """The one report captured during the `kind` block, and its loop_activity,
    checked against its text twin."""
    for event in run.events:
        if event["event"] == "skipped" and event["kind"] == kind:
            pytest.skip(event["reason"])
    start = next(e for e in run.events if e["event"] == "block_start" and e["kind"] == kind)
    end = next(e for e in run.events if e["event"] == "block_end" and e["kind"] == kind)
    reports = [r for r in run.reports() if start["t_ns"] <= r["captured_unix_ns"] <= end["t_ns"]]
    assert len(reports) == 1, [r["path"] for r in reports]
    report = reports[0]
    # The report is about this block: the loop thread's section names the
    # function that blocks it (a starved thread may not get a CPU in time to
    # answer; its section then says so instead).
    section = loop_thread(report)
    functions = [f["function"] for f in section["frames"]]
    if not (kind == "starved" and section["status"] == "no answer"):
        assert BLOCKING_FUNCTION[kind] in functions, (section["status"], functions)
    activity, text = report["loop_activity"], report["text"]["loop_activity"]
    assert activity is not None and text is not None
    for key in ("state", "syscall", "gc_running"):
        assert text[key] == activity[key], "text and JSON disagree"
    for key in ("cpu_share", "runqueue_share"):
        assert activity[key] is not None and 0 <= activity[key] <= 1, activity
        assert math.isclose(text[key], activity[key], abs_tol=0.0051), "text and JSON disagree"
    return report, activity


def skip_if_not_favoured(run: Run, activity: Dict) -> None:
    """A loop thread the program could not favour (nice -10 needs root) may
    truly be starved by other processes on a loaded machine."""
    not_favoured = [e for e in run.events if e["event"] == "not_favoured"]
    if not_favoured and activity["state"] == "starved":
        pytest.skip(f"loaded machine, loop thread not favoured: {not_favoured[0]['reason']}")


def test_cpu_bound_python_is_on_cpu(run):
    report, activity = block_report(run, "cpu")
    skip_if_not_favoured(run, activity)
    assert activity["state"] == "on-cpu", activity
    assert activity["cpu_share"] > activity["runqueue_share"]
    assert not activity["gc_running"]
    assert loop_thread(report)["kernel_state"] == "R"
    assert "loop thread: running on a CPU" in run.stderr


def test_time_sleep_waits_in_its_system_call(run):
    _, activity = block_report(run, "sleep")
    assert activity["state"] == "syscall", activity
    assert activity["syscall"] in SLEEP_CALLS, activity
    assert not activity["gc_running"]
    assert f"loop thread: waiting in a system call ({activity['syscall']})" in run.stderr


@pytest.mark.skipif(not interpreter_has_local_symbols(),
                    reason="waiting for the GIL is told by take_gil's name, which a stripped "
                           "interpreter (Debian's packages) does not have")
def test_a_thread_holding_the_gil_in_c_makes_the_loop_wait_for_it(run):
    report, activity = block_report(run, "gil")
    assert activity["state"] == "gil", activity
    assert activity["syscall"] == ""
    functions = [f["function"] for f in loop_thread(report)["frames"] if f["kind"] == "native"]
    assert any(f.startswith("take_gil") for f in functions), functions
    assert "loop thread: waiting for the GIL" in run.stderr


def test_a_realtime_competitor_on_its_cpu_starves_the_loop(run):
    report, activity = block_report(run, "starved")
    assert activity["state"] == "starved", activity
    assert activity["runqueue_share"] > 0.5, activity
    assert loop_thread(report)["kernel_state"] == "R"
    assert "loop thread: runnable but not scheduled (starved)" in run.stderr


def test_a_long_collection_is_seen_running_on_the_loop_thread(run):
    _, activity = block_report(run, "gc")
    assert activity["gc_running"], activity
    assert "the garbage collector was running" in run.stderr
