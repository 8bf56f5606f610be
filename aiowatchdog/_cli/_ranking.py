"""Culprits ranked: each episode blamed on one frame of its loop thread's
stack at detection, or of the thread holding the GIL the loop's thread
waited for (the innermost one in the application's code, see
aiowatchdog/_culprit.py; the innermost Python frame, or the innermost frame,
when there is none), episodes with the same culprit function grouped, and
the groups ordered by total blocked time, then count.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from .._culprit import culprit_frame, is_library_file
from ._episodes import Episode
from .._paths import is_library_path


def _is_library(path: str) -> bool:
    # This machine's library directories, and any host's by their shape.
    return is_library_path(path) or is_library_file(path)


def blame(stack: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The frame an episode is blamed on, or None for an empty stack."""
    frame = culprit_frame(stack, _is_library)
    if frame is None and stack:
        return stack[-1]  # no Python frame at all: the innermost native one
    return frame


@dataclass
class Culprit:
    function: str
    file: str
    kind: str
    episodes: List[Episode] = field(default_factory=list)
    lines: Counter = field(default_factory=Counter)

    @property
    def line(self) -> Optional[int]:
        """The line most of its episodes were blocked at (the lowest on a tie)."""
        known = [(-n, line) for line, n in self.lines.items() if line is not None]
        return min(known)[1] if known else None

    @property
    def blocked_s(self) -> float:
        return sum(e.blocked_s for e in self.episodes)

    @property
    def max_blocked_s(self) -> float:
        return max(e.blocked_s for e in self.episodes)

    @property
    def last_seen_unix_s(self) -> float:
        return max(e.started_unix_s for e in self.episodes)

    @property
    def first_seen_unix_s(self) -> float:
        return min(e.started_unix_s for e in self.episodes)

    @property
    def processes(self) -> int:
        return len({(e.directory, e.pid) for e in self.episodes})


UNKNOWN = {"kind": "native", "function": "(no stack)", "file": "", "line": None}


def rank(episodes: Sequence[Episode]) -> List[Culprit]:
    by_key: dict = {}
    for episode in episodes:
        frame = blame(episode.blame_stack) or UNKNOWN
        key: Tuple[str, str] = (frame["function"], frame["file"])
        culprit = by_key.get(key)
        if culprit is None:
            culprit = by_key[key] = Culprit(frame["function"], frame["file"], frame["kind"])
        culprit.episodes.append(episode)
        culprit.lines[frame.get("line")] += 1
    return sorted(by_key.values(),
                  key=lambda c: (-c.blocked_s, -len(c.episodes), c.function, c.file))
