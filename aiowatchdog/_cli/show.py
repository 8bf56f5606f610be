"""Pretty-prints one report file: what the loop was doing, its culprit, then
every thread's stack (Python and native frames merged, innermost last as in
a traceback), the event loop's thread first, threads with the same stack
shown once, long paths shortened. Then validates the report's JSON twin
against its schema (aiowatchdog.report, version 1: the keys and types the
docs/reports.md documents) and checks it agrees with the text file; a missing or
invalid twin, or a file that is not a report, exits with code 2. An
aiodebug report (aiodebug writes the same names) is skipped, saying so,
with code 0.

A profile file (profile-*.json, from profile_hz) is summarized instead: the
episode, and its most frequent loop-thread stacks.

examples:
  python -m aiowatchdog show hangs/stacktrace-20261122-103000.123456-0.txt
  python -m aiowatchdog show --no-color hangs/stacktrace-20261122-103000.123456-0.json | less
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._profile_files import PROFILE_NAME, read_profile
from .._report_files import (JSON_SUFFIX, REPORT_NAME, TEXT_SUFFIX, Report, ReportFormatError,
                             is_aiodebug_report, read_report)
from ._errors import CliError
from .._paths import shorten_path
from ._format import Style, seconds, stdout_style, utc_time
from ._ranking import blame

NAME = "show"
HELP = "pretty-print one report and validate its JSON twin"
_STATES = {"on-cpu": "on CPU", "syscall": "waiting in a syscall", "gil": "waiting for the GIL",
           "starved": "runnable but not scheduled", "unknown": "unknown"}
TOP_PROFILE_STACKS = 10


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a report (.txt or .json) or a profile file")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")


def _read(path: str) -> Report:
    try:
        return read_report(path)
    except ReportFormatError as e:
        raise CliError(f"{path}: not a valid aiowatchdog report: {e}") from None
    except OSError as e:
        raise CliError(f"{path}: {e.strerror or e}") from None


def execute(args: argparse.Namespace) -> int:
    path: str = args.file
    style = stdout_style(args.no_color)
    if not os.path.isfile(path):
        raise CliError(f"{path}: {'not a file' if os.path.exists(path) else 'no such file'}")
    if PROFILE_NAME.match(os.path.basename(path)):
        return _show_profile(path, style)
    if not path.endswith((TEXT_SUFFIX, JSON_SUFFIX)):
        raise CliError(f"{path}: not a report (expected a .txt or .json report file)")
    if REPORT_NAME.match(os.path.basename(path)) and is_aiodebug_report(path):
        # aiodebug's report (same names): not bad input, just not ours.
        print(f"aiowatchdog show: skipped 1 file(s) that are not aiowatchdog reports "
              f"(aiodebug's, which use the same names): {path}")
        return 0
    report = _read(path)
    print(render_report(report, os.path.basename(path), style), end="")
    twin = path[:-len(TEXT_SUFFIX)] + JSON_SUFFIX if path.endswith(TEXT_SUFFIX) else path
    if not os.path.exists(twin):
        raise CliError(f"{twin}: the JSON twin is missing")
    checked = _read(twin) if twin != path else report
    text_path = twin[:-len(JSON_SUFFIX)] + TEXT_SUFFIX
    if os.path.exists(text_path):
        differences = disagreements(_read(text_path), checked)
        if differences:
            raise CliError(f"{twin}: disagrees with its text twin on {', '.join(differences)}")
        agreed = "; agrees with its text twin"
    else:
        agreed = "; no text twin to compare"
    print(style.green(f"JSON twin {os.path.basename(twin)}: valid "
                      f"(schema aiowatchdog.report 1{agreed})"))
    return 0


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tolerance
    return a == b


def disagreements(text: Report, json_report: Report) -> List[str]:
    """Keys on which the two twins differ beyond the text file's rounding
    (seconds to the millisecond, shares to the percent)."""
    found = []
    for key in sorted(set(text) | set(json_report)):
        if key == "captured_unix_ns":  # only the JSON twin carries it
            continue
        a, b = text.get(key), json_report.get(key)
        if key == "loop_activity" and isinstance(a, dict) and isinstance(b, dict):
            same = all(_close(a.get(k), b.get(k), 0.0051) for k in set(a) | set(b))
        else:
            same = _close(a, b, 0.0006 if key in ("blocked_s", "blocked_min_s") else 0.0)
        if not same:
            found.append(key)
    return found


def _activity(activity: Mapping[str, Any]) -> str:
    details = [activity["syscall"]] if activity.get("syscall") else []
    if activity.get("gil_holder_native_id"):
        details.append(f"held by thread {activity['gil_holder_native_id']}")
    for key, name in (("cpu_share", "CPU"), ("runqueue_share", "run queue")):
        if activity.get(key) is not None:
            details.append(f"{name} {activity[key] * 100:.0f}%")
    text = _STATES.get(activity["state"], activity["state"])
    if details:
        text += f" ({', '.join(details)})"
    if activity.get("gc_running"):
        text += "; garbage collector running"
    return text


def _where(frame: Mapping[str, Any]) -> str:
    if frame["kind"] == "native":
        return os.path.basename(frame["file"].split(" + ")[0]) if frame["file"] else "?"
    line = frame["line"] if frame["line"] is not None else "?"
    return f"{shorten_path(frame['file'])}:{line}"


GAP = "    … frames not shown here (the stack is deeper than a report keeps) …"


def render_stack(frames: Sequence[Mapping[str, Any]], style: Style,
                 culprit: Any = None, gap_at: Optional[int] = None) -> List[str]:
    """Outermost first; `gap_at`: the index of the frame just inside the
    frames a truncated stack dropped, where the gap is marked."""
    lines = []
    for index, frame in enumerate(frames):
        if index == gap_at:
            lines.append(style.dim(GAP))
        if frame["kind"] == "native":
            lines.append(style.dim(f"    [native] {frame['function']}  ({_where(frame)})"))
            continue
        marker = "→ " if frame is culprit else "  "
        name = style.red(frame["function"]) if frame is culprit else style.bold(frame["function"])
        lines.append(f"  {marker}{name}  {style.dim(_where(frame))}")
        if frame["source"]:
            lines.append(f"        {frame['source']}")
    if gap_at is not None and gap_at >= len(frames):
        lines.append(style.dim(GAP))
    return lines


def _blocked(report: Report) -> str:
    low = report.get("blocked_min_s")  # a heartbeat probe's range
    return seconds(report["blocked_s"]) if low is None else (
        f"{seconds(low)} to {seconds(report['blocked_s'])}")


def _thread_title(thread: Mapping[str, Any]) -> str:
    state = f", {thread['kernel_state']}" if thread["kernel_state"] else ""
    title = f"Thread {thread['name']!r} (native {thread['native_id']}{state})"
    if thread["is_loop"]:
        title += " — the event loop"
    if thread.get("holds_gil"):
        title += " — holds the GIL the event loop waits for"
    if thread["status"] != "answered":
        title += f" [not answered: {thread['status']}]"
    return title


def render_report(report: Report, name: str, style: Style) -> str:
    loop = next((t for t in report["threads"] if t["is_loop"]), None)
    # A loop waiting for the GIL is blamed on the thread holding it.
    holder = next((t for t in report["threads"] if t.get("holds_gil")), None)
    blamed = holder if holder and holder["frames"] else loop
    culprit = blame(blamed["frames"]) if blamed else None
    out = [style.bold(f"Hang report {name}"),
           f"  episode  {report['episode']}, sample {report['sample'] + 1} of {report['samples']}",
           f"  blocked  {_blocked(report)} (interval {seconds(report['interval_s'])})"]
    captured = report["captured_at"].replace("T", " ")[:19] + "Z" \
        if report["captured_at"].endswith("+0000") else report["captured_at"]
    out.append(f"  captured {captured} in {report['capture_ms']:.2f} ms; "
               f"pid {report['pid']}, {report['python']}")
    if report["task"]:
        task = report["task"]
        line = task["line"] if task["line"] is not None else "?"
        out.append(f"  task     {task['coroutine']} ({shorten_path(task['file'])}:{line})")
    if report["loop_activity"]:
        out.append(f"  loop     {_activity(report['loop_activity'])}")
    if culprit is not None:
        out.append(f"  culprit  {style.red(culprit['function'])} ({_where(culprit)})")
    if report["suppressed_episodes"]:
        out.append(f"  {report['suppressed_episodes']} episode(s) before this one not reported "
                   "(rate limit)")
    groups: Dict[Tuple, List[Mapping[str, Any]]] = {}
    for thread in sorted(report["threads"],
                         key=lambda t: (not t["is_loop"], not t.get("holds_gil"))):
        key = (thread["is_loop"], thread.get("holds_gil"), thread["truncated"], thread.get("gap_at"),
               tuple((f["kind"], f["file"], f["line"], f["function"]) for f in thread["frames"]))
        groups.setdefault(key, []).append(thread)
    for threads in groups.values():
        out.append("")
        out.append(style.bold(_thread_title(threads[0])))
        if len(threads) > 1:
            others = ", ".join(repr(t["name"]) for t in threads[1:])
            out.append(style.dim(f"  and {len(threads) - 1} more with the same stack: {others}"))
        gap_at = threads[0].get("gap_at", 0 if threads[0]["truncated"] else None)
        out.extend(render_stack(threads[0]["frames"], style,
                                culprit if threads[0]["is_loop"] else None, gap_at))
    not_sampled = report["threads_not_sampled"] + report["other_threads"]
    if not_sampled:
        out.append("")
        out.append(style.dim(f"{report['other_threads']} thread(s) without Python frames, "
                             f"{report['threads_not_sampled']} not sampled (over the limit)"))
    out.append("")
    return "\n".join(out) + "\n"


def _show_profile(path: str, style: Style) -> int:
    try:
        profile = read_profile(path)
    except ReportFormatError as e:
        raise CliError(f"not a valid aiowatchdog profile: {e}") from None
    except OSError as e:
        raise CliError(f"{path}: {e.strerror or e}") from None
    ended = "recovered" if profile["recovered"] else "still blocked when the dumper stopped"
    out = [style.bold(f"Blocked-time profile {os.path.basename(path)}"),
           f"  episode  {profile['episode']}, pid {profile['pid']}, {profile['python']}",
           f"  blocked  {seconds(profile['blocked_s'])} from "
           f"{utc_time(profile['started_unix_ns'] / 1e9)} ({ended})",
           f"  samples  {profile['samples']} at {profile['profile_hz']:g} Hz of thread "
           f"{profile['loop_thread']['name']!r}"
           + (f"; {profile['discarded_samples']} discarded" if profile["discarded_samples"] else "")
           + (f"; {profile['dropped_samples']} dropped" if profile["dropped_samples"] else "")]
    stacks = sorted(profile["stacks"], key=lambda s: -s["count"])
    for stack in stacks[:TOP_PROFILE_STACKS]:
        share = 100.0 * stack["count"] / max(profile["samples"], 1)
        out.append("")
        out.append(style.bold(f"{share:.1f}% ({stack['count']} samples)"))
        out.extend(render_stack(stack["frames"], style, blame(stack["frames"])))
    if len(stacks) > TOP_PROFILE_STACKS:
        out.append("")
        out.append(style.dim(f"{len(stacks) - TOP_PROFILE_STACKS} more stacks; "
                             "python -m aiowatchdog report --format speedscope shows them all"))
    print("\n".join(out))
    print(style.green(f"{os.path.basename(path)}: valid (schema aiowatchdog.profile 1)"))
    return 0
