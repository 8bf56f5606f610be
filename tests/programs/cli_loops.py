"""Blocks its event loops on purpose, knowing nothing of aiowatchdog: for
`python -m aiowatchdog run` (tests/integration/test_cli_run.py). Usage:

    python -m aiowatchdog run [options] cli_loops.py BLOCK_S SCENARIO... [exit=N]
    python -m aiowatchdog run [options] -m cli_loops BLOCK_S SCENARIO... [exit=N]

First it prints one JSON line, {"event": "main", ...}, with what it sees of
itself (sys.argv, sys.path[0], __file__, __name__); then runs the scenarios
in order, each blocking for BLOCK_S seconds in a function the tests look for
in the loop thread's section of a report:

  main    asyncio.run: blocking_in_main_loop
  thread  asyncio.run on the thread "loop-thread": blocking_in_thread_loop
  rerun   one loop, run_until_complete twice, neither closed nor running in
          between: blocking_before_stop; then, the loop stopped, the main
          thread idles in idle_while_loop_stopped (never to be reported);
          then blocking_on_second_run
  uvloop  uvloop.run: blocking_in_uvloop

and exits with sys.exit(N) (default 0).
"""
import asyncio
import json
import os
import sys
import threading
import time


def blocking_in_main_loop(seconds):
    time.sleep(seconds)


def blocking_in_thread_loop(seconds):
    time.sleep(seconds)


def blocking_before_stop(seconds):
    time.sleep(seconds)


def idle_while_loop_stopped(seconds):
    time.sleep(seconds)


def blocking_on_second_run(seconds):
    time.sleep(seconds)


def blocking_in_uvloop(seconds):
    time.sleep(seconds)


async def call(function, seconds):
    await asyncio.sleep(0)  # the loop has run an iteration: the dumper is armed
    function(seconds)


def in_thread(seconds):
    thread = threading.Thread(
        target=lambda: asyncio.run(call(blocking_in_thread_loop, seconds)), name="loop-thread")
    thread.start()
    thread.join()


def rerun(seconds):
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(call(blocking_before_stop, seconds))
        idle_while_loop_stopped(seconds)
        loop.run_until_complete(call(blocking_on_second_run, seconds))
    finally:
        loop.close()


def with_uvloop(seconds):
    import uvloop

    uvloop.run(call(blocking_in_uvloop, seconds))


SCENARIOS = {
    "main": lambda seconds: asyncio.run(call(blocking_in_main_loop, seconds)),
    "thread": in_thread,
    "rerun": rerun,
    "uvloop": with_uvloop,
}


def main(argv):
    print(json.dumps({"event": "main", "argv": sys.argv, "path0": sys.path[0],
                      "file": __file__, "name": __name__, "cwd": os.getcwd()}), flush=True)
    seconds = float(argv[0])
    code = 0
    for word in argv[1:]:
        if word.startswith("exit="):
            code = int(word[len("exit="):])
        else:
            SCENARIOS[word](seconds)
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
