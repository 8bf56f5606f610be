"""Reading report files back: the text and JSON formats the native renderers
write (native/report/text_report.cc, native/report/json_report.cc), parsed into the same
dict shape as the JSON (schema "aiowatchdog.report", version 1).

Malformed input raises ReportFormatError, never anything else, so tools that
read a directory of arbitrary files can skip what is not a report: whatever
bytes a file holds (not UTF-8, cut short, numbers past int()'s digit limit,
JSON nested past the recursion limit, values of the wrong type, times that are
negative or not finite), and whatever it is (a directory, a FIFO). A report
returned has every key docs/reports.md documents, each of its type. Only I/O
errors (OSError: a file that cannot be opened or read) pass through.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from typing import Any, Callable, Dict, List, Optional, Tuple

SCHEMA = "aiowatchdog.report"
SCHEMA_VERSION = 1
TEXT_SUFFIX = ".txt"
JSON_SUFFIX = ".json"
REPORT_NAME = re.compile(r"stacktrace-\d{8}-\d{6}\.\d{6}-\d+\.(txt|json)\Z", re.ASCII)

Report = Dict[str, Any]

# How every text report we write begins (native/report/text_report.cc), and how
# aiodebug's hang_inspection reports begin: a thread's section header, no
# header of the file's own.
TEXT_HEADER = b"# aiowatchdog hang report (schema "
AIODEBUG_HEADER = b"# ThreadID: "


def is_aiodebug_report(path: str) -> bool:
    """Whether a file named like a text report is aiodebug's (which
    aiowatchdog replaces, and which writes the same stacktrace-*.txt names):
    it begins with a thread's section, not with our header. `report` and
    `show` skip such files (counting them), and retention never touches
    them. Opened without blocking (a FIFO is nobody's report); False when
    unreadable."""
    if not path.endswith(TEXT_SUFFIX):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.pread(fd, 64, 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    return head.startswith(AIODEBUG_HEADER) and not head.startswith(TEXT_HEADER)


class ReportFormatError(ValueError):
    """The bytes are not a report this version can read."""


_HEADER = re.compile(r"^# ([A-Za-z][A-Za-z ()]*): (.*)$")
_THREAD = re.compile(r"^# ThreadID: (\d+) name=")
_THREAD_REST = re.compile(r"^ native=(-?\d+) state=(\S+)((?: \[[^\]]*\])*)$")
_FRAME = re.compile(r'^File: "(.*)", line (\d+|\?), in (.*)$')
_NATIVE = re.compile(r"^Native: (.*) \((.*)\)$")
_TASK = re.compile(r'^(.*) in "(.*)", line (\d+|\?)$')
_CAPTURE = re.compile(r"^(\d+\.\d+) ms \(loop thread paused (\d+\.\d+) ms\)$")
# "# Loop thread: <state in words>[ (<details>)][; garbage collector running]"
_ACTIVITY = re.compile(r"^(on CPU|waiting in a syscall|waiting for the GIL|runnable but not scheduled"
                       r"|unknown)(?: \(([^()]*)\))?(; garbage collector running)?$")
_ACTIVITY_STATES = {"on CPU": "on-cpu", "waiting in a syscall": "syscall",
                    "waiting for the GIL": "gil", "runnable but not scheduled": "starved",
                    "unknown": "unknown"}
_SHARE = re.compile(r"^(CPU|run queue) (\d+)%$")
_NOT_ANSWERED = "[not answered: "
_CAPTURED = "[captured: "
_HOLDS_GIL = "[holds the GIL]"
_GIL_HOLDER = re.compile(r"^held by thread (\d+)$")
# Where a thread's dropped frames were, among its frames (the first form, at
# the top, from writers that did not say where).
_TRUNCATED = ("# (truncated: frames not shown here)", "# (truncated: outermost frames not shown)")


def _brief(value: Any) -> str:
    """A value for an error message: short, and safe to compute for anything
    JSON or a report line can hold (no repr of a nested container)."""
    if isinstance(value, (list, dict)):
        return f"{type(value).__name__} of {len(value)} item(s)"
    text = repr(value[:60]) if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:  # not a number, or past int()'s digit limit
        raise ReportFormatError(f"bad {what}: {_brief(text)}") from None


def _float(text: str, what: str) -> float:
    """A duration: finite and not negative (float() would take "nan", "inf")."""
    try:
        value = float(text)
    except ValueError:
        raise ReportFormatError(f"bad {what}: {_brief(text)}") from None
    if not _is_duration(value):
        raise ReportFormatError(f"bad {what}: {_brief(text)} (a duration is a finite number >= 0)")
    return value


def _line_number(text: str) -> Optional[int]:
    return None if text == "?" else _int(text, "line number")


def _seconds(text: str, what: str) -> float:
    if not text.endswith(" s"):
        raise ReportFormatError(f"bad {what}: expected seconds, got {_brief(text)}")
    return _float(text[:-2], what)


def _blocked_for(text: str) -> Dict[str, float]:
    """ "0.250 s", or "0.125 to 0.250 s" when the probe's stamps are not exact
    (a heartbeat's): blocked_s is the upper end, blocked_min_s the lower."""
    low, to, high = text.partition(" to ")
    if not to:
        return {"blocked_s": _seconds(text, "Blocked for field")}
    bounds = {"blocked_min_s": _float(low, "Blocked for field"),
              "blocked_s": _seconds(high, "Blocked for field")}
    if bounds["blocked_min_s"] > bounds["blocked_s"]:
        raise ReportFormatError(f"bad Blocked for field {_brief(text)}: its lower end is higher")
    return bounds


def parse_text_report(text: str) -> Report:
    """Parses a text report into the JSON model (captured_unix_ns is None:
    the text file does not carry it)."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith("# aiowatchdog hang report (schema "):
        raise ReportFormatError("not an aiowatchdog text report (first line)")
    header: Dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i]:
        match = _HEADER.match(lines[i])
        if not match:
            raise ReportFormatError(f"bad header line {i + 1}: {_brief(lines[i])}")
        header[match.group(1)] = match.group(2)
        i += 1
    report = _report_from_header(header)

    thread: Optional[Dict[str, Any]] = None
    for number, line in enumerate(lines[i:], start=i + 1):
        if line == "":
            continue
        if line.startswith("# ThreadID: "):
            thread = _parse_thread_line(line, number)
            report["threads"].append(thread)
        elif thread is None:
            raise ReportFormatError(f"line {number} outside a thread section: {_brief(line)}")
        elif line in _TRUNCATED:
            if "gap_at" in thread:
                raise ReportFormatError(f"a second gap marker on line {number}")
            thread["truncated"] = True
            thread["gap_at"] = len(thread["frames"])
        elif line.startswith("  "):
            if not thread["frames"] or thread["frames"][-1]["source"]:
                raise ReportFormatError(f"source line {number} without its frame")
            thread["frames"][-1]["source"] = line[2:]
        elif line.startswith("Native: "):
            match = _NATIVE.match(line)
            if not match:
                raise ReportFormatError(f"bad native frame line {number}: {_brief(line)}")
            thread["frames"].append({
                "kind": "native",
                "file": "" if match.group(2) == "?" else match.group(2),
                "line": None,
                "function": match.group(1),
                "source": "",
            })
        else:
            match = _FRAME.match(line)
            if not match:
                raise ReportFormatError(f"bad frame line {number}: {_brief(line)}")
            thread["frames"].append({
                "kind": "python",
                "file": match.group(1),
                "line": _line_number(match.group(2)),
                "function": match.group(3),
                "source": "",
            })
    return report


_REQUIRED_HEADER = ("Episode", "Sample", "Blocked for", "Interval", "Sample interval", "PID",
                    "Python", "Captured", "Capture took", "Threads without Python frames")


def _report_from_header(header: Dict[str, str]) -> Report:
    missing = [name for name in _REQUIRED_HEADER if name not in header]
    if missing:
        raise ReportFormatError(f"header field(s) missing: {', '.join(missing)}")
    sample, of, samples = header["Sample"].partition(" of ")
    if not of:
        raise ReportFormatError(f"bad Sample field {_brief(header['Sample'])}")
    # The text counts samples from 1 ("Sample: 1 of 3", as `show` says it);
    # the model, like the JSON, holds the index.
    sample_index = _int(sample, "Sample field") - 1
    if sample_index < 0:
        raise ReportFormatError(f"bad Sample field {_brief(header['Sample'])}")
    task = None
    if "Task" in header:
        match = _TASK.match(header["Task"])
        if not match:
            raise ReportFormatError(f"bad Task field {_brief(header['Task'])}")
        task = {"coroutine": match.group(1), "file": match.group(2),
                "line": _line_number(match.group(3))}
    activity = _parse_activity(header["Loop thread"]) if "Loop thread" in header else None
    capture = _CAPTURE.match(header["Capture took"])
    if not capture:
        raise ReportFormatError(f"bad Capture took field {_brief(header['Capture took'])}")
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "episode": header["Episode"],
        "sample": sample_index,
        "samples": _int(samples, "Sample field"),
        **_blocked_for(header["Blocked for"]),
        "interval_s": _seconds(header["Interval"], "Interval field"),
        "sample_interval_s": _seconds(header["Sample interval"], "Sample interval field"),
        "pid": _int(header["PID"], "PID field"),
        "python": header["Python"],
        "captured_at": header["Captured"],
        "captured_unix_ns": None,
        "capture_ms": _float(capture.group(1), "Capture took field"),
        "loop_pause_ms": _float(capture.group(2), "Capture took field"),
        "task": task,
        "loop_activity": activity,
        "other_threads": _int(header["Threads without Python frames"],
                              "Threads without Python frames field"),
        "threads_not_sampled": _int(header.get("Threads not sampled (over the limit)", "0"),
                                    "Threads not sampled field"),
        "suppressed_episodes": _int(
            header.get("Episodes suppressed before this one (rate limit)", "0"),
            "Episodes suppressed field"),
        "threads": [],
    }


def _parse_activity(text: str) -> Dict[str, Any]:
    """The "Loop thread" header field, as native/report/text_report.cc writes it."""
    match = _ACTIVITY.match(text)
    if not match:
        raise ReportFormatError(f"bad Loop thread field {_brief(text)}")
    activity: Dict[str, Any] = {"state": _ACTIVITY_STATES[match.group(1)], "syscall": "",
                                "cpu_share": None, "runqueue_share": None,
                                "gc_running": match.group(3) is not None}
    for item in match.group(2).split(", ") if match.group(2) is not None else ():
        share = _SHARE.match(item)
        key = {"CPU": "cpu_share", "run queue": "runqueue_share"}[share.group(1)] if share else None
        if key and activity[key] is None:
            activity[key] = _int(share.group(2), "Loop thread share") / 100
        elif item == "starved" and activity["state"] == "starved":
            pass
        elif (activity["state"] == "gil" and _GIL_HOLDER.match(item)
              and "gil_holder_native_id" not in activity):
            activity["gil_holder_native_id"] = _int(_GIL_HOLDER.match(item).group(1),
                                                    "GIL holder")
        elif (activity["state"] == "syscall" and not activity["syscall"] and item
              and activity["cpu_share"] is None and activity["runqueue_share"] is None):
            activity["syscall"] = item
        else:
            raise ReportFormatError(f"bad Loop thread field {_brief(text)}")
    return activity


def _parse_thread_line(line: str, number: int) -> Dict[str, Any]:
    match = _THREAD.match(line)
    if not match:
        raise ReportFormatError(f"bad thread line {number}: {_brief(line)}")
    try:
        name, end = json.JSONDecoder().raw_decode(line, match.end())
    except (ValueError, RecursionError):  # JSONDecodeError, a huge number, deep nesting
        raise ReportFormatError(f"bad thread name on line {number}: {_brief(line)}") from None
    rest = _THREAD_REST.match(line[end:])
    if not rest or not isinstance(name, str):
        raise ReportFormatError(f"bad thread line {number}: {_brief(line)}")
    markers = rest.group(3)
    status = "answered"
    if _NOT_ANSWERED in markers:
        status = markers.split(_NOT_ANSWERED, 1)[1].split("]", 1)[0]
    captured = {}  # how the stack was read: only when the report says
    if _CAPTURED in markers:
        captured["captured_by"] = markers.split(_CAPTURED, 1)[1].split("]", 1)[0]
    if _HOLDS_GIL in markers:  # only the thread holding the GIL the loop waited for
        captured["holds_gil"] = True
    return {
        "ident": _int(match.group(1), f"thread ident on line {number}"),
        "native_id": _int(rest.group(1), f"native id on line {number}"),
        "name": name,
        "is_loop": "[event loop]" in markers,
        "status": status,
        "kernel_state": "" if rest.group(2) == "?" else rest.group(2),
        "truncated": False,
        **captured,
        "frames": [],
    }


# What each key of a JSON report must hold: (test, what the message says).
_Check = Tuple[Callable[[Any], bool], str]
_STR: _Check = (lambda v: isinstance(v, str), "a string")
_INT: _Check = (lambda v: type(v) is int, "an integer")  # not a bool
_NUMBER: _Check = (lambda v: type(v) in (int, float), "a number")


def _is_duration(value: Any) -> bool:
    if type(value) not in (int, float):
        return False
    try:
        value = float(value)  # an integer past a float's range is no duration either
    except OverflowError:
        return False
    return math.isfinite(value) and value >= 0


# Times and rates: what the writer prints is never negative, NaN or infinite
# (exports weigh stacks by them).
_DURATION: _Check = (_is_duration, "a finite number >= 0")
_BOOL: _Check = (lambda v: isinstance(v, bool), "true or false")
_LINE: _Check = (lambda v: v is None or type(v) is int, "an integer or null")
_NUMBER_OR_NULL: _Check = (lambda v: v is None or type(v) in (int, float), "a number or null")
_OBJECT_OR_NULL: _Check = (lambda v: v is None or isinstance(v, dict), "an object or null")
_LIST: _Check = (lambda v: isinstance(v, list), "a list")

_JSON_FIELDS: Dict[str, _Check] = {
    "episode": _STR, "sample": _INT, "samples": _INT, "blocked_s": _DURATION,
    "interval_s": _DURATION, "sample_interval_s": _DURATION, "pid": _INT, "python": _STR,
    "captured_at": _STR, "captured_unix_ns": _LINE, "capture_ms": _DURATION,
    "loop_pause_ms": _DURATION, "task": _OBJECT_OR_NULL, "loop_activity": _OBJECT_OR_NULL,
    "other_threads": _INT,
    "threads_not_sampled": _INT, "suppressed_episodes": _INT, "threads": _LIST,
}
_JSON_TASK_FIELDS: Dict[str, _Check] = {"coroutine": _STR, "file": _STR, "line": _LINE}
_JSON_ACTIVITY_FIELDS: Dict[str, _Check] = {
    "state": _STR, "syscall": _STR, "cpu_share": _NUMBER_OR_NULL,
    "runqueue_share": _NUMBER_OR_NULL, "gc_running": _BOOL,
}
_JSON_THREAD_FIELDS: Dict[str, _Check] = {
    "ident": _INT, "native_id": _INT, "name": _STR, "is_loop": _BOOL, "status": _STR,
    "kernel_state": _STR, "truncated": _BOOL, "frames": _LIST,
}
_JSON_FRAME_FIELDS: Dict[str, _Check] = {
    "kind": (lambda v: isinstance(v, str) and v in ("python", "native"), '"python" or "native"'),
    "file": _STR, "line": _LINE, "function": _STR, "source": _STR,
}


def _check_fields(obj: Any, fields: Dict[str, _Check], where: str) -> None:
    """Every key of `fields` present with a value of its type; other keys are
    allowed (a later writer may add some without a new schema_version)."""
    if not isinstance(obj, dict):
        raise ReportFormatError(f"{where} must be an object, got {_brief(obj)}")
    for key, (ok, expected) in fields.items():
        if key not in obj:
            raise ReportFormatError(f"{where} has no {key!r}")
        if not ok(obj[key]):
            raise ReportFormatError(f"{where}.{key} must be {expected}, got {_brief(obj[key])}")


def _not_json_constant(name: str) -> Any:
    raise ReportFormatError(f"not JSON: {name} (Python's json extension, never written by aiowatchdog)")


def load_document(text: str, schema: str, version: int, what: str) -> Dict[str, Any]:
    """A JSON object whose "schema" and "schema_version" are `schema` and
    `version`, else ReportFormatError (`what` names the kind of file)."""
    try:
        document = json.loads(text, parse_constant=_not_json_constant)
    except ReportFormatError:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError, a huge number, deep nesting
        raise ReportFormatError(f"not JSON: {e}") from None
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise ReportFormatError(f"not an aiowatchdog {what} (schema)")
    found = document.get("schema_version")
    if type(found) is not int or found != version:
        raise ReportFormatError(
            f"unsupported {what} schema_version {_brief(found)} (this reader: {version})"
        )
    return document


def parse_json_report(text: str) -> Report:
    """Parses a JSON report and checks it has the documented shape."""
    report = load_document(text, SCHEMA, SCHEMA_VERSION, "JSON report")
    report.setdefault("suppressed_episodes", 0)  # added within schema 1
    report.setdefault("loop_activity", None)  # added within schema 1
    _check_fields(report, _JSON_FIELDS, "report")
    if "blocked_min_s" in report:  # only when not exact, added within schema 1
        low = report["blocked_min_s"]
        if not (_is_duration(low) and low <= report["blocked_s"]):
            raise ReportFormatError("report.blocked_min_s must be a finite number from 0 to "
                                    f"blocked_s, got {_brief(low)}")
    if report["task"] is not None:
        _check_fields(report["task"], _JSON_TASK_FIELDS, "task")
    if report["loop_activity"] is not None:
        _check_fields(report["loop_activity"], _JSON_ACTIVITY_FIELDS, "loop_activity")
        holder = report["loop_activity"].get("gil_holder_native_id")  # added within schema 1
        if "gil_holder_native_id" in report["loop_activity"] and not (type(holder) is int
                                                                      and holder > 0):
            raise ReportFormatError("loop_activity.gil_holder_native_id must be a thread id, "
                                    f"got {_brief(holder)}")
    for i, thread in enumerate(report["threads"]):
        _check_fields(thread, _JSON_THREAD_FIELDS, f"threads[{i}]")
        for k, frame in enumerate(thread["frames"]):
            _check_fields(frame, _JSON_FRAME_FIELDS, f"threads[{i}].frames[{k}]")
        if "holds_gil" in thread and thread["holds_gil"] is not True:  # added within schema 1
            raise ReportFormatError(f"threads[{i}].holds_gil must be true when present, "
                                    f"got {_brief(thread['holds_gil'])}")
        gap = thread.get("gap_at")  # only in threads with a gap, added within schema 1
        if "gap_at" in thread and not (type(gap) is int and 0 <= gap <= len(thread["frames"])
                                       and thread["truncated"]):
            raise ReportFormatError(f"threads[{i}].gap_at must be an index of its frames "
                                    f"in a truncated thread, got {_brief(gap)}")
    return report


def read_report(path: str) -> Report:
    """Reads a .txt or .json report file. ReportFormatError for what is not
    a report, including what is not a regular file (opened without blocking,
    so a FIFO is refused rather than waited on); OSError when the file cannot
    be opened or read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReportFormatError(f"{path}: not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportFormatError(f"{path}: not UTF-8 ({e.reason})") from None
    if path.endswith(JSON_SUFFIX):
        return parse_json_report(text)
    return parse_text_report(text)


def loop_thread(report: Report) -> Optional[Dict[str, Any]]:
    """The section of the watched loop's thread, if the report has one."""
    for thread in report["threads"]:
        if thread.get("is_loop"):
            return thread
    return None


def list_reports(directory: str, suffix: str = TEXT_SUFFIX) -> List[str]:
    """Report files in `directory`, oldest first (names sort by time): regular
    files (or links to them) named like a report; a temporary file being
    written (dot-prefixed) never is."""
    with os.scandir(directory) as entries:
        return sorted(
            entry.path
            for entry in entries
            if REPORT_NAME.match(entry.name) and entry.name.endswith(suffix) and entry.is_file()
        )
