"""Who is in a report: every Python thread with its name, ident and native id;
the loop's thread marked, wherever the loop runs; several loops at once, each
with its own dumper."""
from __future__ import annotations

from pathlib import Path

import pytest

from aiowatchdog._report_files import list_reports, read_report
from runner import loop_functions, run_program

pytestmark = pytest.mark.slow


def test_every_thread_appears_with_its_name(tmp_path):
    run = run_program("hang_program.py", str(tmp_path), "named_workers", "--block", "0.8")
    assert run.returncode == 0, run.stderr
    report = run.reports()[0]
    by_name = {t["name"]: t for t in report["threads"]}
    for i in range(3):
        worker = by_name[f"worker-{i}"]
        assert worker["status"] == "answered" and not worker["is_loop"]
        assert worker["ident"] > 0 and worker["native_id"] > 0
        assert any(f["function"].endswith("wait") for f in worker["frames"]), worker["frames"]
    main = by_name["MainThread"]
    assert main["is_loop"] and report["threads"][0] is main
    assert any(f.endswith("sleep_in_coroutine") for f in loop_functions(report))
    assert [t for t in report["threads"] if t["is_loop"]] == [main]
    assert 'name="worker-0"' in Path(report["path"][:-5] + ".txt").read_text()


def test_a_loop_on_a_worker_thread(tmp_path):
    run = run_program("loops_in_threads.py", str(tmp_path), "one_worker_loop")
    assert run.returncode == 0, run.stderr
    reports = [read_report(p) for p in list_reports(str(tmp_path / "A"), ".json")]
    assert len(reports) == 1
    loop = [t for t in reports[0]["threads"] if t["is_loop"]]
    assert len(loop) == 1
    assert loop[0]["name"] == "loop-A"
    assert loop[0]["native_id"] == run.event("block_start")["native_id"]
    assert "blocking_in_loop_a" in loop_functions(reports[0])
    main = [t for t in reports[0]["threads"] if t["name"] == "MainThread"][0]
    assert any(f["function"].endswith("join") for f in main["frames"])


def test_two_loops_in_two_threads_each_with_its_own_dumper(tmp_path):
    run = run_program("loops_in_threads.py", str(tmp_path), "two_loops")
    assert run.returncode == 0, run.stderr
    for label, function in (("A", "blocking_in_loop_a"), ("B", "blocking_in_loop_b")):
        reports = [read_report(p) for p in list_reports(str(tmp_path / label), ".json")]
        assert len(reports) == 1, (label, reports)
        loop = [t for t in reports[0]["threads"] if t["is_loop"]]
        assert [t["name"] for t in loop] == [f"loop-{label}"]
        assert function in loop_functions(reports[0])
        other = "B" if label == "A" else "A"
        assert [t for t in reports[0]["threads"] if t["name"] == f"loop-{other}"], \
            "the other loop's thread is in the report too, unmarked"
