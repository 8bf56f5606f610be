"""The native text and JSON renderers round-trip through the Python parser
for any report model, and the parser meets arbitrary input with
ReportFormatError only."""
from __future__ import annotations

import json
import math

import pytest
from fuzz_scale import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from aiowatchdog import _native
from aiowatchdog._report_files import ReportFormatError, parse_json_report, parse_text_report

# Text without control characters or lone surrogates: what a path or a name
# can be once the renderer has put it on one line.
line_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
# Python function names hold no quotes (identifiers, <locals>, <genexpr>).
function_names = st.text(st.characters(blacklist_categories=("Cc", "Cs"),
                                       blacklist_characters='"'), min_size=1, max_size=30)
stripped = line_text.map(str.strip)
lines = st.one_of(st.none(), st.integers(1, 10**6))
u64 = st.integers(0, 2**64 - 1)
seconds = st.floats(0, 1e5, allow_nan=False)

python_frames = st.builds(
    lambda file, line, function, source: {
        "kind": "python", "file": file, "line": line, "function": function, "source": source},
    line_text, lines, function_names, stripped)
# Native frames: a symbol (C++ names have parentheses) and a library path with
# no parenthesis, as the text line `Native: <symbol> (<library>)` needs.
native_frames = st.builds(
    lambda function, library: {
        "kind": "native", "file": library, "line": None, "function": function, "source": ""},
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30),
    st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="()"),
            max_size=30).filter(lambda s: s != "?"))
frames = st.one_of(python_frames, native_frames)

# A truncated thread says where its gap is (any place among its frames); the
# thread holding the GIL the loop waits for says so (the key only then).
threads = st.builds(
    lambda ident, native_id, name, is_loop, status, state, truncated, frames, gap, holds: {
        "ident": ident, "native_id": native_id, "name": name, "is_loop": is_loop,
        "status": status, "kernel_state": state, "truncated": truncated,
        **({"gap_at": min(gap, len(frames))} if truncated else {}),
        **({"holds_gil": True} if holds else {}), "frames": frames},
    u64, st.integers(1, 2**31), st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.booleans(), st.sampled_from(["answered", "no answer", "signals blocked"]),
    st.sampled_from(["", "R", "S", "D"]), st.booleans(), st.lists(frames, max_size=6),
    st.integers(0, 6), st.booleans())

tasks = st.one_of(st.none(), st.builds(
    lambda coroutine, file, line: {"coroutine": coroutine, "file": file, "line": line},
    function_names, line_text, lines))

shares = st.one_of(st.none(), st.floats(0, 1))
# What the watchdog writes: a syscall name (from its table, or "#<n>") only
# with state "syscall", the GIL's holder only with state "gil".
activities = st.one_of(st.none(), st.builds(
    lambda state, syscall, cpu, runqueue, gc, holder: {
        "state": state, "syscall": syscall if state == "syscall" else "", "cpu_share": cpu,
        "runqueue_share": runqueue, "gc_running": gc,
        **({"gil_holder_native_id": holder} if holder and state == "gil" else {})},
    st.sampled_from(["on-cpu", "syscall", "gil", "starved", "unknown"]),
    st.sampled_from(["", "futex", "clock_nanosleep", "epoll_wait", "#449", "#100000"]),
    shares, shares, st.booleans(), st.one_of(st.none(), st.integers(1, 2**31))))

reports = st.builds(
    lambda episode, sample, samples, blocked, interval, sample_interval, pid, python, at, ns,
    task, activity, other, not_sampled, suppressed, capture_ms, pause_ms, threads, low: {
        "schema": "aiowatchdog.report", "schema_version": 1, "episode": episode,
        "sample": sample, "samples": samples, "blocked_s": blocked, "interval_s": interval,
        "sample_interval_s": sample_interval, "pid": pid, "python": python, "captured_at": at,
        "captured_unix_ns": ns, "task": task, "loop_activity": activity, "other_threads": other,
        "threads_not_sampled": not_sampled, "suppressed_episodes": suppressed,
        "capture_ms": capture_ms, "loop_pause_ms": pause_ms, "threads": threads,
        # A heartbeat probe's range: its lower end, a fraction of blocked_s.
        **({} if low is None else {"blocked_min_s": blocked * low})},
    stripped.filter(bool), st.integers(0, 999), st.integers(1, 1000), seconds, seconds, seconds,
    st.integers(1, 2**31), stripped, stripped, st.integers(0, 2**62), tasks, activities,
    st.integers(0, 999), st.integers(0, 999), st.integers(0, 2**40), seconds, seconds,
    st.lists(threads, max_size=4), st.one_of(st.none(), st.floats(0, 1)))

FLOATS = {"blocked_s": None, "interval_s": None, "sample_interval_s": None,
          "capture_ms": 3, "loop_pause_ms": 3}  # decimal places written, None: per format


SHARES = ("cpu_share", "runqueue_share")
SHARE_PLACES = {6: 4, 3: 2}  # JSON: 4 decimals; text: whole percent


