"""What every watcher of one event loop shares (hang_inspection's Dumper, the
toolkit's BlockWatcher): its native watchdog, the probe that tells it what
the loop does, the loop's shutdown hook, the gc hook, and its place among the
live watchers, which interpreter exit stops and a forked child forgets.

One lifecycle: made, `_start_watching()` (on error nothing runs), running,
`_begin_stop()` (the watchdog asked to stop; once, whoever calls it),
`_finish_stop()` (its thread joined, its last episodes handed over). A
watcher also stops when its loop shuts down (asyncio.run, uvloop.run,
Runner.close) and at interpreter exit: atexit runs before finalization frees
other threads' states, and the loop runs no more, so what follows would be
a hang. Every watchdog is asked to stop before any is waited for, so that
the captures in progress (one each, at most) finish side by side. In a
forked child only the forking thread exists: the inherited watchers are
marked stopped without a join (stopping them again is harmless), and the
child may start new ones; the native side resets its capture state itself.

Held strongly while running: like a thread, a watcher runs until it is
stopped, whether or not the program keeps it. Held weakly, a forgotten one
was garbage (a cycle through its shutdown hook), stopped without a word by
the hook's finalization while its loop ran, or left sampling through
finalization once its loop had stopped.
"""
from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from typing import Any, Callable, List, Optional, Set

from . import _exec_fence, _gc_phase, _native
from ._loop_probe import make_probe
from ._loop_shutdown import LoopShutdownHook

_live: Set["LoopWatch"] = set()


def _weakly(method: Callable[..., None]) -> Callable[..., None]:
    """`method` (a bound method) called through a weak reference to its
    object: nothing once the object is gone."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*args)
    return call


class LoopWatch:
    """The shared lifecycle; a subclass says what its finished episodes
    become (`_hand_over`) and may add to stopping (`_on_stop`)."""

    # Whether the episodes left at interpreter exit are handed over.
    _hand_over_at_exit = True

    def __init__(self, loop: asyncio.AbstractEventLoop, watchdog: Any, interval: float,
                 on_block_end: Optional[Callable[[], None]] = None) -> None:
        self.loop = loop
        self._watchdog = watchdog
        self._shutdown_hook = LoopShutdownHook(self.stop)
        # The probe's native select wrapper, which the garbage collector
        # cannot see into, holds the chores: they reach this watcher only
        # weakly, or watcher and watchdog would be an uncollectable cycle.
        self._probe = make_probe(loop, watchdog, interval, on_armed=self._shutdown_hook.arm,
                                 on_finished=_weakly(self._hand_over),
                                 on_block_end=_weakly(on_block_end) if on_block_end else None)
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False

    @property
    def running(self) -> bool:
        """Started, not stopped, and its watchdog thread alive (it ends by
        itself only when it cannot go on: logged as an ERROR)."""
        return self._started and not self._stopped and self._watchdog.ended_early is None

    def _start_watching(self, signo: int) -> None:
        _native.install_capture_handler(signo)
        _exec_fence.install()
        _gc_phase.retain()
        try:
            self._watchdog.start()
        except BaseException:
            _gc_phase.release()
            raise
        _live.add(self)
        self._started = True
        self._probe.start()

    def _begin_stop(self) -> bool:
        """Asks the watchdog to stop; True for the one call that did."""
        with self._lock:
            if self._stopped or not self._started:
                self._stopped = True
                return False
            self._stopped = True
        self._on_stop()
        self._probe.cancel()
        self._shutdown_hook.disarm()
        self._watchdog.request_stop()
        _live.discard(self)
        _gc_phase.release()
        return True

    def _finish_stop(self, at_exit: bool = False) -> None:
        """Waits for the watchdog thread (at most one capture), then hands
        over what it saw last."""
        self._watchdog.join()
        finished = self._watchdog.take_finished()
        if not at_exit or self._hand_over_at_exit:
            self._hand_over(finished)

    def stop(self) -> None:
        if self._begin_stop():
            self._finish_stop()

    def _on_stop(self) -> None:
        """Before the probe goes, on the thread that stops it."""

    def _hand_over(self, episodes: List[dict]) -> None:
        raise NotImplementedError

    def _forget_after_fork(self) -> None:
        self._watchdog.forget_after_fork()
        self._stopped = True
        self._probe.cancel()
        self._shutdown_hook.disarm()


@atexit.register
def _stop_all_at_exit() -> None:
    stopping = [watch for watch in list(_live) if watch._begin_stop()]
    for watch in stopping:
        watch._finish_stop(at_exit=True)


def _forget_all_in_child() -> None:
    for watch in list(_live):
        watch._forget_after_fork()
    _live.clear()


os.register_at_fork(after_in_child=_forget_all_in_child)
