"""The report reader against arbitrary files: whatever bytes a
stacktrace-*.txt or .json file holds (random bytes, random text, or a real
report truncated, bit-flipped, with lines inserted or JSON values retyped),
list_reports + read_report give back a report of the documented shape or raise
ReportFormatError, never another exception. Tools that read a directory of
reports rely on that to skip what is not one."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
from typing import Any, Callable, Dict, List

import pytest
from fuzz_scale import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiowatchdog import _native
from aiowatchdog._profile_files import parse_profile
from aiowatchdog._report_files import (
    ReportFormatError,
    list_reports,
    loop_thread,
    parse_json_report,
    parse_text_report,
    read_report,
)
from unit.test_report_roundtrip import reports as report_models

STEM = "stacktrace-20260101-120000.000000-0"
FUZZ = settings(max_examples=examples(300), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- what a returned report must look like (docs/reports.md, "The JSON twin") ---------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_duration(value: Any) -> bool:
    """Not negative, NaN, infinite or past a float's range: exports weigh
    stacks by these."""
    return _is_number(value) and 0 <= value <= 1.7e308


def _is_line(value: Any) -> bool:
    return value is None or _is_int(value)


TOP_LEVEL: Dict[str, Callable[[Any], bool]] = {
    "schema": lambda v: v == "aiowatchdog.report",
    "schema_version": lambda v: _is_int(v) and v == 1,
    "episode": lambda v: isinstance(v, str),
    "sample": _is_int, "samples": _is_int,
    "blocked_s": _is_duration, "interval_s": _is_duration, "sample_interval_s": _is_duration,
    "pid": _is_int,
    "python": lambda v: isinstance(v, str),
    "captured_at": lambda v: isinstance(v, str),
    "captured_unix_ns": _is_line,  # None in text reports
    "capture_ms": _is_duration, "loop_pause_ms": _is_duration,
    "other_threads": _is_int, "threads_not_sampled": _is_int, "suppressed_episodes": _is_int,
}
TASK = {"coroutine": lambda v: isinstance(v, str), "file": lambda v: isinstance(v, str),
        "line": _is_line}
ACTIVITY = {"state": lambda v: isinstance(v, str), "syscall": lambda v: isinstance(v, str),
            "cpu_share": lambda v: v is None or _is_number(v),
            "runqueue_share": lambda v: v is None or _is_number(v),
            "gc_running": lambda v: isinstance(v, bool)}
THREAD = {"ident": _is_int, "native_id": _is_int, "name": lambda v: isinstance(v, str),
          "is_loop": lambda v: isinstance(v, bool), "status": lambda v: isinstance(v, str),
          "kernel_state": lambda v: isinstance(v, str),
          "truncated": lambda v: isinstance(v, bool)}
FRAME = {"kind": lambda v: v in ("python", "native"), "file": lambda v: isinstance(v, str),
         "line": _is_line, "function": lambda v: isinstance(v, str),
         "source": lambda v: isinstance(v, str)}


def _assert_fields(obj: Any, fields: Dict[str, Callable[[Any], bool]], where: str) -> None:
    assert isinstance(obj, dict), f"{where}: not an object: {obj!r:.200}"
    for key, ok in fields.items():
        assert key in obj, f"{where}: no {key!r}"
        assert ok(obj[key]), f"{where}: bad {key!r}: {obj[key]!r:.200}"


def assert_report_shape(report: Any) -> None:
    """A report as docs/reports.md documents it, so that callers can index it."""
    _assert_fields(report, TOP_LEVEL, "report")
    if report["task"] is not None:
        _assert_fields(report["task"], TASK, "task")
    assert "loop_activity" in report, "report: no 'loop_activity'"
    if report["loop_activity"] is not None:
        _assert_fields(report["loop_activity"], ACTIVITY, "loop_activity")
    assert isinstance(report["threads"], list)
    for thread in report["threads"]:
        _assert_fields(thread, THREAD, "thread")
        assert isinstance(thread["frames"], list)
        for frame in thread["frames"]:
            _assert_fields(frame, FRAME, "frame")
    loop_thread(report)  # usable as is


def read_every_report(files: Dict[str, bytes]) -> List[Dict]:
    """Writes `files` into a fresh directory and reads back every report
    list_reports finds there: each must be a report or a ReportFormatError."""
    parsed = []
    with tempfile.TemporaryDirectory() as directory:
        for name, data in files.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        for suffix in (".txt", ".json"):
            for path in list_reports(directory, suffix):
                try:
                    report = read_report(path)
                except ReportFormatError:
                    continue
                assert_report_shape(report)
                parsed.append(report)
    return parsed


def as_both(data: bytes) -> Dict[str, bytes]:
    return {STEM + ".txt": data, STEM + ".json": data}


# A small real report, for the examples and the known breakers below.
BASE = {"schema": "aiowatchdog.report", "schema_version": 1, "episode": "e", "sample": 0,
        "samples": 1, "blocked_s": 1.0, "interval_s": 0.25, "sample_interval_s": 1.0, "pid": 1,
        "python": "x", "captured_at": "t", "captured_unix_ns": 0,
        "task": {"coroutine": "c", "file": "f", "line": 3}, "other_threads": 0,
        "threads_not_sampled": 0, "suppressed_episodes": 2, "capture_ms": 1.0, "loop_pause_ms": 0.1,
        "loop_activity": {"state": "syscall", "syscall": "futex", "cpu_share": 0.5,
                          "runqueue_share": None, "gc_running": True},
        "threads": [{"ident": 1, "native_id": 2, "name": "MainThread", "is_loop": True,
                     "status": "answered", "kernel_state": "S", "truncated": False,
                     "frames": [{"kind": "python", "file": "f", "line": 1, "function": "g",
                                 "source": "s"}]}]}
BASE_TEXT = _native.render_text_report(BASE).decode()
HUGE = "9" * 5000  # past int()'s default limit of 4300 digits (3.9.14+)
BASE_JSON = json.dumps(BASE)


# -- inputs ---------------------------------------------------------------------

# Pieces that have broken parsers: numbers past int()'s digit limit, nesting
# past the recursion limit, bytes that are not UTF-8, surrogates, lines that
# belong elsewhere in a report.
TOKENS = [b"9" * 5000, b"-" + b"9" * 5000, b"[" * 50000, b"{\"a\":" * 50000, b"\xff", b"\xc3",
          b"\xed\xa0\x80", b"\x00", b"\r", b"\n\n", b"\"", b"\\", b"\\ud800", b"null", b"true",
          b"1e999", b"NaN", b"-1", b"{}", b"[]", b" of ", b" s", b"?", b"]", b"[event loop]",
          b"# ThreadID: ", b" name=", b" native=", b" state=", b"File: \"", b"Native: ", b"  ",
          b"# (truncated: outermost frames not shown)", b"# (truncated: frames not shown here)",
          b"# Task: ", b", line ", b", in ",
          b"# Loop thread: ", b"on CPU", b" (CPU ", b"%, run queue ", b"starved, ",
          b"; garbage collector running",
          "\u2028".encode(), "\u0663".encode()]
LINES = [b"", b"# ThreadID: 1 name=\"t\" native=2 state=S", b"# ThreadID: 1 name=" + b"[" * 50000,
         b"# ThreadID: " + b"9" * 5000 + b" name=\"t\" native=1 state=S",
         b"# ThreadID: 1 name=" + b"9" * 5000 + b" native=1 state=S",
         b"File: \"f\", line " + b"9" * 5000 + b", in g", b"File: \"f\", line ?, in g",
         b"Native: f (lib)", b"Native: f", b"  source", b"# Episode: e", b"# Sample: 1 of 2",
         b"# PID: " + b"9" * 5000, b"# Task: c in \"f\", line " + b"9" * 5000,
         b"# Capture took: 1.0 ms (loop thread paused 0.5 ms)",
         b"# Loop thread: waiting in a syscall (futex, CPU 3%, run queue 0%)",
         b"# Loop thread: on CPU (CPU " + b"9" * 5000 + b"%)",
         b"# Threads not sampled (over the limit): " + b"9" * 5000, b"\xff\xfe",
         b"# aiowatchdog hang report (schema 1)"]


def render(model: Dict, kind: str) -> bytes:
    return (_native.render_json_report if kind == "json" else _native.render_text_report)(model)


@st.composite
def mutated_reports(draw) -> bytes:
    """A real rendered report, then 1-4 byte or line edits."""
    data = bytearray(render(draw(report_models), draw(st.sampled_from(["text", "json"]))))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "line", "repeat"]))
        at = draw(st.integers(0, len(data)))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS) | st.binary(max_size=8))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif op in ("line", "repeat"):
            lines = bytes(data).split(b"\n")
            index = draw(st.integers(0, len(lines) - 1))
            new = draw(st.sampled_from(LINES)) if op == "line" else lines[index]
            lines.insert(index, new)
            data = bytearray(b"\n".join(lines))
    return bytes(data)


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@st.composite
def retyped_json_reports(draw) -> bytes:
    """A real JSON report with 1-3 values somewhere in it replaced by any JSON
    value, or removed."""
    doc = json.loads(render(draw(report_models), "json"))
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = doc
        # Walk down a random path, stopping at some container.
        while True:
            keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = parent[key]
            if isinstance(child, (dict, list)) and child and draw(st.booleans()):
                parent = child
                continue
            if draw(st.booleans()):
                del parent[key]
            else:
                parent[key] = draw(ANY_JSON)
            break
    return json.dumps(doc).encode()


# -- properties -------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=2000))
@example(b"\xff\xfe")
@example(b"[" * 100000)
@example(BASE_JSON.replace('"pid": 1', f'"pid": {HUGE}').encode())
def test_arbitrary_bytes(data):
    read_every_report(as_both(data))


@FUZZ
@given(st.text(max_size=300))
@example(BASE_TEXT.replace('"MainThread"', "[" * 100000))
def test_arbitrary_text(text):
    read_every_report(as_both(text.encode("utf-8", "surrogatepass")))


@settings(FUZZ, max_examples=examples(600))
@given(mutated_reports())
def test_mutated_real_reports(data):
    read_every_report(as_both(data))


@settings(FUZZ, max_examples=examples(600))
@given(retyped_json_reports())
def test_json_reports_with_values_retyped_or_removed(data):
    read_every_report({STEM + ".json": data})


@settings(max_examples=examples(50), deadline=None)
@given(report_models)
def test_unmutated_reports_are_read_whole(model):
    """The control: real reports are read, not refused."""
    files = {STEM + ".txt": render(model, "text"), STEM + ".json": render(model, "json")}
    assert len(read_every_report(files)) == 2


# -- known breakers, each once with its input spelled out -------------------------

@pytest.mark.parametrize("old, new", [
    ("line 1, in g", f"line {HUGE}, in g"),
    ("# ThreadID: 1 ", f"# ThreadID: {HUGE} "),
    ("native=2", f"native=-{HUGE}"),
    ('name="MainThread"', f"name={HUGE}"),
    ('name="MainThread"', "name=" + "[" * 100000),
    ("# PID: 1", f"# PID: {HUGE}"),
    ('line 3\n', f"line {HUGE}\n"),
    ("Threads without Python frames: 0", f"Threads without Python frames: {HUGE}"),
    ("(futex, CPU 50%)", f"(futex, CPU {HUGE}%)"),
    ("(futex, CPU 50%)", "(CPU 50%, futex)"),
    ("Blocked for: 1.000 s", "Blocked for: nan s"),
    ("Interval: 0.250 s", "Interval: inf s"),
    ("Sample interval: 1.000 s", "Sample interval: -1.000 s"),
], ids=["frame line", "ident", "native id", "name a number", "name nested", "pid",
        "task line", "other threads", "huge share", "syscall after share", "blocked nan",
        "interval inf", "negative sample interval"])
def test_text_breakers(old, new):
    assert old in BASE_TEXT
    with pytest.raises(ReportFormatError):
        parse_text_report(BASE_TEXT.replace(old, new))


@pytest.mark.parametrize("old, new", [
    ('"pid": 1', f'"pid": {HUGE}'),
    ('"episode": "e"', '"episode": ' + "[" * 100000 + "]" * 100000),
    ('"schema_version": 1', '"schema_version": true'),
    ('"task": {', '"task": [], "x": {'),
    ('"file": "f", "line": 3', '"x": "f", "line": 3'),
    ('"threads": [', '"threads": [1, '),
    ('"is_loop": true', '"x": true'),
    ('"frames": [', '"frames": [null, '),
    ('"line": 1', '"line": "1"'),
    ('"kind": "python"', '"kind": "ruby"'),
    ('"capture_ms": 1.0', '"x": 1.0'),
    ('"episode": "e"', '"episode": null'),
    ('"loop_activity": {', '"loop_activity": [], "x": {'),
    ('"cpu_share": 0.5', '"cpu_share": "0.5"'),
    ('"cpu_share": 0.5', '"cpu_share": true'),
    ('"gc_running": true', '"gc_running": 1'),
    ('"syscall": "futex"', '"x": "futex"'),
    ('"blocked_s": 1.0', '"blocked_s": NaN'),
    ('"blocked_s": 1.0', '"blocked_s": Infinity'),
    ('"blocked_s": 1.0', '"blocked_s": 1e999'),
    ('"blocked_s": 1.0', f'"blocked_s": 1{"0" * 400}'),
    ('"capture_ms": 1.0', '"capture_ms": -1.0'),
], ids=["huge pid", "deep episode", "bool version", "task a list", "task without file",
        "thread a number", "no is_loop", "frame null", "line a string", "unknown kind",
        "no capture_ms", "episode null", "activity a list", "share a string", "share a bool",
        "gc_running a number", "activity without syscall", "blocked NaN", "blocked Infinity",
        "blocked past a float", "blocked a huge integer", "negative capture_ms"])
def test_json_breakers(old, new):
    assert old in BASE_JSON
    with pytest.raises(ReportFormatError):
        parse_json_report(BASE_JSON.replace(old, new, 1))


BASE_PROFILE = json.dumps({
    "schema": "aiowatchdog.profile", "schema_version": 1, "episode": "e", "pid": 1,
    "python": "x", "profile_hz": 100, "interval_s": 0.25, "started_unix_ns": 1,
    "blocked_s": 1.5, "recovered": True, "samples": 2, "discarded_samples": 0,
    "dropped_samples": 0, "loop_thread": {"native_id": 2, "name": "MainThread"},
    "stacks": [{"count": 2, "frames": [
        {"kind": "python", "file": "f", "line": 1, "function": "g", "source": ""}]}],
})


@pytest.mark.parametrize("old, new", [
    ('"blocked_s": 1.5', '"blocked_s": NaN'),
    ('"blocked_s": 1.5', '"blocked_s": -1.5'),
    ('"blocked_s": 1.5', '"blocked_s": 1e999'),
    ('"profile_hz": 100', '"profile_hz": -Infinity'),
    ('"interval_s": 0.25', '"interval_s": "0.25"'),
], ids=["blocked NaN", "blocked negative", "blocked past a float", "rate -Infinity",
        "interval a string"])
def test_profile_breakers(old, new):
    assert parse_profile(BASE_PROFILE)["blocked_s"] == 1.5  # the control
    assert old in BASE_PROFILE
    with pytest.raises(ReportFormatError, match=old.split(":")[0].strip('"') + "|not JSON"):
        parse_profile(BASE_PROFILE.replace(old, new, 1))


def test_deep_json_is_a_format_error():
    with pytest.raises(ReportFormatError):
        parse_json_report("[" * 100000 + "]" * 100000)


class Blocked(Exception):
    pass


@contextlib.contextmanager
def fails_if_it_blocks(seconds: float):
    """Turns a call that would block forever into a Blocked exception."""
    def on_alarm(signo, frame):
        raise Blocked(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_what_is_not_a_regular_file_is_not_a_report(tmp_path):
    """A directory, a FIFO (whose plain open() would block until a writer
    comes) or a dangling symlink named like a report is not listed, and
    read_report refuses the first two."""
    directory, fifo = tmp_path / (STEM + ".txt"), tmp_path / (STEM[:-1] + "1.txt")
    directory.mkdir()
    os.mkfifo(fifo)
    os.symlink(tmp_path / "nowhere", tmp_path / (STEM[:-1] + "2.txt"))
    (tmp_path / (STEM[:-1] + "3.txt")).write_bytes(_native.render_text_report(BASE))
    assert list_reports(str(tmp_path)) == [str(tmp_path / (STEM[:-1] + "3.txt"))]
    for path in (directory, fifo):
        with fails_if_it_blocks(5.0), pytest.raises(ReportFormatError):
            read_report(str(path))