def assert_same(parsed, model, places):
    for key, fixed in FLOATS.items():
        tolerance = 0.51 * 10**-(fixed or places)
        assert math.isclose(parsed[key], model[key], abs_tol=tolerance), key
    assert ("blocked_min_s" in parsed) == ("blocked_min_s" in model)
    if "blocked_min_s" in model:
        assert math.isclose(parsed["blocked_min_s"], model["blocked_min_s"], abs_tol=0.51 * 10**-places)
    strip = lambda r: {k: v for k, v in r.items()
                       if k not in FLOATS and k not in ("loop_activity", "blocked_min_s")}
    assert strip(parsed) == strip(model)
    activity, expected = parsed["loop_activity"], model["loop_activity"]
    assert (activity is None) == (expected is None)
    if expected is not None:
        for key in SHARES:
            assert (activity[key] is None) == (expected[key] is None), key
            if expected[key] is not None:
                tolerance = 0.51 * 10**-SHARE_PLACES[places]
                assert math.isclose(activity[key], expected[key], abs_tol=tolerance), key
        assert ({k: v for k, v in activity.items() if k not in SHARES}
                == {k: v for k, v in expected.items() if k not in SHARES})


@settings(max_examples=examples(300), deadline=None)
@given(reports)
def test_json_round_trip(model):
    assert_same(parse_json_report(_native.render_json_report(model).decode()), model, 6)


@settings(max_examples=examples(300), deadline=None)
@given(reports)
def test_text_round_trip(model):
    parsed = parse_text_report(_native.render_text_report(model).decode())
    assert_same(parsed, {**model, "captured_unix_ns": None}, 3)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_name_stays_on_its_line(name):
    model = {"schema": "aiowatchdog.report", "schema_version": 1, "episode": "e", "sample": 0,
             "samples": 1, "blocked_s": 1.0, "interval_s": 0.25, "sample_interval_s": 1.0,
             "pid": 1, "python": "x", "captured_at": "t", "captured_unix_ns": 0, "task": None,
             "other_threads": 0, "threads_not_sampled": 0, "suppressed_episodes": 0,
             "capture_ms": 1.0,
             "loop_pause_ms": 0.1,
             "threads": [{"ident": 1, "native_id": 1, "name": name, "is_loop": True,
                          "status": "answered", "kernel_state": "S", "truncated": False,
                          "frames": [{"kind": "python", "file": name, "line": 1,
                                      "function": name or "f", "source": ""}]}]}
    text = _native.render_text_report(model).decode()
    assert text.count("\n# ThreadID: ") == 1
    assert parse_text_report(text)["threads"][0]["name"] == name


@given(st.text())
def test_arbitrary_text_is_a_format_error_or_a_report(text):
    for parse in (parse_text_report, parse_json_report):
        try:
            parse(text)
        except ReportFormatError:
            pass


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_arbitrary_json_is_a_format_error_or_a_report(value):
    try:
        parse_json_report(json.dumps(value))
    except ReportFormatError:
        pass


def test_reports_without_loop_activity_still_read():
    """Files written before loop_activity was added (within schema 1)."""
    model = {"schema": "aiowatchdog.report", "schema_version": 1, "episode": "e", "sample": 0,
             "samples": 1, "blocked_s": 1.0, "interval_s": 0.25, "sample_interval_s": 1.0,
             "pid": 1, "python": "x", "captured_at": "t", "captured_unix_ns": 0, "task": None,
             "other_threads": 0, "threads_not_sampled": 0, "suppressed_episodes": 0,
             "capture_ms": 1.0, "loop_pause_ms": 0.1, "threads": []}
    text = _native.render_text_report(model).decode()
    assert "# Loop thread:" not in text
    assert parse_text_report(text)["loop_activity"] is None
    old_json = json.loads(_native.render_json_report(model))
    del old_json["loop_activity"]
    assert parse_json_report(json.dumps(old_json))["loop_activity"] is None


@pytest.mark.parametrize("line", [
    "on CPU (CPU 98%, CPU 97%)", "on CPU (futex)", "waiting in a syscall (CPU 1%, futex)",
    "waiting for the GIL (starved)", "asleep", "on CPU (CPU 9e9%)", "on CPU ()",
    "on CPU (CPU 98%); garbage collector running; garbage collector running",
    "on CPU (CPU " + "9" * 5000 + "%)",
])
def test_bad_loop_thread_lines_are_format_errors(line):
    model = {"schema": "aiowatchdog.report", "schema_version": 1, "episode": "e", "sample": 0,
             "samples": 1, "blocked_s": 1.0, "interval_s": 0.25, "sample_interval_s": 1.0,
             "pid": 1, "python": "x", "captured_at": "t", "captured_unix_ns": 0, "task": None,
             "loop_activity": {"state": "unknown", "syscall": "", "cpu_share": None,
                               "runqueue_share": None, "gc_running": False},
             "other_threads": 0, "threads_not_sampled": 0, "suppressed_episodes": 0,
             "capture_ms": 1.0, "loop_pause_ms": 0.1, "threads": []}
    text = _native.render_text_report(model).decode()
    assert "# Loop thread: unknown\n" in text
    with pytest.raises(ReportFormatError):
        parse_text_report(text.replace("# Loop thread: unknown\n", f"# Loop thread: {line}\n"))


