"""The report directory stays bounded and survives trouble: at most
max_reports reports and max_bytes bytes (the oldest go first), at most
max_episodes_per_minute episodes reported, temporaries of killed writers
removed at start; and when reports cannot be written (directory removed or
replaced by a file, file size limit, disk full, read-only) the program runs
on, one ERROR says so, and writing resumes once the trouble clears. Each test
runs tests/programs/disk_program.py, whose loop really hangs."""
from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from aiowatchdog import hang_inspection
from aiowatchdog._report_files import REPORT_NAME, list_reports, read_report
from runner import loop_functions, run_program

pytestmark = pytest.mark.slow


def report_files(directory: Path):
    return sorted(name for name in os.listdir(directory) if REPORT_NAME.match(name))


def log_lines(stderr: str, level: str):
    return [line for line in stderr.splitlines() if line.startswith(level + " ")]


def test_the_newest_max_reports_are_kept(tmp_path):
    run = run_program("disk_program.py", str(tmp_path), "many", "--hangs", "12",
                      "--max-reports", "5")
    assert run.returncode == 0, run.stderr
    assert run.event("done")["episodes"] == 12
    warnings = log_lines(run.stderr, "WARNING")
    assert len(warnings) == 12, run.stderr
    written = [line.split("reports: ")[1] for line in run.stderr.splitlines()
               if line.startswith("reports: ")]
    assert len(written) == 12
    kept = list_reports(str(tmp_path), ".txt")
    assert kept == written[-5:], "the five newest reports, and only they"
    assert len(report_files(tmp_path)) == 10, "each kept report with its JSON twin"
    for path in kept:
        assert "hang_in_disk_program" in loop_functions(read_report(path)), path


def test_the_kept_reports_fit_in_max_bytes(tmp_path):
    run = run_program("disk_program.py", str(tmp_path), "many", "--hangs", "8",
                      "--max-bytes", "30000")
    assert run.returncode == 0, run.stderr
    sizes = [os.path.getsize(tmp_path / name) for name in report_files(tmp_path)]
    assert sum(sizes) <= 30000
    assert 1 <= len(sizes) // 2 < 8, f"some reports pruned, not all: {len(sizes)} files"


def test_episodes_over_the_rate_limit_are_counted_not_reported(tmp_path):
    run = run_program("disk_program.py", str(tmp_path), "many", "--hangs", "6",
                      "--per-minute", "2")
    assert run.returncode == 0, run.stderr
    done = run.event("done")
    assert (done["episodes"], done["suppressed"]) == (6, 4)
    reports = list_reports(str(tmp_path), ".txt")
    assert len(reports) == 2
    assert all("hang_in_disk_program" in loop_functions(read_report(p)) for p in reports)
    assert len(log_lines(run.stderr, "WARNING")) == 2, "suppressed episodes log nothing"


def trouble_run(tmp_path: Path, kind: str, directory: Path, mount: Path = None):
    args = ["--mount", str(mount)] if mount else []
    run = run_program("disk_program.py", str(directory), kind, *args)
    assert run.returncode == 0, run.stderr
    assert [e["index"] for e in run.events if e["event"] == "hang"] == [0, 1, 2, 3], \
        "the application ran through its trouble"
    return run


def assert_told_once_and_resumed(run, directory: Path):
    errors = log_lines(run.stderr, "ERROR")
    assert len(errors) == 1, run.stderr
    assert "cannot write hang reports" in errors[0] and str(directory) in errors[0]
    resumed = [w for w in log_lines(run.stderr, "WARNING") if "writes reports again" in w]
    assert len(resumed) == 1 and "2 report(s)" in resumed[0], run.stderr
    reports = list_reports(str(directory), ".txt")
    assert len(reports) >= 1, "writing resumed after the trouble"
    assert "hang_in_disk_program" in loop_functions(read_report(reports[-1]))
    assert not [n for n in os.listdir(directory) if n.endswith(".tmp")], "no temporary left"


def test_a_removed_directory_is_made_again(tmp_path):
    directory = tmp_path / "reports"
    run = trouble_run(tmp_path, "removed", directory)
    assert log_lines(run.stderr, "ERROR") == [], "nothing was lost"
    assert len(list_reports(str(directory), ".txt")) == 3, "hangs 1-3 written after removal"


def test_a_directory_replaced_by_a_file(tmp_path):
    directory = tmp_path / "reports"
    run = trouble_run(tmp_path, "notdir", directory)
    assert_told_once_and_resumed(run, directory)
    assert len(list_reports(str(directory), ".txt")) == 1  # made again, hang 3 only


def test_a_file_size_limit_too_small_for_a_report(tmp_path):
    run = trouble_run(tmp_path, "fsize", tmp_path)
    assert_told_once_and_resumed(run, tmp_path)
    assert len(list_reports(str(tmp_path), ".txt")) == 2  # hangs 0 and 3


@pytest.fixture
def tmpfs(tmp_path):
    """A 4 MiB tmpfs of our own (root only), unmounted afterwards."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk(tmpfs):
    directory = tmpfs / "reports"
    run = trouble_run(tmpfs, "enospc", directory, tmpfs)
    assert_told_once_and_resumed(run, directory)
    assert "No space left on device" in log_lines(run.stderr, "ERROR")[0]


def test_a_read_only_file_system(tmpfs):
    directory = tmpfs / "reports"
    run = trouble_run(tmpfs, "readonly", directory, tmpfs)
    assert_told_once_and_resumed(run, directory)
    assert "Read-only file system" in log_lines(run.stderr, "ERROR")[0]


def test_start_removes_temporaries_of_dead_writers_only(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [f".stacktrace-20261122-101112.123456-0.json.{dead.pid}.tmp",
             f".aiowatchdog-probe-1.{dead.pid}.tmp"]
    live = f".stacktrace-20261122-101112.123456-0.txt.{os.getpid()}.tmp"
    for name in [*stale, live, "notes.txt"]:
        (tmp_path / name).write_text("partial")

    async def start_and_stop():
        dumper = hang_inspection.start(tmp_path)
        await hang_inspection.stop_wait(dumper)

    asyncio.run(start_and_stop())
    assert sorted(os.listdir(tmp_path)) == sorted([live, "notes.txt"])
