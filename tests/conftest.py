"""Fixtures: the autouse guard every test runs under, which fails any test
that leaves a thread behind (a watchdog thread of ours that was not stopped),
and the test library of native blocking calls."""
from __future__ import annotations

import time

import pytest

from runner import build_native_blockers, native_thread_count


@pytest.fixture(scope="session")
def native_blockers(tmp_path_factory):
    """Path of the test library of native blocking calls (built once)."""
    return build_native_blockers(tmp_path_factory.mktemp("native"))


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    before = native_thread_count()
    yield
    deadline = time.monotonic() + 1.0
    while native_thread_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert native_thread_count() <= before, "the test left a thread running (a dumper not stopped?)"
