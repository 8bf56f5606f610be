"""The callgrind format (valgrind's callgrind-format spec), for KCachegrind
and qcachegrind: one event, `us` (blocked microseconds, integers as the
format wants), self cost on the leaf frame's line, and for each caller ->
callee step of a stack a `calls=` line carrying the inclusive cost at the
caller's line. A function is its name in its file (a native frame's file:
its library), so one function's lines are one node; native frames have line
0. Names are written in full, uncompressed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

from . import WeightedStack, frame_name, native_library

Function = Tuple[str, str]  # (file, label)


def _clean(text: str) -> str:
    return " ".join(text.splitlines()) or "?"


def render(stacks: Sequence[WeightedStack], title: str) -> str:
    self_cost: Dict[Function, Dict[int, int]] = defaultdict(lambda: defaultdict(int))
    # caller -> {(caller line, callee, callee line): [calls, inclusive cost]}
    calls: Dict[Function, Dict[Tuple[int, Function, int], List[int]]] = \
        defaultdict(lambda: defaultdict(lambda: [0, 0]))
    total = 0
    for stack in stacks:
        cost = max(1, round(stack.weight_ms * 1000))
        path = [((_clean(native_library(f) if f["kind"] == "native" else f["file"]),
                  _clean(frame_name(f))), f["line"] or 0)
                for f in stack.frames] or [(("?", "(no stack)"), 0)]
        total += cost
        leaf, leaf_line = path[-1]
        self_cost[leaf][leaf_line] += cost
        for (caller, caller_line), (callee, callee_line) in zip(path, path[1:]):
            entry = calls[caller][(caller_line, callee, callee_line)]
            entry[0] += 1
            entry[1] += cost
    out = ["# callgrind format", "version: 1", "creator: aiowatchdog",
           f"cmd: {_clean(title)}", "positions: line", "events: us",
           "event: us : blocked time (microseconds)", f"summary: {total}", ""]
    for function in sorted(set(self_cost) | set(calls)):
        out.append(f"fl={function[0]}")
        out.append(f"fn={function[1]}")
        for line, cost in sorted(self_cost.get(function, {}).items()):
            out.append(f"{line} {cost}")
        for (line, callee, callee_line), (count, cost) in sorted(calls.get(function, {}).items()):
            out.append(f"cfl={callee[0]}")
            out.append(f"cfn={callee[1]}")
            out.append(f"calls={count} {callee_line}")
            out.append(f"{line} {cost}")
        out.append("")
    out.append(f"totals: {total}")
    return "\n".join(out) + "\n"
