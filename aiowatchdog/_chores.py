"""Work done on the watched loop's thread, with the GIL, when the native
watchdog says it is due (LoopChores): hand finished episodes over (by
default, the recovery WARNING), keep the loop's tasks at the end of a block,
publish thread names, which the watchdog needs but cannot ask `threading`
for (it writes reports without the GIL), and say when the application
replaced our signal handler or our watchdog thread ended early.

Names are republished when the number of threads changed (checked about ten
times a second) and at least once a second. A thread started in the very loop
step that then blocks is never seen: its section shows the kernel's name.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, List, Optional, Set

from . import _native
from ._recovery_warning import log_episodes
from ._thread_names import publish_thread_names

logger = logging.getLogger("aiowatchdog")

_NAMES_PERIOD_S = 1.0


_handler_reinstalls_told = 0  # process-wide, like the handler


def tell_handler_reinstalls() -> None:
    """One WARNING each time the application was found to have replaced our
    capture signal's handler (we put ours back, chaining to theirs)."""
    global _handler_reinstalls_told
    reinstalls = _native.capture_handler_reinstalls()
    if reinstalls > _handler_reinstalls_told:
        _handler_reinstalls_told = reinstalls
        logger.warning(
            "the handler of aiowatchdog's capture signal %d was replaced by another; aiowatchdog "
            "put its own handler back and passes the signals it does not send to the other one",
            _native.installed_capture_signal())


class LoopChores:
    """Does the chores a `watchdog.touch()` call reported due. Finished
    episodes go to `on_finished` (default: the recovery WARNING);
    `on_block_end`, if any, is called by the touch that ended a hang, before
    the loop runs anything else."""

    def __init__(self, watchdog: Any,
                 on_finished: Callable[[List[dict]], None] = log_episodes,
                 on_block_end: Optional[Callable[[], None]] = None) -> None:
        self._watchdog = watchdog
        self._on_finished = on_finished
        self._on_block_end = on_block_end
        self._thread_count = -1
        self._names_due = 0.0
        self._errors_logged: Set[str] = set()
        self._end_told = False

    def run(self, chores: int) -> None:
        """Called inside the application's loop (selector.select, a
        heartbeat): never raises into it. An error is logged, once per kind."""
        try:
            self._run(chores)
        except Exception as e:  # noqa: BLE001 - the loop must never see ours
            try:  # telling it may fail too (MemoryError): never into the loop either
                key = f"{type(e).__name__}: {e}"
                if key not in self._errors_logged:
                    self._errors_logged.add(key)
                    logger.exception("aiowatchdog could not do its chores on the loop's thread; "
                                     "the loop goes on (this error is not logged again)")
            except Exception:  # noqa: BLE001
                pass

    def _run(self, chores: int) -> None:
        if chores & _native.CHORE_BLOCK_ENDED and self._on_block_end is not None:
            self._on_block_end()
        if chores & _native.CHORE_FINISHED_EPISODES:
            self._on_finished(self._watchdog.take_finished())
        if chores & _native.CHORE_HOUSEKEEPING:
            tell_handler_reinstalls()
            self._tell_early_end()
            count = threading.active_count()
            now = time.monotonic()
            if count != self._thread_count or now >= self._names_due:
                self._thread_count = count
                self._names_due = now + _NAMES_PERIOD_S
                publish_thread_names()

    def _tell_early_end(self) -> None:
        """One ERROR if the watchdog thread ended without being stopped."""
        why = self._watchdog.ended_early
        if why is not None and not self._end_told:
            self._end_told = True
            logger.error("aiowatchdog's watchdog thread ended (%s): hangs of this loop are no "
                         "longer caught; the application goes on", why)
