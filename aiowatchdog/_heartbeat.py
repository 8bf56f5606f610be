"""The heartbeat: a callback on the watched loop that stamps the native
watchdog's clock every interval/2, and that, being on the loop's thread with
the GIL, does the Python-side chores: log finished episodes and publish thread
names (the watchdog writes reports without the GIL, so it cannot ask
`threading` for them).

Names are republished when the number of threads changed (an O(1) check each
beat) and at least once a second. A thread started in the very loop step that
then blocks is never seen by a beat: its section shows the kernel's name.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, List, Optional

from . import _native

logger = logging.getLogger("aiowatchdog")

# Thread names are republished at most this often (seconds).
_NAMES_PERIOD = 1.0


def publish_thread_names() -> None:
    _native.publish_thread_names(
        [(t.native_id or 0, t.ident or 0, t.name) for t in threading.enumerate()]
    )


def format_episode(episode: dict) -> str:
    """The recovery WARNING's text for one finished episode."""
    verb = "was blocked" if episode["recovered"] else "had been blocked (still, at stop)"
    lines = [f"event loop {verb} for {episode['blocked_s']:.3f} s (episode {episode['episode_id']})"]
    if episode["loop_frames"]:
        lines.append("loop thread, innermost frames first:")
        for frame in episode["loop_frames"]:
            line = "?" if frame["line"] is None else frame["line"]
            lines.append(f'  File "{frame["file"]}", line {line}, in {frame["function"]}')
            if frame["source"]:
                lines.append(f"    {frame['source']}")
    if episode["report_paths"]:
        lines.append("reports: " + ", ".join(episode["report_paths"]))
    return "\n".join(lines)


def log_episodes(episodes: List[dict]) -> None:
    for episode in episodes:
        logger.warning("%s", format_episode(episode))
        if episode["errors"]:
            logger.error(
                "aiowatchdog could not write %d report(s) of episode %s: %s",
                len(episode["errors"]),
                episode["episode_id"],
                "; ".join(episode["errors"]),
            )


class Heartbeat:
    """Schedules itself on `loop` every `period` seconds until `cancel()`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        watchdog: Any,
        period: float,
        on_first_beat: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._on_first_beat: Optional[Callable[[], None]] = on_first_beat
        self._watchdog = watchdog
        self._period = period
        self._names_every = max(1, int(_NAMES_PERIOD / period))
        self._count = 0
        self._thread_count = -1
        self._handle: Optional[asyncio.TimerHandle] = None
        self._cancelled = False

    def start(self) -> None:
        """Runs the first beat now if on the loop's thread, else soon on it."""
        if _running_loop() is self._loop:
            self._beat()
        else:
            self._loop.call_soon_threadsafe(self._beat)

    def cancel(self) -> None:
        self._cancelled = True
        handle = self._handle
        if handle is not None and _running_loop() is self._loop:
            handle.cancel()  # elsewhere the flag stops it at its next run

    def _beat(self) -> None:
        if self._cancelled:
            return
        if self._on_first_beat is not None:
            first, self._on_first_beat = self._on_first_beat, None
            first()
        if self._watchdog.beat():
            log_episodes(self._watchdog.take_finished())
        self._count += 1
        thread_count = threading.active_count()
        if thread_count != self._thread_count or self._count % self._names_every == 0:
            self._thread_count = thread_count
            publish_thread_names()
        self._handle = self._loop.call_later(self._period, self._beat)


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None

