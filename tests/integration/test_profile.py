"""profile_hz in real processes (tests/programs/profile_program.py): no
profile and no extra work for a healthy loop, the profile of a hang cut
short by the dumper's stop written whole with recovered false, and profile
files kept within the directory's bound. A profile of a hang that recovers,
read through the commands: tests/integration/test_cli_reports.py."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from aiowatchdog._profile_files import PROFILE_NAME, read_profile
from runner import PROGRAMS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("profiles")

    def run(scenario):
        directory = root / scenario
        done = subprocess.run([sys.executable, str(PROGRAMS / "profile_program.py"),
                               str(directory), scenario],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return scenario, directory

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(run, ["healthy", "stopped_mid_hang", "many_episodes"]))


def test_a_healthy_loop_gets_no_profile(runs):
    assert os.listdir(runs["healthy"]) == []


def test_the_stop_writes_the_profile_of_a_hang_under_way(runs):
    directory = runs["stopped_mid_hang"]
    names = os.listdir(directory)
    profiles = [n for n in names if PROFILE_NAME.match(n)]
    assert len(profiles) == 1, names
    assert not [n for n in names if n.endswith(".tmp")]
    profile = read_profile(str(directory / profiles[0]))
    assert profile["recovered"] is False
    # Stopped 0.5 s into the hang, detected 0.1 s in: ~0.4 s at 200 Hz.
    assert 0.4 <= profile["blocked_s"] < 1.0
    assert 20 <= profile["samples"] <= 120
    top = max(profile["stacks"], key=lambda s: s["count"])
    assert "blocked_until_stopped" in [f["function"] for f in top["frames"]]
    # Its episode's report is beside it, under the same stamp.
    stamp = PROFILE_NAME.match(profiles[0]).group(1)
    assert f"stacktrace-{stamp}-0.json" in names


def test_profiles_count_toward_max_reports(runs):
    names = sorted(os.listdir(runs["many_episodes"]))
    reports = {n[:-4] for n in names if n.endswith(".txt")}
    profiles = [n for n in names if PROFILE_NAME.match(n)]
    assert profiles, names
    assert len(reports) + len(profiles) <= 4, names
