"""What the commands print with: colour that turns itself off, seconds and
times in one style (paths: aiowatchdog/_paths.py).
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import IO


def seconds(value: float) -> str:
    """A duration for a table: 3 significant figures, in s."""
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 10:
        return f"{value:.1f} s"
    return f"{value:.2f} s"


def utc_time(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


class Style:
    """ANSI styling when on, plain text when off (--no-color, NO_COLOR set,
    or output that is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: IO[str], no_color: bool) -> "Style":
        wanted = not no_color and "NO_COLOR" not in os.environ
        return cls(wanted and hasattr(stream, "isatty") and stream.isatty())

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)


def stdout_style(no_color: bool) -> Style:
    return Style.for_stream(sys.stdout, no_color)
