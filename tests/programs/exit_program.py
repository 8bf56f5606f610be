"""Programs that end with a dumper still running, for the interpreter-exit
tests. Usage:

    python exit_program.py DIR SCENARIO [DELAY]

Each scenario leaves the interpreter some way while a dumper is running (it
is never stopped by the program), sometimes in the middle of a capture:

    asyncio_run_return      asyncio.run returns, the program lingers, returns
    asyncio_run_sys_exit    sys.exit(3) inside the watched coroutine
    thread_loops            a daemon thread's loop still running at exit, and a
                            finished asyncio.run in a non-daemon thread
    run_forever_stop        loop.run_forever, loop.stop, never closed; sys.exit(0)
    dropped_reference       start()'s result thrown away, a collection, then
                            the loop blocks in dropped_reference_hang
    dropped_reference_at_exit  start()'s result thrown away, collected once
                            the loop stopped (not closed); its watchdog
                            samples the stopped loop as exit begins
    capture_sys_exit        the blocking callback calls sys.exit(7) DELAY
                            seconds after the interval, among ~150 threads
    capture_raise_exit      same, `raise SystemExit(8)`
    capture_keyboard_interrupt  same, `raise KeyboardInterrupt` (uncaught)
    thread_hang_main_exit   a daemon thread's loop blocks for good; the main
                            thread calls sys.exit(5) DELAY seconds after the
                            interval
    daemon_finalization     daemon threads run Python (allocate, collect,
                            start threads) while the interpreter finalizes;
                            the dumper of a daemon thread's loop is stopped
                            by atexit

Prints JSON events on stdout. The last one, "last_atexit", comes from an atexit
callback registered before aiowatchdog is imported, so it runs after
aiowatchdog's own (atexit runs callbacks last-in, first-out): it counts the
watchdog threads still alive then, which must be none.
"""
import atexit
import json
import os
import signal
import sys
import time


def emit(event, **extra):
    # One write per line: print() writes the text and its newline apart, and
    # two threads printing at once made "{...}{...}" lines.
    sys.stdout.write(json.dumps({"event": event, "t_ns": time.time_ns(), **extra}) + "\n")
    sys.stdout.flush()


def threads_blocking(signals):
    """Native ids of the threads that block every one of `signals` now."""
    wanted = sum(1 << (signo - 1) for signo in signals)
    found = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/status") as f:
                blocked = next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))
        except (OSError, StopIteration):
            continue  # exited meanwhile
        if blocked & wanted == wanted:
            found.add(int(tid))
    return found


def watchdog_threads():
    """The watchdog threads alive: they block every signal, and no thread of
    these programs blocks any. glibc blocks every signal in a thread for a
    moment while it starts or exits, so only threads that stay so for 0.3 s
    count."""
    native = sys.modules.get("aiowatchdog._native")
    capture = native.installed_capture_signal() if native else 0
    if capture == 0:
        return []
    signals = (capture, signal.SIGTERM, signal.SIGUSR1)
    found = threads_blocking(signals)
    for _ in range(10):
        if not found:
            break
        time.sleep(0.03)
        found &= threads_blocking(signals)
    return sorted(found)


@atexit.register
def last_atexit():
    emit("last_atexit", watchdog_threads=watchdog_threads())


# After the atexit registration above, on purpose.
import asyncio  # noqa: E402
import gc  # noqa: E402
import threading  # noqa: E402

from aiowatchdog import hang_inspection  # noqa: E402

INTERVAL = 0.05
# Samples back to back while a hang lasts, so that an exit after detection
# lands in a capture or in the writing of a report.
CAPTURING = dict(interval=INTERVAL, samples=1000, sample_interval=0.005)
kept = []  # dumpers the program keeps (and never stops)


# -- threads that make every capture take a while --------------------------

def sleeper(stop):
    while not stop.is_set():
        time.sleep(0.05)


def busy_python(stop):
    """Runs Python most of the time; naps a little so that, with many of these,
    thread starts do not crawl under the GIL (3.13)."""
    while not stop.is_set():
        deadline = time.monotonic() + 0.002
        while time.monotonic() < deadline:
            sum(i * i for i in range(50))
        time.sleep(0.0005)


def start_crowd(sleepers=120, busy=10, non_daemon=20):
    """~150 threads: daemon sleepers, daemon threads running Python, and
    non-daemon threads the program stops on its way out (the interpreter
    joins those before atexit). Returns the event that stops them all."""
    stop = threading.Event()
    threads = [threading.Thread(target=sleeper, args=(stop,), daemon=True,
                                name=f"sleeper-{i}") for i in range(sleepers)]
    threads += [threading.Thread(target=sleeper, args=(stop,), daemon=False,
                                 name=f"worker-{i}") for i in range(non_daemon)]
    threads += [threading.Thread(target=busy_python, args=(stop,), daemon=True,
                                 name=f"busy-{i}") for i in range(busy)]
    for thread in threads:
        thread.start()
    return stop


# -- (a) dumpers never stopped ------------------------------------------------

def asyncio_run_return(directory, delay):
    async def main():
        kept.append(hang_inspection.start(directory, interval=0.25))
        await asyncio.sleep(0.2)

    asyncio.run(main())
    time.sleep(0.3)  # the loop is closed; its silence is not a hang


def asyncio_run_sys_exit(directory, delay):
    async def main():
        kept.append(hang_inspection.start(directory, interval=0.25))
        await asyncio.sleep(0.1)
        sys.exit(3)

    asyncio.run(main())


