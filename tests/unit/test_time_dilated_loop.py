"""TimeDilatedLoop on real loops: sleeps, timers and timeouts take 1/dilation
of their loop time in real time; a dilation changed mid-run bends loop time
without a jump (also from another thread, waking a sleeping loop); it runs
under asyncio.run(loop_factory=) and by hand; bad dilations are refused by
name; and aiowatchdog's own watchdog, which wraps the same selector, still
catches a real time.sleep hang in real time and leaves dilation working.

Real-time bounds are generous (two busy cores): a lower bound a little
under the ideal, an upper bound that the undilated time would exceed."""
from __future__ import annotations

import asyncio
import functools
import math
import re
import sys
import threading
import time

import pytest

from aiowatchdog import hang_inspection
from aiowatchdog._report_files import list_reports, loop_thread, read_report
from aiowatchdog.testing import TimeDilatedLoop


@pytest.fixture
def loop():
    loop = TimeDilatedLoop()
    yield loop
    loop.close()


def real_and_loop_seconds(loop, coro):
    """Runs `coro` on `loop`: (real seconds, loop seconds, its result)."""
    real0, loop0 = time.monotonic(), loop.time()
    result = loop.run_until_complete(coro)
    return time.monotonic() - real0, loop.time() - loop0, result


def test_dilation_10_makes_a_second_of_sleep_a_tenth_of_a_second(loop):
    loop.time_dilation = 10
    real, looped, _ = real_and_loop_seconds(loop, asyncio.sleep(1))
    assert 0.09 <= real < 0.5
    assert looped >= 1


def test_a_dilation_below_one_slows_time(loop):
    loop.time_dilation = 0.5
    real, looped, _ = real_and_loop_seconds(loop, asyncio.sleep(0.05))
    assert 0.095 <= real < 0.5
    assert looped >= 0.05


def test_call_later_and_call_at_fire_at_dilated_times(loop):
    loop.time_dilation = 20

    async def both():
        fired = {}
        done = asyncio.Event()
        start = time.monotonic()

        def mark(name):
            fired[name] = time.monotonic() - start
            if len(fired) == 2:
                done.set()

        loop.call_later(2, mark, "call_later")
        loop.call_at(loop.time() + 4, mark, "call_at")
        await done.wait()
        return fired

    real, looped, fired = real_and_loop_seconds(loop, both())
    assert 0.09 <= fired["call_later"] < 0.2 + 0.4
    assert 0.19 <= fired["call_at"] < 0.2 + 0.4
    assert fired["call_later"] < fired["call_at"]
    assert looped >= 4


def test_wait_for_times_out_in_dilated_time(loop):
    loop.time_dilation = 10

    async def times_out():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), timeout=2)

    real, looped, _ = real_and_loop_seconds(loop, times_out())
    assert 0.19 <= real < 1.0
    assert 2 <= looped < 10


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_expires_in_dilated_time(loop):
    loop.time_dilation = 10

    async def times_out():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2):
                await asyncio.sleep(100)

    real, looped, _ = real_and_loop_seconds(loop, times_out())
    assert 0.19 <= real < 1.0
    assert 2 <= looped < 10


def test_changing_the_dilation_mid_run_bends_time_without_a_jump(loop):
    """Loop time read between changes never goes back, never runs faster
    than the fastest dilation, and follows each new rate."""
    dilations = [1, 100, 0.01, 1000, 1]

    async def read_through_changes():
        readings = []
        for dilation in dilations:
            loop.time_dilation = dilation
            for _ in range(5):
                readings.append((time.monotonic(), loop.time(), time.monotonic()))
                await asyncio.sleep(0)
            real0, loop0 = time.monotonic(), loop.time()
            time.sleep(0.01)
            rate = (loop.time() - loop0) / (time.monotonic() - real0)
            assert rate == pytest.approx(dilation, rel=0.2)
        return readings

    readings = loop.run_until_complete(read_through_changes())
    for (before_a, loop_a, _), (_, loop_b, after_b) in zip(readings, readings[1:]):
        assert 0 <= loop_b - loop_a <= (after_b - before_a) * max(dilations)


def test_changes_from_another_thread_keep_time_monotonic(loop):
    stop = threading.Event()

    def keep_changing():
        while not stop.is_set():
            for dilation in (1000, 0.001, 1, 50):
                loop.time_dilation = dilation

    changer = threading.Thread(target=keep_changing)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    changer.start()
    try:
        readings = [loop.time() for _ in range(100_000)]
    finally:
        stop.set()
        changer.join()
        sys.setswitchinterval(switch_interval)
    assert all(b >= a for a, b in zip(readings, readings[1:]))


