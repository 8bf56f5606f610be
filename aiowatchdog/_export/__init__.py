"""Exporters of weighted loop-thread stacks, one module per format behind one
interface: `RENDERERS[name](stacks, title) -> file text`. The `report`
command builds the stacks (aiowatchdog/_cli/_episodes.py); renderers only
lay them out. Every renderer is deterministic and gives a valid file for no
stacks at all.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Mapping, NamedTuple, Sequence, Tuple

from .._paths import shorten_path


class WeightedStack(NamedTuple):
    """One sampled stack of the loop's thread and the blocked time it stands for."""

    frames: Tuple[Mapping[str, Any], ...]  # report frame dicts, outermost first
    weight_ms: float                       # > 0


def _one_line(text: str) -> str:
    # Every line boundary str.splitlines knows (\x1c-\x1e, \x85, \u2028 too):
    # a reader splitting on any of them must still see one line.
    return " ".join(text.splitlines())


def native_library(frame: Mapping[str, Any]) -> str:
    """A native frame's library path, without the offset an unresolved
    frame's file carries ("/lib/libc.so.6 + 0x27249" -> "/lib/libc.so.6")."""
    return frame["file"].split(" + ")[0] if frame["file"] else "?"


def frame_name(frame: Mapping[str, Any]) -> str:
    """A frame's function: its name, or for a native frame with no symbol
    its library and offset (stable across processes, where the absolute
    address the report shows is not)."""
    function = frame["function"]
    if frame["kind"] == "native" and function.startswith("0x") and " + 0x" in frame["file"]:
        function = os.path.basename(frame["file"])
    return _one_line(function)


def frame_label(frame: Mapping[str, Any]) -> str:
    """How a frame is named where one string must say everything (collapsed
    stacks, speedscope's frame names): `function (file:line)` for Python
    code, the path shortened as `show` does but never relative to the current
    directory, so an export reads the same wherever it is made; `function
    [library]` for native code. Line breaks of any kind become spaces."""
    if frame["kind"] == "native":
        return _one_line(f"{frame_name(frame)} [{os.path.basename(native_library(frame))}]")
    line = frame["line"] if frame["line"] is not None else "?"
    return _one_line(f"{frame_name(frame)} ({shorten_path(frame['file'], cwd='/')}:{line})")


Renderer = Callable[[Sequence[WeightedStack], str], str]


def _renderers() -> Dict[str, Renderer]:
    from . import callgrind, collapsed, speedscope

    return {"collapsed": collapsed.render, "speedscope": speedscope.render,
            "callgrind": callgrind.render}


RENDERERS: Dict[str, Renderer] = _renderers()
