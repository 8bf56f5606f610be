"""Test helpers: an event loop whose time runs faster (or slower) than real time.

    loop = TimeDilatedLoop(time_dilation=10)
    loop.run_until_complete(asyncio.sleep(1))          # about 0.1 s of real time
    asyncio.run(main(), loop_factory=TimeDilatedLoop)  # 3.12+

A test of code that sleeps, times out or polls for minutes of loop time can
run in seconds, with real I/O and real threads (no fake clock to advance by
hand). aiodebug's TimeDilatedLoop, made continuous: changing `time_dilation`
while the loop runs (from any thread, also below 1) bends loop time at that
instant; it never jumps or runs backwards, and a loop asleep in its selector
is woken to follow the new rate.

Only loop time is dilated: loop.time(), and so asyncio.sleep, call_later,
call_at, wait_for, asyncio.timeout, and debug mode's slow_callback_duration.
time.monotonic, threads, executors and aiowatchdog's hang watchdog keep real
time.
"""
from __future__ import annotations

import asyncio
import math
import selectors
import threading
import time
from typing import Any, List, Optional, Tuple

__all__ = ["TimeDilatedLoop"]

# asyncio never asks its selector to wait longer than this (base_events'
# MAXIMUM_SELECT_TIMEOUT); a dilation below 1 must not stretch it past what
# epoll accepts (a C int of milliseconds, about 24.8 days).
_MAX_SELECT_S = 24 * 3600.0


def _check_dilation(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"time_dilation must be a number, got {value!r}")
    dilation = float(value)
    if not math.isfinite(dilation) or dilation <= 0:
        raise ValueError(f"time_dilation must be a finite number > 0, got {value!r}")
    return dilation


class _DilatedClock:
    """Loop time as a line through an anchor: loop time `loop0` at real time
    `real0`, then `dilation` loop seconds per real second. A new dilation
    starts a new line at the current point, so loop time stays continuous.
    Anchor and real time are read under one lock: a reading on the loop's
    thread and a change from another cannot interleave and run time backwards."""

    def __init__(self, dilation: float) -> None:
        now = time.monotonic()
        self._anchor: Tuple[float, float, float] = (now, now, dilation)
        self._lock = threading.Lock()

    @property
    def dilation(self) -> float:
        return self._anchor[2]

    def now(self) -> float:
        with self._lock:
            real0, loop0, dilation = self._anchor
            return loop0 + (time.monotonic() - real0) * dilation

    def set_dilation(self, dilation: float) -> None:
        with self._lock:
            real0, loop0, old = self._anchor
            real = time.monotonic()
            self._anchor = (real, loop0 + (real - real0) * old, dilation)

    def real_seconds(self, loop_seconds: float) -> float:
        return loop_seconds / self._anchor[2]


class _DilatedSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's selector, waiting real time for the loop time asked.
    A subclass rather than a wrapper put on the instance, so that other
    wrappers on the instance (hang_inspection's) compose with it, and
    removing theirs leaves this one in place."""

    def __init__(self, clock: _DilatedClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: Optional[float] = None) -> List[Tuple[Any, int]]:
        if timeout is not None and timeout > 0:
            timeout = min(self._clock.real_seconds(timeout), _MAX_SELECT_S)
        return super().select(timeout)


class TimeDilatedLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """An asyncio selector loop whose time runs `time_dilation` times as fast
    as real time (0.5: half as fast). Set `time_dilation` at any time, from
    any thread; it must be a finite number > 0 (ValueError otherwise,
    TypeError for a non-number). Loop time starts at time.monotonic()."""

    def __new__(cls, time_dilation: float = 1.0) -> "TimeDilatedLoop":
        # Checked before the instance exists: a loop refused in __init__
        # would be half made, and BaseEventLoop.__del__ would complain of it.
        _check_dilation(time_dilation)
        return super().__new__(cls)

    def __init__(self, time_dilation: float = 1.0) -> None:
        self._clock = _DilatedClock(_check_dilation(time_dilation))
        super().__init__(selector=_DilatedSelector(self._clock))

    @property
    def time_dilation(self) -> float:
        return self._clock.dilation

    @time_dilation.setter
    def time_dilation(self, value: float) -> None:
        self._clock.set_dilation(_check_dilation(value))
        # From another thread the loop may be asleep in select for a timeout
        # computed at the old rate: wake it to compute the next one. On the
        # loop's own thread the next iteration does so anyway.
        if self.is_running() and asyncio._get_running_loop() is not self:
            try:
                self.call_soon_threadsafe(_nothing)
            except RuntimeError:
                pass  # closed meanwhile

    def time(self) -> float:
        return self._clock.now()

    def __repr__(self) -> str:
        return (f"<TimeDilatedLoop running={self.is_running()} closed={self.is_closed()} "
                f"time_dilation={self.time_dilation}>")


def _nothing() -> None:
    pass
