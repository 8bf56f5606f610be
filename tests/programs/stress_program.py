"""A real asyncio program that stresses the watchdog, for the stress and kill
tests (tests/faults.py drives it). Usage:

    python stress_program.py DIR hangs N        # N short hangs, threads churning
    python stress_program.py DIR startstop N    # start + stop_wait N times
    python stress_program.py DIR forever        # hang, capture, write until killed

`hangs` and `startstop` print JSON lines {"event": "usage", "phase": ...,
"threads", "fds", "rss_kib"} before anything, after a warm-up (a tenth of N;
a quarter for startstop)
and at the end, each at a quiet moment with every dumper stopped, then
{"event": "done", "episodes": ...}; the test compares the usages.
`forever` prints {"event": "started"} once its dumper runs.
"""
import asyncio
import json
import logging
import os
import sys
import threading
import time

from aiowatchdog import hang_inspection

# Short hangs: detected after INTERVAL_S, one sample each.
INTERVAL_S = 0.01  # the floor (aiowatchdog._options.MIN_INTERVAL_S)
HANG_S = 0.020


def emit(event, **extra):
    print(json.dumps({"event": event, **extra}), flush=True)


def settled_thread_count():
    """The process's threads once those already joined have left: a joined
    Python thread's OS thread can still be listed in /proc/self/task for a
    moment on a loaded machine. A thread that does not leave within 2 s is
    counted (a leak)."""
    deadline = time.monotonic() + 2.0
    while True:
        count = len(os.listdir("/proc/self/task"))
        if count <= threading.active_count() or time.monotonic() >= deadline:
            return count
        time.sleep(0.01)


def usage(phase):
    """Threads, descriptors and RSS. Descriptors on files mapped into the
    process are counted apart: the symbolizer keeps one open per shared
    object that appeared in a captured stack, a cache bounded by the objects
    loaded."""
    with open("/proc/self/statm") as f:
        rss_pages = int(f.read().split()[1])
    with open("/proc/self/maps") as f:
        mapped = {line.split(maxsplit=5)[5].strip() for line in f if len(line.split()) == 6}
    fds = objects = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if target in mapped:
            objects += 1
        else:
            fds += 1
    emit("usage", phase=phase, threads=settled_thread_count(), fds=fds,
         object_fds=objects, rss_kib=rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024)


class ThreadChurn:
    """Threads created and exiting all the time, beside the hangs."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="churn")
        self.started = 0

    def _run(self):
        while not self._stop.is_set():
            batch = [threading.Thread(target=time.sleep, args=(0.003,), name=f"short-{i}")
                     for i in range(4)]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
            self.started += len(batch)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def hang_until_killed():
    time.sleep(0.1)  # a hang: three samples


def hang_in_stress_program():
    time.sleep(HANG_S)


async def hang_phase(directory, count):
    """`count` hangs under a dumper while threads churn; all stopped after."""
    dumper = hang_inspection.start(directory, interval=INTERVAL_S, samples=1,
                                   max_reports=20, max_episodes_per_minute=1_000_000)
    with ThreadChurn() as churn:
        for _ in range(count):
            hang_in_stress_program()
            await asyncio.sleep(0.001)
    await hang_inspection.stop_wait(dumper)
    return dumper.episodes, churn.started


async def many_hangs(directory, count):
    # Usage is compared between two quiet moments, everything of ours
    # stopped: after a warm-up tenth of the hangs, and after the rest.
    usage("before")
    warm_episodes, warm_threads = await hang_phase(directory, count // 10)
    usage("warm")
    episodes, threads = await hang_phase(directory, count - count // 10)
    usage("end")
    emit("done", hangs=count, episodes=warm_episodes + episodes,
         threads_started=warm_threads + threads)


async def start_stop(directory, count):
    usage("before")
    episodes = 0
    for i in range(count):
        dumper = hang_inspection.start(directory, interval=0.01, samples=1)
        if i % 10 == 0:  # now and then a hang while it runs
            await asyncio.sleep(0)
            hang_in_stress_program()
            await asyncio.sleep(0.001)
        await hang_inspection.stop_wait(dumper)
        episodes += dumper.episodes
        # A longer warm-up than the hangs': glibc gives new threads their
        # own malloc arenas, up to 8 per core, and RSS grows until all exist.
        if i + 1 == count // 4:
            usage("warm")
    usage("end")
    emit("done", starts=count, episodes=episodes)


async def forever(directory):
    # Many threads make each capture long, so that kills land inside them.
    stop = threading.Event()
    sleepers = [threading.Thread(target=stop.wait, name=f"idle-{i}", daemon=True)
                for i in range(50)]
    for t in sleepers:
        t.start()
    hang_inspection.start(directory, interval=0.02, samples=3, sample_interval=0.02,
                          max_reports=30, max_episodes_per_minute=1_000_000)
    emit("started")
    while True:
        hang_until_killed()
        await asyncio.sleep(0.005)


if __name__ == "__main__":
    logging.getLogger("aiowatchdog").setLevel(logging.ERROR)  # no WARNING per hang
    directory, mode = sys.argv[1], sys.argv[2]
    if mode == "hangs":
        asyncio.run(many_hangs(directory, int(sys.argv[3])))
    elif mode == "startstop":
        asyncio.run(start_stop(directory, int(sys.argv[3])))
    elif mode == "forever":
        asyncio.run(forever(directory))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
