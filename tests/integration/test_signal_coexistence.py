"""aiowatchdog among the application's own signals, in real programs
(tests/programs/signal_program.py): a handler the application has for our
signal number, installed before start or after it, keeps getting every
foreign signal of that number and never one of ours, while hangs are still
caught; faulthandler works alongside; Ctrl-C still interrupts a hang; and
calls blocked in other threads come through a storm of capture signals with
the right result, even C code that does not retry on EINTR."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from runner import PROGRAMS, Run, loop_functions, run_program

pytestmark = pytest.mark.slow

HELPERS_SOURCE = PROGRAMS / "signal_helpers.c"
ANSWER_TIMEOUT_MS = 50.0  # native/common/options.h: how long a capture waits per thread


@pytest.fixture(scope="module")
def helpers(tmp_path_factory) -> str:
    """signal_helpers.c built as a shared library (once)."""
    library = tmp_path_factory.mktemp("signal-helpers") / "libsignal_helpers.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-g", "-o", str(library),
                    str(HELPERS_SOURCE)], check=True)
    return str(library)


def run(tmp_path: Path, helpers: str, scenario: str, *args: str) -> Run:
    return run_program("signal_program.py", str(tmp_path), scenario, "--lib", helpers, *args)


def thread_section(report: Dict, native_id: int) -> Dict:
    [thread] = [t for t in report["threads"] if t["native_id"] == native_id]
    return thread


# A capture is stamped when it starts and reads the loop's stack a little
# later: one stamped just before a block's end may find the blocking function
# returned and the loop on its way to print block_end (seen: 49 us before
# it). Such a report is true, and not held to name the blocking function.
END_MARGIN_NS = 50_000_000


def block_windows(events: List[Dict]) -> List[Tuple[int, int]]:
    """(start, end) of each block, from the program's events, the end brought
    END_MARGIN_NS earlier (a block not ended runs to the end of time)."""
    starts = [e["t_ns"] for e in events if e["event"] == "block_start"]
    ends = [e["t_ns"] - END_MARGIN_NS for e in events if e["event"] == "block_end"]
    return list(zip(starts, ends + [2**63] * (len(starts) - len(ends))))


def check_the_hangs_were_caught(reports: List[Dict], events: List[Dict], blocking: str) -> None:
    """The loop's thread answered in every report, and named `blocking` in
    each one captured during a block; no thread made a capture wait out its
    answer timeout."""
    assert reports, "no report written"
    windows = block_windows(events)
    for report in reports:
        [loop] = [t for t in report["threads"] if t["is_loop"]]
        assert loop["status"] == "answered", report["path"]
        if any(start <= report["captured_unix_ns"] <= end for start, end in windows):
            assert blocking in loop_functions(report), report["path"]
        for thread in report["threads"]:
            # A thread inside fork/vfork (subprocess) blocks every signal for
            # a moment: reported as such, without a wait.
            assert thread["status"] == "answered" or thread["status"].startswith(
                "signals blocked"), (report["path"], thread)


@pytest.mark.parametrize("app, when", [
    ("python", "before"),
    ("python", "after"),
    ("native", "before"),
    ("native", "after"),
    # Passes each signal on to the handler it replaced (ours) by calling it.
    ("native-forwarding", "after"),
    # faulthandler.register(chain=True) passes signals on by re-raising them.
    ("faulthandler", "after"),
])
def test_the_applications_handler_gets_every_foreign_signal_and_none_of_ours(
        tmp_path, helpers, app, when):
    result = run(tmp_path, helpers, "app_handler", "--app", app, "--when", when)
    assert result.returncode == 0, result.stderr[-3000:]
    # After start, the application's handler replaced ours for real...
    assert result.event("installed")["app_on_top"] == (when == "after")
    after_hang = result.event("after_first_hang")
    # ...and the hang's first capture put ours back on top, chaining to it,
    # without a single capture signal reaching the application.
    assert not after_hang["app_on_top"]
    assert after_hang["calls"] == 0
    told = "put its own handler back" in result.stderr
    assert told == (when == "after"), "one WARNING when the handler was found replaced"

    done = result.event("done")
    assert done["lost"] == [], "a foreign signal did not reach the application's handler"
    assert len(done["sent"]) == 12
    assert done["calls"] == 12, (
        f"one call per foreign signal (after each send: {done['calls_after_each']})")
    if app.startswith("native"):
        native = done["native"]
        assert (native["user"], native["tkill"], native["queue_foreign"]) == (3, 6, 3)
        assert native["queue_self"] == 0, "aiowatchdog's own signals reached the application"
        assert native["other"] == 0
        # sigqueue from another process keeps its value and sender, even a
        # value that carries aiowatchdog's token tag.
        assert native["last_queue_value"] == done["queued_value"]
        assert native["last_queue_pid"] == done["sigqueue_pids"][-1]

    reports = result.reports()
    first_hang = [r for r in reports if "blocked_loop" in loop_functions(r)]
    while_signals = [r for r in reports if "blocked_while_signals_arrive" in loop_functions(r)]
    check_the_hangs_were_caught(reports, result.events, "app_handler_scenario")
    assert len(first_hang) >= 5
    assert len(while_signals) >= 3, "captures went on while foreign signals arrived"


@pytest.mark.parametrize("to", ["default", "ignore"])
def test_the_application_resetting_our_signal_after_start_neither_kills_nor_silences(
        tmp_path, helpers, to):
    """SIG_DFL after start: our next capture signal would terminate the
    process; SIG_IGN: it would be discarded and no thread would answer. Ours
    is re-installed before the first one is sent, and a stray signal chained
    to the default action is not replayed (documented)."""
    result = run(tmp_path, helpers, "app_resets", "--to", to)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    assert result.event("done")
    reports = result.reports()
    check_the_hangs_were_caught(reports, result.events, "blocked_loop")
    assert [r["sample"] for r in reports] == [0, 1, 2, 3, 4]


def test_faulthandler_enable_and_dump_traceback_later_work_alongside(tmp_path, helpers):
    result = run(tmp_path, helpers, "faulthandler")
    # faulthandler.enable() reports the segfault the program ends with.
    assert result.returncode == -signal.SIGSEGV, result.stderr[-3000:]
    assert "Fatal Python error: Segmentation fault" in result.stderr
    # dump_traceback_later(0.3, repeat=True) went on dumping during a 1.2 s hang.
    assert result.stderr.count("Timeout (0:00:00.300000)!") >= 2, result.stderr[-3000:]
    assert result.event("done")

    faulthandler_tid = result.event("faulthandler_thread")["tid"]
    reports = result.reports()
    assert len(reports) >= 5
    check_the_hangs_were_caught(reports, result.events, "blocked_beside_faulthandler")
    [(block_start, block_end)] = block_windows(result.events)
    during = [r for r in reports if block_start <= r["captured_unix_ns"] <= block_end]
    assert len(during) >= 5
    for report in reports:
        # Its thread blocks every signal: read from outside while it waits in
        # the kernel, else seen blocking in /proc; never waited for. It ends
        # at cancel_dump_traceback_later(), right after the block: a capture
        # begun at the block's end may find it gone (and leave it out).
        if report not in during and not any(
                t["native_id"] == faulthandler_tid for t in report["threads"]):
            continue
        section = thread_section(report, faulthandler_tid)
        status = section["status"]
        assert status.startswith("signals blocked") or (
            status == "answered" and section["captured_by"].startswith("outside: ")), (
            report["path"], section)
    # Waiting out that thread would take the answer timeout in every sample:
    # at least one sample (of dozens) finishing sooner proves it is not waited for.
    assert min(r["capture_ms"] for r in reports) < ANSWER_TIMEOUT_MS


def test_ctrl_c_interrupts_a_hang_under_the_watchdog(tmp_path, helpers):
    """SIGINT while the loop is blocked in time.sleep(60), with captures every
    20 ms, raises KeyboardInterrupt in the sleeping function at once (the
    program would otherwise outlive the timeout)."""
    proc = subprocess.Popen(
        [sys.executable, str(PROGRAMS / "signal_program.py"), str(tmp_path), "ctrl_c",
         "--lib", helpers], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert json.loads(proc.stdout.readline())["event"] == "block_start"
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("stacktrace-*.json"))) < 3:
            assert time.monotonic() < deadline, "no captures before SIGINT"
            time.sleep(0.02)
        sent_ns = time.time_ns()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            threads = threads_seen_by_the_kernel(proc.pid)
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"still running 30 s after SIGINT; its threads: {threads}\n"
                        f"stdout: {out[-2000:]}\nstderr: {err[-3000:]}")
    finally:
        proc.kill()
        proc.wait()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, err[-3000:]
    names = [e["event"] for e in events]
    assert names == ["keyboard_interrupt", "done"], names
    assert events[0]["function"] == "blocks_until_interrupted"
    reports = Run(proc.returncode, out, err, tmp_path).reports()
    block = [{"event": "block_start", "t_ns": 0}, {"event": "block_end", "t_ns": sent_ns}]
    check_the_hangs_were_caught(reports, block, "blocks_until_interrupted")


def threads_seen_by_the_kernel(pid: int) -> List[str]:
    """Each thread's name, state, system call and signal masks, from /proc
    (what a hung test needs to say where SIGINT went)."""
    found = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            status = dict(line.split(":\t", 1) for line in
                          (task / "status").read_text().splitlines() if ":\t" in line)
            call = (task / "syscall").read_text().split()[:2]
        except OSError:
            continue
        found.append(f"{task.name} {status.get('Name')} {status.get('State')} syscall={call} "
                     f"SigPnd={status.get('SigPnd')} ShdPnd={status.get('ShdPnd')} "
                     f"SigBlk={status.get('SigBlk')}")
    return found


WORKERS = [
    "sleeps_through_captures", "receives_from_socket", "selects_on_a_pipe", "select_times_out",
    "waits_for_a_child", "communicates_with_a_child", "reads_a_fifo",
    # C code calling read/recv/waitpid once, without retrying on EINTR.
    "reads_a_pipe_in_c", "receives_in_c", "waits_for_a_child_in_c",
]


def test_calls_blocked_in_other_threads_complete_through_dozens_of_captures(tmp_path, helpers):
    result = run(tmp_path, helpers, "syscalls")
    assert result.returncode == 0, result.stderr[-3000:]
    done = result.event("done")
    results, payload, wait_s = done["results"], done["payload"], done["wait_s"]

    assert results["sleeps_through_captures"]["elapsed"] >= wait_s, "time.sleep cut short"
    assert results["select_times_out"]["returned"] == [[], [], []]
    assert results["select_times_out"]["elapsed"] >= wait_s, "select's timeout cut short"
    assert results["receives_from_socket"]["data"] == payload
    assert results["selects_on_a_pipe"] == {"ready": True, "data": payload}
    assert results["waits_for_a_child"]["returncode"] == 7
    reversed_payload = bytes.fromhex(payload)[::-1].hex()
    assert results["communicates_with_a_child"] == {"data": reversed_payload, "returncode": 0}
    assert results["reads_a_fifo"]["data"] == payload
    size = len(payload) // 2
    # Without SA_RESTART these return -EINTR (-4) at the first capture.
    assert results["reads_a_pipe_in_c"] == {"n": size, "data": payload}
    assert results["receives_in_c"] == {"n": size, "data": payload}
    assert results["waits_for_a_child_in_c"]["returncode"] == 5

    reports = result.reports()
    assert len(reports) >= 20, "dozens of captures"
    check_the_hangs_were_caught(reports, result.events, "hangs_repeatedly")
    native_ids = result.event("threads")["native_ids"]
    for worker in WORKERS:
        # Interrupted inside its call, not before or after it.
        hits = [r for r in reports
                if any(t["native_id"] == native_ids[worker] and t["status"] == "answered"
                       and any(f["function"].endswith(worker) for f in t["frames"])
                       for t in r["threads"])]
        assert len(hits) >= 5, (worker, len(hits))
