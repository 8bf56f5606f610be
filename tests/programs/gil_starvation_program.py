"""A loop starved of the GIL, for the integration tests (issue #18): the loop
awaits run_in_executor(...), and the pool thread holds the GIL for the whole
block, so the loop's thread, whose selector wait ends (a ticker fires every
10 ms), cannot run. Usage:

    python gil_starvation_program.py DIR KIND [--block S] [--native-lib PATH] [--quiet | --parked]

KIND:
  json          the worker parses a large JSON document (json.loads holds the
                GIL throughout: the common production case)
  native        the worker calls C code that holds the GIL (through
                ctypes.PyDLL: a C extension that forgot to release it)
  python_worker control: the worker computes in pure Python, which hands the
                GIL over every switch interval (5 ms): the loop is slowed,
                never starved

With --quiet the loop has nothing to do when the worker takes the GIL (no
ticker: one timer, due 0.2 s into the block; the worker first sleeps 0.05 s,
GIL released, for the loop to finish the step that started it), so it is
surely idle in its selector then, and is starved once the timer is due.

With --parked the loop idles 3 s (its watchdog parks after 1 s) while a
thread it did not start takes the GIL 2 s in and keeps it for the block: the
loop's timer, due at 3 s, finds it starved (the watchdog looks at a parked
loop once a second).

It prints one JSON object per line: "block_start"/"block_end" around the
worker's call (with the worker's native id), "ticks" (the longest gap
between the loop's ticks during the block; with --quiet, how long after the
block's start the timer ran; with --parked, how late the timer ran), with
--quiet and --parked "timer" (when it is due), "done".
"""
import argparse
import asyncio
import ctypes
import functools
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


def feed_for(seconds):
    """A JSON document json.loads takes about `seconds` to parse here."""
    sample = json.dumps([{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(20000)])
    began = time.perf_counter()
    json.loads(sample)
    per_copy = time.perf_counter() - began
    copies = max(1, int(seconds / per_copy))
    return "[" + ",".join([sample] * copies) + "]"


def parse_feed(document):
    emit("block_start", worker=threading.get_native_id())
    parsed = json.loads(document)
    emit("block_end")
    return len(parsed)


def holds_gil_in_worker(native, seconds):
    emit("block_start", worker=threading.get_native_id())
    native(int(seconds * 1000))
    emit("block_end")


def computes_in_worker(seconds):
    emit("block_start", worker=threading.get_native_id())
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    emit("block_end")
    return n


def settle_then(work, *args):
    return settle_then_at(0.05, work, *args)


def settle_then_at(seconds, work, *args):
    time.sleep(seconds)
    return work(*args)


async def ticker(gaps, stop):
    last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        gaps.append((now, now - last))
        last = now


async def main(args):
    if args.kind == "json":
        call = (parse_feed, feed_for(args.block))
    elif args.kind == "native":
        lib = ctypes.PyDLL(args.native_lib)  # keeps the GIL through the call
        lib.awd_test_sleep_holding_gil.argtypes = [ctypes.c_int]
        call = (holds_gil_in_worker, lib.awd_test_sleep_holding_gil, args.block)
    else:
        call = (computes_in_worker, args.block)
    dumper = hang_inspection.start(args.dir, interval=0.25, samples=3, sample_interval=0.5)
    loop = asyncio.get_running_loop()
    stop, gaps = asyncio.Event(), []
    ticks = asyncio.ensure_future(ticker(gaps, stop))
    await asyncio.sleep(1.5)  # ticking before the block
    if args.parked:
        stop.set()
        await ticks
        # Idle 3 s: the watchdog parks after 1 s. A thread started now takes
        # the GIL at 2 s (the loop asleep) and keeps it until 2 s + block;
        # the loop's timer is due at 3 s.
        worker = threading.Thread(target=settle_then_at, args=(2.0, *call), name="parked-worker")
        worker.start()
        emit("timer", due_ns=time.time_ns() + 3_000_000_000)
        due = time.monotonic() + 3.0
        await asyncio.sleep(3.0)
        emit("ticks", longest_gap_s=time.monotonic() - due)
        await loop.run_in_executor(None, worker.join)
    elif args.quiet:
        stop.set()
        await ticks
        await asyncio.sleep(0.1)
        timer_ran = []
        began = time.monotonic()
        loop.call_later(0.2, lambda: timer_ran.append(time.monotonic()))
        emit("timer", due_ns=time.time_ns() + 200_000_000)
        settle = functools.partial(settle_then, call[0])
        await loop.run_in_executor(None, settle, *call[1:])
        await asyncio.sleep(0)
        emit("ticks", longest_gap_s=timer_ran[0] - began)
    else:
        began = time.monotonic()
        await loop.run_in_executor(None, *call)
        ended = time.monotonic()
        await asyncio.sleep(0.3)
        stop.set()
        await ticks
        emit("ticks", longest_gap_s=max((g for t, g in gaps if began <= t <= ended + 0.05),
                                        default=0.0))
    await hang_inspection.stop_wait(dumper)
    emit("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("kind", choices=["json", "native", "python_worker"])
    parser.add_argument("--block", type=float, default=1.5)
    parser.add_argument("--native-lib")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--parked", action="store_true")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
