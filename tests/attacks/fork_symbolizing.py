"""Forks while the watchdog symbolizes (issue 15 item 1). Usage:

    python fork_symbolizing.py DIR CHILDREN POOL_TASKS

The parent's loop hangs again and again (captured every 5 ms, native stacks
named by the symbolizer) while another thread forks CHILDREN children 5 ms
apart. Each child, like a pre-forked worker, starts a dumper of its own and
hangs once, so that children symbolize at the same time as their siblings
and the parent (a symbolizer whose descriptors a fork shares must not let
one move another's file offset). Then a multiprocessing fork Pool maps
POOL_TASKS tasks, each in a worker that watches and hangs a loop of its own;
its results are checked. Prints {"children": [exit code or "hung", ...],
"pool": "ok" | "wrong" | "hung", "parent_reports": N}.
"""
import asyncio
import json
import multiprocessing
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import wait_child  # noqa: E402

from aiowatchdog import hang_inspection  # noqa: E402


def blocked_in_parent():
    time.sleep(0.05)


def blocked_in_child():
    time.sleep(0.2)


def watch_and_hang(directory):
    async def main():
        async with hang_inspection.start(directory, interval=0.05, samples=2,
                                         sample_interval=0.05):
            await asyncio.sleep(0.01)
            blocked_in_child()
            await asyncio.sleep(0.01)
    asyncio.run(main())


def child(directory, inherited):
    inherited.stop()  # the parent's, forgotten at the fork: harmless
    watch_and_hang(directory)
    os._exit(0)


def pool_task(args):
    directory, x = args
    watch_and_hang(os.path.join(directory, f"pool-{os.getpid()}"))
    return x * x


def forker(count, directory, dumper, results):
    pids = []
    for i in range(count):
        time.sleep(0.005)
        pid = os.fork()
        if pid == 0:
            try:
                child(os.path.join(directory, f"child-{i}"), dumper)
            finally:
                os._exit(4)
        pids.append(pid)
    results.extend(wait_child(pid, 60) for pid in pids)


async def main(directory, children, pool_tasks):
    dumper = hang_inspection.start(os.path.join(directory, "parent"), interval=0.02,
                                   samples=1000, sample_interval=0.005,
                                   max_episodes_per_minute=1_000_000)
    blocked_in_parent()  # a capture first: the symbolizer has its files open
    await asyncio.sleep(0.05)
    results = []
    thread = threading.Thread(target=forker, args=(children, directory, dumper, results))
    thread.start()
    while thread.is_alive():
        blocked_in_parent()
        await asyncio.sleep(0.005)
    thread.join()
    pool = "ok"
    if pool_tasks:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as p:
            pending = p.map_async(pool_task, [(directory, x) for x in range(pool_tasks)])
            while not pending.ready():
                blocked_in_parent()  # the parent symbolizes while workers do
                await asyncio.sleep(0.005)
                if time.monotonic() > deadline:
                    break
            try:
                got = pending.get(timeout=0.1)
                pool = "ok" if got == [x * x for x in range(pool_tasks)] else "wrong"
            except multiprocessing.TimeoutError:
                pool = "hung"
            p.terminate()
    await hang_inspection.stop_wait(dumper)
    parent_reports = len([n for n in os.listdir(os.path.join(directory, "parent"))
                          if n.endswith(".json")])
    print(json.dumps({"children": results, "pool": pool, "parent_reports": parent_reports}),
          flush=True)


deadline = time.monotonic() + 120

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
