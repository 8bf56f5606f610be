"""The autouse guard every test runs under: it fails any test that leaves a
thread behind (a watchdog thread of ours that was not stopped)."""
from __future__ import annotations

import time

import pytest

from runner import native_thread_count


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    before = native_thread_count()
    yield
    deadline = time.monotonic() + 1.0
    while native_thread_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert native_thread_count() <= before, "the test left a thread running (a dumper not stopped?)"
