"""monitor_loop_lag on real loops: a time.sleep(0.2) in a coroutine arrives as
a lag of about 200 ms at a real statsd socket, a prometheus Histogram and a
callable, while an idle loop's lags stay small; a raising target is logged
once and survives; monitors stop when disabled and when their loop shuts
down, leaving nothing pending; every bad argument is refused by name.

Bounds are generous (this machine has two busy cores): the block is 200 ms,
an idle lag is allowed 100 ms, and the monitor's 10 ms interval means the
block starts at most 10 ms before a timer is due."""
from __future__ import annotations

import asyncio
import logging
import math
import re
import socket
import sys
import threading
import time

import pytest

from aiowatchdog import monitor_loop_lag

INTERVAL = 0.01
BLOCK = 0.2
BLOCK_LAG_AT_LEAST = BLOCK - INTERVAL - 0.01
IDLE_LAG_AT_MOST = 0.1


async def idle_block_idle(idle: float = 0.1) -> None:
    """Idles, blocks the loop for BLOCK seconds, idles again."""
    await asyncio.sleep(idle)
    time.sleep(BLOCK)
    await asyncio.sleep(3 * INTERVAL)


def split_at_block(lags):
    """(lags before the block, the block's lag, lags after): the block's is
    the first over the idle bound."""
    block = next(i for i, lag in enumerate(lags) if lag > IDLE_LAG_AT_MOST)
    return lags[:block], lags[block], lags[block + 1:]


@pytest.fixture
def statsd_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)
    yield sock
    sock.close()


def received_timings(sock: socket.socket, count: int):
    """(metric, milliseconds) for `count` statsd packets."""
    timings = []
    for _ in range(count):
        packet = sock.recv(512).decode()
        match = re.fullmatch(r"([\w.]+):([0-9.]+)\|ms", packet)
        assert match, f"not a statsd timing: {packet!r}"
        timings.append((match.group(1), float(match.group(2))))
    return timings


def test_statsd_client_receives_a_block_as_lag_and_small_idle_lags(statsd_socket):
    statsd = pytest.importorskip("statsd")
    client = statsd.StatsClient("127.0.0.1", statsd_socket.getsockname()[1])

    async def main():
        monitor = monitor_loop_lag.enable(client, interval=INTERVAL, metric="app.loop_lag")
        await idle_block_idle()
        monitor.disable()
        return monitor

    try:
        monitor = asyncio.run(main())
    finally:
        client.close()
    timings = received_timings(statsd_socket, monitor.lags_sent)
    statsd_socket.settimeout(0.05)
    with pytest.raises(socket.timeout):
        statsd_socket.recv(512)  # nothing beyond lags_sent
    assert {name for name, _ in timings} == {"app.loop_lag"}
    before, block, after = split_at_block([ms / 1000 for _, ms in timings])
    assert len(before) >= 3, "the idle loop sent lags before the block"
    assert max(before + after) <= IDLE_LAG_AT_MOST
    assert BLOCK_LAG_AT_LEAST <= block <= BLOCK + 0.5
    assert min(before + after) >= 0


def test_prometheus_histogram_counts_and_sums_the_lags():
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()

    async def main():
        histogram = monitor_loop_lag.enable_prometheus(
            "test_loop_lag_seconds", interval=INTERVAL, registry=registry)
        await idle_block_idle()
        assert monitor_loop_lag.disable() == 1
        return histogram

    asyncio.run(main())
    count = registry.get_sample_value("test_loop_lag_seconds_count")
    total = registry.get_sample_value("test_loop_lag_seconds_sum")
    under_block = registry.get_sample_value("test_loop_lag_seconds_bucket", {"le": "0.1"})
    assert count >= 5
    assert under_block == count - 1, "every lag but the block's is under 100 ms"
    assert BLOCK_LAG_AT_LEAST <= total <= BLOCK + (count - 1) * IDLE_LAG_AT_MOST


def test_an_object_with_observe_gets_seconds():
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    histogram = prometheus_client.Histogram("own_lag_seconds", "lag", registry=registry)

    async def main():
        monitor = monitor_loop_lag.enable(histogram, interval=INTERVAL)
        await idle_block_idle(idle=0.03)
        monitor.disable()
        return monitor

    monitor = asyncio.run(main())
    assert registry.get_sample_value("own_lag_seconds_count") == monitor.lags_sent
    assert registry.get_sample_value("own_lag_seconds_sum") >= BLOCK_LAG_AT_LEAST


