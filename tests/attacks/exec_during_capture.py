"""Execs while captures are under way (issue 15 item 3). Usage:

    python exec_during_capture.py DIR FROM SEED
    python exec_during_capture.py DIR pool-METHOD ROUNDS

FROM is "loop" (the loop's thread calls os.execv) or "worker" (a worker
thread does, while the loop hangs); "loop-raw" and "worker-raw" call
posix.execv itself, as C code calling execve would: not fenced, they
measure what remains for such code. The loop hangs again and again, captured
every 5 ms; after a random delay (from SEED) the exec'd program, this
interpreter with -c, must print "exec'd ok" and exit 0: a capture signal
still queued for the thread would kill it first.

pool-fork, pool-forkserver, pool-spawn: multiprocessing pools of that start
method started and used ROUNDS times during captures (their workers are
started by fork, or fork and exec); prints {"pool": "ok" | "wrong" |
"hung"} with the results checked.
"""
import asyncio
import faulthandler
import json
import multiprocessing
import os
import random
import signal
import sys
import threading
import time

from aiowatchdog import hang_inspection

EXEC_ARGS = [sys.executable, "-c", "print(\"exec'd ok\")"]


def blocked():
    time.sleep(0.03)


def square(x):
    return x * x


def raw_execv(path, args):
    import posix
    posix.execv(path, args)


async def exec_main(directory, where, seed):
    def execv(path, args):
        os.execv(path, args)  # looked up now: start() wraps it
    if where.endswith("-raw"):
        where = where[:-len("-raw")]
        execv = raw_execv
    hang_inspection.start(directory, interval=0.01, samples=1000, sample_interval=0.005,
                          max_episodes_per_minute=1_000_000)
    rng = random.Random(seed)
    at = time.monotonic() + rng.uniform(0.05, 0.4)
    if where == "worker":
        def worker():
            while time.monotonic() < at:
                time.sleep(0.001)
            execv(EXEC_ARGS[0], EXEC_ARGS)
        threading.Thread(target=worker, daemon=True).start()
        while True:
            blocked()
            await asyncio.sleep(0.001)
    while time.monotonic() < at:
        blocked()
        await asyncio.sleep(0.001)
    # Inside a hang: the watchdog is signalling this thread right about now.
    end = time.monotonic() + rng.uniform(0.011, 0.03)
    while time.monotonic() < end:
        pass
    execv(EXEC_ARGS[0], EXEC_ARGS)


def describe_hung_workers(pool):
    """What the pool's workers are doing when the map has not completed: the
    kernel's view of each (state, wait channel, system call) on stderr, and
    each one's Python stacks, dumped by the faulthandler it inherited (fork)."""
    for process in getattr(pool, "_pool", []):
        pid = process.pid
        try:
            with open(f"/proc/{pid}/status") as f:
                state = next((line.split(":", 1)[1].strip() for line in f if line.startswith("State:")), "?")
            with open(f"/proc/{pid}/wchan") as f:
                wchan = f.read()
            with open(f"/proc/{pid}/syscall") as f:
                syscall = (f.read().split() or ["?"])[0]
        except OSError as e:
            state, wchan, syscall = f"unreadable ({e})", "", ""
        print(f"pool worker {pid}: state {state}, wchan {wchan}, syscall {syscall}",
              file=sys.stderr, flush=True)
        try:
            os.kill(pid, signal.SIGUSR2)
        except OSError:
            pass
    time.sleep(1)  # their dumps reach stderr


async def pool_main(directory, method, rounds):
    # Inherited by fork workers: a hung one can be asked for its stacks.
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    dumper = hang_inspection.start(directory, interval=0.01, samples=1000,
                                   sample_interval=0.005, max_episodes_per_minute=1_000_000)
    result = "ok"
    ctx = multiprocessing.get_context(method)
    for _ in range(rounds):
        with ctx.Pool(2) as pool:
            pending = pool.map_async(square, range(20))
            deadline = time.monotonic() + 30
            while not pending.ready() and time.monotonic() < deadline:
                blocked()
                await asyncio.sleep(0.001)
            try:
                if pending.get(timeout=0.1) != [x * x for x in range(20)]:
                    result = "wrong"
            except multiprocessing.TimeoutError:
                result = "hung"
                describe_hung_workers(pool)
            pool.terminate()
        if result != "ok":
            break
    await hang_inspection.stop_wait(dumper)
    print(json.dumps({"pool": result}), flush=True)


if __name__ == "__main__":
    directory, where, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if where.startswith("pool-"):
        asyncio.run(pool_main(directory, where[len("pool-"):], n))
    else:
        asyncio.run(exec_main(directory, where, n))
