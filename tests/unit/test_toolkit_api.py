"""The toolkit's argument checks and small contracts, in process: bad values
are refused with errors that name them."""
from __future__ import annotations

import asyncio
import time

import pytest

import aiowatchdog
from aiowatchdog import log_slow_callbacks


@pytest.mark.parametrize("threshold, error", [
    (0.001, ValueError), (0, ValueError), (-1, ValueError), (float("nan"), ValueError),
    ("0.1", TypeError), (True, TypeError),
])
def test_watch_refuses_a_bad_threshold(threshold, error):
    with pytest.raises(error, match="threshold"):
        aiowatchdog.watch(threshold)


def test_watch_refuses_a_callback_that_is_not_callable():
    with pytest.raises(TypeError, match="on_block must be callable, got 3"):
        aiowatchdog.watch(0.05, 3)  # type: ignore[arg-type]


def test_a_watch_cannot_be_entered_twice_at_once():
    w = aiowatchdog.watch(0.05)
    with w:
        with pytest.raises(RuntimeError, match="active already"):
            w.__enter__()


def test_allow_blocking_refuses_to_decorate_a_coroutine_function():
    with pytest.raises(TypeError, match="cannot decorate the coroutine function .*blocked"):
        @aiowatchdog.allow_blocking()
        async def blocked() -> None:
            pass


def test_allow_blocking_decorates_plain_functions_and_counts_their_time():
    from aiowatchdog._allow_blocking import sections

    @aiowatchdog.allow_blocking()
    def slow() -> str:
        time.sleep(0.02)
        return "done"

    before = sections.total_ns
    assert slow() == "done"
    assert sections.total_ns - before >= 20_000_000
    assert sections.depth == 0


@pytest.mark.parametrize("value", [0, -0.5, float("inf")])
def test_log_slow_callbacks_refuses_a_bad_duration(value):
    with pytest.raises(ValueError, match="slow_duration"):
        log_slow_callbacks.enable(value)
    assert not log_slow_callbacks.is_enabled()


def test_log_slow_callbacks_disable_restores_asyncio():
    original = asyncio.events.Handle._run
    log_slow_callbacks.enable(0.1)
    try:
        assert asyncio.events.Handle._run is not original
        assert log_slow_callbacks.is_enabled()
    finally:
        log_slow_callbacks.disable()
    assert asyncio.events.Handle._run is original
    log_slow_callbacks.disable()  # twice: harmless