def test_a_callable_gets_seconds_and_the_monitor_counts_them():
    lags = []

    async def main():
        monitor = monitor_loop_lag.enable(lags.append, interval=INTERVAL)
        assert monitor.running and monitor.last_lag is None
        await idle_block_idle()
        monitor.disable()
        return monitor

    monitor = asyncio.run(main())
    assert monitor.lags_sent == len(lags) and monitor.send_errors == 0
    assert monitor.last_lag == lags[-1]
    before, block, after = split_at_block(lags)
    assert len(before) >= 3 and after
    assert BLOCK_LAG_AT_LEAST <= block <= BLOCK + 0.5
    assert all(0 <= lag <= IDLE_LAG_AT_MOST for lag in before + after)


def test_uvloop_lags_are_measured_and_never_negative():
    uvloop = pytest.importorskip("uvloop")
    lags = []

    async def main():
        monitor = monitor_loop_lag.enable(lags.append, interval=INTERVAL)
        await idle_block_idle()
        return monitor

    # uvloop's clock counts milliseconds, so its timers often run a little
    # before their deadline: clamped to 0, never negative.
    monitor = uvloop.run(main())
    assert not monitor.running, "uvloop.run's shutdown stopped it"
    before, block, after = split_at_block(lags)
    assert len(before) >= 3 and after
    assert BLOCK_LAG_AT_LEAST <= block <= BLOCK + 0.5
    assert all(0 <= lag <= IDLE_LAG_AT_MOST for lag in before + after)


def test_timers_run_early_by_a_coarse_clock_give_lags_of_zero_not_negative():
    """asyncio runs a timer once its deadline is within the clock's
    resolution (15.6 ms for Windows' monotonic clock): early, not late."""
    loop = asyncio.new_event_loop()
    loop._clock_resolution = 2 * INTERVAL
    lags = []
    try:
        monitor_loop_lag.enable(lags.append, interval=INTERVAL, loop=loop)
        loop.run_until_complete(asyncio.sleep(10 * INTERVAL))
        monitor_loop_lag.disable(loop)
    finally:
        loop.close()
    assert len(lags) >= 5
    assert min(lags) == 0.0


def test_a_raising_target_is_logged_once_and_the_monitor_goes_on(caplog):
    calls = []

    def flaky(lag):
        calls.append(lag)
        if len(calls) % 2:
            raise OSError(f"statsd host unreachable ({len(calls)})")

    async def main():
        monitor = monitor_loop_lag.enable(flaky, interval=INTERVAL)
        deadline = time.monotonic() + 2.0
        while len(calls) < 8 and time.monotonic() < deadline:
            await asyncio.sleep(INTERVAL)
        monitor.disable()
        return monitor

    with caplog.at_level(logging.ERROR):
        monitor = asyncio.run(main())
    assert len(calls) == 8, "the monitor went on after the target raised"
    assert (monitor.send_errors, monitor.lags_sent) == (4, 4)
    [record] = caplog.records
    assert record.name == "aiowatchdog" and record.levelno == logging.ERROR
    assert "flaky" in record.getMessage()
    assert "statsd host unreachable (1)" in caplog.text


def test_disable_stops_the_monitor_and_disable_loop_stops_every_one_on_it():
    other_loop = asyncio.new_event_loop()
    lags = {"a": [], "b": [], "other": []}

    async def main():
        a = monitor_loop_lag.enable(lags["a"].append, interval=INTERVAL)
        b = monitor_loop_lag.enable(lags["b"].append, interval=INTERVAL)
        other = monitor_loop_lag.enable(lags["other"].append, interval=INTERVAL, loop=other_loop)
        await asyncio.sleep(5 * INTERVAL)
        a.disable()
        a.disable()  # harmless
        sent = len(lags["a"])
        await asyncio.sleep(5 * INTERVAL)
        assert len(lags["a"]) == sent and not a.running
        assert len(lags["b"]) > sent, "b goes on"
        assert monitor_loop_lag.disable() == 1
        sent = len(lags["b"])
        await asyncio.sleep(5 * INTERVAL)
        assert len(lags["b"]) == sent and not b.running
        return other

    other = asyncio.run(main())
    assert other.running and lags["other"] == [], "a monitor on a loop not yet run waits for it"
    other_loop.close()
    assert not other.running, "a closed loop's monitor is not running"


