"""Issue #16: a capture must not cut short a system call. Bare libc calls
that never retry EINTR (usleep, nanosleep, poll, select, epoll_wait, recv with
SO_RCVTIMEO), on the loop's thread with the GIL held and in worker threads
with it released, must each last their full length while hangs are captured
during them, with and without profile_hz=1000.

Before the remote capture (remote_capture.h) every capture signalled every
thread, and each of these calls returned early with EINTR at the first capture
(checked on main: every call, in both places, returned -1/EINTR after about
0.05 s; all four tests fail)."""
from __future__ import annotations

import errno

import pytest

from runner import run_program

from aiowatchdog import _native

pytestmark = [
    pytest.mark.slow,
    # Free-threaded builds have no walker of another thread's frames: every
    # thread is signalled there, as before.
    pytest.mark.skipif(not _native.remote_capture_enabled(),
                       reason="threads are not read from outside on this interpreter"),
]

SECONDS = 0.6
CALLS = ["usleep", "nanosleep", "poll", "select", "epoll_wait", "recv_SO_RCVTIMEO"]


def calls_of(run):
    return {e["name"]: e for e in run.events if e["event"] == "call"}


@pytest.mark.parametrize("profile_hz", [None, 1000])
@pytest.mark.parametrize("where", ["loop", "workers"])
def test_bare_libc_calls_last_their_full_length_while_captured(tmp_path, where, profile_hz):
    args = [str(tmp_path), where, "--seconds", str(SECONDS)]
    if profile_hz:
        args += ["--profile-hz", str(profile_hz)]
    run = run_program("no_eintr_program.py", *args, timeout=120)
    assert run.returncode == 0, run.stderr
    calls = calls_of(run)
    assert sorted(calls) == sorted(CALLS), run.stdout
    reports = run.reports()
    assert reports, "no hang was captured: the test would prove nothing"
    for name, call in calls.items():
        # Captured during the call: the watchdog did look at the thread then.
        during = [r for r in reports
                  if call["start_ns"] <= r["captured_unix_ns"] <= call["end_ns"]]
        assert during, f"{name}: no capture while it ran"
        assert call["elapsed"] >= SECONDS * 0.95, f"{name} was cut short: {call}"
        # The race docs/limitations.md states: a call whose time was up, woken in the
        # kernel and waiting for a CPU when a capture found it "running" (no
        # reading of it blocked in this very call to tell it was woken), is
        # signalled and returns EINTR at its end: seen once in a validation
        # run with two suites side by side (select, rc -1 after 0.606 s of
        # 0.6). Its full length it always lasts; EINTR before that, never.
        assert call["errno"] != errno.EINTR or call["elapsed"] >= SECONDS, \
            f"{name} was interrupted before its time was up: {call}"


# The Python function making each call (no_eintr_program.bare_calls) and the
# system call the kernel shows it blocked in.
CALLERS = {"usleep": ("usleep", "clock_nanosleep"), "nanosleep": ("nanosleep", "clock_nanosleep"),
           "poll": ("poll", "poll"), "select": ("select_", "pselect6"),
           "epoll_wait": ("epoll_wait", "epoll_wait"),
           "recv_SO_RCVTIMEO": ("recv_with_timeout", "recvfrom")}


def loop_of(section):
    [loop] = [t for t in section["threads"] if t["is_loop"]]
    return loop


def test_the_loop_blocked_in_c_with_the_gil_is_read_from_outside_with_its_caller(tmp_path):
    run = run_program("no_eintr_program.py", str(tmp_path), "loop", "--seconds", str(SECONDS),
                      timeout=120)
    assert run.returncode == 0, run.stderr
    reports = run.reports()
    for name, call in calls_of(run).items():
        function, syscall = CALLERS[name]
        during = [r for r in reports
                  if call["start_ns"] <= r["captured_unix_ns"] <= call["end_ns"]]
        assert during, name
        # At the very start and end of a call the thread is in user space
        # (or just woken in the kernel, seen running): signalled, correctly.
        outside = [r for r in during if loop_of(r)["captured_by"].startswith("outside: ")]
        assert outside, (name, [loop_of(r)["captured_by"] for r in during])
        for report in outside:
            for section in (report, report["text"]):
                loop = loop_of(section)
                assert loop["captured_by"].split(" (")[0] == f"outside: {syscall}", (name, loop)
                python = [f for f in loop["frames"] if f["kind"] == "python"]
                # Qualified names from 3.11 (co_qualname); plain before.
                assert python[-1]["function"] in (f"bare_calls.<locals>.{function}", function), \
                    python[-1]
                # Merged as a signalled thread's: below the calling Python
                # function, libffi's call down to the system call in libc
                # (ffi_call is exported; ctypes' own functions are named only
                # where _ctypes keeps its symbols: not in Debian's 3.14).
                frames = loop["frames"]
                last_python = max(i for i, f in enumerate(frames) if f["kind"] == "python")
                inner = [f["function"] for f in frames[last_python + 1:]]
                assert any(n.startswith("ffi_call") for n in inner), inner
                assert "libc.so" in frames[-1]["file"], frames[-1]
                # The program's start outside the Python frames, as for a
                # signalled thread: the eval loops found by name, or, where
                # they have none (Debian's 3.14 and 3.15), by the address of
                # their entry frames on the C stack (sample_builder.cc).
                assert frames[0]["kind"] == "native", frames[0]
                assert not any(n.startswith(("_start", "__libc_start_main")) for n in inner), inner
            assert report["loop_pause_ms"] == 0  # no signal handler ran on it
