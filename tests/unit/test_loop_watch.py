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


def _select_probe(on_chores):
    """A native select wrapper over a stand-in select, whose first call has
    a chore due (housekeeping is due at a watchdog's first touch)."""
    from aiowatchdog import _native
    watchdog = _native.Watchdog(output_dir="", interval=0.25, samples=1, sample_interval=0.25,
                                python_version="", native_stacks=False, max_threads=1,
                                write_reports=False)
    return _native.SelectProbe(watchdog, lambda timeout: ["events"], on_chores)


def test_chores_that_fail_never_raise_into_the_loops_select():
    def failing(chores):
        raise MemoryError("no memory for the chores")
    assert _select_probe(failing)(0) == ["events"]


def test_ctrl_c_during_the_chores_still_reaches_the_loop():
    def interrupted(chores):
        raise KeyboardInterrupt
    try:
        _select_probe(interrupted)(0)
    except KeyboardInterrupt:
        return
    raise AssertionError("KeyboardInterrupt was swallowed")
