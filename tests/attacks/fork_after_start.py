"""Forks right after a dumper starts (issue 15 item 2). Usage:

    python fork_after_start.py DIR [SEED]

Starts a dumper and forks at once (after a busy wait of 0-0.3 ms drawn from
SEED), while the watchdog thread is starting
(its first steps initialise what the fork child handler then resets). The
child exits 0 at once; the parent waits for it at most 10 s. Prints
{"child": exit code or "hung"}.
"""
import asyncio
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import wait_child  # noqa: E402

from aiowatchdog import hang_inspection  # noqa: E402


async def main(directory, seed):
    delay = random.Random(seed).uniform(0, 0.0003)
    dumper = hang_inspection.start(directory, interval=0.05)
    end = time.perf_counter() + delay  # somewhere in the watchdog thread's first steps
    while time.perf_counter() < end:
        pass
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    status = wait_child(pid, 10)
    await hang_inspection.stop_wait(dumper)
    print(json.dumps({"child": status}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
