"""A hang_inspection dumper on every asyncio event loop while it runs, for
`python -m aiowatchdog run`: the program under it starts its loops itself,
on any thread, and knows nothing of aiowatchdog.

Told by _loop_watchers when a loop starts running (on the loop's thread,
inside run_forever), LoopDumpers starts a dumper for it, and stops that
dumper when the loop stops running: a loop that stopped without being closed
(run_until_complete returned) sends no heartbeat, and its silence is not a
hang. The next run of the loop gets a new dumper. A dumper costs about
0.3 ms to start and stop, per run of a loop.

A dumper that could not start is logged on the "aiowatchdog" logger (once
per distinct error) and the loop runs unwatched: never an exception into the
program. The runs after a loop's shutdown_asyncgens() are not watched (see
_loop_started).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import weakref
from typing import Any, Dict, Mapping, Set

from . import _loop_watchers, hang_inspection
from ._support import check_supported

logger = logging.getLogger("aiowatchdog")


class LoopDumpers:
    """`start_options`: keyword arguments for hang_inspection.start, all but
    `loop`. Open with open(); close() stops every dumper."""

    def __init__(self, directory: str, start_options: Mapping[str, Any]) -> None:
        self.directory = directory
        self._start_options = dict(start_options)
        self._lock = threading.Lock()
        self._dumpers: Dict[asyncio.AbstractEventLoop, hang_inspection.Dumper] = {}
        # Loops whose shutdown_asyncgens() ran: their dumper's shutdown hook
        # stopped it. Weak: a closed loop goes when the program drops it.
        self._shut_down: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()
        self._errors_logged: Set[str] = set()
        self._closed = False
        os.register_at_fork(after_in_child=functools.partial(_forget_in_child, weakref.ref(self)))

    def open(self) -> "LoopDumpers":
        check_supported("aiowatchdog run")
        _loop_watchers.subscribe(self)
        return self

    def close(self) -> None:
        """No new dumper from now on; the running ones stop (each waits for
        its capture in progress, if any)."""
        _loop_watchers.unsubscribe(self)
        with self._lock:
            self._closed = True
            dumpers = list(self._dumpers.values())
            self._dumpers.clear()
        for dumper in dumpers:
            hang_inspection.stop(dumper)

    def _loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        # asyncio.run, Runner.close and uvloop.run run the loop once more
        # after shutdown_asyncgens(), for shutdown_default_executor(): that
        # run only waits for the executor's threads, and a dumper's shutdown
        # hook (an async generator) would be refused with a ResourceWarning.
        # asyncio's loops say so in an attribute; uvloop's keeps it in C, so
        # the dumper that stopped itself at the shutdown says it for both.
        if getattr(loop, "_asyncgens_shutdown_called", False):
            return
        with self._lock:
            if self._closed or loop in self._shut_down:
                return
            running = self._dumpers.get(loop)
            if running is not None and not running._stopped:
                return  # re-entered (nest_asyncio): already watched
        if hang_inspection.loop_dumper(loop) is not None:
            return  # the program watches this loop itself (its own start() call)
        # Outside the lock: start() writes to the directory and starts a
        # thread. Only this thread can start or stop this loop meanwhile.
        try:
            dumper = hang_inspection.start(self.directory, loop=loop, **self._start_options)
        except Exception as e:
            self._log_start_error(loop, e)
            return
        dumper._automatic = True  # a program's own start() on this loop replaces it
        with self._lock:
            if not self._closed:
                self._dumpers[loop] = dumper
                return
        hang_inspection.stop(dumper)  # closed while it started

    def _loop_stopped(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            dumper = self._dumpers.pop(loop, None)
            if dumper is not None and dumper._stopped:
                # It stopped itself: its shutdown hook saw shutdown_asyncgens().
                self._shut_down.add(loop)
                return
        if dumper is not None:
            hang_inspection.stop(dumper)

    def _log_start_error(self, loop: asyncio.AbstractEventLoop, error: Exception) -> None:
        """The first time for each distinct error, with its traceback: a
        program that runs a loop thousands of times against a full disk
        should not log thousands of them."""
        key = f"{type(error).__name__}: {error}"
        with self._lock:
            if key in self._errors_logged:
                return
            self._errors_logged.add(key)
        logger.error("aiowatchdog could not watch %r (%s); it runs unwatched, and this "
                     "error is not logged again", loop, key, exc_info=error)

    def _forget(self) -> None:
        """In a forked child: the inherited dumpers were forgotten by
        hang_inspection (their threads do not exist here). A loop that ran
        at the fork gets a dumper when it runs again."""
        self._dumpers.clear()
        self._lock = threading.Lock()  # another thread may have held it at the fork


def _forget_in_child(ref: "weakref.ref[LoopDumpers]") -> None:
    loop_dumpers = ref()
    if loop_dumpers is not None:
        loop_dumpers._forget()
