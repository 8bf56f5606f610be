"""aiowatchdog.watch: a context manager and decorator that calls
`on_block(BlockInfo)` for every block of the event loop longer than
`threshold` while it is active, the culprit's stack included.

Inside a running loop (`with watch(...):` in a coroutine, or decorating an
`async def`) it watches that loop. Outside one (`with watch(...):
asyncio.run(main())`, or decorating a plain function that runs loops) it
watches every asyncio loop that starts running on this thread meanwhile.
Blocks are told on the loop's thread once each is over; a block still going
on when the watch ends is told then.
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
from types import TracebackType
from typing import Any, Callable, List, Optional, Type, TypeVar

from ._block_info import BlockInfo
from ._block_watcher import MIN_THRESHOLD_S, OnBlock
from ._loop_watchers import LoopWatchers
from ._options import check_seconds

logger = logging.getLogger("aiowatchdog")

F = TypeVar("F", bound=Callable[..., Any])


def log_block(info: BlockInfo) -> None:
    """The default on_block: a WARNING on the "aiowatchdog" logger."""
    logger.warning("%s", info.format())


class watch:
    """Calls `on_block(info)` for each block of the loop longer than
    `threshold` seconds (at least 0.005) while active; the default logs a
    WARNING. `native_stacks=False` leaves native frames out of the stacks.
    `blocks` lists every BlockInfo told so far."""

    def __init__(self, threshold: float = 0.05, on_block: Optional[OnBlock] = None, *,
                 native_stacks: bool = True) -> None:
        self.threshold = check_seconds("threshold", threshold)
        if self.threshold < MIN_THRESHOLD_S:
            raise ValueError(f"threshold must be at least {MIN_THRESHOLD_S} seconds, got {threshold!r}")
        if on_block is not None and not callable(on_block):
            raise TypeError(f"on_block must be callable, got {on_block!r}")
        if not isinstance(native_stacks, bool):
            raise TypeError(f"native_stacks must be a bool, got {native_stacks!r}")
        self.on_block: OnBlock = on_block if on_block is not None else log_block
        self.native_stacks = native_stacks
        self.blocks: List[BlockInfo] = []
        self._watchers: Optional[LoopWatchers] = None

    def _told(self, info: BlockInfo) -> None:
        self.blocks.append(info)
        try:
            self.on_block(info)
        except Exception:  # never into the loop
            logger.exception("the on_block callback %r raised", self.on_block)

    def __enter__(self) -> "watch":
        if self._watchers is not None:
            raise RuntimeError("this watch is active already; use a new watch(...) to nest")
        watchers = LoopWatchers(self.threshold, self._told, thread=threading.get_ident(),
                                native_stacks=self.native_stacks)
        watchers.open()
        watchers.watch_running_loop()
        self._watchers = watchers
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        watchers, self._watchers = self._watchers, None
        if watchers is not None:
            watchers.close()

    def __call__(self, func: F) -> F:
        """As a decorator: each call runs inside a fresh watch with these
        settings (so that concurrent calls do not share one)."""
        def fresh() -> "watch":
            w = watch(self.threshold, self._told, native_stacks=self.native_stacks)
            return w

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with fresh():
                    return await func(*args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def __repr__(self) -> str:
        state = "active" if self._watchers is not None else "inactive"
        return f"<aiowatchdog.watch {state} threshold={self.threshold}>"
