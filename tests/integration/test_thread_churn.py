"""Captures never crash the process while threads start and exit around them:
each thread records its own stack inside its own signal handler, so no thread
ever reads frames that another is freeing."""
from __future__ import annotations

import pytest

from aiowatchdog._report_files import loop_thread
from runner import run_program

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [1, 2])
def test_many_hangs_under_thread_churn(tmp_path, seed):
    hangs = 40
    run = run_program("churn_program.py", str(tmp_path), str(hangs), str(seed), timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stderr[-3000:]}"
    done = run.event("done")
    assert done["threads_started"] > 100, "the churn was real"
    reports = run.reports()
    for report in reports:
        assert loop_thread(report) is not None
        assert report["text"]["threads"] == report["threads"], "text and JSON twins agree"
    # Each hang lasts 50-150 ms against a 20 ms interval: nearly all are caught
    # in the act. (Other, shorter episodes are real too: with two threads
    # churning, the loop can wait more than 20 ms for the GIL.)
    caught = {r["episode"] for r in reports
              if "blocked_by_churn_test" in [f["function"] for f in loop_thread(r)["frames"]]}
    assert len(caught) >= hangs * 0.8, len(caught)