def test_a_far_timer_at_a_tiny_dilation_does_not_overflow_the_selector(loop):
    """A day of loop time at dilation 0.001 is 1000 real days, past what
    epoll can wait (about 24.8 days): the wait is capped, not an error."""
    loop.time_dilation = 0.001
    far = loop.call_later(24 * 3600, lambda: None)
    done = loop.create_future()
    waker = threading.Timer(0.02, loop.call_soon_threadsafe, (done.set_result, None))
    waker.start()
    try:
        loop.run_until_complete(done)
    finally:
        waker.join()
        far.cancel()


def test_a_change_from_another_thread_wakes_a_sleeping_loop(loop):
    """Asleep in select for 3 loop seconds at dilation 1, the loop must
    notice dilation 1000 at once, not 3 s later."""
    changer = threading.Timer(0.05, setattr, (loop, "time_dilation", 1000))
    changer.start()
    try:
        real, looped, _ = real_and_loop_seconds(loop, asyncio.sleep(3))
    finally:
        changer.join()
    assert real < 1.0
    assert looped >= 3


@pytest.mark.parametrize("value", [0, -1, -0.001, math.nan, math.inf, -math.inf])
def test_a_dilation_not_finite_and_positive_is_a_value_error_naming_it(loop, value):
    message = rf"^time_dilation must be a finite number > 0, got {re.escape(repr(value))}$"
    with pytest.raises(ValueError, match=message):
        loop.time_dilation = value
    with pytest.raises(ValueError, match=message):
        TimeDilatedLoop(time_dilation=value)
    assert loop.time_dilation == 1.0, "a refused value changes nothing"


@pytest.mark.parametrize("value", ["10", None, True])
def test_a_dilation_not_a_number_is_a_type_error_naming_it(loop, value):
    message = rf"^time_dilation must be a number, got {re.escape(repr(value))}$"
    with pytest.raises(TypeError, match=message):
        loop.time_dilation = value
    with pytest.raises(TypeError, match=message):
        TimeDilatedLoop(value)


def test_the_constructor_takes_the_dilation():
    loop = TimeDilatedLoop(time_dilation=10)
    try:
        assert loop.time_dilation == 10.0
        real, _, _ = real_and_loop_seconds(loop, asyncio.sleep(1))
        assert real < 0.5
    finally:
        loop.close()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is new in 3.12")
def test_asyncio_run_takes_it_as_loop_factory():
    async def main():
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        await asyncio.sleep(1)
        return type(loop), loop.time_dilation, time.monotonic() - start

    faster = functools.partial(TimeDilatedLoop, time_dilation=20)
    kind, dilation, real = asyncio.run(main(), loop_factory=faster)
    assert (kind, dilation) == (TimeDilatedLoop, 20.0)
    assert real < 0.5

    async def which_loop():
        loop = asyncio.get_running_loop()
        return type(loop), loop.time_dilation

    assert asyncio.run(which_loop(), loop_factory=TimeDilatedLoop) == (TimeDilatedLoop, 1.0)


def blocks_the_loop_for_real():
    time.sleep(0.4)


def test_the_hang_watchdog_keeps_real_time_and_dilation_survives_it(loop, tmp_path):
    """The watchdog wraps the loop's (dilated) select. Dilation 0.1 makes a
    sleep of 0.01 loop seconds 0.1 s of real idling, which is no hang; a
    real 0.4 s time.sleep is one (4 loop seconds at dilation 10, but the
    watchdog counts real time); sleeps stay dilated with the watchdog on
    and after it stopped."""

    async def main():
        dumper = hang_inspection.start(tmp_path, interval=0.05, samples=1)
        loop.time_dilation = 0.1
        real, _ = await timed(asyncio.sleep(0.01))
        assert 0.09 <= real < 0.5, "dilated below 1 with the watchdog on"
        assert dumper.episodes == 0, "idling in the dilated select is not a hang"
        loop.time_dilation = 10
        blocks_the_loop_for_real()
        await asyncio.sleep(0)
        real, _ = await timed(asyncio.sleep(1))
        assert 0.09 <= real < 0.5, "dilated above 1 with the watchdog on"
        await hang_inspection.stop_wait(dumper)
        assert dumper.episodes == 1
        real, _ = await timed(asyncio.sleep(1))
        assert 0.09 <= real < 0.5, "still dilated after the watchdog stopped"

    loop.run_until_complete(main())
    [report] = [read_report(path) for path in list_reports(str(tmp_path), ".json")]
    frames = [frame["function"] for frame in loop_thread(report)["frames"]]
    assert any(f.endswith("blocks_the_loop_for_real") for f in frames), frames


async def timed(coro):
    start = time.monotonic()
    result = await coro
    return time.monotonic() - start, result
