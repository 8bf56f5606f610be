"""The watched process attacked the way a hostile environment does (real
subprocesses, tests/attacks/): text that is not UTF-8 everywhere, a report
directory prepared by or shared with another user (a real one, made here
when running as root), SIGSTOP/SIGCONT on asyncio and uvloop, absurd
options, aiodebug's reports in our directory, two dumpers on one loop.
Each fails on the code before its fix (issue 15, items 5-10)."""
from __future__ import annotations

import asyncio
import math
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from aiowatchdog import hang_inspection
from aiowatchdog._report_files import parse_text_report
from attacks import non_utf8, other_user, planted_names, stop_continue

try:
    import uvloop  # noqa: F401

    LOOPS = ["asyncio", "uvloop"]
except ImportError:  # pragma: no cover - uvloop is in the test requirements
    LOOPS = ["asyncio"]


# --- 5. Text that is not UTF-8 -----------------------------------------------


def _assert_clean(run: non_utf8.VictimRun) -> None:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert run.episodes == 1, run.warnings
    assert len(run.report_paths) == 1, run.warnings


def test_a_hang_in_a_latin1_source_file_is_reported_with_its_line(tmp_path):
    run = non_utf8.hang_in_latin1_source(str(tmp_path))
    _assert_clean(run)
    (text,) = run.texts()
    report = parse_text_report(text)
    loop = next(t for t in report["threads"] if t["is_loop"])
    frame = next(f for f in loop["frames"] if f["function"] == "blocked_in_latin1")
    assert frame["source"] == "time.sleep(seconds); label = 'café crème'"
    assert any("blocked_in_latin1" in w for w in run.warnings)


def test_threads_named_with_bytes_that_are_not_utf8_are_reported_escaped(tmp_path):
    run = non_utf8.hang_with_bad_thread_names(str(tmp_path))
    _assert_clean(run)
    (text,) = run.texts()
    names = {t["name"] for t in parse_text_report(text)["threads"]}
    assert "worker-\\xe9" in names, names          # threading's name, surrogate-escaped
    assert "k\\xff\\xfe-comm" in names, names      # the kernel's name (comm), never published


@pytest.mark.parametrize("surrogate_str", [False, True], ids=["bytes", "surrogate-str"])
def test_a_report_directory_whose_path_is_not_utf8(tmp_path, surrogate_str):
    run = non_utf8.hang_into_a_non_utf8_directory(str(tmp_path), surrogate_str)
    _assert_clean(run)
    (path,) = run.report_paths
    assert path.startswith(os.fsencode(str(tmp_path)) + b"/r\xe9ports-\xff/stacktrace-")
    assert os.path.isfile(path)
    run.texts()  # valid UTF-8


def test_publish_thread_names_takes_any_name():
    from aiowatchdog import _native

    _native.publish_thread_names([(1, 1, os.fsdecode(b"w\xe9")), (2, 2, b"\xff"), (3, 3, "\ud800")])


def test_start_refuses_a_bad_path_clearly_and_leaves_nothing(tmp_path):
    async def main(path, interval=0.25):
        hang_inspection.start(path, interval=interval)

    target = tmp_path / "not-made"
    with pytest.raises(ValueError, match=r"^interval must be at least 0.01 seconds"):
        asyncio.run(main(os.fsencode(str(target)) + b"\xff", interval=0.0001))
    assert os.listdir(tmp_path) == []
    with pytest.raises(TypeError, match=r"^stack_output_dir must be a path, got 3"):
        asyncio.run(main(3))
    with pytest.raises(ValueError, match=r"^stack_output_dir must not contain a NUL byte"):
        asyncio.run(main(str(target) + "\0x"))
    assert os.listdir(tmp_path) == []


# --- 6. A report directory shared with another user --------------------------


@pytest.fixture
def other():
    reason = other_user.why_not()
    if reason:
        pytest.skip(reason)
    user = other_user.create()
    yield user
    user.remove()


def _start_in(directory):
    async def main():
        async with hang_inspection.start(directory):
            pass

    asyncio.run(main())


