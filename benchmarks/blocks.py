"""The blocks of the detection table, made for real inside a child process.

Each culprit blocks its loop for kinds.BLOCK_S (the control, SHORT_BLOCK_S)
and says on standard output when the block began and ended (`mark`), on the
system-wide monotonic clock the parent reads too. The culprits are called
through tables and variables, never by name, so that a tool can only name
one by showing its frame (kinds.py).

One culprit blocks its loop from another thread: gil_starvation's runs in
the loop's default executor and holds the GIL, and a ticker on the loop
(`_Ticker`) makes the loop leave its selector during the block, so that its
thread waits for the GIL instead of sleeping in the selector.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sys
import threading
import time
from functools import partial
from typing import Callable, Dict, List, Optional

from benchmarks.kinds import BLOCK_S, SHORT_BLOCK_S


MARKS: Dict[str, float] = {}   # each event's latest time, as printed


def mark(event: str) -> None:
    MARKS[event] = now = time.monotonic()
    sys.stdout.write(f"EVENT {event} {now:.6f}\n")
    sys.stdout.flush()


# --- the culprits ----------------------------------------------------------

async def culprit_sleeps_in_coroutine() -> None:
    nap = time.sleep
    mark("block_start")
    nap(BLOCK_S)
    mark("block_end")


def culprit_reads_socket(conn: socket.socket) -> bytes:
    read = conn.recv
    mark("block_start")
    data = read(1)
    mark("block_end")
    return data


def culprit_computes_in_python() -> int:
    mark("block_start")
    deadline = time.monotonic() + BLOCK_S
    spins = 0
    while time.monotonic() < deadline:
        spins += 1
    mark("block_end")
    return spins


def culprit_calls_native_holding_gil(native: Callable[[int], None]) -> None:
    mark("block_start")
    native(int(BLOCK_S * 1000))
    mark("block_end")


def culprit_sums_huge_range(n: int) -> int:
    add_up = sum
    mark("block_start")
    total = add_up(range(n))
    mark("block_end")
    return total


def culprit_waits_for_lock(lock: threading.Lock, go: threading.Event) -> None:
    take = lock.acquire
    go.set()
    mark("block_start")
    take()
    mark("block_end")
    lock.release()


async def culprit_blocks_worker_loop() -> None:
    nap = time.sleep
    mark("block_start")
    nap(BLOCK_S)
    mark("block_end")


def culprit_blocks_worker_loop_in_native(native: Callable[[int], None]) -> None:
    mark("block_start")
    native(int(BLOCK_S * 1000))
    mark("block_end")


def culprit_holds_gil_in_worker(native: Callable[[int], None],
                                loop_waits: Callable[[], None]) -> None:
    """Runs in the loop's default executor (parse_feed(data) doing json.loads
    on a huge string, in production): the block is the time the loop's
    thread cannot get the GIL back."""
    loop_waits()
    mark("block_start")
    native(int(BLOCK_S * 1000))
    mark("block_end")


def culprit_blocks_briefly() -> None:
    nap = time.sleep
    mark("block_start")
    nap(SHORT_BLOCK_S)
    mark("block_end")


# --- what each kind needs around its culprit -------------------------------

def _socket_block() -> Callable[[], None]:
    """A connected pair; the far end writes one byte BLOCK_S after the read begins."""
    near, far = socket.socketpair()
    reading = threading.Event()

    def write_later() -> None:
        reading.wait()
        time.sleep(BLOCK_S)
        far.send(b"x")

    threading.Thread(target=write_later, name="socket-writer", daemon=True).start()

    def block() -> None:
        reading.set()
        culprit_reads_socket(near)
    return block


def _lock_block() -> Callable[[], None]:
    """Another thread holds the lock and lets go BLOCK_S after the wait begins."""
    lock, go, held = threading.Lock(), threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            go.wait()
            time.sleep(BLOCK_S)

    threading.Thread(target=hold, name="lock-holder", daemon=True).start()
    held.wait()
    return lambda: culprit_waits_for_lock(lock, go)


def _native_sleep(native_lib: str) -> Callable[[int], None]:
    """The test library's sleep that holds the GIL (ctypes.PyDLL keeps it held
    during the call), found by a name the source never spells whole."""
    if not (native_lib and os.path.exists(native_lib)):
        raise SystemExit("the native kinds need --native-lib "
                         "(tests/programs/native_blockers.c built)")
    return getattr(ctypes.PyDLL(native_lib), "awd_test_" "sleep_holding_gil")


def _builtin_block() -> Callable[[], None]:
    """sum(range(n)) with n sized so that one C call lasts about BLOCK_S."""
    probe = 2_000_000
    began = time.perf_counter()
    sum(range(probe))
    n = int(probe * BLOCK_S / max(time.perf_counter() - began, 1e-6))
    return lambda: culprit_sums_huge_range(n)


TICK_S = 0.01  # the ticker's period: the loop leaves its selector this often


class _Ticker:
    """A task on the loop waking every TICK_S: a loop that always has a timer
    due soon, as a busy server's loop has. Keeps the time of every tick."""

    def __init__(self) -> None:
        self.ticks: List[float] = []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        nap = asyncio.sleep
        while True:
            self.ticks.append(time.monotonic())
            await nap(TICK_S)

    async def stop(self) -> Dict[str, float]:
        """Stops it; returns how many ticks it made and the longest gap
        between two ticks that overlaps the block (MARKS): how long the loop
        did not run."""
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        start, end = MARKS.get("block_start", 0.0), MARKS.get("block_end", 0.0)
        gaps = [after - before for before, after in zip(self.ticks, self.ticks[1:])
                if after > start and before < end]
        return {"ticks": len(self.ticks), "longest_tick_gap_s": round(max(gaps, default=0.0), 4),
                "block_s": round(end - start, 4)}


