"""A real asyncio program that blocks its own loop on purpose, for the
integration tests. Usage:

    python hang_program.py DIR SCENARIO [--interval S] [--samples N]
                           [--sample-interval S] [--block S] [--loop uvloop]
                           [--python-only] [--native-lib PATH]

It prints one JSON object per line on stdout, {"event": ..., "t_ns": ...},
around each block ("block_start", "block_end") and at the end ("done", with the
thread counts before start and after stop_wait), so a test can line reports up
with what the loop was doing. Each blocking function has a distinctive name the
tests look for in the loop thread's section.
"""
import argparse
import asyncio
import json
import sys
import threading
import time

from aiowatchdog import hang_inspection


def emit(event, **extra):
    # One write per line: print() writes the text and its newline apart, and
    # two threads printing at once made "{...}{...}" lines.
    sys.stdout.write(json.dumps({"event": event, "t_ns": time.time_ns(), **extra}) + "\n")
    sys.stdout.flush()


def native_thread_count():
    import os

    return len(os.listdir("/proc/self/task"))


def settled_thread_count(expected):
    """The thread count once a joined thread has left /proc too (up to 1 s):
    pthread_join returns when the kernel clears the thread's tid, a little
    before the thread leaves the task list (seen: 2 instead of 1, once)."""
    deadline = time.monotonic() + 1.0
    count = native_thread_count()
    while count > expected and time.monotonic() < deadline:
        time.sleep(0.001)
        count = native_thread_count()
    return count


async def sleep_in_coroutine(seconds):
    time.sleep(seconds)


def plain_blocking_function(seconds):
    time.sleep(seconds)


async def calls_plain_function(seconds):
    plain_blocking_function(seconds)


def cpu_bound_function(seconds):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += sum(i * i for i in range(200))
    return n


async def runs_cpu_bound(seconds):
    cpu_bound_function(seconds)


async def waits_for_held_lock(seconds):
    lock = threading.Lock()
    held = threading.Event()

    def lock_holder_thread():
        with lock:
            held.set()
            time.sleep(seconds)

    holder = threading.Thread(target=lock_holder_thread, name="lock-holder")
    holder.start()
    held.wait()
    with lock:
        pass
    holder.join()


NATIVE = None  # ctypes.PyDLL of native_blockers.c, with --native-lib


def calls_native_sleep_holding_gil(seconds):
    NATIVE.awd_test_sleep_holding_gil(int(seconds * 1000))


async def native_sleep_with_gil(seconds):
    calls_native_sleep_holding_gil(seconds)


def calls_native_spin_holding_gil(seconds):
    NATIVE.awd_test_spin_holding_gil(int(seconds * 1000))


async def native_spin_with_gil(seconds):
    calls_native_spin_holding_gil(seconds)


def sums_a_huge_range(_seconds):
    return sum(range(10**8))  # one long C call: 1.5-2.5 s on 3.9-3.13


async def long_builtin(seconds):
    sums_a_huge_range(seconds)


def recurse_then_sleep(depth, seconds):
    if depth:
        return recurse_then_sleep(depth - 1, seconds)
    time.sleep(seconds)


async def deep_recursion(seconds):
    recurse_then_sleep(400, seconds)


async def waits_for_child_beside_waiters(seconds):
    """20 threads started in this step, each waiting for a child process in
    os.waitpid (wait4), while the loop itself waits for them to start and
    then sleeps: the threads are blocked in the kernel at every capture."""
    import os
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = threading.Barrier(21)

    def waiter():
        started.wait()
        try:
            os.waitpid(child.pid, 0)
        except ChildProcessError:  # reaped by another waiter
            pass

    waiters = [threading.Thread(target=waiter, name=f"waiter-{i}") for i in range(20)]
    for thread in waiters:
        thread.start()
    started.wait()
    time.sleep(seconds)
    child.kill()
    for thread in waiters:
        thread.join()


