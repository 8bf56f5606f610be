"""threading.Thread as a dumper leaves it (aiowatchdog/_thread_names.py):
the host's own behaviour unchanged, each new thread noted by name, from
itself, before its target runs."""
import threading

import pytest

from aiowatchdog import _native, _thread_names

WRAPPED = "_bootstrap_inner" if hasattr(threading.Thread, "_bootstrap_inner") else "start"


@pytest.fixture(autouse=True)
def installed():
    _thread_names.install()
    _thread_names.install()  # idempotent: one wrapper, not two
    wrapped = getattr(threading.Thread, WRAPPED)
    assert not hasattr(wrapped.__aiowatchdog_original__, "__aiowatchdog_original__")


def test_a_started_thread_is_noted_with_its_name_before_its_target_runs(monkeypatch):
    noted = []
    monkeypatch.setattr(_native, "note_thread_name", lambda *row: noted.append(row))
    seen_by_target = []
    release = threading.Event()

    def target():
        seen_by_target.append(list(noted))
        release.wait()

    thread = threading.Thread(target=target, name="holder-\udcff")  # not UTF-8 either
    thread.start()
    try:
        assert noted == [(thread.native_id, thread.ident, "holder-\udcff")]
        assert thread.native_id > 0
        # Noted before the target ran: a target that keeps the GIL from its
        # first instruction is named all the same.
        for _ in range(1000):
            if seen_by_target:
                break
            release.wait(0.001)
        assert seen_by_target == [noted]
    finally:
        release.set()
        thread.join()


def test_a_subclass_overriding_run_is_noted_too(monkeypatch):
    noted = []
    monkeypatch.setattr(_native, "note_thread_name", lambda *row: noted.append(row))

    class Worker(threading.Thread):
        def run(self):
            pass

    worker = Worker(name="subclassed")
    worker.start()
    worker.join()
    assert [row[2] for row in noted] == ["subclassed"]


def test_the_hosts_own_errors_and_results_are_unchanged():
    thread = threading.Thread(target=lambda: None)
    assert thread.start() is None
    thread.join()
    with pytest.raises(RuntimeError, match="threads can only be started once"):
        thread.start()
    assert getattr(threading.Thread, WRAPPED).__name__ == WRAPPED


def test_our_table_failing_never_reaches_the_caller(monkeypatch):
    def refuse(*row):
        raise ValueError("refused")
    monkeypatch.setattr(_native, "note_thread_name", refuse)
    uncaught, ran = [], []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    thread = threading.Thread(target=lambda: ran.append(True))
    thread.start()
    thread.join()
    assert ran == [True] and uncaught == []


def test_a_name_that_raises_never_keeps_start_waiting():
    """A subclass whose `name` property raises (it reads an attribute run()
    sets): noting the name must not keep the new thread from telling start()
    that it began (before, start() waited for ever)."""
    ran = []

    class Late(threading.Thread):
        @property
        def name(self):
            return self.label  # set only in run()

        @name.setter
        def name(self, value):
            pass

        def run(self):
            self.label = "late"
            ran.append(True)

    late = Late()
    starter = threading.Thread(target=late.start, daemon=True)
    starter.start()
    starter.join(10)
    assert not starter.is_alive(), "start() is still waiting for the thread to begin"
    late.join(10)
    assert ran == [True]
