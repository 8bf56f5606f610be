"""A block's task is named from the coroutine the walker saw, on every
version: also once the task has finished (3.14's C tasks are no longer listed
anywhere then, but the loop still holds the callbacks that name them)."""
from __future__ import annotations

import asyncio

from aiowatchdog._block_info import find_task_name


def test_a_pending_task_is_named():
    async def main():
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        async def worker():
            started.set()
            await asyncio.sleep(10)

        task = asyncio.create_task(worker(), name="pending-one")
        await started.wait()
        name = find_task_name(loop, id(task.get_coro()))
        task.cancel()
        return name

    assert asyncio.run(main()) == "pending-one"


def test_a_task_that_just_finished_is_named_while_its_waiter_is_ready():
    async def main():
        loop = asyncio.get_running_loop()

        async def quick():
            return 1

        task = asyncio.create_task(quick(), name="finished-one")
        coroutine = id(task.get_coro())
        told = []
        # Runs when the task is done, before the waiter below is woken: what
        # a watcher sees when it tells a block that ended with its task.
        task.add_done_callback(lambda t: told.append((t.done(), find_task_name(loop, coroutine))))
        await task
        return told

    assert asyncio.run(main()) == [(True, "finished-one")]


def test_no_name_for_an_unknown_coroutine():
    async def main():
        return find_task_name(asyncio.get_running_loop(), 12345)

    assert asyncio.run(main()) is None
