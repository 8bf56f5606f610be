"""The lifecycle every watcher of a loop shares (aiowatchdog/_loop_watch.py):
a stopped dumper or block watcher, its native watchdog and the probe's
select wrapper are garbage, not kept alive by a cycle through native code
that the garbage collector cannot see into."""
from __future__ import annotations

import asyncio
import gc
import weakref

from aiowatchdog import hang_inspection
from aiowatchdog._block_watcher import BlockWatcher


def test_stopped_dumpers_and_watchers_are_collected(tmp_path):
    async def main():
        refs = []
        for i in range(3):
            dumper = hang_inspection.start(tmp_path / str(i), interval=0.25)
            await asyncio.sleep(0.01)
            await hang_inspection.stop_wait(dumper)
            refs.append(("dumper", weakref.ref(dumper)))
            del dumper
            watcher = BlockWatcher(asyncio.get_running_loop(), 0.05, lambda info: None).start()
            await asyncio.sleep(0.01)
            watcher.stop()
            refs.append(("watcher", weakref.ref(watcher)))
            del watcher
        gc.collect()
        return [name for name, ref in refs if ref() is not None]

    assert asyncio.run(main()) == []
