"""Thread names for the reports, which are written without the GIL: they come
from a table the Python side fills (native/capture/thread_names.h). All threads are
published from the loop's thread (publish_thread_names, a chore), and each
new threading.Thread tells the table its own name, from the new thread
itself, before its target runs (install), since the loop's thread is the one
a hang blocks. A thread started in
the loop step that then blocks (a lock holder, a deadlock's other side, a
run_in_executor worker that keeps the GIL from its first instruction) would
be named only by the kernel ("python"). So Thread._bootstrap_inner, which
every Thread runs first in its new thread (subclasses included), notes the
thread's name before it does anything else: before start() has even
returned, and before the target could keep the GIL from the starting thread.
Where an interpreter has no _bootstrap_inner, start() is wrapped instead and
the starting thread notes the new one once start() returns. Threads started
by _thread directly, and names changed later, are picked up by the next
refresh.

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


def publish_thread_names() -> None:
    """Every thread `threading` knows, into the table (GIL held)."""
    _native.publish_thread_names(
        [(t.native_id or 0, t.ident or 0, t.name) for t in threading.enumerate()]
    )


def _note(thread: threading.Thread, native_id: int, ident: int) -> None:
    try:  # the name too: a subclass's `name` property may raise
        _native.note_thread_name(native_id, ident, thread.name)
    except Exception:  # a name our table cannot take: the next refresh has it
        pass


def _noting_in_new_thread(bootstrap_inner: Any) -> Any:
    @functools.wraps(bootstrap_inner)
    def note_then_bootstrap(self: threading.Thread, *args: Any, **kwargs: Any) -> Any:
        # Nothing raised here may keep the original from running: it is what
        # tells start(), waiting in the starting thread, that this one began.
        try:
            _note(self, threading.get_native_id(), threading.get_ident())
        except BaseException:
            pass
        return bootstrap_inner(self, *args, **kwargs)

    return note_then_bootstrap


def _noting_after_start(start: Any) -> Any:
    @functools.wraps(start)
    def start_and_note(self: threading.Thread, *args: Any, **kwargs: Any) -> Any:
        result = start(self, *args, **kwargs)
        _note(self, self.native_id or 0, self.ident or 0)
        return result

    return start_and_note


def install() -> None:
    """Wraps threading.Thread once per process (idempotent)."""
    if hasattr(threading.Thread, "_bootstrap_inner"):
        wrap_once(threading.Thread, "_bootstrap_inner", _noting_in_new_thread,
                  "__aiowatchdog_original__")
    else:
        wrap_once(threading.Thread, "start", _noting_after_start, "__aiowatchdog_original__")
