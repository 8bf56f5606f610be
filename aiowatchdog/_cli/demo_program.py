"""`python -m aiowatchdog demo`: a small asyncio program that blocks its own
loop in three typical ways under the watchdog, then says where the reports
went, shows the first one and ends with `python -m aiowatchdog report` on
them.

The blocks, one after another, each about 1.3 s:
  1. time.sleep in a coroutine,
  2. a CPU-bound pure-Python function,
  3. a lock that another thread holds.
"""
from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
from typing import List, Optional

from .. import hang_inspection
from .._report_files import list_reports

BLOCK_SECONDS = 1.3


async def sleepy_coroutine() -> None:
    time.sleep(BLOCK_SECONDS)  # blocks the loop: should be asyncio.sleep


def count_primes_slowly(limit: int) -> int:
    found = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            found += 1
    return found


async def cpu_bound() -> None:
    deadline = time.monotonic() + BLOCK_SECONDS
    while time.monotonic() < deadline:
        count_primes_slowly(3000)


async def wait_for_lock(lock: threading.Lock) -> None:
    with lock:  # blocks the loop while another thread holds it
        pass


def hold_lock(lock: threading.Lock, acquired: threading.Event) -> None:
    with lock:
        acquired.set()
        time.sleep(BLOCK_SECONDS)


async def blocking_program(directory: str) -> None:
    async with hang_inspection.start(directory, interval=0.25, samples=2, sample_interval=0.5,
                                     profile_hz=100):
        await asyncio.sleep(0.3)
        print("1/3 time.sleep in a coroutine ...", flush=True)
        await sleepy_coroutine()
        await asyncio.sleep(0.3)
        print("2/3 a CPU-bound function ...", flush=True)
        await cpu_bound()
        await asyncio.sleep(0.3)
        print("3/3 a lock held by another thread ...", flush=True)
        lock = threading.Lock()
        acquired = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(lock, acquired), name="lock-holder")
        holder.start()
        acquired.wait()
        await wait_for_lock(lock)
        holder.join()
        await asyncio.sleep(0.3)


def run_demo(directory: Optional[str] = None) -> List[str]:
    """Runs the demo; returns the text reports it wrote, oldest first."""
    directory = directory or tempfile.mkdtemp(prefix="aiowatchdog-demo-")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(blocking_program(directory))
    reports = list_reports(directory)
    print(f"\n{len(reports)} reports in {directory}:")
    for path in reports:
        print(f"  {os.path.basename(path)}")
    if reports:
        print(f"\n--- {reports[0]} ---")
        with open(reports[0], encoding="utf-8") as f:
            print(f.read())
        print(f"--- python -m aiowatchdog report {directory} ---")
        from . import main

        main(["report", directory])
    return reports
