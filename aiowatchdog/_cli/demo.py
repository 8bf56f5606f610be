"""Runs a small asyncio program that blocks its own loop three ways under the
watchdog (time.sleep in a coroutine, a CPU-bound function, a lock another
thread holds), lists the reports it wrote and shows the first one, then
summarizes them as `python -m aiowatchdog report` does.

example:
  python -m aiowatchdog demo --dir /tmp/hangs
"""
from __future__ import annotations

import argparse

NAME = "demo"
HELP = "block an event loop three ways under the watchdog, then report on it"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="report directory (default: a new temporary directory)")


def execute(args: argparse.Namespace) -> int:
    from .._support import unsupported_reason
    from ._errors import CliError
    from .demo_program import run_demo

    reason = unsupported_reason()
    if reason is not None:
        raise CliError(reason)

    return 0 if run_demo(args.dir) else 1
