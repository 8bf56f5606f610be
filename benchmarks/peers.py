"""The tools under comparison, each started on the running loop and stopped
again, as their users would set them up. Child side: imported inside the
processes that run the workloads and blocks (child.py).

Every tool watches with a 0.25 s threshold (INTERVAL) and writes where the
parent can see it arrive: the report directory for the tools that write
files, standard error for the rest (logging and faulthandler).

    stop = await PEERS["aiowatchdog"].start(out_dir)
    ...
    await stop()
"""
from __future__ import annotations

import asyncio
import faulthandler
import importlib.util
import logging
import sys
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Dict, Tuple

INTERVAL = 0.25

Stop = Callable[[], Awaitable[None]]
log = logging.getLogger("benchmarks.peers")


@dataclass(frozen=True)
class Peer:
    name: str
    label: str
    modules: Tuple[str, ...]          # what must be importable
    min_python: Tuple[int, int]
    start: Callable[[str], Awaitable[Stop]]

    def missing(self) -> str:
        """Why this peer cannot run here, or '' when it can."""
        if sys.version_info[:2] < self.min_python:
            return "needs Python %d.%d+" % self.min_python
        absent = [m for m in self.modules if importlib.util.find_spec(m) is None]
        return f"not installed: {', '.join(absent)}" if absent else ""


async def _start_none(out_dir: str) -> Stop:
    async def stop() -> None:
        pass
    return stop


async def _start_aiowatchdog(out_dir: str) -> Stop:
    from aiowatchdog import hang_inspection
    dumper = hang_inspection.start(out_dir, interval=INTERVAL)

    async def stop() -> None:
        await hang_inspection.stop_wait(dumper)
    return stop


async def _start_aiodebug(out_dir: str) -> Stop:
    from aiodebug import hang_inspection
    dumper = hang_inspection.start(out_dir, interval=INTERVAL)

    async def stop() -> None:
        await hang_inspection.stop_wait(dumper)
    return stop


async def _start_asyncio_debug(out_dir: str) -> Stop:
    """asyncio's own debug mode: slow callbacks logged by the loop after they end."""
    loop = asyncio.get_running_loop()
    before = loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = INTERVAL

    async def stop() -> None:
        loop.set_debug(False)
        loop.slow_callback_duration = before
    return stop


async def _start_event_loop_monitor(out_dir: str) -> Stop:
    """asyncio-event-loop-monitor: sys.setprofile on the loop's thread, a
    blocking call logged when it returns."""
    from asyncio_event_loop_monitor import EventLoopMonitor
    monitor = EventLoopMonitor(threshold_ms=INTERVAL * 1000)
    monitor.activate()

    async def stop() -> None:
        monitor.deactivate()
    return stop


async def _start_pyinstrument(out_dir: str) -> Stop:
    """aioprof's manner: every loop callback runs under a pyinstrument profiler,
    and one slower than the threshold is logged with the profile. (Without
    asyncio's debug mode, which aioprof also asks for: that would only add
    debug mode's own cost.)"""
    from pyinstrument import Profiler
    handle_class = asyncio.events.Handle
    original = handle_class._run

    def profiled_run(handle: asyncio.Handle) -> None:
        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        began = time.perf_counter()
        try:
            original(handle)
        finally:
            profiler.stop()
            took = time.perf_counter() - began
            if took >= INTERVAL:
                log.warning("Executing %r took %.3f seconds\n%s", handle, took,
                            profiler.output_text(unicode=False, color=False))

    handle_class._run = profiled_run

    async def stop() -> None:
        handle_class._run = original
    return stop


async def _start_faulthandler(out_dir: str) -> Stop:
    """faulthandler's C watchdog, re-armed from a heartbeat on the loop every
    half interval: it dumps every thread's Python stack when the heartbeat
    misses INTERVAL."""
    async def heartbeat() -> None:
        while True:
            faulthandler.dump_traceback_later(INTERVAL, file=sys.stderr)
            await asyncio.sleep(INTERVAL / 2)

    task = asyncio.get_running_loop().create_task(heartbeat())

    async def stop() -> None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        faulthandler.cancel_dump_traceback_later()
    return stop


PEERS: Dict[str, Peer] = {peer.name: peer for peer in (
    Peer("none", "no monitoring", (), (3, 9), _start_none),
    Peer("aiowatchdog", "aiowatchdog", ("aiowatchdog",), (3, 9), _start_aiowatchdog),
    Peer("aiodebug", "aiodebug hang_inspection", ("aiodebug",), (3, 9), _start_aiodebug),
    Peer("asyncio_debug", "asyncio debug mode", (), (3, 9), _start_asyncio_debug),
    Peer("event_loop_monitor", "asyncio-event-loop-monitor",
         ("asyncio_event_loop_monitor",), (3, 11), _start_event_loop_monitor),
    Peer("pyinstrument", "pyinstrument per callback", ("pyinstrument",), (3, 9),
         _start_pyinstrument),
    Peer("faulthandler", "faulthandler re-armed", (), (3, 9), _start_faulthandler),
)}