def test_a_directory_owned_by_another_user_is_refused(tmp_path, other):
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o755)
    os.chown(directory, other.uid, other.gid)
    with pytest.raises(PermissionError, match=rf"{directory} is owned by another user \(uid {other.uid}"):
        _start_in(directory)
    assert os.listdir(directory) == []


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_a_directory_others_may_write_without_the_sticky_bit_is_refused(tmp_path, mode):
    directory = tmp_path / "open"
    directory.mkdir()
    os.chmod(directory, mode)
    with pytest.raises(PermissionError, match=rf"{directory} is writable by .* without the sticky bit"):
        _start_in(directory)
    assert os.listdir(directory) == []


def test_a_symlink_as_the_directory_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(PermissionError, match=r"is a symbolic link"):
        _start_in(link)


def test_reports_are_0600_and_new_directories_0700_unless_asked(tmp_path):
    async def main(directory, **modes):
        async with hang_inspection.start(directory, interval=0.05, samples=1, **modes):
            await asyncio.sleep(0.05)
            import time

            time.sleep(0.3)
            await asyncio.sleep(0.2)

    old = os.umask(0)
    try:
        asyncio.run(main(tmp_path / "default" / "reports"))
        asyncio.run(main(tmp_path / "asked", file_mode=0o640, dir_mode=0o750))
    finally:
        os.umask(old)
    for directory, dir_mode, file_mode in [(tmp_path / "default", 0o700, 0o600),
                                           (tmp_path / "default" / "reports", 0o700, 0o600),
                                           (tmp_path / "asked", 0o750, 0o640)]:
        assert stat.S_IMODE(os.stat(directory).st_mode) == dir_mode, directory
        if directory.name == "default":
            continue
        files = sorted(directory.glob("stacktrace-*"))
        assert len(files) == 2, files
        for f in files:
            assert stat.S_IMODE(os.stat(f).st_mode) == file_mode, f


def test_another_user_planting_links_fifos_and_files_gets_nothing(other):
    base = tempfile.mkdtemp(prefix="awd-shared-", dir="/tmp")  # the other user can reach it
    try:
        os.chmod(base, 0o755)
        result = planted_names.attack_shared_directory(other, base, rounds=2)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert result.failures == []
    assert result.planted > 0
    assert result.reports > 0
    assert (result.written_through, result.stop_hung, result.foreign_reports,
            result.planted_deleted) == (0, 0, 0, 0)


# --- 7. SIGSTOP/SIGCONT ------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_a_stopped_and_continued_idle_process_is_not_a_hang(tmp_path, loop):
    result = stop_continue.stop_while_idle(str(tmp_path), loop, rounds=10, stop_s=0.5)
    assert result.returncode == 0, result.stderr
    assert (result.episodes, result.reports) == (0, [])


@pytest.mark.parametrize("loop", LOOPS)
def test_a_real_block_across_a_stop_is_still_reported(tmp_path, loop):
    result = stop_continue.stop_during_block(str(tmp_path), loop)
    assert result.returncode == 0, result.stderr
    assert result.episodes == 1
    (name,) = result.reports
    text = (tmp_path / name).read_text()
    assert "blocked_in_victim" in text


# --- 8. Absurd options --------------------------------------------------------


@pytest.mark.parametrize("name,value,message", [
    ("interval", 1e-9, r"^interval must be at least 0.01 seconds, got 1e-09$"),
    ("interval", math.nan, r"^interval must be a finite number of seconds > 0, got nan$"),
    ("interval", -1, r"^interval must be a finite number of seconds > 0, got -1$"),
    ("sample_interval", math.inf, r"^sample_interval must be a finite number"),
    ("samples", 10**9, r"^samples must be <= 1000, got 1000000000$"),
    ("max_reports", 2**40, r"^max_reports must be from 1 to 2147483647, got 1099511627776$"),
    ("file_mode", 0o666, r"^file_mode must not be writable by others, got 0o666$"),
    ("dir_mode", 0o600, r"^dir_mode must give its owner 0o700 at least, got 0o600$"),
])
def test_absurd_options_are_refused_naming_the_value(tmp_path, name, value, message):
    async def main():
        hang_inspection.start(tmp_path / "never", **{name: value})

    with pytest.raises(ValueError, match=message):
        asyncio.run(main())
    assert not (tmp_path / "never").exists()