def test_truncated_report_is_a_format_error():
    with pytest.raises(ReportFormatError):
        parse_text_report("# aiowatchdog hang report (schema 1)\n# Episode: x\n")


def _truncated_model(gap_at=None):
    frames = [{"kind": "native", "file": "/lib/libc.so.6", "line": None,
               "function": "__libc_start_main", "source": ""},
              {"kind": "python", "file": "/app.py", "line": 3, "function": "recurse", "source": ""}]
    thread = {"ident": 1, "native_id": 1, "name": "MainThread", "is_loop": True,
              "status": "answered", "kernel_state": "S", "truncated": True, "frames": frames}
    if gap_at is not None:
        thread["gap_at"] = gap_at
    return {"schema": "aiowatchdog.report", "schema_version": 1, "episode": "e", "sample": 0,
            "samples": 1, "blocked_s": 1.0, "interval_s": 0.25, "sample_interval_s": 1.0,
            "pid": 1, "python": "x", "captured_at": "t", "captured_unix_ns": 0, "task": None,
            "other_threads": 0, "threads_not_sampled": 0, "suppressed_episodes": 0,
            "capture_ms": 1.0, "loop_pause_ms": 0.1, "threads": [thread]}


def test_a_gap_is_read_back_where_it_was_written():
    text = _native.render_text_report(_truncated_model(1)).decode()
    assert "__libc_start_main (/lib/libc.so.6)\n# (truncated: frames not shown here)\nFile:" in text
    assert parse_text_report(text)["threads"][0]["gap_at"] == 1
    assert parse_json_report(_native.render_json_report(_truncated_model(1)).decode()
                             )["threads"][0]["gap_at"] == 1
    # An earlier writer's marker, always at the top: the gap outside everything.
    old = text.replace("# (truncated: frames not shown here)\n", "").replace(
        "[event loop]\n", "[event loop]\n# (truncated: outermost frames not shown)\n")
    assert parse_text_report(old)["threads"][0]["gap_at"] == 0


@pytest.mark.parametrize("gap_at", [-1, 3, "1", 1.0, None, True])
def test_a_gap_outside_the_frames_is_a_format_error(gap_at):
    document = json.loads(_native.render_json_report(_truncated_model(1)))
    document["threads"][0]["gap_at"] = gap_at
    with pytest.raises(ReportFormatError, match="gap_at"):
        parse_json_report(json.dumps(document))


def test_a_second_gap_marker_is_a_format_error():
    text = _native.render_text_report(_truncated_model(1)).decode()
    doubled = text.replace("File:", "# (truncated: frames not shown here)\nFile:")
    with pytest.raises(ReportFormatError, match="second gap marker"):
        parse_text_report(doubled)


def _gil_model():
    model = _truncated_model(1)
    worker = {**model["threads"][0], "ident": 2, "native_id": 7, "name": "asyncio_0",
              "is_loop": False, "truncated": False, "holds_gil": True}
    del worker["gap_at"]
    model["threads"].append(worker)
    model["loop_activity"] = {"state": "gil", "syscall": "", "cpu_share": 0.01,
                              "runqueue_share": None, "gc_running": False,
                              "gil_holder_native_id": 7}
    return model


def test_the_gil_holder_is_written_and_read_back_in_both_forms():
    text = _native.render_text_report(_gil_model()).decode()
    assert "# Loop thread: waiting for the GIL (held by thread 7, CPU 1%)\n" in text
    assert 'name="asyncio_0" native=7 state=S [holds the GIL]\n' in text
    for parsed in (parse_text_report(text),
                   parse_json_report(_native.render_json_report(_gil_model()).decode())):
        assert parsed["loop_activity"]["gil_holder_native_id"] == 7
        assert [t.get("holds_gil", False) for t in parsed["threads"]] == [False, True]


@pytest.mark.parametrize("holder", [0, -1, "7", 7.0, None, True])
def test_a_gil_holder_that_is_no_thread_id_is_a_format_error(holder):
    document = json.loads(_native.render_json_report(_gil_model()))
    document["loop_activity"]["gil_holder_native_id"] = holder
    with pytest.raises(ReportFormatError, match="gil_holder_native_id"):
        parse_json_report(json.dumps(document))


@pytest.mark.parametrize("holds", [False, 1, "true", None])
def test_holds_gil_other_than_true_is_a_format_error(holds):
    document = json.loads(_native.render_json_report(_gil_model()))
    document["threads"][1]["holds_gil"] = holds
    with pytest.raises(ReportFormatError, match="holds_gil"):
        parse_json_report(json.dumps(document))


@pytest.mark.parametrize("line", ["waiting for the GIL (held by thread 0x7)",
                                  "waiting for the GIL (held by thread 7, held by thread 8)",
                                  "on CPU (held by thread 7)"])
def test_bad_gil_holder_details_are_format_errors(line):
    text = _native.render_text_report(_gil_model()).decode()
    with pytest.raises(ReportFormatError):
        parse_text_report(text.replace("# Loop thread: waiting for the GIL (held by thread 7, "
                                       "CPU 1%)\n", f"# Loop thread: {line}\n"))
