"""Work done on the watched loop's thread, with the GIL, when the native
watchdog says it is due: log finished episodes (the recovery WARNING), and
publish thread names, which the watchdog needs but cannot ask `threading` for
(it writes reports without the GIL).

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
from ._block_info import activity_of, describe_gil_holder

logger = logging.getLogger("aiowatchdog")

_NAMES_PERIOD_S = 1.0


def publish_thread_names() -> None:
    _native.publish_thread_names(
        [(t.native_id or 0, t.ident or 0, t.name) for t in threading.enumerate()]
    )


def describe_activity(activity: dict, holder: Optional[dict] = None) -> str:
    """What the loop's thread was doing (an episode's "activity"), with its
    shares of the time from detection to the end of the episode: the same
    words as BlockInfo.activity."""
    return activity_of(activity, holder).describe()


def _frame_lines(frames: List[dict]) -> List[str]:
    lines = []
    for frame in frames:
        if frame["kind"] == "native":
            lines.append(f"  Native: {frame['function']} ({frame['file'] or '?'})")
            continue
        line = "?" if frame["line"] is None else frame["line"]
        lines.append(f'  File "{frame["file"]}", line {line}, in {frame["function"]}')
        if frame["source"]:
            lines.append(f"    {frame['source']}")
    return lines


def format_episode(episode: dict) -> str:
    """The recovery WARNING's text for one finished episode."""
    verb = "was blocked" if episode["recovered"] else "had been blocked (still, at stop)"
    low = episode.get("blocked_min_s")  # a range: the probe saw the loop only now and then
    span = (f"{episode['blocked_s']:.3f} s" if low is None
            else f"{low:.3f} to {episode['blocked_s']:.3f} s")
    lines = [f"event loop {verb} for {span} (episode {episode['episode_id']})"]
    holder = episode.get("gil_holder")
    if episode.get("activity"):
        lines.append("loop thread: " + describe_activity(episode["activity"], holder))
    # The thread holding the GIL the loop waited for is where the block is.
    if holder and holder["frames"]:
        lines.append(f"thread holding the GIL, {describe_gil_holder(holder)}, "
                     "innermost frames first:")
        lines.extend(_frame_lines(holder["frames"]))
    if episode["loop_frames"]:
        lines.append("loop thread, innermost frames first:")
        lines.extend(_frame_lines(episode["loop_frames"]))
    if episode["report_paths"]:
        lines.append("reports: " + ", ".join(episode["report_paths"]))
    if episode["discarded_samples"]:
        lines.append(f"{episode['discarded_samples']} sample(s) not written: "
                     "the loop recovered while they were taken")
    if episode["reports_not_written"]:
        lines.append(f"{episode['reports_not_written']} report(s) could not be written "
                     "(disk trouble: see the aiowatchdog ERROR)")
    if episode["suppressed_before"]:
        lines.append(f"{episode['suppressed_before']} earlier episode(s) were not reported "
                     "(over max_episodes_per_minute)")
    return "\n".join(lines)


def log_episodes(episodes: List[dict]) -> None:
    """The recovery WARNING of each episode, and disk trouble once per spell:
    one ERROR when reports stop being written, one WARNING when they are
    written again."""
    for episode in episodes:
        if episode["reports_lost_before"]:
            logger.warning("aiowatchdog writes reports again; %d report(s) could not be "
                           "written before this episode", episode["reports_lost_before"])
        if episode["write_error"] is not None:
            logger.error("aiowatchdog cannot write hang reports (%s); the application goes "
                         "on, and writing resumes when it can", episode["write_error"])
        logger.warning("%s", format_episode(episode))


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
            key = f"{type(e).__name__}: {e}"
            if key not in self._errors_logged:
                self._errors_logged.add(key)
                logger.exception("aiowatchdog could not do its chores on the loop's thread; "
                                 "the loop goes on (this error is not logged again)")

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