# --- 9. aiodebug's reports in our directory ----------------------------------

# aiodebug's hang_inspection layout: one section per thread, no file header.
AIODEBUG_REPORT = ("# ThreadID: 140000\nFile: \"app.py\", line 3, in main\n  time.sleep(1)\n\n"
                   "# ThreadID: 140001\nFile: \"threading.py\", line 320, in wait\n")


def test_retention_and_the_cli_leave_aiodebug_reports_alone(tmp_path):
    for i in range(3):
        (tmp_path / f"stacktrace-20200101-00000{i}.000000-0.txt").write_text(AIODEBUG_REPORT)

    async def main():
        async with hang_inspection.start(tmp_path, interval=0.05, samples=1, max_reports=1):
            for _ in range(2):
                await asyncio.sleep(0.1)
                import time

                time.sleep(0.3)
            await asyncio.sleep(0.2)

    asyncio.run(main())
    names = sorted(p.name for p in tmp_path.iterdir())
    aiodebug = [n for n in names if n.startswith("stacktrace-2020")]
    ours = [n for n in names if not n.startswith("stacktrace-2020")]
    assert len(aiodebug) == 3, names
    assert len(ours) == 2, names  # max_reports=1: one report, its .txt and .json
    for argv, told in [(["report", str(tmp_path)], "skipped 3 file(s)"),
                       (["show", str(tmp_path / aiodebug[0])], "skipped 1 file(s)"),
                       (["show", str(tmp_path / [n for n in ours if n.endswith(".txt")][0])],
                        "JSON twin")]:
        proc = subprocess.run([sys.executable, "-m", "aiowatchdog", *argv],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
        assert told in proc.stdout + proc.stderr, (argv, proc.stdout, proc.stderr)
        if told.startswith("skipped"):
            assert "that are not aiowatchdog reports" in proc.stdout + proc.stderr


# --- 10. Two dumpers on one loop ----------------------------------------------


def test_a_second_dumper_on_the_same_loop_is_refused_naming_the_first(tmp_path):
    async def main():
        first = hang_inspection.start(tmp_path / "first")
        try:
            with pytest.raises(RuntimeError, match=r"already has a hang_inspection dumper, writing "
                                                   rf"to '{tmp_path / 'first'}'"):
                hang_inspection.start(tmp_path / "second")
            assert not (tmp_path / "second").exists(), "a refused start() left its directory"
        finally:
            await hang_inspection.stop_wait(first)
        again = hang_inspection.start(tmp_path / "second")  # once stopped: fine
        await hang_inspection.stop_wait(again)

    asyncio.run(main())
    assert (tmp_path / "second").is_dir()


def test_a_program_that_starts_its_own_dumper_under_run_takes_its_loop_over(tmp_path):
    """`python -m aiowatchdog run` watches every loop; an aiodebug drop-in
    program calling hang_inspection.start on its loop is not refused: its
    own dumper replaces run's, and each hang is reported once, in its dir."""
    program = tmp_path / "program.py"
    program.write_text(
        "import asyncio, sys, time\n"
        "from aiowatchdog import hang_inspection\n"
        "async def main():\n"
        "    async with hang_inspection.start(sys.argv[1], interval=0.05, samples=1):\n"
        "        await asyncio.sleep(0.1)\n"
        "        time.sleep(0.4)\n"
        "        await asyncio.sleep(0.2)\n"
        "asyncio.run(main())\n")
    own, runs = tmp_path / "own", tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "aiowatchdog", "run", "--dir", str(runs),
                           "--interval", "0.05", str(program), str(own)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(list(own.glob("stacktrace-*.txt"))) == 1, proc.stderr
    assert list(runs.glob("stacktrace-*.txt")) == [], proc.stderr
