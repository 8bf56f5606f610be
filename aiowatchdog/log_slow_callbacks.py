"""Slow callbacks logged with the stack that made them slow: a drop-in for
aiodebug.log_slow_callbacks, without asyncio's debug mode.

    from aiowatchdog import log_slow_callbacks
    log_slow_callbacks.enable(0.05)

Like aiodebug, `enable` wraps asyncio.events.Handle._run, which runs every
callback of every asyncio loop, and logs `Executing <handle> took X seconds`
as a WARNING (logger "aiowatchdog.log_slow_callbacks") for a callback that ran
`slow_duration` seconds or more. A handle names only the outer task; so, on
each loop that runs, an in-memory watchdog with `slow_duration` as its
threshold samples the loop's thread while a callback runs too long, and the
WARNING goes on with that stack, innermost frame of the application's own
code first: the function that blocked. `on_slow_callback(task_name,
duration)`, as in aiodebug 2.x, is called instead of logging when given.

Time spent in aiowatchdog.allow_blocking sections does not count. uvloop runs
callbacks in C, so its callbacks are not timed (use aiowatchdog.watch there).
"""
from __future__ import annotations

import asyncio
import asyncio.events
import logging
import os
import time
from typing import Any, Callable, Optional, Sequence

from ._allow_blocking import sections
from ._block_info import StackFrame, block_info_from_episode
from ._loop_watchers import LoopWatchers
from ._options import check_seconds

__all__ = ["enable", "disable", "is_enabled"]

logger = logging.getLogger("aiowatchdog.log_slow_callbacks")

OnSlowCallback = Callable[[str, float], None]

_original_run: Optional[Callable[[asyncio.Handle], None]] = None
_watchers: Optional[LoopWatchers] = None


def enable(slow_duration: float, *, on_slow_callback: Optional[OnSlowCallback] = None) -> None:
    """Starts timing every callback; enabling again replaces the settings."""
    seconds = check_seconds("slow_duration", slow_duration)
    if on_slow_callback is not None and not callable(on_slow_callback):
        raise TypeError(f"on_slow_callback must be callable, got {on_slow_callback!r}")
    disable()
    global _original_run, _watchers
    watchers = LoopWatchers(max(seconds, 0.005), None).open()
    watchers.watch_running_loop()
    original = asyncio.events.Handle._run
    slow_ns = int(seconds * 1e9)
    watcher_for = watchers.watchers_by_loop.get
    monotonic_ns = time.monotonic_ns

    # Runs around every callback: kept to a few attribute reads and calls
    # (tools/bench_toolkit.py measures it).
    def _run(self: asyncio.Handle) -> None:
        watcher = watcher_for(self._loop)  # type: ignore[attr-defined]
        allowed_before = sections.total_ns
        started = monotonic_ns()
        if watcher is not None:
            chores = watcher.touch(False)  # the callback starts: the clock restarts
            if chores:
                watcher.run_chores(chores)
        original(self)
        took = monotonic_ns() - started
        if took >= slow_ns:
            took -= sections.total_ns - allowed_before
            if took >= slow_ns:
                _tell(self, took / 1e9, watcher.sample_since(started) if watcher else None,
                      on_slow_callback)

    asyncio.events.Handle._run = _run  # type: ignore[method-assign]
    _original_run, _watchers = original, watchers


def disable() -> None:
    """Stops timing callbacks (harmless when not enabled)."""
    global _original_run, _watchers
    if _original_run is not None:
        asyncio.events.Handle._run = _original_run  # type: ignore[method-assign]
    if _watchers is not None:
        _watchers.close()
    _original_run, _watchers = None, None


def is_enabled() -> bool:
    return _original_run is not None


def _tell(handle: asyncio.Handle, took: float, sample: Optional[dict],
          on_slow_callback: Optional[OnSlowCallback]) -> None:
    if on_slow_callback is not None:
        try:
            on_slow_callback(_task_name(handle), took)
        except Exception:
            logger.exception("the on_slow_callback %r raised", on_slow_callback)
        return
    message = "Executing %s took %.3f seconds"
    args: list = [_format_handle(handle), took]
    if sample is not None:
        sample = dict(sample, blocked_s=took, recovered=True)
        info = block_info_from_episode(sample, handle._loop)  # type: ignore[attr-defined]
        if info.function:
            message += "; blocked in %s (%s:%s)"
            args += [info.function, info.file, info.line]
        inside = _inside_the_callback(info.stack)
        if inside:
            message += "\nstack inside the callback, most recent call last:\n%s"
            args.append("\n".join(frame.format() for frame in inside))
    logger.warning(message, *args)


def _inside_the_callback(stack: Sequence[StackFrame]) -> Sequence[StackFrame]:
    """The frames below asyncio's Handle._run (the loop and this wrapper are
    above it), or the whole stack when it is not there."""
    for index in range(len(stack) - 1, -1, -1):
        frame = stack[index]
        if frame.kind == "python" and frame.file.endswith(_EVENTS_PY):
            return stack[index + 1:]
    return stack


_EVENTS_PY = os.path.join("asyncio", "events.py")


def _format_handle(handle: asyncio.Handle) -> str:
    return asyncio.base_events._format_handle(handle)  # type: ignore[attr-defined]


def _task_name(handle: asyncio.Handle) -> str:
    """The name of the task whose step the handle ran, else the handle."""
    callback: Any = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        return task.get_name()
    return _format_handle(handle)
