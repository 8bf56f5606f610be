"""Event loops on threads other than the main one, for the integration tests.

    python loops_in_threads.py DIR one_worker_loop
    python loops_in_threads.py DIR two_loops

one_worker_loop: a loop on a worker thread named "loop-A" blocks while the main
thread waits in join. two_loops: loops on "loop-A" and "loop-B", each with its
own dumper and directory (DIR/A, DIR/B), block at different times in different
functions. Prints JSON events like hang_program.py.
"""
import asyncio
import json
import os
import sys
import threading
import time

from aiowatchdog import hang_inspection


def emit(event, **extra):
    # One write per line: print() writes the text and its newline apart, and
    # two threads printing at once made "{...}{...}" lines.
    sys.stdout.write(json.dumps({"event": event, "t_ns": time.time_ns(), **extra}) + "\n")
    sys.stdout.flush()


def blocking_in_loop_a(seconds):
    time.sleep(seconds)


def blocking_in_loop_b(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


async def watched(directory, label, delay, block, blocker, tail):
    async with hang_inspection.start(directory, interval=0.25, samples=1):
        await asyncio.sleep(delay)
        emit("block_start", loop=label, native_id=threading.get_native_id())
        blocker(block)
        emit("block_end", loop=label)
        await asyncio.sleep(tail)


def run_loop(*args):
    asyncio.run(watched(*args))


def main(directory, scenario):
    # (label, delay before the block, block, blocker, time the loop runs on after)
    specs = [("A", 0.4, 1.0, blocking_in_loop_a, 0.3)]
    if scenario == "two_loops":
        # A outlives B's block, so each report shows the other loop's thread.
        specs = [("A", 0.4, 1.0, blocking_in_loop_a, 2.0),
                 ("B", 1.8, 1.0, blocking_in_loop_b, 0.3)]
    threads = []
    for label, delay, block, blocker, tail in specs:
        sub = os.path.join(directory, label)
        threads.append(threading.Thread(
            target=run_loop, args=(sub, label, delay, block, blocker, tail), name=f"loop-{label}"))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emit("done", threads=len(os.listdir("/proc/self/task")))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    sys.exit(0)