def _until_in_selector(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """For another thread: a function that returns once the loop's thread is
    waiting in its selector, not in a callback, so that a GIL taken next
    finds the loop outside every callback. (Left alone, the pool's thread can
    take the GIL in the middle of the callback that handed it the job: in
    debug mode, 4 runs in 12.)"""
    ident = threading.get_ident()
    select = type(loop._selector).select.__code__  # type: ignore[attr-defined]

    def wait() -> None:
        nap = time.sleep
        while getattr(sys._current_frames().get(ident), "f_code", None) is not select:
            nap(0.001)
    return wait


def _gil_starvation_block(native_lib: str) -> Callable[[], object]:
    """The loop awaits run_in_executor(None, culprit, ...) while its ticker
    runs; the culprit holds the GIL in the pool's thread for BLOCK_S, taken
    while the loop waits in its selector."""
    native = _native_sleep(native_lib)

    async def awaits_the_pool() -> Dict[str, float]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, time.monotonic)   # the pool's thread, started
        ticker = _Ticker()
        await asyncio.sleep(5 * TICK_S)   # ticking before the block begins
        work = partial(culprit_holds_gil_in_worker, native, _until_in_selector(loop))
        await loop.run_in_executor(None, work)
        return await ticker.stop()
    return awaits_the_pool


def prepare(kind: str, native_lib: Optional[str]) -> Callable[[], object]:
    """What the loop calls to block, for a main-thread kind: a function
    returning None or a coroutine to await."""
    makers: Dict[str, Callable[[], Callable[[], object]]] = {
        "sleep_in_coroutine": lambda: culprit_sleeps_in_coroutine,
        "blocking_function": _socket_block,
        "cpu_bound": lambda: culprit_computes_in_python,
        "native_holding_gil": lambda: partial(culprit_calls_native_holding_gil,
                                              _native_sleep(native_lib or "")),
        "long_builtin": _builtin_block,
        "lock_held_elsewhere": _lock_block,
        "gil_starvation": lambda: _gil_starvation_block(native_lib or ""),
        "short_block": lambda: culprit_blocks_briefly,
    }
    return makers[kind]()


async def handle_request(block: Callable[[], object]) -> object:
    """The task the block runs in: a loop-level tool that names only the task
    names this, not the culprit. Returns what a coroutine block returns (the
    ticker's figures, for gil_starvation), else None."""
    outcome = block()
    if asyncio.iscoroutine(outcome):
        return await outcome
    return None


def prepare_worker(kind: str, native_lib: Optional[str]) -> Optional[Callable[[], object]]:
    """What the worker thread's loop calls to block, for a worker-thread
    kind; None for a main-thread kind."""
    if kind == "worker_thread_loop":
        return culprit_blocks_worker_loop
    if kind == "worker_thread_native":
        return partial(culprit_blocks_worker_loop_in_native, _native_sleep(native_lib or ""))
    return None
