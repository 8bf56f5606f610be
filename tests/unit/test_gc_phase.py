"""The garbage collector's hook (aiowatchdog/_gc_phase.py): in gc.callbacks
exactly while some watcher holds it, shared by several, gone after the last
one stops and in a forked child, and harmless whatever gc passes it."""
from __future__ import annotations

import asyncio
import gc
import os
import sys
import warnings

import pytest

from aiowatchdog import _gc_phase, _native, hang_inspection


@pytest.fixture(autouse=True)
def no_hook_left_behind():
    assert _gc_phase.users() == 0
    yield
    assert _gc_phase.users() == 0, "a retain() without its release()"
    assert _native.gc_callback not in gc.callbacks


def installed() -> int:
    return gc.callbacks.count(_native.gc_callback)


def test_the_hook_is_installed_once_while_anyone_holds_it():
    _gc_phase.retain()
    _gc_phase.retain()
    assert installed() == 1
    gc.collect()  # runs it: nothing to see, nothing raised
    _gc_phase.release()
    assert installed() == 1, "the other holder still needs it"
    _gc_phase.release()
    assert installed() == 0
    _gc_phase.release()  # one too many: ignored
    assert _gc_phase.users() == 0


def test_a_hook_the_application_removed_is_not_an_error():
    _gc_phase.retain()
    gc.callbacks.remove(_native.gc_callback)
    _gc_phase.release()
    assert installed() == 0


@pytest.mark.parametrize("args", [(), ("start",), ("start", {}, 3), (1, None), ("stop", None),
                                  ("st\u00e4rt", {})])
def test_the_hook_never_raises(args):
    assert _native.gc_callback(*args) is None
    _native.gc_callback("stop", {})


def test_a_dumper_holds_the_hook_from_start_to_stop(tmp_path):
    async def main():
        dumper = hang_inspection.start(tmp_path, interval=0.5)
        assert installed() == 1 and _gc_phase.users() == 1
        await hang_inspection.stop_wait(dumper)
        assert installed() == 0
        hang_inspection.stop(dumper)  # stopping twice releases once
        assert _gc_phase.users() == 0

    asyncio.run(main())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_without_the_hook(tmp_path):
    async def main():
        dumper = hang_inspection.start(tmp_path, interval=0.5)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report and leave at once
            os.write(write, f"{installed()} {_gc_phase.users()}".encode())
            os._exit(0)
        os.close(write)
        seen = os.read(read, 100).decode()
        os.close(read)
        os.waitpid(pid, 0)
        await hang_inspection.stop_wait(dumper)
        return seen

    with warnings.catch_warnings():
        if sys.version_info >= (3, 12):  # fork() of a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
        assert asyncio.run(main()) == "0 0"
