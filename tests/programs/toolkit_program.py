"""A real asyncio program for the toolkit's tests (test_toolkit.py): it blocks
its loop in known places under aiowatchdog.watch, allow_blocking,
log_slow_callbacks and hang_inspection, and prints one JSON line per result.

    python toolkit_program.py DIR SCENARIO [--loop asyncio|uvloop]
"""
import argparse
import asyncio
import json
import logging
import os
import threading
import time

import aiowatchdog
from aiowatchdog import hang_inspection, log_slow_callbacks


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def block_fields(info):
    return {
        "duration": info.duration, "function": info.function,
        "file": os.path.basename(info.file or ""), "line": info.line,
        "task": info.task_name, "ongoing": info.ongoing,
        "stack": [f.function for f in info.stack],
        "activity": info.activity.state if info.activity else None,
    }


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def sleep_in_task(seconds):
    time.sleep(seconds)


async def sleeper(seconds):
    sleep_in_task(seconds)


async def watch_in_coroutine():
    blocks = []
    with aiowatchdog.watch(0.02, blocks.append):
        await asyncio.sleep(0.01)
        task = asyncio.create_task(sleeper(0.1), name="sleeper-task")
        await task
        spin(0.06)
        await asyncio.sleep(0)
        spin(0.004)  # under the threshold
        await asyncio.sleep(0)
        with aiowatchdog.allow_blocking():
            time.sleep(0.15)
        await asyncio.sleep(0.05)  # idle: never a block
        time.sleep(0.08)  # still going on when the watch ends
    emit("blocks", blocks=[block_fields(b) for b in blocks])


async def watch_5ms():
    blocks = []
    with aiowatchdog.watch(0.005, blocks.append):
        for _ in range(3):
            await asyncio.sleep(0.02)
            spin(0.025)
        await asyncio.sleep(0.1)
    emit("blocks", blocks=[block_fields(b) for b in blocks])


def watch_around_asyncio_run():
    blocks = []
    with aiowatchdog.watch(0.02, blocks.append):
        asyncio.run(sleeper(0.08))
        asyncio.run(sleeper(0.06))
    asyncio.run(sleeper(0.07))  # after the watch: not seen
    emit("blocks", blocks=[block_fields(b) for b in blocks])


def decorators():
    blocks = []

    @aiowatchdog.watch(0.02, blocks.append)
    async def decorated_coroutine():
        spin(0.05)

    @aiowatchdog.watch(0.02, blocks.append)
    def decorated_function():
        asyncio.run(sleeper(0.05))

    asyncio.run(decorated_coroutine())
    decorated_function()
    emit("blocks", blocks=[block_fields(b) for b in blocks])


async def raising_callback():
    def on_block(info):
        raise RuntimeError("on_block failed")

    with aiowatchdog.watch(0.02, on_block):
        spin(0.05)
        await asyncio.sleep(0.01)
        spin(0.05)
        await asyncio.sleep(0.01)
    emit("survived")


async def allow_blocking_and_reports(directory):
    dumper = hang_inspection.start(directory, interval=0.05, samples=1,
                                   max_episodes_per_minute=100)
    await asyncio.sleep(0.05)
    with aiowatchdog.allow_blocking():
        time.sleep(0.3)
    await asyncio.sleep(0.05)
    allowed = dumper.episodes
    sleep_in_task(0.3)
    await asyncio.sleep(0.05)
    await hang_inspection.stop_wait(dumper)
    emit("episodes", allowed=allowed, after=dumper.episodes)


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelname, record.getMessage()))


async def slow_callbacks():
    records = Records()
    logging.getLogger("aiowatchdog.log_slow_callbacks").addHandler(records)
    log_slow_callbacks.enable(0.03)
    await asyncio.create_task(sleeper(0.08), name="slow-task")
    with aiowatchdog.allow_blocking():
        time.sleep(0.1)
    await asyncio.sleep(0)
    spin(0.01)
    await asyncio.sleep(0)
    calls = []
    log_slow_callbacks.enable(0.03, on_slow_callback=lambda name, took: calls.append([name, took]))
    await asyncio.create_task(sleeper(0.06), name="told-task")
    log_slow_callbacks.disable()
    await asyncio.create_task(sleeper(0.06), name="after-disable")
    emit("slow", messages=records.messages, calls=calls)


def fork_and_exit():
    """A child forked inside a watch leaves it without waiting for the
    parent's watchdog thread; a watcher still running at exit (a daemon
    thread's loop with log_slow_callbacks on) is stopped by the atexit hook."""
    async def fork_inside_a_watch():
        blocks = []
        with aiowatchdog.watch(0.02, blocks.append):
            time.sleep(0.05)
            await asyncio.sleep(0.01)
            pid = os.fork()
            if pid != 0:
                _, status = os.waitpid(pid, 0)
        if pid == 0:
            # The child left its watch: a distinctive code for the parent. It
            # exits here, not through the parent's loop, which asyncio resets
            # in a forked child (3.14+ then refuses to run its tasks there).
            os._exit(7)
        return len(blocks), os.WEXITSTATUS(status)

    result = asyncio.run(fork_inside_a_watch())
    emit("forked", told=result[0], child_exit=result[1])

    def daemon_loop():
        async def forever():
            log_slow_callbacks.enable(0.02)
            while True:
                await asyncio.sleep(0.005)
        asyncio.run(forever())

    threading.Thread(target=daemon_loop, daemon=True).start()
    time.sleep(0.2)
    emit("exiting")


SCENARIOS = {
    "watch_in_coroutine": watch_in_coroutine,
    "watch_5ms": watch_5ms,
    "raising_callback": raising_callback,
    "allow_blocking_and_reports": allow_blocking_and_reports,
    "slow_callbacks": slow_callbacks,
}
SYNC_SCENARIOS = {"watch_around_asyncio_run": watch_around_asyncio_run,
                  "decorators": decorators, "fork_and_exit": fork_and_exit}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("scenario", choices=[*SCENARIOS, *SYNC_SCENARIOS])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.scenario in SYNC_SCENARIOS:
        SYNC_SCENARIOS[args.scenario]()
        return
    scenario = SCENARIOS[args.scenario]
    coro = scenario(args.directory) if args.scenario == "allow_blocking_and_reports" else scenario()
    if args.loop == "uvloop":
        import uvloop
        uvloop.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    main()
