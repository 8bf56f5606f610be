"""The running loop, and doing something on a loop's own thread."""
from __future__ import annotations

import asyncio
from typing import Callable, Optional


def running_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The loop running on this thread, None outside one (no exception)."""
    return asyncio.events._get_running_loop()


def on_loop_thread(loop: asyncio.AbstractEventLoop, arm: Callable[[], None]) -> None:
    """Calls `arm` now when on `loop`'s thread inside it, else schedules it
    there (call_soon_threadsafe: it runs once the loop runs)."""
    if running_loop() is loop:
        arm()
    else:
        loop.call_soon_threadsafe(arm)
