"""Ends the ways a program can end, knowing nothing of aiowatchdog: for
`python -m aiowatchdog run` (tests/integration/test_cli_run.py), which must
end the same way. Each runs an event loop first. Usage:

    cli_exits.py raise     an exception out of asyncio.run (exit code 1)
    cli_exits.py sigterm   kills itself with SIGTERM (dies of it: -15)
    cli_exits.py sigint    Ctrl-C inside asyncio.run: an uncaught
                           KeyboardInterrupt (dies of SIGINT: -2)
"""
import asyncio
import os
import signal
import sys
import time


async def failing_coroutine():
    await asyncio.sleep(0)
    raise ValueError("failing_coroutine failed")


async def quiet():
    await asyncio.sleep(0.01)


async def interrupted():
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.sleep(10)


def main(scenario):
    if scenario == "raise":
        asyncio.run(failing_coroutine())
    elif scenario == "sigterm":
        asyncio.run(quiet())
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
    elif scenario == "sigint":
        asyncio.run(interrupted())
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main(sys.argv[1])
