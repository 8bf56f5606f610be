"""Forks while the watchdog is capturing, for the fork test. Usage:

    python fork_program.py DIR FORKS

The loop hangs again and again (sampled every 5 ms, so captures run almost
all the time) while another thread forks FORKS times. Each child checks that
it has one thread, stops the dumper it inherited (harmless), then watches a
loop of its own and hangs it once: its report goes to DIR/child-N. A child
that does not finish in 20 s counts as hung (a deadlock). Prints
{"results": [exit code or "hung", ...]}.
"""
import asyncio
import json
import os
import sys
import threading
import time

from aiowatchdog import hang_inspection


def blocked_in_child():
    time.sleep(0.4)


def blocked_in_parent():
    time.sleep(0.3)


def child(directory, inherited):
    threads = len(os.listdir("/proc/self/task"))
    inherited.stop()

    async def main():
        async with hang_inspection.start(directory, interval=0.1, samples=1):
            await asyncio.sleep(0.2)
            blocked_in_child()
            await asyncio.sleep(0.2)

    asyncio.run(main())
    os._exit(0 if threads == 1 else 3)


def forker(forks, directory, dumper, results):
    for i in range(forks):
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            try:
                child(os.path.join(directory, f"child-{i}"), dumper)
            finally:
                os._exit(4)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                results.append(os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                results.append("hung")
                break
            time.sleep(0.01)


async def main(directory, forks):
    dumper = hang_inspection.start(os.path.join(directory, "parent"), interval=0.02,
                                   samples=1000, sample_interval=0.005,
                                   max_episodes_per_minute=1_000_000)
    results = []
    thread = threading.Thread(target=forker, args=(forks, directory, dumper, results))
    thread.start()
    while thread.is_alive():
        blocked_in_parent()
        await asyncio.sleep(0.01)
    thread.join()
    await hang_inspection.stop_wait(dumper)
    print(json.dumps({"event": "done", "results": results}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    sys.exit(0)
