"""Resource limits (issue 15 item 4). Usage:

    python limits.py DIR as MEGABYTES
    python limits.py DIR nofile SPARE
    python limits.py DIR none 0

"as": RLIMIT_AS set to what the process maps now plus MEGABYTES, then a
dumper starts and the loop hangs (captured with native stacks, which the
symbolizer names: its files and tables need address space). "nofile":
RLIMIT_NOFILE set to the descriptors open now plus SPARE. "none": no limit
(for a run under fail_thread_malloc.c, which starves the watchdog thread
alone). Every way the
program must end with its own exit status, 17, whatever the watchdog could
or could not do; it prints {"started": bool, "reports": N, "ended_early":
why or None, "running": bool} first (a watchdog thread that could not go on
must say why, and its dumper must not say it is running).
"""
import asyncio
import json
import os
import resource
import sys
import time

from aiowatchdog import hang_inspection


def blocked_under_limit():
    time.sleep(0.3)


async def main(directory, kind, amount):
    os.makedirs(directory, exist_ok=True)
    # The soft limit only: put back after the stop, for the program's own
    # counting (its listdir, its json.dumps), which is not what is tried here.
    if kind == "as":
        saved = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
        limit = size + amount * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, saved[1]))
    elif kind == "nofile":
        saved = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = len(os.listdir("/proc/self/fd")) + amount
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    started = True
    dumper = None
    try:
        dumper = hang_inspection.start(directory, interval=0.05, samples=3, sample_interval=0.05)
    except (OSError, MemoryError, RuntimeError):
        started = False
    for _ in range(3):
        await asyncio.sleep(0.02)
        blocked_under_limit()
    await asyncio.sleep(0.25)  # its chores (the ERROR, if any) are due by now
    ended_early = dumper._watchdog.ended_early if dumper is not None else None
    running = dumper is not None and dumper.running
    if dumper is not None:
        try:
            await hang_inspection.stop_wait(dumper)
        except (OSError, MemoryError):
            pass
    if kind != "none":  # to count the reports
        resource.setrlimit(resource.RLIMIT_AS if kind == "as" else resource.RLIMIT_NOFILE, saved)
    reports = len([n for n in os.listdir(directory) if n.endswith(".json")])
    print(json.dumps({"started": started, "reports": reports, "ended_early": ended_early,
                      "running": running}), flush=True)
    sys.stdout.flush()
    os._exit(17)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
