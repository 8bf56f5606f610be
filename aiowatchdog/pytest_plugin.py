"""The aiowatchdog pytest plugin: a test during which an event loop blocked
longer than a threshold fails, with the culprit's stack in the message.

Installed with the package (a pytest11 entry point) and off until a
threshold is set:

    pytest --aiowatchdog-threshold=0.1          # or, in the ini file:
    [pytest]
    aiowatchdog_threshold = 0.1

    @pytest.mark.aiowatchdog(threshold=0.5)     # this test's own threshold
    @pytest.mark.aiowatchdog(allow_blocking=True)  # this test may block

While a test's call phase runs, every asyncio loop that runs (pytest-asyncio's,
or one the test starts with asyncio.run, on any thread) is watched by an
in-memory watchdog (aiowatchdog.watch's engine). Sections inside
aiowatchdog.allow_blocking() do not count. Fixtures' setup and teardown are
not watched. uvloop loops are not seen (they set their running loop in C).
"""
from __future__ import annotations

import math
from typing import Any, Generator, List, Optional

import pytest

from ._block_info import BlockInfo
from ._block_watcher import MIN_THRESHOLD_S
from ._loop_watchers import LoopWatchers
from ._support import unsupported_reason

_MARKER = "aiowatchdog"
_FRAMES_SHOWN = 15


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiowatchdog", "aiowatchdog: fail tests that block the event loop")
    group.addoption(
        "--aiowatchdog-threshold", metavar="SECONDS", default=None,
        help="fail a test during which an event loop was blocked longer than this "
             f"(at least {MIN_THRESHOLD_S}); default: off")
    parser.addini("aiowatchdog_threshold",
                  "as --aiowatchdog-threshold (the command line wins)", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(threshold=None, allow_blocking=False): this test's blocking threshold in "
        "seconds, or allow_blocking=True to let it block the event loop")
    option = config.getoption("aiowatchdog_threshold")
    if option is not None:
        threshold = _parse_threshold(option, "--aiowatchdog-threshold")
    else:
        threshold = _parse_threshold(config.getini("aiowatchdog_threshold"),
                                     "the aiowatchdog_threshold ini option")
    if threshold is not None:
        reason = unsupported_reason()
        if reason is not None:
            raise pytest.UsageError(f"--aiowatchdog-threshold: {reason}")
    config.stash[_threshold_key] = threshold


_threshold_key = pytest.StashKey[Optional[float]]()


def _parse_threshold(value: Any, where: str) -> Optional[float]:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{where} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < MIN_THRESHOLD_S:
        raise pytest.UsageError(
            f"{where} must be a finite number of seconds >= {MIN_THRESHOLD_S}, got {value!r}")
    return seconds


def _threshold_for(item: pytest.Item) -> Optional[float]:
    threshold = item.config.stash.get(_threshold_key, None)
    marker = item.get_closest_marker(_MARKER)
    if marker is None:
        return threshold
    unknown = set(marker.kwargs) - {"threshold", "allow_blocking"}
    if marker.args or unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: the aiowatchdog marker takes threshold= and allow_blocking= only, "
            f"got args {marker.args!r} and {sorted(unknown)!r}")
    allow = marker.kwargs.get("allow_blocking", False)
    if not isinstance(allow, bool):  # "false" would be true
        raise pytest.UsageError(
            f"{item.nodeid}: aiowatchdog(allow_blocking=) must be True or False, got {allow!r}")
    if allow:
        return None
    if marker.kwargs.get("threshold") is not None:  # None: the option's, as documented
        return _parse_threshold(marker.kwargs["threshold"], f"{item.nodeid}: aiowatchdog(threshold=)")
    return threshold


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    # Bad marker arguments are a usage error before any test runs: raised
    # from pytest_runtest_call, a UsageError is only that test's failure,
    # with a traceback into this plugin.
    for item in items:
        _threshold_for(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    threshold = _threshold_for(item)
    if threshold is None:
        return (yield)
    blocks: List[BlockInfo] = []
    watchers = LoopWatchers(threshold, blocks.append).open()
    try:
        result = yield
    finally:
        watchers.close()
    if blocks:
        pytest.fail(_failure_message(blocks, threshold), pytrace=False)
    return result


def _failure_message(blocks: List[BlockInfo], threshold: float) -> str:
    worst = max(blocks, key=lambda b: b.duration)
    lines = [f"the event loop was blocked {len(blocks)} time(s) longer than the aiowatchdog "
             f"threshold of {threshold * 1000:.0f} ms; the longest, {worst.duration * 1000:.1f} ms:",
             worst.format(max_frames=_FRAMES_SHOWN)]
    others = [b for b in blocks if b is not worst]
    for block in others[:5]:
        where = f"{block.function} ({block.file}:{block.line})" if block.function else "unsampled"
        lines.append(f"also blocked {block.duration * 1000:.1f} ms in {where}")
    lines.append("(allow it with aiowatchdog.allow_blocking() around the call, or "
                 "@pytest.mark.aiowatchdog(allow_blocking=True) on the test)")
    return "\n".join(lines)
