"""An in-memory watchdog on one event loop: every block longer than
`threshold` is sampled (the loop's thread only) while it lasts and, once it is
over, handed to `on_block` as a BlockInfo, on the loop's thread. No file is
written. The shared engine of aiowatchdog.watch, log_slow_callbacks and the
pytest plugin; hang_inspection's Dumper is the same watchdog writing reports.

A watcher stops by itself when its loop shuts down, and at interpreter exit
(before finalization, like hang_inspection's dumpers). `stop()` hands over the
block in progress, if any: ended there when stopped on the loop's thread,
else as an ongoing one. An exception from `on_block` is logged on the
"aiowatchdog" logger and never reaches the loop. In a forked child the
inherited watchers are forgotten (their threads do not exist there).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable, List, Optional

from . import _native
from ._block_info import BlockInfo, block_info_from_episode, tasks_of
from ._loop_watch import LoopWatch
from ._loops import running_loop
from ._options import default_signal
from ._support import check_supported

logger = logging.getLogger("aiowatchdog")

# The shortest threshold: below it, scheduling noise and the capture itself
# (a signal and a stack walk on the loop's thread) are the block.
MIN_THRESHOLD_S = 0.005
# How long sample_since() waits for a capture in progress.
_SAMPLE_WAIT_S = 0.1

OnBlock = Callable[[BlockInfo], None]


class BlockWatcher(LoopWatch):
    # At interpreter exit nothing is handed over: the program is ending.
    _hand_over_at_exit = False

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float,
                 on_block: Optional[OnBlock], *, native_stacks: bool = True) -> None:
        self.threshold = threshold
        self._on_block = on_block
        # The loop's tasks at the end of each block not yet handed over: a
        # task that ended with its block may be found nowhere else by then.
        self._tasks_at_end: List[object] = []
        self._loop_thread: Optional[int] = None
        watchdog = _native.Watchdog(
            output_dir="", interval=threshold, samples=1, sample_interval=threshold,
            python_version="", native_stacks=native_stacks, max_threads=1,
            write_reports=False)
        super().__init__(loop, watchdog, threshold, on_block_end=self._keep_tasks_at_end)
        # On the loop's thread: the loop starts something new now (the
        # slow-callback wrapper, before each callback); returns the chores
        # due, for run_chores. The native method itself: no Python frame.
        self.touch = self._watchdog.touch

    def start(self) -> "BlockWatcher":
        check_supported("aiowatchdog")
        self._loop_thread = threading.get_ident() if running_loop() is self.loop else None
        self._start_watching(_default_signal())
        return self

    def run_chores(self, chores: int) -> None:
        """The chores `touch` said due (on the loop's thread)."""
        self._probe.run_chores(chores)

    def sample_since(self, since_ns: int) -> Optional[dict]:
        """The sample of a block that began at or after `since_ns`
        (time.monotonic_ns()), waiting briefly for one being taken."""
        return self._watchdog.sample_since(since_ns, _SAMPLE_WAIT_S)

    def _on_stop(self) -> None:
        if threading.get_ident() == self._loop_thread:
            # The watched section (or the loop's run) is over: a block in
            # progress ends here, with its true length.
            self._watchdog.touch(True)

    def _keep_tasks_at_end(self) -> None:
        if self._on_block is not None:
            self._tasks_at_end.extend(tasks_of(self.loop))

    def _hand_over(self, episodes: List[dict]) -> None:
        tasks_at_end, self._tasks_at_end = self._tasks_at_end, []
        if self._on_block is None:
            return
        for episode in episodes:
            if episode["blocked_s"] < self.threshold:
                continue  # ended by the stop before it was a block
            try:
                info = block_info_from_episode(episode, self.loop, tasks_at_end)
            except Exception:
                logger.exception("aiowatchdog could not describe a block of the event loop")
                continue
            try:
                self._on_block(info)
            except Exception:
                logger.exception("the on_block callback %r raised", self._on_block)


def _default_signal() -> int:
    """The capture signal hang_inspection uses (one per process): the one
    installed already, else the default."""
    return _native.installed_capture_signal() or default_signal()
