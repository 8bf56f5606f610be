"""A real asyncio program that blocks its loop in each way a report tells
apart, in turn, for tests/integration/test_loop_activity.py. Usage:

    python activity_program.py DIR --native-lib PATH [--blocks cpu,sleep,...]
    python activity_program.py --hog CPU SECONDS

Blocks (each about BLOCK_S long, with a dumper at a 0.05 s interval and one
sample per episode):
  cpu      Python bytecode spinning: the thread is on a CPU.
  sleep    time.sleep: the thread waits in a system call.
  gil      the loop sleeps 1 ms at a time while another thread holds the GIL
           in C code (native_blockers.c through ctypes.PyDLL): it waits for
           the GIL.
  starved  the loop's thread is pinned to one CPU and spins there while a
           SCHED_FIFO competitor (this file with --hog) spins on the same
           CPU: runnable, never scheduled. Needs the right to use SCHED_FIFO
           (root) and two CPUs; otherwise a "skipped" event says why.
  gc       gc.collect() over cyclic garbage whose finalizers take a while:
           the collector runs on the loop's thread.

The loop's thread runs at nice -20 where allowed ("not_favoured" says why
not), so that the cpu and gc blocks hold on a loaded machine.

Events, one JSON object per line on stdout: "block_start"/"block_end" with
`kind`, "skipped" with `kind` and `reason`, "not_favoured", and "done".
"""
import argparse
import asyncio
import ctypes
import gc
import json
import os
import sys
import threading
import time

from aiowatchdog import hang_inspection

BLOCK_S = 0.3
HOG_S = 0.25  # the competitor's spin, inside the starved block: short, for
              # it takes a CPU from every other process on the machine too
NATIVE = None  # ctypes.PyDLL of native_blockers.c


def emit(event, **extra):
    # One write per line: print() writes the text and its newline apart, and
    # two threads printing at once made "{...}{...}" lines.
    sys.stdout.write(json.dumps({"event": event, "t_ns": time.time_ns(), **extra}) + "\n")
    sys.stdout.flush()


def spin(seconds):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return n


def spins_in_python():
    spin(BLOCK_S)


def sleeps_in_a_syscall():
    time.sleep(BLOCK_S)


def waits_for_the_gil():
    holder = threading.Thread(target=NATIVE.awd_test_spin_holding_gil,
                              args=(int(BLOCK_S * 1000),), name="gil-holder")
    holder.start()
    while holder.is_alive():
        time.sleep(0.001)  # releases the GIL; getting it back is the wait
    holder.join()


class SlowToFinalize:
    """Cyclic garbage with a finalizer that takes a while (a flush, say)."""

    def __init__(self):
        self.cycle = [self]

    def __del__(self):
        spin(0.0002)


def collects_garbage():
    gc.collect()


async def prepare_garbage():
    """Garbage for collects_garbage, made a little at a time (no block)."""
    gc.disable()
    for _ in range(15):
        for _ in range(100):
            SlowToFinalize()
        await asyncio.sleep(0)


async def start_hog(cpu):
    """The competitor for the starved block, ready and waiting for a byte on
    its stdin; None and the reason when it may not run SCHED_FIFO."""
    hog = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--hog", str(cpu), str(HOG_S),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    line = (await hog.stdout.readline()).decode().strip()
    if line != "ready":
        await hog.wait()
        return None, line or "the competitor exited"
    return hog, None


def starves_on_a_shared_cpu(hog, cpu):
    deadline = time.monotonic() + BLOCK_S
    everywhere = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # this thread only
    try:
        os.write(hog.stdin.get_extra_info("pipe").fileno(), b"g")  # it preempts us at once
        while time.monotonic() < deadline:
            pass
    finally:
        os.sched_setaffinity(0, everywhere)


def blocked(kind, block, *args):
    emit("block_start", kind=kind)
    block(*args)
    emit("block_end", kind=kind)


def favour_this_thread():
    """Other processes on a loaded machine must not take the CPU from the
    loop's thread in the cpu and gc blocks (a short window would then find it
    starved): it gets nice -20 when allowed (this thread only)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -20)
    except OSError as e:
        emit("not_favoured", reason=str(e))


async def main(args):
    favour_this_thread()
    dumper = hang_inspection.start(args.dir, interval=0.05, samples=1,
                                   max_episodes_per_minute=1000)
    await asyncio.sleep(0.2)
    for kind in args.blocks.split(","):
        if kind == "starved":
            cpus = sorted(os.sched_getaffinity(0))
            if len(cpus) < 2:
                emit("skipped", kind=kind, reason="needs two CPUs")
                continue
            hog, reason = await start_hog(cpus[-1])
            if hog is None:
                emit("skipped", kind=kind, reason=reason)
                continue
            blocked(kind, starves_on_a_shared_cpu, hog, cpus[-1])
            await hog.wait()
        elif kind == "gc":
            await prepare_garbage()
            blocked(kind, collects_garbage)
            gc.enable()
        else:
            blocked(kind, {"cpu": spins_in_python, "sleep": sleeps_in_a_syscall,
                           "gil": waits_for_the_gil}[kind])
        await asyncio.sleep(0.1)  # the episode ends; its WARNING is logged
    await hang_inspection.stop_wait(dumper)
    emit("done")


def hog(cpu, seconds):
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except OSError as e:
        print(f"SCHED_FIFO not permitted: {e}", flush=True)
        return
    print("ready", flush=True)
    sys.stdin.buffer.read(1)
    spin(seconds)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--hog"]:
        hog(int(sys.argv[2]), float(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--native-lib", required=True)
    parser.add_argument("--blocks", default="cpu,sleep,gil,starved,gc")
    parsed = parser.parse_args()
    NATIVE = ctypes.PyDLL(parsed.native_lib)
    asyncio.run(main(parsed))
