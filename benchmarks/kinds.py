"""The kinds of block the detection table covers: what each is, the function
to blame, and the native frame a report should show. Pure data, shared by the
child that makes the blocks (blocks.py) and the parent that judges the tools'
output (judge.py).

A culprit's name is matched as a whole word in a tool's output. The
children call every culprit and every native function through a variable, so
the name can only appear where a tool shows the frame itself, never in a
quoted source line of its caller.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

BLOCK_S = 1.2          # how long each block lasts; the tools' thresholds are 0.25 s
SHORT_BLOCK_S = 0.15   # the control block, under every tool's threshold


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    culprit: str                  # the function to blame
    native: Optional[str]         # regex of the native frame to name; None: no C culprit
    native_label: str             # how the table names that frame
    control: bool = False         # a block too short to report: reporting it is a false alarm


_SLEEP_NATIVE = r"\b(clock_nanosleep|pysleep|time_sleep)\b"

KINDS = (
    Kind("sleep_in_coroutine", "time.sleep in a coroutine",
         "culprit_sleeps_in_coroutine", _SLEEP_NATIVE, "clock_nanosleep"),
    Kind("blocking_function", "plain blocking function (socket recv)",
         "culprit_reads_socket", r"\b(__recv|__libc_recv|sock_recv_impl|sock_recv)\b", "__recv"),
    Kind("cpu_bound", "CPU-bound Python",
         "culprit_computes_in_python", None, "-"),
    Kind("native_holding_gil", "native call holding the GIL",
         "culprit_calls_native_holding_gil", r"\bawd_test_sleep_holding_gil\b",
         "awd_test_sleep_holding_gil"),
    Kind("long_builtin", "long C builtin (sum)",
         "culprit_sums_huge_range", r"\bbuiltin_sum\b", "builtin_sum"),
    Kind("lock_held_elsewhere", "lock held by another thread",
         "culprit_waits_for_lock",
         r"\b(PyThread_acquire_lock_timed|acquire_timed|lock_PyThread_acquire_lock|"
         r"sem_clock_wait|sem_timedwait|do_futex_wait|__new_sem_wait_slow64)\b",
         "PyThread_acquire_lock_timed"),
    Kind("worker_thread_loop", "loop on a worker thread, the main loop beside it (time.sleep)",
         "culprit_blocks_worker_loop", _SLEEP_NATIVE, "clock_nanosleep"),
    Kind("worker_thread_native",
         "loop on a worker thread, the main loop beside it (native call holding the GIL)",
         "culprit_blocks_worker_loop_in_native", r"\bawd_test_sleep_holding_gil\b",
         "awd_test_sleep_holding_gil"),
    Kind("gil_starvation", "GIL held by a worker thread (run_in_executor)",
         "culprit_holds_gil_in_worker", r"\bawd_test_sleep_holding_gil\b",
         "awd_test_sleep_holding_gil"),
    Kind("short_block", f"control: a {SHORT_BLOCK_S} s block, under the threshold",
         "culprit_blocks_briefly", None, "-", control=True),
)

BY_NAME = {kind.name: kind for kind in KINDS}
