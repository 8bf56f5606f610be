"""python -m aiowatchdog report: (being written)."""
from __future__ import annotations

import argparse

NAME = "report"
HELP = "(being written)"


def register(parser: argparse.ArgumentParser) -> None:
    pass


def execute(args: argparse.Namespace) -> int:
    return 2
