"""A reader of the callgrind format, written from valgrind's "Callgrind
Format Specification", for the exports' tests: header lines, fl=/fn=,
cfl=/cfi=/cfn=, calls= followed by its cost line, cost lines, name
compression ("(id) name", then "(id)"), summary: and totals:. It checks as
it reads and raises AssertionError on anything a reader such as KCachegrind
would refuse or misread."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

_COMPRESSED = re.compile(r"^\((\d+)\)(?: (.*))?$")
_COST = re.compile(r"^([+-]?\d+|\*|0x[0-9a-fA-F]+)((?: \d+)*)$")

Function = Tuple[str, str]  # (file, name)


@dataclass
class Callgrind:
    events: List[str]
    summary: Optional[int] = None
    totals: Optional[int] = None
    self_cost: Dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by fn name
    # (caller, callee) -> [calls, inclusive cost]
    calls: Dict[Tuple[Function, Function], List[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    functions: set = field(default_factory=set)

    def inclusive(self, function: Function) -> int:
        own = sum(c for (caller, _), (_, c) in self.calls.items() if caller == function)
        return self.self_cost_of.get(function, 0) + own

    self_cost_of: Dict[Function, int] = field(default_factory=lambda: defaultdict(int))


def parse_callgrind(text: str) -> Callgrind:
    lines = text.split("\n")
    assert lines[0].startswith("# callgrind format") or lines[0].startswith("version:"), lines[0]
    names: Dict[str, Dict[str, str]] = {"fl": {}, "fn": {}}
    profile: Optional[Callgrind] = None
    file = callee_file = None
    function: Optional[Function] = None
    callee_name: Optional[str] = None
    pending_calls: Optional[int] = None

    def name(kind: str, value: str) -> str:
        match = _COMPRESSED.match(value)
        if not match:
            return value
        table = names["fl" if kind in ("fl", "fi", "fe", "cfl", "cfi") else "fn"]
        ident, given = match.groups()
        if given is not None:
            table[ident] = given
            return given
        assert ident in table, f"compressed name ({ident}) used before it was defined"
        return table[ident]

    for number, line in enumerate(lines, start=1):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and key in ("fl", "fi", "fe", "fn", "cfl", "cfi", "cfn", "ob", "cob", "calls"):
            assert profile is not None, f"line {number}: data before the events: line"
            if key == "fl":
                file = name(key, value)
            elif key in ("fi", "fe"):
                name(key, value)
            elif key == "fn":
                assert file is not None, f"line {number}: fn= before any fl="
                function = (file, name(key, value))
                profile.functions.add(function)
            elif key in ("cfl", "cfi"):
                callee_file = name(key, value)
            elif key == "cfn":
                callee_name = name(key, value)
            elif key == "calls":
                parts = value.split()
                assert len(parts) >= 1 and parts[0].isdigit(), f"line {number}: bad calls= {value!r}"
                pending_calls = int(parts[0])
            continue
        header, colon, rest = line.partition(":")
        if colon and re.fullmatch(r"[a-z]+", header):
            if header == "events":
                profile = Callgrind(events=rest.split())
                assert profile.events, f"line {number}: no events"
            elif header in ("summary", "totals"):
                assert profile is not None
                setattr(profile, header, int(rest.split()[0]))
            continue
        match = _COST.match(line)
        assert match and profile is not None and function is not None, \
            f"line {number}: not a cost line: {line!r}"
        costs = [int(c) for c in match.group(2).split()]
        assert len(costs) <= len(profile.events), f"line {number}: more costs than events"
        cost = costs[0] if costs else 0
        if pending_calls is not None:
            assert callee_name is not None, f"line {number}: calls= without cfn="
            callee = (callee_file if callee_file is not None else file, callee_name)
            entry = profile.calls[(function, callee)]
            entry[0] += pending_calls
            entry[1] += cost
            pending_calls = None
            callee_file = None  # cfl= applies to one call
        else:
            profile.self_cost[function[1]] += cost
            profile.self_cost_of[function] += cost
    assert profile is not None, "no events: line"
    assert pending_calls is None, "calls= without its cost line at the end"
    total = sum(profile.self_cost.values())
    for header in ("summary", "totals"):
        value = getattr(profile, header)
        assert value is None or value == total, f"{header}: {value}, the self costs sum to {total}"
    return profile
