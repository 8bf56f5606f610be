"""BlockWatchers for every asyncio event loop that runs, while a subscriber
wants them: aiowatchdog.watch around code that starts loops itself
(`with watch(): asyncio.run(main())`), log_slow_callbacks, and the pytest
plugin.

asyncio offers no hook for "a loop starts running", but every loop built on
asyncio.BaseEventLoop (asyncio's own, and subclasses) calls
`asyncio.events._set_running_loop(loop)` on its thread when run_forever
begins, and `(None)` when it ends, looking the function up at each call. So
that function is wrapped, while any subscriber exists, and each LoopWatchers
starts a watcher when a loop starts running and stops it when the loop stops
(a stopped loop is not a blocked one). uvloop sets its running loop in C,
through the `asyncio._set_running_loop` it bound when it was imported, and
is not seen this way unless `see_uvloop_imported_later()` ran first;
`LoopWatchers.watch_running_loop()` covers a loop that already runs.
hang_inspection's per-loop dumpers for `python -m aiowatchdog run`
(_loop_dumpers.py) subscribe the same way.
"""
from __future__ import annotations

import asyncio
import asyncio.events
import logging
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Protocol

from ._block_watcher import BlockWatcher, OnBlock
from ._support import check_supported

logger = logging.getLogger("aiowatchdog")


class LoopSubscriber(Protocol):
    """Told on the loop's thread, inside run_forever, right after the loop
    became this thread's running loop, and right after it stopped being it."""

    def _loop_started(self, loop: asyncio.AbstractEventLoop) -> Any: ...

    def _loop_stopped(self, loop: asyncio.AbstractEventLoop) -> None: ...


_lock = threading.Lock()
_subscribers: List[LoopSubscriber] = []
# What the wrapper calls: the function it replaced when it was last put in.
# Kept when the wrapper is taken out: a uvloop that bound the wrapper
# (see_uvloop_imported_later) calls it for good.
_original_set_running_loop: Callable[[Optional[asyncio.AbstractEventLoop]], None] = (
    asyncio.events._set_running_loop
)


# The process the subscribers' watchers run in. asyncio's own fork hook
# (3.12.x/3.13.x point releases and 3.14+) calls _set_running_loop(None) in a
# forked child before our hooks have forgotten the inherited watchers (fork
# hooks run in the order registered, asyncio's first): telling the
# subscribers then would stop a watcher by waiting for a watchdog thread that
# does not exist in the child. Our own hook below moves this to the child.
_pid = os.getpid()


def _forget_parent_after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forget_parent_after_fork)


def _set_running_loop(loop: Optional[asyncio.AbstractEventLoop]) -> None:
    previous = asyncio.events._get_running_loop()
    _original_set_running_loop(loop)
    if os.getpid() != _pid:
        return  # a forked child, inside asyncio's fork hook: see _pid
    with _lock:
        subscribers = list(_subscribers)
    for subscriber in subscribers:
        try:
            if loop is not None:
                subscriber._loop_started(loop)
            elif previous is not None:
                subscriber._loop_stopped(previous)
        except Exception:  # never into the loop's run_forever
            logger.exception("aiowatchdog could not start or stop watching %r", loop or previous)


def subscribe(subscriber: LoopSubscriber) -> None:
    global _original_set_running_loop
    with _lock:
        if not _subscribers and asyncio.events._set_running_loop is not _set_running_loop:
            _original_set_running_loop = asyncio.events._set_running_loop
            asyncio.events._set_running_loop = _set_running_loop
        _subscribers.append(subscriber)


def unsubscribe(subscriber: LoopSubscriber) -> None:
    with _lock:
        if subscriber in _subscribers:
            _subscribers.remove(subscriber)
        if not _subscribers and asyncio.events._set_running_loop is _set_running_loop:
            asyncio.events._set_running_loop = _original_set_running_loop


def see_uvloop_imported_later() -> None:
    """uvloop binds `asyncio._set_running_loop` once, when uvloop.loop is
    imported, and calls that from its C run_forever. Put the wrapper there
    too, for good, so that a uvloop imported after this call tells the
    subscribers as asyncio's loops do. With no subscriber the wrapper only
    forwards. For `python -m aiowatchdog run`, which calls it before the
    program imports anything; a uvloop imported earlier is not seen."""
    with _lock:
        if asyncio._set_running_loop is not _set_running_loop:  # type: ignore[attr-defined]
            asyncio._set_running_loop = _set_running_loop  # type: ignore[attr-defined]


class LoopWatchers:
    """One BlockWatcher per running loop, for as long as this is open.
    `thread`: only loops started on that thread (threading.get_ident()), or
    any thread (None)."""

    def __init__(self, threshold: float, on_block: Optional[OnBlock], *,
                 thread: Optional[int] = None, native_stacks: bool = True) -> None:
        self.threshold = threshold
        self._on_block = on_block
        self._thread = thread
        self._native_stacks = native_stacks
        # Read without the lock (a dict read is atomic), per callback by
        # log_slow_callbacks; changed under it.
        self.watchers_by_loop: Dict[asyncio.AbstractEventLoop, BlockWatcher] = {}
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> "LoopWatchers":
        check_supported("aiowatchdog")  # before any loop is watched
        subscribe(self)
        return self

    def watch_running_loop(self) -> Optional[BlockWatcher]:
        """Watches the loop running on this thread now, if any (until it
        stops running or this closes)."""
        loop = asyncio.events._get_running_loop()
        return self._loop_started(loop) if loop is not None else None

    def watcher_for(self, loop: asyncio.AbstractEventLoop) -> Optional[BlockWatcher]:
        return self.watchers_by_loop.get(loop)  # a dict read: atomic, no lock

    def close(self) -> None:
        """Stops every watcher (each hands over its block in progress)."""
        unsubscribe(self)
        with self._lock:
            self._closed = True
            watchers = list(self.watchers_by_loop.values())
            self.watchers_by_loop.clear()  # the same dict: readers hold its .get
        for watcher in watchers:
            watcher.stop()

    def _loop_started(self, loop: asyncio.AbstractEventLoop) -> Optional[BlockWatcher]:
        if self._thread is not None and threading.get_ident() != self._thread:
            return None
        if getattr(loop, "_asyncgens_shutdown_called", False):
            # asyncio.run (and Runner.close) runs the loop once more after
            # shutdown_asyncgens(), for shutdown_default_executor(): that run
            # only waits for the executor's threads, and a watcher's shutdown
            # hook (an async generator) would be refused with a
            # ResourceWarning, an exception under -W error. Not watched.
            return None
        with self._lock:
            if self._closed:
                return None
            watcher = self.watchers_by_loop.get(loop)
            if watcher is not None and not watcher._stopped:
                return watcher  # (its thread may have ended: logged, and kept till the loop's end)
            watcher = BlockWatcher(loop, self.threshold, self._on_block,
                                   native_stacks=self._native_stacks)
            self.watchers_by_loop[loop] = watcher
        return watcher.start()

    def _loop_stopped(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            watcher = self.watchers_by_loop.pop(loop, None)
        if watcher is not None:
            watcher.stop()
