"""The blocks of the detection table, made for real inside a child process.

Each culprit blocks its loop for kinds.BLOCK_S (the control, SHORT_BLOCK_S)
and says on standard output when the block began and ended (`mark`), on the
system-wide monotonic clock the parent reads too. The culprits are called
through tables and variables, never by name, so that a tool can only name
one by showing its frame (kinds.py).
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
from typing import Callable, Dict, Optional

from benchmarks.kinds import BLOCK_S, SHORT_BLOCK_S


def mark(event: str) -> None:
    sys.stdout.write(f"EVENT {event} {time.monotonic():.6f}\n")
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
        "short_block": lambda: culprit_blocks_briefly,
    }
    return makers[kind]()


async def handle_request(block: Callable[[], object]) -> None:
    """The task the block runs in: a loop-level tool that names only the task
    names this, not the culprit."""
    outcome = block()
    if asyncio.iscoroutine(outcome):
        await outcome


def prepare_worker(kind: str, native_lib: Optional[str]) -> Optional[Callable[[], object]]:
    """What the worker thread's loop calls to block, for a worker-thread
    kind; None for a main-thread kind."""
    if kind == "worker_thread_loop":
        return culprit_blocks_worker_loop
    if kind == "worker_thread_native":
        return partial(culprit_blocks_worker_loop_in_native, _native_sleep(native_lib or ""))
    return None
