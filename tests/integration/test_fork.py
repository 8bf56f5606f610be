"""os.fork() with a dumper running, even in the middle of a capture: the
child has no watchdog of ours, no deadlock, and can start its own; the
parent keeps working."""
from __future__ import annotations

from pathlib import Path

import pytest

from aiowatchdog._report_files import list_reports, read_report
from runner import loop_functions, run_program

pytestmark = pytest.mark.slow


def test_fork_during_captures(tmp_path):
    forks = 8  # tools/fault_figures.py does 20
    run = run_program("fork_program.py", str(tmp_path), str(forks), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.event("done")["results"] == [0] * forks, "a child hung, crashed or saw a thread of ours"
    for i in range(forks):
        reports = [read_report(p) for p in list_reports(str(tmp_path / f"child-{i}"), ".json")]
        assert len(reports) == 1, f"child {i}"
        assert "blocked_in_child" in loop_functions(reports[0])
        assert all(t["native_id"] > 0 for t in reports[0]["threads"])
    parent = [read_report(p) for p in list_reports(str(tmp_path / "parent"), ".json")]
    caught = [r for r in parent if "blocked_in_parent" in loop_functions(r)]
    assert len(caught) >= forks, "the parent kept catching its own hangs"
    assert not list(Path(tmp_path).glob("**/.*.tmp")), "no temporary file left"
