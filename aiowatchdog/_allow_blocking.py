"""aiowatchdog.allow_blocking: declares a section of the loop's thread known
to be slow. While the thread is inside one, no watchdog following a loop on
it declares a hang (no hang_inspection report, no BlockInfo, no pytest
failure), the time up to the section's end does not count towards the next
one, and log_slow_callbacks does not count it in a callback's duration.

The state is per thread, in the native core (native/detect/allowed_sections.h):
entering and leaving are a few atomic operations. It covers the thread, not a
task: a section that awaits would exempt every task the loop runs meanwhile,
so coroutine functions cannot be decorated, and an `async with` is not
offered.
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from types import TracebackType
from typing import Any, Callable, Optional, Type, TypeVar

from . import _native

logger = logging.getLogger("aiowatchdog")

F = TypeVar("F", bound=Callable[..., Any])

_told_table_full = False


class _Sections(threading.local):
    """This thread's sections, as log_slow_callbacks reads them on every
    callback: an attribute read, no call into the native core."""

    depth = 0
    entered_ns = 0
    total_ns = 0  # time inside outermost sections, in all


sections = _Sections()


class allow_blocking:
    """`with allow_blocking(): slow_call()` or `@allow_blocking()` on a plain
    function. Nests; reusable."""

    def __enter__(self) -> "allow_blocking":
        global _told_table_full
        if sections.depth == 0:
            sections.entered_ns = time.monotonic_ns()
        sections.depth += 1
        if not _native.enter_allowed_section() and not _told_table_full:
            _told_table_full = True
            logger.warning("aiowatchdog.allow_blocking: too many threads have used allowed "
                           "sections; this one's are not exempted from hang detection")
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        _native.exit_allowed_section()
        sections.depth -= 1
        if sections.depth == 0:
            sections.total_ns += time.monotonic_ns() - sections.entered_ns

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"allow_blocking() cannot decorate the coroutine function {func.__qualname__}: "
                "the exemption would also cover the other tasks that run while it awaits; "
                "put `with allow_blocking():` around the blocking call inside it instead")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with allow_blocking():
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