BLOCKS = {
    "sleep_in_coroutine": sleep_in_coroutine,
    "child_waiters": waits_for_child_beside_waiters,
    "plain_function": calls_plain_function,
    "cpu_bound": runs_cpu_bound,
    "lock_held": waits_for_held_lock,
    "native_gil_sleep": native_sleep_with_gil,
    "native_gil_spin": native_spin_with_gil,
    "long_builtin": long_builtin,
    "deep_recursion": deep_recursion,
}


async def blocked(kind, seconds):
    emit("block_start", kind=kind)
    await BLOCKS[kind](seconds)
    emit("block_end", kind=kind)


async def block_beside_threads(args, names, block_signals=False):
    """Blocks the loop while threads with these names wait on an event (each
    blocking every signal first, with block_signals), started long enough
    before the block for their names to be published."""
    import signal

    release = threading.Event()

    def wait():
        if block_signals:
            signal.pthread_sigmask(signal.SIG_BLOCK, range(1, signal.NSIG))
        release.wait()

    threads = [threading.Thread(target=wait, name=name) for name in names]
    for thread in threads:
        thread.start()
    await asyncio.sleep(max(0.5, 2 * args.interval))
    await blocked("sleep_in_coroutine", args.block)
    release.set()
    for thread in threads:
        thread.join()


async def busy_but_healthy(seconds):
    """100 tasks that each compute a little and yield: never blocked long."""
    deadline = time.monotonic() + seconds

    async def worker():
        while time.monotonic() < deadline:
            sum(range(200))
            await asyncio.sleep(0)

    await asyncio.gather(*(worker() for _ in range(100)))


async def main(args):
    threads_before = native_thread_count()
    dumper = hang_inspection.start(
        args.dir, interval=args.interval, samples=args.samples,
        sample_interval=args.sample_interval, native_stacks=not args.python_only,
    )
    await asyncio.sleep(0.3 + args.interval)
    if args.scenario in BLOCKS:
        await blocked(args.scenario, args.block)
    elif args.scenario == "two_hangs":
        await blocked("sleep_in_coroutine", args.block)
        await asyncio.sleep(0.5)
        await blocked("cpu_bound", args.block)
    elif args.scenario == "named_workers":
        await block_beside_threads(args, [f"worker-{i}" for i in range(3)])
    elif args.scenario == "many_idle_threads":
        await block_beside_threads(args, [f"idle-{i}" for i in range(200)])
    elif args.scenario == "thread_blocking_signals":
        await block_beside_threads(args, ["blocks-signals"], block_signals=True)
    elif args.scenario == "native_thread":
        NATIVE.awd_test_start_native_thread(int((args.block + 1) * 1000))
        await asyncio.sleep(0.2)
        await blocked("sleep_in_coroutine", args.block)
    elif args.scenario == "hang_after_idle":
        await asyncio.sleep(2.0)  # idle long enough for the watchdog to park
        await blocked("sleep_in_coroutine", args.block)
    elif args.scenario == "idle":
        await asyncio.sleep(args.block)
    elif args.scenario == "busy_healthy":
        await busy_but_healthy(args.block)
    elif args.scenario == "block_after_stop":
        await hang_inspection.stop_wait(dumper)
        emit("stopped", threads=settled_thread_count(threads_before))
        await blocked("sleep_in_coroutine", args.block)
    else:
        raise SystemExit(f"unknown scenario {args.scenario!r}")
    await asyncio.sleep(0.3)
    await hang_inspection.stop_wait(dumper)
    emit("done", threads_before=threads_before, threads_after=settled_thread_count(threads_before))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("scenario")
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--sample-interval", type=float, default=1.0)
    parser.add_argument("--block", type=float, default=1.5)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--python-only", action="store_true")
    parser.add_argument("--native-lib", help="native_blockers.c built as a shared library")
    parsed = parser.parse_args()
    if parsed.native_lib:
        import ctypes

        NATIVE = ctypes.PyDLL(parsed.native_lib)
    if parsed.loop == "uvloop":
        import uvloop

        uvloop.run(main(parsed))
    else:
        asyncio.run(main(parsed))
    sys.exit(0)
