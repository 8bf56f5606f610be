"""The `report` command's terminal table: a summary line, then one row per
culprit (function, episodes, total and longest blocked time, last seen in
UTC) with its shortened location beneath. Plain text unless styled; the
golden-file test (tests/data/report_table.golden) pins its layout.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from ._episodes import Episode
from .._paths import shorten_path
from ._format import Style, seconds, utc_time
from ._ranking import Culprit

FUNCTION_WIDTH = 36


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_table(episodes: Sequence[Episode], culprits: Sequence[Culprit], top: int,
                 style: Style, directories: int, since: Optional[float]) -> str:
    lines: List[str] = []
    since_text = f" since {utc_time(since)}" if since is not None else ""
    if not episodes:
        return (f"no hang episodes{since_text} in {directories} "
                f"director{'y' if directories == 1 else 'ies'}\n")
    total = sum(e.blocked_s for e in episodes)
    processes = len({(e.directory, e.pid) for e in episodes})
    profiled = sum(1 for e in episodes if e.profile is not None)
    first = min(e.started_unix_s for e in episodes)
    last = max(e.started_unix_s for e in episodes)
    lines.append(style.bold(
        f"{_plural(len(episodes), 'hang episode')}, {seconds(total)} blocked{since_text}"))
    where = f"{utc_time(first)} to {utc_time(last)}; {processes} process" \
            f"{'es' if processes != 1 else ''} in {directories} director" \
            f"{'y' if directories == 1 else 'ies'}"
    if profiled:
        where += f"; {profiled} profiled"
    lines.append(style.dim(where))
    lines.append("")
    header = f"{'#':>3}  {'CULPRIT':<{FUNCTION_WIDTH}}  {'EPISODES':>8}  {'BLOCKED':>9}  " \
             f"{'SHARE':>6}  {'LONGEST':>9}  LAST SEEN"
    lines.append(style.bold(header))
    for number, culprit in enumerate(culprits[:top], start=1):
        function = _clip(culprit.function, FUNCTION_WIDTH)
        padding = " " * (FUNCTION_WIDTH - len(function))
        lines.append(
            f"{number:>3}  {style.bold(function)}{padding}  {len(culprit.episodes):>8}  "
            f"{style.red(f'{seconds(culprit.blocked_s):>9}')}  "
            f"{100 * culprit.blocked_s / total if total else 0:>5.1f}%  "
            f"{seconds(culprit.max_blocked_s):>9}  {utc_time(culprit.last_seen_unix_s)}"
        )
        if culprit.file:
            line = f":{culprit.line}" if culprit.line is not None else ""
            lines.append(f"     {style.dim(shorten_path(culprit.file) + line)}")
    notes = []
    if len(culprits) > top:
        notes.append(f"{_plural(len(culprits) - top, 'more culprit')}; --top N shows more")
    if profiled < len(episodes):
        notes.append("blocked times of episodes without a profile (profile_hz) run to their "
                     "last sample: lower bounds")
    if notes:
        lines.append("")
        lines.extend(style.dim(note) for note in notes)
    return "\n".join(lines) + "\n"
