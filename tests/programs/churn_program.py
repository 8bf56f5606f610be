"""Many short hangs while threads are constantly created and exit, for the
thread-churn test: every capture meets threads that are starting, running
Python, or tearing down. Usage:

    python churn_program.py DIR HANGS SEED

Prints {"event": "done", "hangs": N, "threads_started": M} at the end.
"""
import asyncio
import json
import random
import sys
import threading
import time

from aiowatchdog import hang_inspection


def short_lived(depth):
    if depth:
        return short_lived(depth - 1)
    return sum(range(100))


def churn(stop, counter):
    while not stop.is_set():
        batch = [threading.Thread(target=short_lived, args=(random.randrange(50),))
                 for _ in range(4)]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
        counter[0] += len(batch)


def blocked_by_churn_test(seconds):
    time.sleep(seconds)


async def main(directory, hangs, seed):
    rng = random.Random(seed)
    stop = threading.Event()
    counter = [0]
    churners = [threading.Thread(target=churn, args=(stop, counter), name=f"churn-{i}")
                for i in range(2)]
    for thread in churners:
        thread.start()
    async with hang_inspection.start(directory, interval=0.02, samples=3, sample_interval=0.02,
                                     max_reports=1000, max_episodes_per_minute=1_000_000):
        for _ in range(hangs):
            await asyncio.sleep(0.03 + rng.random() * 0.02)
            blocked_by_churn_test(0.05 + rng.random() * 0.1)
        await asyncio.sleep(0.05)
    stop.set()
    for thread in churners:
        thread.join()
    print(json.dumps({"event": "done", "hangs": hangs, "threads_started": counter[0]}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(0)
