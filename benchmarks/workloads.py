"""The throughput workloads, run inside a child process with one tool
switched on and off in turns (ABBA order, so slow drift cancels; on over off
taken within each adjacent pair, then the median: paired_ratio): the busy
loop and the aiohttp server. And the idle loop, whose CPU share is measured
with the tool on throughout.

Switching inside one process compares the tool with no monitoring on the
same heap, the same code layout and the same CPU, which fresh processes per
setting cannot.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Dict, List, Optional, Tuple

from benchmarks.peers import Peer, Stop

BUSY_TASKS = 100
SETTLE_S = 0.05     # after switching a tool on or off, before measuring


def abba(phases: int, on_first: bool) -> List[bool]:
    """Which phases have the tool on: off, on, on, off, off, on... (or the
    mirror image), `phases` long."""
    pattern = [on_first, not on_first, not on_first, on_first]
    return [pattern[i % 4] for i in range(phases)]


class Switch:
    """One tool, switched on and off on the running loop."""

    def __init__(self, peer: Peer, out_dir: str) -> None:
        self.peer, self.out_dir = peer, out_dir
        self._stop: Optional[Stop] = None

    async def set(self, on: bool) -> None:
        if on and self._stop is None:
            self._stop = await self.peer.start(self.out_dir)
        elif not on and self._stop is not None:
            stop, self._stop = self._stop, None
            await stop()


def paired_ratio(phases: List[Tuple[bool, float]]) -> float:
    """On over off from (tool on?, rate) phases in ABBA order: the median of
    the ratios within each adjacent pair. Pairs a quarter second apart share
    the machine's slow swings, which medians of the two groups do not cancel."""
    ratios = []
    for (on_a, a), (on_b, b) in zip(phases[0::2], phases[1::2]):
        if on_a == on_b:
            raise ValueError("phases are not in ABBA order")
        ratios.append(a / b if on_a else b / a)
    return statistics.median(ratios)


async def busy(peer: Peer, out_dir: str, phases: int, phase_s: float, on_first: bool) -> Dict:
    """BUSY_TASKS tasks that each compute a little and yield; task steps per
    second in each phase."""
    steps = [0]

    async def worker() -> None:
        numbers = range(40)
        while True:
            sum(numbers)
            steps[0] += 1
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(worker()) for _ in range(BUSY_TASKS)]
    switch = Switch(peer, out_dir)
    measured: List[Tuple[bool, float]] = []
    await asyncio.sleep(1.0)  # warm-up
    for on in abba(phases, on_first):
        await switch.set(on)
        await asyncio.sleep(SETTLE_S)
        count, began = steps[0], time.perf_counter()
        await asyncio.sleep(phase_s)
        measured.append((on, (steps[0] - count) / (time.perf_counter() - began)))
    await switch.set(False)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"phases": measured, "ratio": paired_ratio(measured)}


async def serve(peer: Peer, out_dir: str) -> Dict:
    """An aiohttp server answering GET / with a few bytes, on a free loopback
    port it prints as `PORT n`. POST /_bench/switch?on=1|0 switches the tool;
    POST /_bench/quit ends it."""
    from aiohttp import web

    switch = Switch(peer, out_dir)
    done = asyncio.Event()

    async def hello(request: "web.Request") -> "web.Response":
        return web.Response(text="Hello, world")

    async def set_switch(request: "web.Request") -> "web.Response":
        await switch.set(request.query.get("on") == "1")
        return web.Response(text="ok")

    async def quit_(request: "web.Request") -> "web.Response":
        done.set()
        return web.Response(text="bye")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/_bench/switch", set_switch)
    app.router.add_post("/_bench/quit", quit_)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    await done.wait()
    await asyncio.sleep(0.05)  # let the quit answer go out
    await switch.set(False)
    await runner.cleanup()
    return {"port": port}


async def idle(peer: Peer, out_dir: str, seconds: float) -> Dict:
    """The loop only sleeps; the process's CPU time over `seconds` (all its
    threads), as a share of one core."""
    switch = Switch(peer, out_dir)
    await switch.set(True)
    await asyncio.sleep(1.0)  # start-up work settles
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    await switch.set(False)
    return {"cpu_s": cpu, "wall_s": wall, "cpu_pct": 100.0 * cpu / wall}
