"""Report directories read back as hang episodes: the model `report` ranks
and exports. One episode is the reports sharing an "episode" id (one per
sample; the JSON twin read when there, else the text file) plus, when the
dumper profiled (`profile_hz`), its profile file.

Files not named like a report or profile are not ours and are skipped;
aiodebug's reports (aiowatchdog is its drop-in and writes the same names;
they begin with a thread's section, not our header) are skipped and
counted; other files named like ours that do not parse are bad input
(LoadError), unless the caller asked to skip them, in which case they are
counted.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .._profile_files import PROFILE_NAME, Profile, read_profile
from .._report_files import (REPORT_NAME, Report, ReportFormatError, is_aiodebug_report, loop_thread,
                             read_report)

Frames = Sequence[Mapping[str, Any]]


class LoadError(Exception):
    """A directory or file that cannot be read as reports; the message names it."""


@dataclass
class Episode:
    id: str
    directory: str
    pid: int
    python: str
    started_unix_s: float          # the first sample's capture time
    samples: List[Report] = field(default_factory=list)  # by sample index
    profile: Optional[Profile] = None

    @property
    def blocked_s(self) -> float:
        """The whole episode's when profiled (to recovery or stop), else the
        longest the samples saw (a lower bound: the loop may have stayed
        blocked after the last sample)."""
        if self.profile is not None:
            return float(self.profile["blocked_s"])
        return max(float(r["blocked_s"]) for r in self.samples)

    def loop_stack(self, report: Report) -> Frames:
        thread = loop_thread(report)
        return thread["frames"] if thread else ()

    @property
    def first_stack(self) -> Frames:
        """The loop thread's stack at detection (or the first sample kept)."""
        return self.loop_stack(self.samples[0])

    @property
    def blame_stack(self) -> Frames:
        """The stack the episode is blamed on: at detection, the thread
        holding the GIL when the loop's thread was waiting for it, else the
        loop thread's."""
        report = self.samples[0]
        activity = report.get("loop_activity") or {}
        if activity.get("state") == "gil" and activity.get("gil_holder_native_id"):
            for thread in report["threads"]:
                if thread.get("holds_gil") and thread["frames"]:
                    return thread["frames"]
        return self.first_stack

    def weighted_stacks(self) -> List[Tuple[Frames, float]]:
        """(loop stack, blocked ms it stands for): the profile's stacks in
        proportion to their counts when there is a profile with samples;
        else the samples' stacks, sharing the blocked time evenly."""
        total_ms = self.blocked_s * 1000.0
        if self.profile is not None and self.profile["samples"] > 0:
            n = self.profile["samples"]
            return [(s["frames"], total_ms * s["count"] / n) for s in self.profile["stacks"]]
        stacks = [self.loop_stack(r) for r in self.samples]
        stacks = [s for s in stacks if s]
        return [(s, total_ms / len(stacks)) for s in stacks]


@dataclass
class Loaded:
    episodes: List[Episode]
    files_skipped: List[Tuple[str, str]]  # (path, why): bad files skipped on request
    empty_directories: List[str]          # "DIR (N other files)": no report in them
    not_ours: int = 0                     # aiodebug's reports, skipped


def _captured_unix_s(report: Report) -> float:
    if report.get("captured_unix_ns"):
        return report["captured_unix_ns"] / 1e9
    try:
        return datetime.strptime(report["captured_at"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        raise ReportFormatError(f"bad captured_at: {report['captured_at']!r}") from None


def _scan(directory: str) -> Tuple[List[str], List[str], int, int]:
    """(report paths, profile paths, count of other entries, count of files
    named like reports that are not ours) in `directory`."""
    if not os.path.exists(directory):
        raise LoadError(f"{directory}: no such directory")
    if not os.path.isdir(directory):
        raise LoadError(f"{directory}: not a directory")
    reports: Dict[str, str] = {}  # path without suffix -> the path to read
    profiles, others, not_ours = [], 0, 0
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        raise LoadError(f"{directory}: {e.strerror}") from None
    for entry in entries:
        if REPORT_NAME.match(entry.name) and entry.is_file():
            if is_aiodebug_report(entry.path):
                not_ours += 1
                continue
            stem, suffix = os.path.splitext(entry.path)
            if suffix == ".json" or stem not in reports:
                reports[stem] = entry.path  # the JSON twin wins
        elif PROFILE_NAME.match(entry.name) and entry.is_file():
            profiles.append(entry.path)
        else:
            others += 1
    return list(reports.values()), profiles, others, not_ours


def load(directories: Sequence[str], skip_bad: bool = False) -> Loaded:
    """Every episode in `directories`, oldest first. LoadError when a
    directory is missing or holds no report, or a report or profile file
    does not parse (unless skip_bad)."""
    episodes: Dict[Tuple[str, str], Episode] = {}
    skipped: List[Tuple[str, str]] = []
    empty: List[str] = []
    not_ours = 0

    def read(path: str, reader: Callable[[str], Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """The file parsed, or None: gone since the scan (a live directory's
        retention removed it), or bad and skipped on request."""
        try:
            return reader(path)
        except FileNotFoundError:
            return None
        except (ReportFormatError, OSError) as e:
            why = str(e).replace(f"{path}: ", "") if isinstance(e, ReportFormatError) \
                else (e.strerror or str(e))
        if not skip_bad:
            raise LoadError(f"{path}: {why} (--skip-bad reads the rest)")
        skipped.append((path, why))
        return None

    def read_with_time(path: str) -> Dict[str, Any]:
        report = read_report(path)
        report["_started_unix_s"] = _captured_unix_s(report)
        return report

    for directory in directories:
        reports, profiles, others, foreign = _scan(directory)
        not_ours += foreign
        if not reports:
            others += foreign
            empty.append(f"{directory} ({others} other file{'s' if others != 1 else ''})")
            continue
        for path in reports:
            report = read(path, read_with_time)
            if report is None:
                continue
            started = report.pop("_started_unix_s")
            key = (directory, report["episode"])
            episode = episodes.get(key)
            if episode is None:
                episode = episodes[key] = Episode(
                    report["episode"], directory, report["pid"], report["python"], started)
            episode.samples.append(report)
            episode.started_unix_s = min(episode.started_unix_s, started)
        for path in profiles:
            profile = read(path, read_profile)
            episode = episodes.get((directory, profile["episode"])) if profile else None
            if episode is not None:  # its reports pruned: nothing to rank it by
                episode.profile = profile
    if not episodes:
        where = "; ".join(empty) if empty else ", ".join(directories)
        raise LoadError(f"no aiowatchdog reports in {where}")
    for episode in episodes.values():
        episode.samples.sort(key=lambda r: r["sample"])
    ordered = sorted(episodes.values(), key=lambda e: (e.started_unix_s, e.directory, e.id))
    return Loaded(ordered, skipped, empty, not_ours)
