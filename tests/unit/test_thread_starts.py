"""threading.Thread.start as a dumper leaves it (aiowatchdog/_thread_starts.py):
the host's own behaviour unchanged, each new thread noted by name."""
import threading

import pytest

from aiowatchdog import _native, _thread_starts


@pytest.fixture(autouse=True)
def installed():
    _thread_starts.install()
    _thread_starts.install()  # idempotent: one wrapper, not two
    assert not hasattr(threading.Thread.start.__aiowatchdog_original__, "__aiowatchdog_original__")


def test_a_started_thread_is_noted_with_its_name(monkeypatch):
    noted = []
    monkeypatch.setattr(_native, "note_thread_name", lambda *row: noted.append(row))
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="holder-\udcff")  # not UTF-8 either
    thread.start()
    try:
        assert noted == [(thread.native_id, thread.ident, "holder-\udcff")]
        assert thread.native_id > 0
    finally:
        release.set()
        thread.join()


def test_the_hosts_own_errors_and_results_are_unchanged():
    thread = threading.Thread(target=lambda: None)
    assert thread.start() is None
    thread.join()
    with pytest.raises(RuntimeError, match="threads can only be started once"):
        thread.start()
    assert threading.Thread.start.__name__ == "start"


def test_our_table_failing_never_reaches_the_caller(monkeypatch):
    def refuse(*row):
        raise ValueError("refused")
    monkeypatch.setattr(_native, "note_thread_name", refuse)
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
