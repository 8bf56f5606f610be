"""Loop lag as a metric: a superset of aiodebug.monitor_loop_lag.

    monitor = monitor_loop_lag.enable(statsd.StatsClient("127.0.0.1", 8125))
    histogram = monitor_loop_lag.enable_prometheus()

Every `interval` seconds a timer on the loop measures how late it ran (its
lag: the time the loop was too busy to run it) and sends that to a target: a
statsd client (`.timing(metric, milliseconds)`), a prometheus Histogram
(`.observe(seconds)`) or any callable(lag_seconds). Where hang_inspection
catches the one iteration that blocks, this shows the steady drag of many
short ones.

A chain of timer callbacks rather than a task (aiodebug's), so a loop that
closes has no pending task to complain about; the chain also stops by itself
when its loop shuts down. A target that raises is logged once and counted,
never allowed to stop the monitor or reach the loop.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from typing import Any, Callable, Optional, Sequence

from ._loop_shutdown import LoopShutdownHook
from ._loops import on_loop_thread, running_loop
from ._options import check_seconds

__all__ = ["LagMonitor", "LAG_BUCKETS", "enable", "enable_prometheus", "disable"]

logger = logging.getLogger("aiowatchdog")

# Histogram buckets for lags, in seconds: a healthy loop's sub-millisecond
# lags up to the multi-second stalls hang_inspection reports.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Monitors not yet stopped, for disable(loop). Weak: a running monitor is
# kept alive by its pending timer, which its loop holds; a monitor whose loop
# was closed and dropped without a shutdown goes with it. A WeakSet iterates
# in Python, so loops in several threads take the lock to use it.
_live_monitors: "weakref.WeakSet[LagMonitor]" = weakref.WeakSet()
_live_monitors_lock = threading.Lock()


class LagMonitor:
    """One lag measurement chain on one loop. Made by `enable`; stop it with
    `disable()`. It also stops by itself when its loop shuts down
    (asyncio.run, uvloop.run, Runner.close) or closes.

    lags_sent: lags handed to the target without an error.
    send_errors: lags the target raised on (only the first is logged).
    last_lag: the latest lag measured, in seconds (None before the first).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, target: Any,
                 send: Callable[[float], None], interval: float, metric: str) -> None:
        self.loop = loop
        self.target = target
        self.interval = interval
        self.metric = metric
        self.lags_sent = 0
        self.send_errors = 0
        self.last_lag: Optional[float] = None
        self._send = send
        self._handle: Optional[asyncio.TimerHandle] = None
        self._deadline = 0.0
        self._stopped = False
        self._lock = threading.Lock()
        self._shutdown_hook = LoopShutdownHook(self.disable)

    @property
    def running(self) -> bool:
        return not self._stopped and not self.loop.is_closed()

    def _start(self) -> None:
        with _live_monitors_lock:
            _live_monitors.add(self)
        on_loop_thread(self.loop, self._arm)

    def _arm(self) -> None:
        """On the loop's thread, while it runs (the shutdown hook needs both)."""
        if self._stopped:
            return
        self._shutdown_hook.arm()
        self._schedule()

    def _schedule(self) -> None:
        self._deadline = self.loop.time() + self.interval
        self._handle = self.loop.call_at(self._deadline, self._tick)

    def _tick(self) -> None:
        if self._stopped:
            return
        # A timer may run up to the clock's resolution early (asyncio) or a
        # millisecond early (uvloop's ms clock): that is no lag, not a negative one.
        lag = max(0.0, self.loop.time() - self._deadline)
        self.last_lag = lag
        try:
            self._send(lag)
        except Exception:
            self.send_errors += 1
            if self.send_errors == 1:
                logger.error(
                    "monitor_loop_lag: sending a lag to %r failed; the monitor goes on, and "
                    "further failures are counted in send_errors, not logged",
                    self.target, exc_info=True,
                )
        else:
            self.lags_sent += 1
        # Measured from now, as aiodebug does: after a long block the next
        # lag is one interval on, not a burst of catch-up timers. Unless the
        # target (or another thread) disabled the monitor meanwhile.
        if not self._stopped:
            self._schedule()

    def disable(self) -> None:
        """Stops the monitor; no lag is sent after it returns (on the loop's
        thread) or after the loop's current callback (elsewhere). Stopping
        twice is harmless."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        with _live_monitors_lock:
            _live_monitors.discard(self)
        self._shutdown_hook.disarm()
        handle, self._handle = self._handle, None
        # TimerHandle.cancel is for the loop's thread; elsewhere _stopped
        # makes the pending tick a no-op.
        if handle is not None and running_loop() is self.loop:
            handle.cancel()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<LagMonitor {state} interval={self.interval} target={self.target!r} "
                f"lags_sent={self.lags_sent}>")


def enable(
    target: Any,
    interval: float = 0.25,
    loop: Optional[asyncio.AbstractEventLoop] = None,
    *,
    metric: str = "aiowatchdog.loop_lag",
) -> LagMonitor:
    """Sends `loop`'s lag to `target` every `interval` seconds.

    target: a statsd client (anything with `.timing(name, milliseconds)`; the
        `statsd` package's StatsClient as is), a prometheus Histogram (anything
        with `.observe(seconds)`), or a callable(lag_seconds), tried in that order.
    metric: the name passed to `.timing`; the other kinds have their own.
    loop: default the running loop. aiodebug took asyncio.get_event_loop(),
        which outside a running loop made (or found) a loop that might never
        run; here that is a RuntimeError: call enable() from a coroutine, or
        pass loop= (a loop running in another thread, or one not started yet:
        the monitor starts with it).

    Lags are in the loop's time (loop.time(), time.monotonic for asyncio and
    uvloop), never negative. Raises ValueError/TypeError naming a bad
    argument, RuntimeError without a loop or for a closed one.
    """
    interval = check_seconds("interval", interval)
    _check_name("metric", metric)
    send = _sender_for(target, metric)
    loop = _resolve_loop(loop, "monitor_loop_lag.enable()")
    return _start_monitor(loop, target, send, interval, metric)


def enable_prometheus(
    name: str = "aiowatchdog_loop_lag_seconds",
    *,
    interval: float = 0.25,
    loop: Optional[asyncio.AbstractEventLoop] = None,
    registry: Any = None,
    buckets: Sequence[float] = LAG_BUCKETS,
) -> Any:
    """Creates a prometheus_client Histogram `name` with `buckets` (seconds),
    registered in `registry` (default: prometheus_client's global REGISTRY),
    and enables a monitor that observes the loop's lag into it every
    `interval` seconds. Returns the Histogram; `disable(loop)` stops the
    monitor. Needs prometheus_client (`pip install aiowatchdog[prometheus]`).

    Everything is checked before the Histogram is registered, so a refused
    call leaves no metric behind; a name already in the registry is
    prometheus_client's ValueError.
    """
    interval = check_seconds("interval", interval)
    _check_name("name", name)
    loop = _resolve_loop(loop, "monitor_loop_lag.enable_prometheus()")
    try:
        import prometheus_client
    except ImportError as error:
        raise ImportError(
            "monitor_loop_lag.enable_prometheus() needs prometheus_client: "
            "pip install aiowatchdog[prometheus]",
            name="prometheus_client",
        ) from error
    histogram = prometheus_client.Histogram(
        name,
        f"How late a timer scheduled every {interval} s on the event loop ran (loop lag)",
        registry=prometheus_client.REGISTRY if registry is None else registry,
        buckets=buckets,
    )
    _start_monitor(loop, histogram, histogram.observe, interval, name)
    return histogram


def disable(loop: Optional[asyncio.AbstractEventLoop] = None) -> int:
    """Stops every monitor on `loop` (default: the running loop); returns
    how many were stopped."""
    loop = _resolve_loop(loop, "monitor_loop_lag.disable()", allow_closed=True)
    with _live_monitors_lock:
        stopping = [monitor for monitor in _live_monitors if monitor.loop is loop]
    for monitor in stopping:
        monitor.disable()
    return len(stopping)


def _start_monitor(loop: asyncio.AbstractEventLoop, target: Any,
                   send: Callable[[float], None], interval: float, metric: str) -> LagMonitor:
    monitor = LagMonitor(loop, target, send, interval, metric)
    monitor._start()
    return monitor


def _sender_for(target: Any, metric: str) -> Callable[[float], None]:
    """How to hand a lag in seconds to `target`."""
    timing = getattr(target, "timing", None)
    if callable(timing):
        return lambda lag: timing(metric, lag * 1000.0)
    observe = getattr(target, "observe", None)
    if callable(observe):
        return observe
    if callable(target):
        return target
    raise TypeError(
        "target must be a statsd client (with .timing(name, milliseconds)), a prometheus "
        f"Histogram (with .observe(seconds)) or a callable(lag_seconds), got {target!r}"
    )


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {value!r}")
    if not value:
        raise ValueError(f"{what} must be a non-empty str, got {value!r}")


def _resolve_loop(loop: Optional[asyncio.AbstractEventLoop], caller: str,
                  allow_closed: bool = False) -> asyncio.AbstractEventLoop:
    if loop is None:
        loop = running_loop()
        if loop is None:
            raise RuntimeError(f"{caller} needs a running event loop, or pass loop=")
    elif not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"loop must be an asyncio event loop, got {loop!r}")
    if loop.is_closed() and not allow_closed:
        raise RuntimeError(f"cannot monitor a closed event loop: {loop!r}")
    return loop
