"""How the watched loop tells the native watchdog what it is doing: a probe
on the loop reports each transition with `watchdog.touch(idle)`, and runs the
chores the answer says are due (see _chores.py).

Two probes, one per kind of loop:

- SelectorProbe, for loops with a Python selector (asyncio's own): the
  selector's select() is wrapped on the instance, so the loop reports "idle"
  as it enters it and "busy" as it leaves it. A hang is then exactly an
  iteration that runs too long, and an idle loop is never woken by us.
- HeartbeatProbe, for the others (uvloop runs its selector in C): a callback
  scheduled every interval/2 reports "busy"; a hang is no heartbeat for
  `interval`. It wakes an idle loop 2/interval times a second.

Both arm on the loop's thread, from a callback, and stop reporting on cancel().
"""
from __future__ import annotations

import asyncio
import selectors
from typing import Any, Callable, List, Optional

from . import _native
from ._chores import LoopChores
from ._recovery_warning import log_episodes
from ._loops import on_loop_thread, running_loop

OnFinished = Callable[[List[dict]], None]


class _Probe:
    def __init__(self, loop: asyncio.AbstractEventLoop, watchdog: Any,
                 on_armed: Callable[[], None], on_finished: OnFinished = log_episodes,
                 on_block_end: Optional[Callable[[], None]] = None) -> None:
        self._loop = loop
        self._watchdog = watchdog
        self._chores = LoopChores(watchdog, on_finished, on_block_end)
        self._on_armed = on_armed
        self._active = False
        self._cancelled = False

    def start(self) -> None:
        """Arms now if on the loop's thread inside the loop, else soon on it."""
        on_loop_thread(self._loop, self._arm)

    def _arm(self) -> None:
        if self._cancelled:
            return
        self._active = True
        self._on_armed()
        self._install()
        self._touch(False)  # armed from a callback: the loop is busy now

    def _touch(self, idle: bool) -> None:
        chores = self._watchdog.touch(idle)
        if chores:
            self._chores.run(chores)

    def run_chores(self, chores: int) -> None:
        """The chores a touch made elsewhere (log_slow_callbacks) said due."""
        self._chores.run(chores)

    def cancel(self) -> None:
        self._cancelled = True
        self._active = False
        self._uninstall()

    def _install(self) -> None:
        raise NotImplementedError

    def _uninstall(self) -> None:
        raise NotImplementedError


class SelectorProbe(_Probe):
    """Wraps the loop's selector.select to report idle/busy transitions. The
    wrapper is native (_native.SelectProbe): two stamps an iteration, no
    Python frame."""

    def _install(self) -> None:
        selector: selectors.BaseSelector = self._loop._selector  # type: ignore[attr-defined]
        self._selector = selector
        # A wrapper someone put on the instance before us (aiodebug's
        # time-dilated loop does): put back when we go.
        self._previous = vars(selector).get("select")
        self._wrapper = _native.SelectProbe(self._watchdog, selector.select, self._chores.run)
        selector.select = self._wrapper  # type: ignore[method-assign]

    def _uninstall(self) -> None:
        wrapper = getattr(self, "_wrapper", None)
        if wrapper is None:
            return
        wrapper.deactivate()  # in case someone wrapped select over ours
        if vars(self._selector).get("select") is wrapper:
            previous = _live_layer(self._selector, self._previous)
            if previous is None:
                del self._selector.select
            else:
                self._selector.select = previous  # type: ignore[method-assign]


def _live_layer(selector: selectors.BaseSelector, select: Any) -> Any:
    """What `selector.select` should go back to: `select`, past our own
    wrappers whose dumper or watcher stopped first (deactivated), or None
    when that leaves the selector's own method (the instance attribute goes)."""
    while isinstance(select, _native.SelectProbe) and not select.active:
        select = select.inner
    own = getattr(type(selector), "select", None)
    if getattr(select, "__self__", None) is selector and getattr(select, "__func__", None) is own:
        return None
    return select


class HeartbeatProbe(_Probe):
    """A callback every `period` seconds reports the loop busy."""

    def __init__(self, loop: asyncio.AbstractEventLoop, watchdog: Any,
                 on_armed: Callable[[], None], period: float,
                 on_finished: OnFinished = log_episodes,
                 on_block_end: Optional[Callable[[], None]] = None) -> None:
        super().__init__(loop, watchdog, on_armed, on_finished, on_block_end)
        self._period = period
        self._handle: Optional[asyncio.TimerHandle] = None

    def _install(self) -> None:
        # A block begins up to a period after the last beat: its length is
        # known within a period (reports and the WARNING say the range).
        self._watchdog.set_stamp_uncertainty(self._period)
        self._handle = self._loop.call_later(self._period, self._beat)

    def _beat(self) -> None:
        if not self._active:
            return
        self._touch(False)
        self._handle = self._loop.call_later(self._period, self._beat)

    def _uninstall(self) -> None:
        handle = self._handle
        if handle is not None and running_loop() is self._loop:
            handle.cancel()  # elsewhere, _active stops it at its next run


def make_probe(loop: asyncio.AbstractEventLoop, watchdog: Any, interval: float,
               on_armed: Callable[[], None], on_finished: OnFinished = log_episodes,
               on_block_end: Optional[Callable[[], None]] = None) -> _Probe:
    """The cheapest probe that works for `loop`."""
    selector = getattr(loop, "_selector", None)
    if isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop) and isinstance(
        selector, selectors.BaseSelector
    ):
        return SelectorProbe(loop, watchdog, on_armed, on_finished, on_block_end)
    return HeartbeatProbe(loop, watchdog, on_armed, interval / 2, on_finished, on_block_end)