def test_a_target_may_disable_its_own_monitor():
    lags = []

    def three_then_stop(lag):
        lags.append(lag)
        if len(lags) == 3:
            monitor.disable()

    async def main():
        nonlocal monitor
        monitor = monitor_loop_lag.enable(three_then_stop, interval=INTERVAL)
        await asyncio.sleep(10 * INTERVAL)

    monitor = None
    asyncio.run(main())
    assert len(lags) == 3 and not monitor.running


def test_a_monitor_on_a_loop_in_another_thread_starts_and_stops_from_here():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    lags = []
    try:
        monitor = monitor_loop_lag.enable(lags.append, interval=INTERVAL, loop=loop)
        deadline = time.monotonic() + 2.0
        while len(lags) < 3 and time.monotonic() < deadline:
            time.sleep(INTERVAL)
        assert len(lags) >= 3
        assert monitor_loop_lag.disable(loop) == 1
        time.sleep(2 * INTERVAL)  # a tick already due may still be running
        sent = len(lags)
        time.sleep(5 * INTERVAL)
        assert len(lags) == sent
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@pytest.mark.parametrize("run", ["asyncio.run", "uvloop.run"])
def test_loop_shutdown_stops_the_monitor_without_a_complaint(caplog, run):
    runner = asyncio.run if run == "asyncio.run" else pytest.importorskip("uvloop").run

    async def main():
        monitor = monitor_loop_lag.enable(lambda lag: None, interval=INTERVAL)
        await asyncio.sleep(3 * INTERVAL)
        return monitor, asyncio.get_running_loop()

    with caplog.at_level(logging.DEBUG):
        monitor, loop = runner(main())
    assert not monitor.running
    assert monitor_loop_lag.disable(loop) == 0, "the shutdown already stopped it"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("interval", [0, -1, -0.5, math.nan, math.inf, -math.inf])
def test_a_bad_interval_is_a_value_error_naming_it(interval):
    message = rf"^interval must be a finite number of seconds > 0, got {interval!r}$"
    with pytest.raises(ValueError, match=message):
        monitor_loop_lag.enable(print, interval=interval)
    with pytest.raises(ValueError, match=r"^interval must be "):
        monitor_loop_lag.enable_prometheus(interval=interval)


@pytest.mark.parametrize("interval", ["0.25", None, True])
def test_an_interval_not_a_number_is_a_type_error(interval):
    message = rf"^interval must be a number of seconds, got {re.escape(repr(interval))}$"
    with pytest.raises(TypeError, match=message):
        monitor_loop_lag.enable(print, interval=interval)


@pytest.mark.parametrize("target", [None, 42, "statsd", object()])
def test_a_target_of_no_usable_kind_is_a_type_error_naming_it(target):
    message = r"^target must be a statsd client .*, got " + re.escape(repr(target)) + "$"
    with pytest.raises(TypeError, match=message):
        monitor_loop_lag.enable(target)


@pytest.mark.parametrize("metric, error",
                         [("", ValueError), (None, TypeError), (b"lag", TypeError)])
def test_a_bad_metric_is_refused_naming_it(metric, error):
    message = rf"^metric must be a (non-empty )?str, got {re.escape(repr(metric))}$"
    with pytest.raises(error, match=message):
        monitor_loop_lag.enable(print, metric=metric)


def test_without_a_running_loop_enable_and_disable_ask_for_one():
    message = r"^monitor_loop_lag.enable\(\) needs a running event loop, or pass loop=$"
    with pytest.raises(RuntimeError, match=message):
        monitor_loop_lag.enable(print)
    with pytest.raises(RuntimeError, match=r"needs a running event loop"):
        monitor_loop_lag.disable()
    with pytest.raises(TypeError, match=r"^loop must be an asyncio event loop, got 'loop'$"):
        monitor_loop_lag.enable(print, loop="loop")
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(RuntimeError, match=r"^cannot monitor a closed event loop"):
        monitor_loop_lag.enable(print, loop=loop)


def test_enable_prometheus_checks_everything_before_registering():
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    with pytest.raises(ValueError, match=r"^name must be a non-empty str, got ''$"):
        monitor_loop_lag.enable_prometheus("", registry=registry)
    with pytest.raises(RuntimeError, match=r"needs a running event loop"):
        monitor_loop_lag.enable_prometheus("lag_seconds", registry=registry)
    assert list(registry.collect()) == []


def test_enable_prometheus_without_prometheus_client_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails

    async def main():
        with pytest.raises(ImportError, match=r"pip install aiowatchdog\[prometheus\]"):
            monitor_loop_lag.enable_prometheus()
        assert monitor_loop_lag.disable() == 0, "no monitor was left running"

    asyncio.run(main())
