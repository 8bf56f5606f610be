"""Command line: `python -m aiowatchdog demo [--dir DIR]`."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiowatchdog",
        description="aiowatchdog: catch a blocked asyncio event loop in the act.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="block an event loop three ways under the watchdog and show a report",
        description="Runs a small asyncio program that blocks its own loop with time.sleep, "
        "a CPU-bound function and a lock held by another thread, under the watchdog; then "
        "prints where the reports went and shows the first one.\n\n"
        "example: python -m aiowatchdog demo --dir /tmp/hangs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--dir", help="report directory (default: a new temporary directory)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        return 0 if run_demo(args.dir) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
