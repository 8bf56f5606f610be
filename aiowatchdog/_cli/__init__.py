"""The command line, `python -m aiowatchdog COMMAND`: one small module per
command behind one protocol. Each module has NAME, HELP, `register(parser)`
(adds its arguments to its own subparser; the module docstring is the
description, with an example) and `execute(args) -> int` (the exit code).

Exit codes: a command's own result (0 when it did its job); 2 for bad input,
with one line naming the bad value on stderr and never a traceback: a
command raises CliError for that.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import List, Optional

from ._errors import CliError

__all__ = ["CliError", "main"]


def _commands() -> List[ModuleType]:
    from . import demo, report, run, show

    return [run, report, show, demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aiowatchdog",
        description="aiowatchdog: catch a blocked asyncio event loop in the act, and read "
        "what it caught.\n\nexamples:\n"
        "  python -m aiowatchdog run --dir hangs/ server.py --port 8080\n"
        "  python -m aiowatchdog report hangs/\n"
        "  python -m aiowatchdog show hangs/stacktrace-20261122-103000.123456-4242.txt\n"
        "  python -m aiowatchdog demo\n\n"
        "'python -m aiowatchdog COMMAND --help' explains each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _commands():
        sub = commands.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.register(sub)
        sub.set_defaults(execute=module.execute, subparser=sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.execute(args)
    except CliError as e:
        args.subparser.exit(2, f"{args.subparser.prog}: error: {e}\n")
    except BrokenPipeError:  # `... report DIR | head`: the reader left
        sys.stderr.close()
        return 0
