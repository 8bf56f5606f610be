"""The recovery WARNING: what the `aiowatchdog` logger says of each finished
episode (how long, what the loop's thread was doing, the frames, the
reports), and the ERROR/WARNING pair of a spell of disk trouble."""
from __future__ import annotations

import logging
from typing import List

from ._block_info import activity_of, describe_gil_holder, stack_frame

logger = logging.getLogger("aiowatchdog")


def format_episode(episode: dict) -> str:
    """The recovery WARNING's text for one finished episode."""
    verb = "was blocked" if episode["recovered"] else "had been blocked (still, at stop)"
    low = episode.get("blocked_min_s")  # a range: the probe saw the loop only now and then
    span = (f"{episode['blocked_s']:.3f} s" if low is None
            else f"{low:.3f} to {episode['blocked_s']:.3f} s")
    lines = [f"event loop {verb} for {span} (episode {episode['episode_id']})"]
    holder = episode.get("gil_holder")
    if episode.get("activity"):
        # Its shares run from detection to the episode's end.
        lines.append("loop thread: " + activity_of(episode["activity"], holder).describe())
    # The thread holding the GIL the loop waited for is where the block is.
    if holder and holder["frames"]:
        lines.append(f"thread holding the GIL, {describe_gil_holder(holder)}, "
                     "innermost frames first:")
        lines.extend(stack_frame(f).format() for f in holder["frames"])
    if episode["loop_frames"]:
        lines.append("loop thread, innermost frames first:")
        lines.extend(stack_frame(f).format() for f in episode["loop_frames"])
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
