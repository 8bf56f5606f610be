"""Judges what one tool said about one block: did it report during the block,
how long after the block began, did it name the culprit function and its
native frame. Pure functions of the observation, so that canned outputs test
them (tests/unit/test_bench_judge.py).

An output is one arrival the parent saw, stamped on the system-wide monotonic
clock: a line on the child's standard error, or a new file in its report
directory. Only what arrived after the block began (EARLIEST_S) counts.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from benchmarks.kinds import Kind

Output = Tuple[float, str]   # (arrival on the monotonic clock, text)

# A report must arrive this long before the block ends to count as made
# during it: one that comes as the culprit returns (a profile hook's return
# event, say) was made after the loop was free again.
DURING_MARGIN_S = 0.05
# And what arrives within this of the block's start was sent before it: the
# parent stamps a line when it reads it, a few milliseconds late, and no
# tool reports a block younger than its 0.25 s threshold. (A profile hook's
# log of the selector's wait, written as the loop wakes to run the block,
# otherwise counts as a report 0.00 s into it.)
EARLIEST_S = 0.05


@dataclass(frozen=True)
class Verdict:
    reported: bool              # said anything after the block began
    during: bool                # ... at least DURING_MARGIN_S before the block ended
    latency_s: Optional[float]  # first arrival after the block began, from its start
    named: bool                 # the culprit function's name appears
    native: Optional[bool]      # the native frame appears (None: the kind has none)


def judge(kind: Kind, block_start: float, block_end: float,
          outputs: Sequence[Output]) -> Verdict:
    after = sorted((t, text) for t, text in outputs if t >= block_start + EARLIEST_S)
    text = "\n".join(chunk for _, chunk in after)
    first = after[0][0] if after else None
    return Verdict(
        reported=first is not None,
        during=first is not None and first <= block_end - DURING_MARGIN_S,
        latency_s=None if first is None else first - block_start,
        named=re.search(rf"\b{re.escape(kind.culprit)}\b", text) is not None,
        native=None if kind.native is None else re.search(kind.native, text) is not None,
    )


@dataclass(frozen=True)
class Tally:
    """One tool on one kind of block, over every repetition."""
    runs: int
    during: int
    reported: int
    named: int
    native: Optional[int]
    latency_s: Optional[float]  # median over the runs that reported during the block


def tally(verdicts: Sequence[Verdict]) -> Tally:
    latencies = [v.latency_s for v in verdicts if v.during and v.latency_s is not None]
    natives: List[bool] = [bool(v.native) for v in verdicts if v.native is not None]
    return Tally(
        runs=len(verdicts),
        during=sum(v.during for v in verdicts),
        reported=sum(v.reported for v in verdicts),
        named=sum(v.named for v in verdicts),
        native=sum(natives) if len(natives) == len(verdicts) and verdicts else None,
        latency_s=statistics.median(latencies) if latencies else None,
    )


def cell(kind: Kind, t: Tally) -> str:
    """A table cell: when it reported and what it named, e.g. `0.26 s · fn · C`.
    Counts appear only where the repetitions disagreed."""
    def of(n: int) -> str:
        return "" if n == t.runs else f" {n}/{t.runs}"

    if kind.control:
        return "quiet ✓" if t.reported == 0 else f"false alarm{of(t.reported)}"
    if t.reported == 0:
        return "—"
    if t.during:
        when = f"{t.latency_s:.2f} s{of(t.during)}"
    else:
        when = "after the block"
    parts = [when]
    if t.named:
        parts.append("fn" + of(t.named))
    if t.native:
        parts.append("C" + of(t.native))
    return " · ".join(parts)


def full_marks(kind: Kind, t: Tally) -> bool:
    """Reported during every block, named the function and, where the block
    has one, the native frame, every time; for the control, never reported."""
    if kind.control:
        return t.reported == 0
    return (t.runs > 0 and t.during == t.runs and t.named == t.runs
            and (t.native is None or t.native == t.runs))
