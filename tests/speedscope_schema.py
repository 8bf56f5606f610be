"""A check of speedscope's file format, written from its specification
(speedscope's src/lib/file-format-spec.ts and the JSON schema generated from
it, https://www.speedscope.app/file-format-schema.json), since the project
does not depend on a JSON-schema library: the keys each object requires,
their types and enums, for both profile kinds; then what the schema cannot
say but speedscope needs: frame indexes in range, one weight per sample,
and events that nest."""
from __future__ import annotations

from typing import Any, Dict, List

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(obj: Any, where: str, required: Dict[str, Any], optional: Dict[str, Any] = None) -> None:
    assert isinstance(obj, dict), f"{where}: not an object"
    for key, check in required.items():
        assert key in obj, f"{where}: {key!r} is required"
        assert check(obj[key]), f"{where}.{key}: bad value {obj[key]!r}"
    for key, check in (optional or {}).items():
        if key in obj:
            assert check(obj[key]), f"{where}.{key}: bad value {obj[key]!r}"


def _frame_indexes(values: Any, frames: int) -> bool:
    return isinstance(values, list) and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < frames for i in values)


def validate_speedscope(document: Any) -> None:
    """AssertionError naming the first thing that does not conform."""
    _require(document, "file", {
        "$schema": lambda v: v == SCHEMA_URL,
        "shared": lambda v: isinstance(v, dict),
        "profiles": lambda v: isinstance(v, list),
    }, {
        "name": lambda v: isinstance(v, str),
        "activeProfileIndex": _number,
        "exporter": lambda v: isinstance(v, str),
    })
    frames: List[Any] = document["shared"].get("frames")
    assert isinstance(frames, list), "shared.frames is required and must be a list"
    for i, frame in enumerate(frames):
        _require(frame, f"shared.frames[{i}]", {"name": lambda v: isinstance(v, str)}, {
            "file": lambda v: isinstance(v, str), "line": _number, "col": _number})
    if "activeProfileIndex" in document and document["profiles"]:
        assert 0 <= document["activeProfileIndex"] < len(document["profiles"])
    common = {"name": lambda v: isinstance(v, str), "unit": lambda v: v in UNITS,
              "startValue": _number, "endValue": _number}
    for p, profile in enumerate(document["profiles"]):
        where = f"profiles[{p}]"
        assert isinstance(profile, dict) and profile.get("type") in ("sampled", "evented"), \
            f"{where}.type must be 'sampled' or 'evented'"
        if profile["type"] == "sampled":
            _require(profile, where, {**common,
                                      "samples": lambda v: isinstance(v, list),
                                      "weights": lambda v: isinstance(v, list)})
            assert len(profile["samples"]) == len(profile["weights"]), f"{where}: samples != weights"
            for s, sample in enumerate(profile["samples"]):
                assert _frame_indexes(sample, len(frames)), f"{where}.samples[{s}]: bad indexes"
            assert all(_number(w) and w >= 0 for w in profile["weights"]), f"{where}: bad weight"
            span = profile["endValue"] - profile["startValue"]
            assert abs(span - sum(profile["weights"])) <= 1e-6 * max(1.0, span) + 0.01, \
                f"{where}: endValue - startValue is {span}, the weights sum to {sum(profile['weights'])}"
        else:
            _require(profile, where, {**common, "events": lambda v: isinstance(v, list)})
            open_frames: List[int] = []
            for e, event in enumerate(profile["events"]):
                _require(event, f"{where}.events[{e}]", {
                    "type": lambda v: v in ("O", "C"), "at": _number,
                    "frame": lambda v: _frame_indexes([v], len(frames))})
                if event["type"] == "O":
                    open_frames.append(event["frame"])
                else:
                    assert open_frames and open_frames.pop() == event["frame"], \
                        f"{where}.events[{e}] closes a frame that is not the innermost open one"
