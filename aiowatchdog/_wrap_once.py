"""Wrapping a function of the host's (os.execv, threading.Thread.start) once
per process: the wrapper keeps the original under a marker attribute, so a
second install, ours or a copy of the package's, never wraps it twice."""

import threading
from typing import Any, Callable, Set, Tuple

_lock = threading.Lock()
_done: Set[Tuple[int, str]] = set()  # (id(owner), name): modules and classes live on


def wrap_once(owner: Any, name: str, wrap: Callable[[Any], Any], marker: str) -> None:
    """Sets owner.<name> to wrap(current), once per process: not again after
    the host replaced ours, nor when the current one carries `marker` (the
    wrapper holds the original there)."""
    with _lock:
        if (id(owner), name) in _done:
            return
        current = getattr(owner, name)
        if not hasattr(current, marker):
            wrapped = wrap(current)
            setattr(wrapped, marker, current)
            setattr(owner, name, wrapped)
        _done.add((id(owner), name))
