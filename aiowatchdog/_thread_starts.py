"""threading.Thread.start, telling the native name table of each new thread.

Reports are written without the GIL, so thread names come from a table the
Python side fills (native/thread_names.h): all threads, refreshed from the
loop's thread, and that thread is the one a hang blocks. A thread started in
the loop step that then blocks (a lock holder, a deadlock's other side) would
be named only by the kernel ("python"). So the starting thread notes the new
one as soon as start() returns, when its native id is known (start() waits
for the thread to run). Threads started by _thread directly, and names
changed later, are picked up by the next refresh.

Installed by the first dumper's start, once per process, and left installed:
for the host's code it is the same method (its exceptions, return value and
signature unchanged), plus one call into our table, whose own errors are
never raised to the caller.
"""

import functools
import threading
from typing import Any

from . import _native
from ._wrap_once import wrap_once


def _noting(start: Any) -> Any:
    @functools.wraps(start)
    def start_and_note(self: threading.Thread, *args: Any, **kwargs: Any) -> Any:
        result = start(self, *args, **kwargs)
        try:
            _native.note_thread_name(self.native_id or 0, self.ident or 0, self.name)
        except Exception:  # a name our table cannot take: the next refresh has it
            pass
        return result

    return start_and_note


def install() -> None:
    """Wraps threading.Thread.start once per process (idempotent)."""
    wrap_once(threading.Thread, "start", _noting, "__aiowatchdog_original__")
