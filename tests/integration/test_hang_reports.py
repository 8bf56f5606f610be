"""hang_inspection end to end: a real program blocks its loop in a
subprocess, and each test reads the reports it left and checks what they say:
the blocking function in the loop thread's section, sample timing, episodes,
and that nothing is written and no thread remains after stop_wait."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner import loop_functions, run_program

pytestmark = pytest.mark.slow

REPORT_NAME = re.compile(r"^stacktrace-\d{8}-\d{6}\.\d{6}-(\d+)\.json$")

# scenario -> function that must be in the loop thread's section
BLOCKING_FUNCTION = {
    "sleep_in_coroutine": "sleep_in_coroutine",
    "plain_function": "plain_blocking_function",
    "cpu_bound": "cpu_bound_function",
    "lock_held": "waits_for_held_lock",
}


def during(report, run, index=0):
    start = run.event("block_start", index)["t_ns"]
    end = run.event("block_end", index)["t_ns"]
    return start <= report["captured_unix_ns"] <= end


def assert_clean_exit(run):
    assert run.returncode == 0, run.stderr
    done = run.event("done")
    assert done["threads_after"] == done["threads_before"], "a thread of ours survived stop_wait"


@pytest.mark.parametrize("scenario", sorted(BLOCKING_FUNCTION))
def test_each_report_names_the_blocking_function(tmp_path, scenario):
    run = run_program("hang_program.py", str(tmp_path), scenario, "--block", "1.5")
    assert_clean_exit(run)
    reports = run.reports()
    # Detection at ~0.25 s and a sample 1 s later, both inside the 1.5 s block.
    assert [r["sample"] for r in reports] == [0, 1], [r["path"] for r in reports]
    for report in reports:
        assert during(report, run), "a report was captured outside the block"
        functions = loop_functions(report)
        assert any(f.endswith(BLOCKING_FUNCTION[scenario]) for f in functions), functions
        assert loop_functions(report["text"]) == functions, "text and JSON disagree"
        assert report["task"]["coroutine"] == "main", report["task"]
    assert len({r["episode"] for r in reports}) == 1
    assert "event loop was blocked for" in run.stderr
    assert BLOCKING_FUNCTION[scenario] in run.stderr, "the WARNING shows the loop's frames"


def test_sleep_is_seen_in_the_syscall_and_cpu_in_bytecode(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "sleep_in_coroutine", "--block", "1.0")
    assert_clean_exit(run)
    report = run.reports()[0]
    loop = report["threads"][0]
    assert loop["is_loop"], "the loop's thread is listed first"
    python = [f for f in loop["frames"] if f["kind"] == "python"]
    assert python[-1]["function"].endswith("sleep_in_coroutine")
    assert python[-1]["source"] == "time.sleep(seconds)"
    # Inside it, the native frames down to the C library's wait: time.sleep
    # is select() up to 3.10, clock_nanosleep() from 3.11.
    inside = loop["frames"][loop["frames"].index(python[-1]) + 1:]
    assert inside and all(f["kind"] == "native" for f in inside)
    # glibc 2.41+ makes the call through its hidden __syscall_cancel helpers,
    # which a stripped libc leaves unnamed ("0x..."): the innermost named frame.
    named = [f for f in inside if not f["function"].startswith("0x")]
    innermost = named[-1]
    # glibc's select is an alias of __select: with libc6-dbg's symbols either
    # name is the function's.
    assert innermost["function"].startswith(("clock_nanosleep", "select", "__select")), inside
    assert all("libc.so" in f["file"] for f in inside[inside.index(innermost):]), inside
    assert loop["kernel_state"] == "S", "blocked in a syscall"

    run = run_program("hang_program.py", str(tmp_path / "cpu"), "cpu_bound", "--block", "1.0")
    assert_clean_exit(run)
    report = run.reports()[0]
    assert report["threads"][0]["kernel_state"] == "R", "running bytecode"


def test_lock_held_elsewhere_gives_three_samples_a_second_apart(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "lock_held", "--block", "2.7")
    assert_clean_exit(run)
    reports = run.reports()
    assert [r["sample"] for r in reports] == [0, 1, 2]
    times = [r["captured_unix_ns"] / 1e9 for r in reports]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.9 <= gap <= 1.2 for gap in gaps), gaps
    for report in reports:
        assert during(report, run)
        assert any(f.endswith("waits_for_held_lock") for f in loop_functions(report))
        # The holder starts in the step that then blocks: no refresh from the
        # loop's thread names it, the thread itself does (_thread_names.py).
        holder = [t for t in report["threads"]
                  if any(f["function"].endswith("lock_holder_thread") for f in t["frames"])]
        assert len(holder) == 1, "the thread holding the lock has its own section"
        assert not holder[0]["is_loop"] and holder[0]["native_id"] > 0
        assert holder[0]["name"] == "lock-holder", holder[0]["name"]


def test_threads_waiting_in_the_kernel_show_their_state_and_name(tmp_path):
    # 20 threads in wait4, started in the step that blocks: each capture reads
    # a thread's state before its signal (or read from outside) could wake it.
    run = run_program("hang_program.py", str(tmp_path), "child_waiters", "--block", "2.3")
    assert_clean_exit(run)
    reports = [r for r in run.reports() if during(r, run)]
    assert len(reports) >= 2
    for report in reports:
        waiters = [t for t in report["threads"] if t["name"].startswith("waiter-")]
        assert sorted(t["name"] for t in waiters) == sorted(f"waiter-{i}" for i in range(20))
        states = {t["name"]: t["kernel_state"] for t in waiters}
        assert set(states.values()) == {"S"}, states


def test_two_hangs_are_two_episodes(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "two_hangs", "--block", "0.8")
    assert_clean_exit(run)
    reports = run.reports()
    episodes = sorted({r["episode"] for r in reports}, key=lambda e: int(e.rsplit("-", 1)[1]))
    assert len(episodes) == 2
    first = [r for r in reports if r["episode"] == episodes[0]]
    second = [r for r in reports if r["episode"] == episodes[1]]
    assert [r["sample"] for r in first] == [0] and [r["sample"] for r in second] == [0]
    assert during(first[0], run, 0) and during(second[0], run, 1)
    assert any(f.endswith("sleep_in_coroutine") for f in loop_functions(first[0]))
    assert any(f.endswith("cpu_bound_function") for f in loop_functions(second[0]))
    assert run.stderr.count("event loop was blocked for") == 2


def test_busy_but_healthy_loop_writes_nothing(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "busy_healthy", "--block", "3")
    assert_clean_exit(run)
    reports = run.reports()
    # On failure, the first report's own text says what the watchdog saw.
    assert reports == [], open(reports[0]["path"][: -len(".json")] + ".txt").read()[:4000]
    assert list(tmp_path.iterdir()) == [], "no report and no temporary file"


def test_nothing_is_written_and_no_thread_remains_after_stop_wait(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "block_after_stop", "--block", "1.0")
    assert run.returncode == 0, run.stderr
    assert run.event("stopped")["threads"] == run.event("done")["threads_before"]
    assert run.reports() == []


def test_files_are_named_as_aiodebug_names_them(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "sleep_in_coroutine", "--block", "0.6")
    assert_clean_exit(run)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names and all(n.startswith("stacktrace-") for n in names), names
    jsons = [n for n in names if n.endswith(".json")]
    for name in jsons:
        match = REPORT_NAME.match(name)
        assert match, name
        assert name[: -len(".json")] + ".txt" in names
    text = (tmp_path / jsons[0].replace(".json", ".txt")).read_text()
    # aiodebug's layout: the section line, then frames outermost first
    # (native ones, e.g. __libc_start_main, on lines of their own).
    assert re.search(r'^# ThreadID: \d+ .*\[event loop\]\n(Native: .*\n)*File: ".*", line \d+, in ',
                     text, re.M)
    assert re.search(r"^  time\.sleep\(seconds\)$", text, re.M)
    assert re.search(r"^Native: (clock_nanosleep|select|__select) \+ 0x[0-9a-f]+ \(.*libc\.so\.6\)$",
                     text, re.M)


def test_python_only_reports_have_no_native_frames(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "sleep_in_coroutine", "--block", "0.6",
                      "--python-only")
    assert_clean_exit(run)
    [report] = run.reports()
    assert any(f.endswith("sleep_in_coroutine") for f in loop_functions(report))
    for thread in report["threads"]:
        assert all(f["kind"] == "python" for f in thread["frames"])
    text = Path(report["path"][: -len(".json")] + ".txt").read_text()
    assert "Native:" not in text
    assert re.search(r'^# ThreadID: \d+ .*\[event loop\]\nFile: ".*", line \d+, in ', text, re.M)


def test_a_forgotten_dumper_stops_with_its_loop_and_at_exit(tmp_path):
    run = run_program("forgotten_dumper.py", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "exiting"
    assert run.reports() == [], "a closed loop's silence is not a hang"
    assert run.stderr == ""
