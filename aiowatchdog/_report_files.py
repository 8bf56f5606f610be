"""Reading report files back: the text and JSON formats the native renderers
write (native/text_report.cc, native/json_report.cc), parsed into the same
dict shape as the JSON (schema "aiowatchdog.report", version 1).

Malformed input raises ReportFormatError, never anything else, so tools that
read a directory of arbitrary files can skip what is not a report.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional

SCHEMA = "aiowatchdog.report"
SCHEMA_VERSION = 1
TEXT_SUFFIX = ".txt"
JSON_SUFFIX = ".json"
REPORT_NAME = re.compile(r"^stacktrace-\d{8}-\d{6}\.\d{6}-\d+\.(txt|json)$")

Report = Dict[str, Any]


class ReportFormatError(ValueError):
    """The bytes are not a report this version can read."""


_HEADER = re.compile(r"^# ([A-Za-z][A-Za-z ()]*): (.*)$")
_THREAD = re.compile(r"^# ThreadID: (\d+) name=")
_THREAD_REST = re.compile(r"^ native=(-?\d+) state=(\S+)((?: \[[^\]]*\])*)$")
_FRAME = re.compile(r'^File: "(.*)", line (\d+|\?), in (.*)$')
_NATIVE = re.compile(r"^Native: (.*) \((.*)\)$")
_TASK = re.compile(r'^(.*) in "(.*)", line (\d+|\?)$')
_CAPTURE = re.compile(r"^(\d+\.\d+) ms \(loop thread paused (\d+\.\d+) ms\)$")
_NOT_ANSWERED = "[not answered: "
_TRUNCATED = "# (truncated: outermost frames not shown)"


def _line_number(text: str) -> Optional[int]:
    return None if text == "?" else int(text)


def _seconds(text: str) -> float:
    if not text.endswith(" s"):
        raise ReportFormatError(f"expected seconds, got {text!r}")
    return float(text[:-2])


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
            raise ReportFormatError(f"bad header line {i + 1}: {lines[i]!r}")
        header[match.group(1)] = match.group(2)
        i += 1
    try:
        report = _report_from_header(header)
    except (KeyError, ValueError) as e:
        if isinstance(e, ReportFormatError):
            raise
        raise ReportFormatError(f"bad or missing header field: {e}") from None

    thread: Optional[Dict[str, Any]] = None
    for number, line in enumerate(lines[i:], start=i + 1):
        if line == "":
            continue
        if line.startswith("# ThreadID: "):
            thread = _parse_thread_line(line, number)
            report["threads"].append(thread)
        elif thread is None:
            raise ReportFormatError(f"line {number} outside a thread section: {line!r}")
        elif line == _TRUNCATED:
            thread["truncated"] = True
        elif line.startswith("  "):
            if not thread["frames"] or thread["frames"][-1]["source"]:
                raise ReportFormatError(f"source line {number} without its frame")
            thread["frames"][-1]["source"] = line[2:]
        elif line.startswith("Native: "):
            match = _NATIVE.match(line)
            if not match:
                raise ReportFormatError(f"bad native frame line {number}: {line!r}")
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
                raise ReportFormatError(f"bad frame line {number}: {line!r}")
            thread["frames"].append({
                "kind": "python",
                "file": match.group(1),
                "line": _line_number(match.group(2)),
                "function": match.group(3),
                "source": "",
            })
    return report


def _report_from_header(header: Dict[str, str]) -> Report:
    sample, of, samples = header["Sample"].partition(" of ")
    if not of:
        raise ReportFormatError(f"bad Sample field {header['Sample']!r}")
    task = None
    if "Task" in header:
        match = _TASK.match(header["Task"])
        if not match:
            raise ReportFormatError(f"bad Task field {header['Task']!r}")
        task = {"coroutine": match.group(1), "file": match.group(2),
                "line": _line_number(match.group(3))}
    capture = _CAPTURE.match(header["Capture took"])
    if not capture:
        raise ReportFormatError(f"bad Capture took field {header['Capture took']!r}")
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "episode": header["Episode"],
        "sample": int(sample),
        "samples": int(samples),
        "blocked_s": _seconds(header["Blocked for"]),
        "interval_s": _seconds(header["Interval"]),
        "sample_interval_s": _seconds(header["Sample interval"]),
        "pid": int(header["PID"]),
        "python": header["Python"],
        "captured_at": header["Captured"],
        "captured_unix_ns": None,
        "capture_ms": float(capture.group(1)),
        "loop_pause_ms": float(capture.group(2)),
        "task": task,
        "other_threads": int(header["Threads without Python frames"]),
        "threads_not_sampled": int(header.get("Threads not sampled (over the limit)", 0)),
        "suppressed_episodes": int(
            header.get("Episodes suppressed before this one (rate limit)", 0)),
        "threads": [],
    }


def _parse_thread_line(line: str, number: int) -> Dict[str, Any]:
    match = _THREAD.match(line)
    if not match:
        raise ReportFormatError(f"bad thread line {number}: {line!r}")
    try:
        name, end = json.JSONDecoder().raw_decode(line, match.end())
    except json.JSONDecodeError:
        raise ReportFormatError(f"bad thread name on line {number}: {line!r}") from None
    rest = _THREAD_REST.match(line[end:])
    if not rest or not isinstance(name, str):
        raise ReportFormatError(f"bad thread line {number}: {line!r}")
    markers = rest.group(3)
    status = "answered"
    if _NOT_ANSWERED in markers:
        status = markers.split(_NOT_ANSWERED, 1)[1].split("]", 1)[0]
    return {
        "ident": int(match.group(1)),
        "native_id": int(rest.group(1)),
        "name": name,
        "is_loop": "[event loop]" in markers,
        "status": status,
        "kernel_state": "" if rest.group(2) == "?" else rest.group(2),
        "truncated": False,
        "frames": [],
    }


def parse_json_report(text: str) -> Report:
    """Parses and checks a JSON report."""
    try:
        report = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ReportFormatError(f"not JSON: {e}") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise ReportFormatError("not an aiowatchdog JSON report (schema)")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise ReportFormatError(
            f"unsupported schema_version {report.get('schema_version')!r} (this reader: {SCHEMA_VERSION})"
        )
    threads = report.get("threads")
    if not isinstance(threads, list) or not all(
        isinstance(t, dict) and isinstance(t.get("frames"), list) for t in threads
    ):
        raise ReportFormatError("threads must be a list of objects with frames")
    report.setdefault("suppressed_episodes", 0)  # added within schema 1
    return report


def read_report(path: str) -> Report:
    """Reads a .txt or .json report file."""
    with open(path, "rb") as f:
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
    """Report files in `directory`, oldest first (names sort by time)."""
    return sorted(
        os.path.join(directory, name)
        for name in os.listdir(directory)
        if REPORT_NAME.match(name) and name.endswith(suffix)
    )
