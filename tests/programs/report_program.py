"""A small service that blocks its own loop, for the report commands' tests:
run under `python -m aiowatchdog run`, with no watchdog code of its own.
compute_tax (CPU-bound, called from checkout) blocks it twice, and
render_catalog (time.sleep) once, each for BLOCK_S, with idle time between.
"""
import asyncio
import time

BLOCK_S = 0.35


def compute_tax(deadline):
    total = 0
    while time.monotonic() < deadline:
        total += sum(range(200))
    return total


async def checkout():
    compute_tax(time.monotonic() + BLOCK_S)


async def render_catalog():
    time.sleep(BLOCK_S)


async def main():
    for step in (checkout, render_catalog, checkout):
        await asyncio.sleep(0.25)
        await step()
    await asyncio.sleep(0.25)


asyncio.run(main())