def loop_forever_in_thread(directory, armed):
    async def main():
        kept.append(hang_inspection.start(directory, interval=0.25))
        armed.set()
        while True:
            await asyncio.sleep(0.001)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())


def asyncio_run_in_thread(directory):
    async def main():
        kept.append(hang_inspection.start(directory, interval=0.25))
        await asyncio.sleep(0.1)

    asyncio.run(main())


def thread_loops(directory, delay):
    armed = threading.Event()
    threading.Thread(target=loop_forever_in_thread, args=(os.path.join(directory, "daemon"), armed),
                     daemon=True, name="daemon-loop").start()
    finishing = threading.Thread(target=asyncio_run_in_thread,
                                 args=(os.path.join(directory, "finished"),), name="run-loop")
    finishing.start()
    armed.wait()
    time.sleep(0.2)
    # Returns with the daemon loop running and run-loop perhaps not finished.


def run_forever_stop(directory, delay):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    kept.append(hang_inspection.start(directory, interval=0.25, loop=loop))
    loop.call_later(0.2, loop.stop)
    loop.run_forever()
    sys.exit(0)  # the loop is stopped, not closed


def dropped_reference_hang():
    time.sleep(0.5)


def start_and_forget(directory, loop, **options):
    hang_inspection.start(directory, loop=loop, **options)


def dropped_reference(directory, delay):
    """A collection while the loop runs must not stop the forgotten dumper."""
    loop = asyncio.new_event_loop()
    start_and_forget(directory, loop, interval=0.1, samples=1)  # nothing refers to it
    loop.call_later(0.1, gc.collect)
    loop.call_later(0.2, dropped_reference_hang)
    loop.call_later(0.8, loop.stop)
    loop.run_forever()
    emit("loop_stopped")


def dropped_reference_at_exit(directory, delay):
    """Collected only once its loop has stopped: the forgotten dumper, whose
    watchdog samples the stopped loop, must still be stopped at exit."""
    stop = start_crowd(sleepers=60, busy=5, non_daemon=0)
    gc.disable()
    loop = asyncio.new_event_loop()
    start_and_forget(directory, loop, **CAPTURING)
    loop.call_later(0.2, loop.stop)
    loop.run_forever()
    gc.enable()
    gc.collect()
    emit("loop_stopped")
    # The stopped loop's silence is sampled as a hang (documented) while the
    # interpreter exits.
    time.sleep(0.1)
    stop.set()


# -- (b) exit while a capture is under way --------------------------------------

def block_then(kind, seconds):
    """The loop's blocking callback: blocks, then leaves the interpreter."""
    time.sleep(seconds)
    emit("leaving", kind=kind)
    if kind == "sys_exit":
        sys.exit(7)
    if kind == "raise_exit":
        raise SystemExit(8)
    raise KeyboardInterrupt


def capture_exit(kind):
    def scenario(directory, delay):
        async def main():
            kept.append(hang_inspection.start(directory, **CAPTURING))
            await asyncio.sleep(0.05)  # thread names published
            emit("block_start")
            block_then(kind, INTERVAL + delay)

        stop = start_crowd()
        try:
            asyncio.run(main())
        finally:
            stop.set()
    return scenario


def stuck_forever_in_thread(ready):
    ready.set()
    while True:
        time.sleep(0.01)


def thread_hang_main_exit(directory, delay):
    ready = threading.Event()

    async def main():
        kept.append(hang_inspection.start(directory, **CAPTURING))
        await asyncio.sleep(0.05)
        stuck_forever_in_thread(ready)

    stop = start_crowd()
    threading.Thread(target=asyncio.run, args=(main(),), daemon=True, name="stuck-loop").start()
    ready.wait()
    emit("block_start")
    time.sleep(INTERVAL + delay)
    emit("leaving", kind="sys_exit")
    stop.set()
    sys.exit(5)


# -- (d) daemon threads running Python at finalization -------------------------

def churn():
    """Allocates, collects, and starts and joins short-lived threads: Python
    code running in every phase of finalization it lives to see."""
    while True:
        junk = [{"n": i, "s": str(i)} for i in range(200)]
        gc.collect(0)
        child = threading.Thread(target=len, args=(junk,), daemon=True)
        try:
            child.start()
            child.join()
        except RuntimeError:
            pass  # "can't create new thread at interpreter shutdown"


def daemon_finalization(directory, delay):
    armed = threading.Event()
    threading.Thread(target=loop_forever_in_thread, args=(directory, armed),
                     daemon=True, name="daemon-loop").start()
    armed.wait()
    for i in range(20):
        threading.Thread(target=churn, daemon=True, name=f"churn-{i}").start()
    time.sleep(0.3)


SCENARIOS = {
    "asyncio_run_return": asyncio_run_return,
    "asyncio_run_sys_exit": asyncio_run_sys_exit,
    "thread_loops": thread_loops,
    "run_forever_stop": run_forever_stop,
    "dropped_reference": dropped_reference,
    "dropped_reference_at_exit": dropped_reference_at_exit,
    "capture_sys_exit": capture_exit("sys_exit"),
    "capture_raise_exit": capture_exit("raise_exit"),
    "capture_keyboard_interrupt": capture_exit("keyboard_interrupt"),
    "thread_hang_main_exit": thread_hang_main_exit,
    "daemon_finalization": daemon_finalization,
}


if __name__ == "__main__":
    directory, scenario = sys.argv[1], sys.argv[2]
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    emit("start", scenario=scenario, delay=delay)
    SCENARIOS[scenario](directory, delay)
