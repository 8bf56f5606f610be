"""`report` and `show` on reports from real hanging programs: two runs of
tests/programs/report_program.py under `python -m aiowatchdog run
--profile-hz`, standing for two hosts, each blocking its loop in compute_tax
twice and in render_catalog once. The commands run as real subprocesses; the
exports are read back by independent parsers (tests/speedscope_schema.py,
tests/callgrind_parser.py). Fixed inputs and the golden-file table:
tests/unit/test_cli_report.py.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Tuple

import pytest

from aiowatchdog._profile_files import PROFILE_NAME, read_profile
from aiowatchdog._report_files import list_reports
from callgrind_parser import parse_callgrind
from runner import PROGRAMS
from speedscope_schema import validate_speedscope

pytestmark = pytest.mark.slow
BLOCKS = {"compute_tax": 2, "render_catalog": 1}  # per run
BLOCK_S = 0.35  # report_program.BLOCK_S
PROFILE_HZ = 200


def aiowatchdog(*args, cwd=None, timeout=60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOWATCHDOG_")}
    return subprocess.run([sys.executable, "-m", "aiowatchdog", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> List[Path]:
    root = tmp_path_factory.mktemp("fleet")
    dirs = [root / "host-a", root / "host-b"]

    def run(directory: Path) -> subprocess.CompletedProcess:
        return aiowatchdog("run", "--dir", directory, "--interval", "0.1",
                           "--profile-hz", PROFILE_HZ, PROGRAMS / "report_program.py")

    with ThreadPoolExecutor(2) as pool:
        for done in pool.map(run, dirs):
            assert done.returncode == 0, done.stderr
    return dirs


def test_the_table_ranks_the_real_culprits(hosts):
    done = aiowatchdog("report", "--no-color", *hosts)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("6 hang episodes, ")
    assert "2 processes in 2 directories; 6 profiled" in lines[1]
    rows = [line.split() for line in lines if re.match(r" *\d+  \S", line)]
    assert [(r[1], r[2]) for r in rows] == [("compute_tax", "4"), ("render_catalog", "2")]
    row = next(i for i, line in enumerate(lines) if " compute_tax " in line)
    assert "tests/programs/report_program.py:1" in lines[row + 1]  # line 14 or 15
    assert "lower bounds" not in done.stdout  # every episode profiled: whole durations


def test_json_summary_carries_whole_profiled_durations(hosts):
    summary = json.loads(aiowatchdog("report", "--format", "json", *hosts).stdout)
    assert summary["episodes_total"] == 6
    for episode in summary["episodes"]:
        assert episode["profiled"]
        # The whole block (0.35 s) less the detection interval at most.
        assert BLOCK_S - 0.1 <= episode["blocked_s"] < BLOCK_S + 1.0
    culprit = summary["culprits"][0]
    assert (culprit["function"], culprit["episodes"], culprit["processes"]) == ("compute_tax", 4, 2)


def test_collapsed_stacks_parse_back(hosts):
    done = aiowatchdog("report", "--format", "collapsed", *hosts)
    assert done.returncode == 0, done.stderr
    total, leaves = 0, {}
    for line in done.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        assert frames and int(count) > 0, line
        total += int(count)
        culprit = next((f for f in reversed(frames)
                        if f.startswith(("compute_tax ", "render_catalog "))), None)
        if culprit:
            leaves[culprit.split(" ")[0]] = leaves.get(culprit.split(" ")[0], 0) + int(count)
    summary = json.loads(aiowatchdog("report", "--format", "json", *hosts).stdout)
    assert total == pytest.approx(summary["blocked_s"] * 1000, abs=len(done.stdout.splitlines()))
    # compute_tax blocks twice as often as render_catalog: about twice the time.
    assert leaves["compute_tax"] > 1.4 * leaves["render_catalog"] > 0


def test_speedscope_export_validates(hosts, tmp_path):
    out = tmp_path / "blocked.speedscope.json"
    done = aiowatchdog("report", "--format", "speedscope", "-o", out, *hosts)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    document = json.loads(out.read_text())
    validate_speedscope(document)
    names = {f["name"] for f in document["shared"]["frames"]}
    assert any(n.startswith("compute_tax") for n in names)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_callgrind_export_parses(hosts):
    done = aiowatchdog("report", "--format", "callgrind", *hosts)
    assert done.returncode == 0, done.stderr
    profile = parse_callgrind(done.stdout)
    names = {name for _, name in profile.functions}
    assert {"compute_tax", "render_catalog", "checkout"} <= names
    tax = next(f for f in profile.functions if f[1] == "compute_tax")
    render = next(f for f in profile.functions if f[1] == "render_catalog")
    # Inclusive costs: compute_tax blocked twice as often as render_catalog.
    assert profile.inclusive(tax) > 1.4 * profile.inclusive(render) > 0


def test_show_a_real_report_and_its_profile(hosts):
    text = list_reports(str(hosts[0]))[0]
    done = aiowatchdog("show", "--no-color", text, cwd=PROGRAMS)
    assert done.returncode == 0, done.stderr
    assert "the event loop" in done.stdout
    assert "→ compute_tax  report_program.py:1" in done.stdout  # path relative to the cwd
    assert done.stdout.rstrip().endswith("agrees with its text twin)")
    # show and the file's own header count samples the same way (from 1).
    header = re.search(r"^# Sample: (\d+) of (\d+)$", Path(text).read_text(), re.M)
    assert header and f"sample {header[1]} of {header[2]}" in done.stdout, done.stdout[:300]
    assert header[1] == "1", "the first report of an episode"
    profiles = sorted(p for p in os.listdir(hosts[0]) if PROFILE_NAME.match(p))
    assert len(profiles) == 3  # one per episode
    done = aiowatchdog("show", "--no-color", hosts[0] / profiles[0])
    assert done.returncode == 0, done.stderr
    assert read_profile(str(hosts[0] / profiles[0]))["samples"] > 0
    assert "% (" in done.stdout and "compute_tax" in done.stdout


def test_bad_input_exits_2_with_one_line(hosts, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(hosts[0], broken)
    victim = sorted(broken.glob("stacktrace-*.json"))[-1]
    victim.write_bytes(victim.read_bytes()[:-40])  # truncated JSON
    for args in (["report", broken], ["show", victim], ["report", tmp_path / "empty"]):
        done = aiowatchdog(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert f"{victim}: not JSON" in aiowatchdog("report", broken).stderr
    assert aiowatchdog("report", "--skip-bad", broken).returncode == 0
