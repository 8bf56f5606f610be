"""What the commands print with: colour that turns itself off, paths short
enough to read, seconds and times in one style. Paths are shortened by their
shape, not by this machine's directories, so reports from other hosts (a
fleet's directories) read the same: `<stdlib>/asyncio/base_events.py`,
`<site>/aiohttp/web_protocol.py`, `…/app/handlers/orders.py`.
"""
from __future__ import annotations

import os
import re
import sys
from datetime import datetime, timezone
from typing import IO, Optional

_SITE = re.compile(r"^.*/(?:site|dist)-packages/")
_STDLIB = re.compile(r"^.*/lib/python\d+\.\d+t?/")
# Paths longer than this keep their last three parts.
MAX_PATH = 48


def shorten_path(path: str, cwd: Optional[str] = None) -> str:
    """`path` as a reader wants it: relative to the current directory when
    under it, `<site>/` or `<stdlib>/` for library code, else its last three
    parts behind an ellipsis when it is long."""
    if not path.startswith("/"):
        return path  # "<frozen ...>", "<string>", a native library's "?"
    site = _SITE.sub("<site>/", path, count=1)
    if site != path:
        return site
    stdlib = _STDLIB.sub("<stdlib>/", path, count=1)
    if stdlib != path:
        return stdlib
    cwd = cwd if cwd is not None else os.getcwd()
    if cwd != "/" and path.startswith(cwd.rstrip("/") + "/"):
        return path[len(cwd.rstrip("/")) + 1:]
    if len(path) > MAX_PATH:
        parts = path.split("/")
        if len(parts) > 4:
            return "…/" + "/".join(parts[-3:])
    return path


def is_library_path(path: str) -> bool:
    """By its shape alone: the standard library or an installed package on
    any host, or frozen code."""
    return path.startswith("<frozen") or bool(_SITE.match(path) or _STDLIB.match(path))


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
