"""Reading blocked-time profiles back: the one extra JSON file per episode a
dumper started with `profile_hz` writes when the episode ends (schema
"aiowatchdog.profile", version 1), next to the episode's reports and named
after its first one: `profile-<YYYYMMDD-HHMMSS.ffffff>.json`, the stamp of
sample 0's `stacktrace-<stamp>-0.*`.

The file holds the loop thread's stacks sampled at `profile_hz` from
detection until the loop recovered (or the dumper stopped), aggregated:
each distinct stack once, with how many samples saw it. Frames are ordered
outermost first with the keys of a report's frames (kind, file, line,
function, source).

Malformed input raises ReportFormatError (as for reports), never anything else.
"""
from __future__ import annotations

import re
from typing import Any, Dict

from ._report_files import (
    _BOOL, _DURATION, _INT, _JSON_FRAME_FIELDS, _LIST, _STR, ReportFormatError, _check_fields,
    _Check, load_document,
)

SCHEMA = "aiowatchdog.profile"
SCHEMA_VERSION = 1
PROFILE_NAME = re.compile(r"profile-(\d{8}-\d{6}\.\d{6})\.json\Z", re.ASCII)

Profile = Dict[str, Any]

_FIELDS: Dict[str, _Check] = {
    # The episode's id, as in its reports' "episode".
    "episode": _STR,
    "pid": _INT,
    "python": _STR,
    # Sampling rate asked for, and the interval of the dumper.
    "profile_hz": _DURATION,
    "interval_s": _DURATION,
    # When the episode was detected (sample 0's time), and how long the loop
    # was blocked in all: to recovery, or to the dumper's stop when
    # `recovered` is false.
    "started_unix_ns": _INT,
    "blocked_s": _DURATION,
    "recovered": _BOOL,
    # Samples taken (sum of the stacks' counts); samples thrown away because
    # the loop moved while its stack was read, or because the stack table was
    # full (`max distinct stacks`, docs/api.md).
    "samples": _INT,
    "discarded_samples": _INT,
    "dropped_samples": _INT,
    "loop_thread": (lambda v: isinstance(v, dict), "an object"),
    "stacks": _LIST,
}
_LOOP_THREAD_FIELDS: Dict[str, _Check] = {"native_id": _INT, "name": _STR}
_STACK_FIELDS: Dict[str, _Check] = {"count": _INT, "frames": _LIST}


def parse_profile(text: str) -> Profile:
    """Parses a profile file's text and checks it has the documented shape."""
    profile = load_document(text, SCHEMA, SCHEMA_VERSION, "profile")
    _check_fields(profile, _FIELDS, "profile")
    _check_fields(profile["loop_thread"], _LOOP_THREAD_FIELDS, "loop_thread")
    total = 0
    for i, stack in enumerate(profile["stacks"]):
        _check_fields(stack, _STACK_FIELDS, f"stacks[{i}]")
        if stack["count"] < 1:
            raise ReportFormatError(f"stacks[{i}].count must be >= 1, got {stack['count']}")
        total += stack["count"]
        for k, frame in enumerate(stack["frames"]):
            _check_fields(frame, _JSON_FRAME_FIELDS, f"stacks[{i}].frames[{k}]")
    if total != profile["samples"]:
        raise ReportFormatError(f"profile.samples is {profile['samples']} but the stacks count {total}")
    return profile


def read_profile(path: str) -> Profile:
    """Reads a profile file; ReportFormatError for what is not one, OSError
    when it cannot be read."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportFormatError(f"{path}: not UTF-8 ({e.reason})") from None
    try:
        return parse_profile(text)
    except ReportFormatError as e:
        raise ReportFormatError(f"{path}: {e}") from None
