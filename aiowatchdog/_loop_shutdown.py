"""Hearing that an event loop shuts down, with no hook asyncio offers for it.

A loop that stopped sends no heartbeat, and a dumper left running would report
that silence as a hang. asyncio.run, uvloop.run and asyncio.Runner all end with
`loop.shutdown_asyncgens()`, which closes every async generator the loop
tracks. So we own one: started on the loop's thread (the loop's firstiter hook
then tracks it) and suspended at its only `yield`; the shutdown closes it, and
its `finally` tells us. Disarmed (closed by us) when the dumper stops first.
"""
from __future__ import annotations

from typing import AsyncGenerator, Callable, Optional


class LoopShutdownHook:
    def __init__(self, on_shutdown: Callable[[], None]) -> None:
        self._on_shutdown = on_shutdown
        self._armed = False
        self._agen: Optional[AsyncGenerator[None, None]] = None

    def arm(self) -> None:
        """On the loop's thread, while the loop runs."""
        self._armed = True
        self._agen = self._wait_for_shutdown()
        try:
            self._agen.__anext__().send(None)  # runs to the yield, synchronously
        except StopIteration:
            pass

    def disarm(self) -> None:
        self._armed = False
        agen, self._agen = self._agen, None
        if agen is None:
            return
        try:
            agen.aclose().send(None)  # GeneratorExit at the yield; no await follows
        except (StopIteration, RuntimeError):
            pass  # closed, or being closed by the shutdown right now

    async def _wait_for_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self._armed:
                self._armed = False
                self._on_shutdown()
