"""Tells the native core which thread the garbage collector is running on, so
that a sample can say the collector was running on the loop's thread
(loop_activity.gc_running in reports, BlockInfo.activity).

`_native.gc_callback` (a plain C function: it runs at the start and end of
every collection, on every thread) sits in `gc.callbacks` while at least one
watcher needs it: each watcher calls `retain()` when it starts and `release()`
once when it stops, so that nothing of ours stays in `gc.callbacks` when no
watcher runs. A forked child starts with none.
"""
from __future__ import annotations

import gc
import os
import threading

from . import _native

# Reentrant: a watcher may be stopped from a finalizer that a collection runs
# while this thread is inside retain() or release().
_lock = threading.RLock()
_users = 0


def retain() -> None:
    """One more watcher needs the callback (installed by the first)."""
    global _users
    with _lock:
        _users += 1
        if _users == 1 and _native.gc_callback not in gc.callbacks:
            gc.callbacks.append(_native.gc_callback)


def release() -> None:
    """A watcher that called retain() stopped (the last one removes the
    callback). More releases than retains are ignored."""
    global _users
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users:
            return
        try:
            gc.callbacks.remove(_native.gc_callback)
        except ValueError:  # the application emptied gc.callbacks itself
            pass
        # Removed between a collection's start and stop, the mark would stay.
        _native.gc_callback("stop", {})


def _reset_in_child() -> None:
    """After os.fork(), in the child: no watcher of ours runs there (their
    threads were not copied), and the lock may have been held by a thread
    that is not there either."""
    global _lock, _users
    _lock = threading.RLock()
    _users = 0
    try:
        gc.callbacks.remove(_native.gc_callback)
    except ValueError:
        pass
    _native.gc_callback("stop", {})


os.register_at_fork(after_in_child=_reset_in_child)


def users() -> int:
    """Watchers holding the callback now (for tests)."""
    return _users
