"""Collapsed ("folded") stacks, the input of flamegraph.pl and inferno that
speedscope also imports: one line per distinct stack, `root;...;leaf N`, N the
blocked milliseconds it stands for (an integer, at least 1). Frame labels
cannot hold the separator: a ';' in one becomes ','.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, Sequence, Tuple

from . import WeightedStack, frame_label


def render(stacks: Sequence[WeightedStack], title: str) -> str:
    merged: Dict[Tuple[str, ...], float] = defaultdict(float)
    for stack in stacks:
        labels = tuple(frame_label(f).replace(";", ",") for f in stack.frames) or ("(no stack)",)
        merged[labels] += stack.weight_ms
    lines = [f"{';'.join(labels)} {max(1, round(weight))}"
             for labels, weight in sorted(merged.items()) if weight > 0]
    return "".join(line + "\n" for line in lines)
