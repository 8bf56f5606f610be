"""Source paths by their shape, not by this machine's directories, so that
reports from other hosts (a fleet's directories) read the same:
`<stdlib>/asyncio/base_events.py`, `<site>/aiohttp/web_protocol.py`,
`…/app/handlers/orders.py`. Used by the command line and the exporters.
"""
from __future__ import annotations

import os
import re
from typing import Optional

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
