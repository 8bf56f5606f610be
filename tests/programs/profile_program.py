"""Blocked-time profiling (profile_hz) in a real process. Usage:

    python profile_program.py DIR SCENARIO

healthy: 2 s of short callbacks and sleeps under profile_hz=500; nothing
    blocks, so no file may appear.
stopped_mid_hang: the loop blocks 1.0 s in blocked_until_stopped while another
    thread stops the dumper 0.5 s in: the profile is written at the stop,
    recovered false.
many_episodes: six 0.15 s blocks with max_reports=4: the directory keeps
    at most 4 reports, profiles counted among them.
"""
import asyncio
import sys
import threading
import time

from aiowatchdog import hang_inspection

directory, scenario = sys.argv[1], sys.argv[2]


def blocked_until_stopped(seconds):
    time.sleep(seconds)


def short_block(seconds):
    time.sleep(seconds)


async def healthy():
    with hang_inspection.start(directory, interval=0.05, profile_hz=500):
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(0.002)  # well under the interval
            await asyncio.sleep(0.001)


async def stopped_mid_hang():
    dumper = hang_inspection.start(directory, interval=0.1, profile_hz=200)
    await asyncio.sleep(0.05)
    threading.Timer(0.5, hang_inspection.stop, args=(dumper,)).start()
    blocked_until_stopped(1.0)


async def many_episodes():
    async with hang_inspection.start(directory, interval=0.05, profile_hz=200, max_reports=4,
                                     samples=1):
        for _ in range(6):
            await asyncio.sleep(0.06)
            short_block(0.15)
        await asyncio.sleep(0.06)


asyncio.run({"healthy": healthy, "stopped_mid_hang": stopped_mid_hang,
             "many_episodes": many_episodes}[scenario]())
