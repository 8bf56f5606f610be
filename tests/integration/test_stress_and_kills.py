"""Stress and kills, at a size fit for every Python version (tools/
fault_figures.py runs the same drivers at the issue's full size: 10,000 hangs,
1,000 start/stop, 100 kills): many short hangs while threads come and go,
start/stop over and over, and SIGKILL at random moments of a program that
hangs, captures and writes all the time. No thread, descriptor or memory
growth; no report ever cut short; no temporary left after the next start."""
from __future__ import annotations

import pytest

from faults import kill_at_random_moments, run_stress

pytestmark = pytest.mark.slow


def test_many_short_hangs_while_threads_come_and_go_leak_nothing(tmp_path):
    result = run_stress(tmp_path, "hangs", 500, timeout=300)
    assert result.leaks == [], result.usage
    assert result.problems == []
    assert result.done["episodes"] >= 250, "most of the 10 ms hangs were caught"
    assert result.done["threads_started"] > 500, "the churn was real"


def test_start_and_stop_over_and_over_leak_nothing(tmp_path):
    result = run_stress(tmp_path, "startstop", 300, timeout=300)
    assert result.leaks == [], result.usage
    assert result.done["episodes"] >= 1, "hangs were caught between starts and stops"


def test_sigkill_at_random_moments_never_leaves_a_partial_report(tmp_path):
    result = kill_at_random_moments(tmp_path, kills=10, seed=4)
    assert result.problems == []
    assert result.kills == 10
    assert result.reports_checked > 0
