"""Reads the reports in one or more directories (several hosts' at once for
a fleet-wide view), groups them into hang episodes and ranks the culprits:
the innermost frame of the loop thread's stack at detection that is not in
the standard library or an installed package (the innermost frame when
there is none), by total blocked time and by count.

The table goes to the terminal (in colour on a TTY; --no-color or NO_COLOR
turn it off). --format exports instead: json (the ranking and every
episode's loop-thread stacks), or the loop thread's sampled stacks weighted
by blocked milliseconds as collapsed stacks (flamegraph.pl, inferno,
speedscope), speedscope's JSON, or callgrind (KCachegrind, qcachegrind).
Episodes of a dumper started with profile_hz contribute their profile's
stacks (a flame graph of where blocked time went); others their samples'.

examples:
  python -m aiowatchdog report /var/log/hangs
  python -m aiowatchdog report --since 2h --top 5 hosts/*/hangs
  python -m aiowatchdog report --format speedscope -o hangs.speedscope.json hangs/
  python -m aiowatchdog report --format collapsed hangs/ | flamegraph.pl > hangs.svg
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Sequence

from ._episodes import Episode, LoadError, load
from ._errors import CliError
from ._format import stdout_style
from ._ranking import Culprit, rank
from ._table import render_table

NAME = "report"
HELP = "rank what blocked the loop across report directories; export flame graphs"
FORMATS = ("table", "json", "collapsed", "speedscope", "callgrind")
DEFAULT_TOP = 10
SUMMARY_SCHEMA = "aiowatchdog.summary"
_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.ASCII)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: Optional[float] = None) -> float:
    """--since as a Unix time: a duration back from now ("90s", "30m", "2h",
    "1d", "1w") or an ISO 8601 date or time ("2026-11-22", "2026-11-22T10:00",
    "...Z" or "...+02:00"; without an offset, local time)."""
    now = time.time() if now is None else now
    match = _RELATIVE.fullmatch(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    iso = text.strip()
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        raise CliError(
            f"--since: expected a duration like 30m, 2h, 1d or an ISO date/time like "
            f"2026-11-22T10:00, got {text!r}"
        ) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", nargs="+", metavar="DIR",
                        help="report directories (a dumper's stack_output_dir)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="what to print (default: table)")
    parser.add_argument("--since", metavar="WHEN",
                        help="only episodes since WHEN: 30m, 2h, 1d, or 2026-11-22T10:00")
    parser.add_argument("--top", type=_positive_int, metavar="N",
                        help=f"the N worst culprits (table default: {DEFAULT_TOP}); "
                        "with an export, only their episodes")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip report files that do not parse (named on stderr) "
                        "instead of stopping at the first")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (atomically) instead of standard output")


def execute(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since is not None else None
    try:
        loaded = load(args.directories, skip_bad=args.skip_bad)
    except LoadError as e:
        raise CliError(str(e)) from None
    for path, why in loaded.files_skipped:
        print(f"aiowatchdog report: skipped {path}: {why}", file=sys.stderr)
    for empty in loaded.empty_directories:
        print(f"aiowatchdog report: no reports in {empty}", file=sys.stderr)
    if loaded.not_ours:
        print(f"aiowatchdog report: skipped {loaded.not_ours} file(s) that are not aiowatchdog "
              "reports (aiodebug's, which use the same names)", file=sys.stderr)
    episodes = [e for e in loaded.episodes if since is None or e.started_unix_s >= since]
    culprits = rank(episodes)
    if args.format == "table":
        style = stdout_style(args.no_color or args.output is not None)
        text = render_table(episodes, culprits, args.top or DEFAULT_TOP, style,
                            len(args.directories), since)
    else:
        if args.top is not None:
            culprits = culprits[:args.top]
            kept = {id(e) for c in culprits for e in c.episodes}
            episodes = [e for e in episodes if id(e) in kept]
        text = _export(args.format, episodes, culprits, args.directories, since)
    _write(text, args.output)
    return 0


def _export(fmt: str, episodes: Sequence[Episode], culprits: Sequence[Culprit],
            directories: Sequence[str], since: Optional[float]) -> str:
    if fmt == "json":
        return json.dumps(summary(episodes, culprits, directories, since), indent=1) + "\n"
    from .._export import RENDERERS, WeightedStack

    stacks = [WeightedStack(tuple(frames), weight)
              for episode in episodes for frames, weight in episode.weighted_stacks()
              if weight > 0]
    title = f"aiowatchdog: {len(episodes)} episodes in {', '.join(directories)}"
    return RENDERERS[fmt](stacks, title)


def _iso(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).isoformat(timespec="microseconds")


def summary(episodes: Sequence[Episode], culprits: Sequence[Culprit],
            directories: Sequence[str], since: Optional[float]) -> Dict[str, Any]:
    """The --format json document (schema "aiowatchdog.summary", version 1)."""
    index = {id(e): i for i, e in enumerate(episodes)}
    return {
        "schema": SUMMARY_SCHEMA,
        "schema_version": 1,
        "directories": list(directories),
        "since": None if since is None else _iso(since),
        "episodes_total": len(episodes),
        "blocked_s": round(sum(e.blocked_s for e in episodes), 6),
        "culprits": [{
            "rank": rank_ + 1,
            "function": c.function,
            "file": c.file,
            "line": c.line,
            "kind": c.kind,
            "episodes": len(c.episodes),
            "blocked_s": round(c.blocked_s, 6),
            "max_blocked_s": round(c.max_blocked_s, 6),
            "first_seen": _iso(c.first_seen_unix_s),
            "last_seen": _iso(c.last_seen_unix_s),
            "processes": c.processes,
            "episode_indexes": sorted(index[id(e)] for e in c.episodes),
        } for rank_, c in enumerate(culprits)],
        "episodes": [{
            "episode": e.id,
            "directory": e.directory,
            "pid": e.pid,
            "python": e.python,
            "started_at": _iso(e.started_unix_s),
            "blocked_s": round(e.blocked_s, 6),
            "samples": [r["sample"] for r in e.samples],
            "profiled": e.profile is not None,
            "stacks": [{"weight_ms": round(w, 3), "frames": list(frames)}
                       for frames, w in e.weighted_stacks()],
        } for e in episodes],
    }


def _write(text: str, output: Optional[str]) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(output))
    try:
        fd, temp = tempfile.mkstemp(prefix=".aiowatchdog-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise CliError(f"--output {output}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, output)
    except OSError as e:
        os.unlink(temp)
        raise CliError(f"--output {output}: {e.strerror}") from None
