"""`python -m aiowatchdog report` and `show` on fixed report files
(tests/report_fixtures.py): the terminal table against its golden file, the
JSON summary, --since, --top, colour, and bad input, which must give one
clear line and exit code 2, never a traceback. The commands on reports from
real hanging programs: tests/integration/test_cli_reports.py."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from aiowatchdog._cli import main
from aiowatchdog._cli.report import parse_since
from report_fixtures import T0, write_episode, write_fleet

GOLDEN = Path(__file__).parent.parent / "data" / "report_table.golden"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cli(capsys, *argv):
    """Runs the command in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fleet(tmp_path):
    return write_fleet(tmp_path)


def test_table_matches_the_golden_file(capsys, fleet):
    code, out, err = cli(capsys, "report", "--no-color", *fleet)
    assert (code, err) == (0, "")
    if os.environ.get("AIOWATCHDOG_UPDATE_GOLDEN"):
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8")


def test_colour_only_when_asked_and_on_a_terminal(capsys, fleet, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    _, coloured, _ = cli(capsys, "report", *fleet)
    _, plain, _ = cli(capsys, "report", "--no-color", *fleet)
    assert ANSI.search(coloured) and not ANSI.search(plain)
    assert ANSI.sub("", coloured) == plain
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(cli(capsys, "report", *fleet)[1])


def test_json_summary_ranks_by_blocked_time_across_hosts(capsys, fleet):
    code, out, _ = cli(capsys, "report", "--format", "json", *fleet)
    summary = json.loads(out)
    assert code == 0 and summary["schema"] == "aiowatchdog.summary"
    assert summary["episodes_total"] == 8
    assert summary["blocked_s"] == pytest.approx(8.0)
    ranked = [(c["function"], c["episodes"], c["processes"]) for c in summary["culprits"]]
    assert ranked == [("compute_tax", 4, 2), ("render_catalog", 2, 2),
                      ("crunch_numbers", 1, 1), ("health", 1, 1)]
    # The culprit skips the standard library (json.loads) and site-packages
    # (jinja2); a stack with no Python frame is blamed on its native leaf.
    first = summary["culprits"][0]
    assert (first["file"], first["line"]) == ("/srv/shop/app/pricing.py", 17)
    assert summary["culprits"][2]["kind"] == "native"
    # Every episode carries the loop thread's stacks, weighted by its blocked time.
    for episode in summary["episodes"]:
        assert sum(s["weight_ms"] for s in episode["stacks"]) == pytest.approx(
            episode["blocked_s"] * 1000)


def test_since_and_top_filter(capsys, fleet):
    code, out, _ = cli(capsys, "report", "--format", "json", "--since", "2026-11-21T09:30Z",
                       "--top", "1", *fleet)
    summary = json.loads(out)
    assert [c["function"] for c in summary["culprits"]] == ["render_catalog"]
    # Since 09:30 host-a's render (08:20) is out; host-b's (10:01) is in.
    assert [e["episode"] for e in summary["episodes"]] == [f"201-{int((T0 + 7300) * 1000)}-3"]
    code, out, _ = cli(capsys, "report", "--no-color", "--since", "2030-01-01", *fleet)
    assert code == 0 and out == "no hang episodes since 2030-01-01 00:00:00Z in 2 directories\n"


@pytest.mark.parametrize("text, seconds_back", [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1.5d", 129600), ("1w", 604800)])
def test_since_durations(text, seconds_back):
    assert parse_since(text, now=1000000.0) == 1000000.0 - seconds_back


def test_since_dates():
    assert parse_since("2026-11-21T08:00:00Z") == T0
    assert parse_since("2026-11-21T10:00:00+02:00") == T0
    assert parse_since("2026-11-21") == pytest.approx(T0, abs=14 * 3600)  # local midnight


def bad(capsys, *argv):
    code, out, err = cli(capsys, *argv)
    assert code == 2, (out, err)
    # One error line last (argparse puts its usage above it), no traceback.
    assert "Traceback" not in err, err
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("python -m aiowatchdog ") and ": error: " in last, err
    return last


@pytest.mark.parametrize("argv, message", [
    (["report", "--since", "yesterday", "DIR"], "--since: expected a duration like 30m"),
    (["report", "--top", "0", "DIR"], "argument --top: expected a whole number >= 1, got '0'"),
    (["report", "--format", "svg", "DIR"], "argument --format: invalid choice: 'svg'"),
])
def test_bad_options(capsys, tmp_path, argv, message):
    write_episode(tmp_path, 1, 1, T0, [0.25], "sleep")
    argv = [str(tmp_path) if a == "DIR" else a for a in argv]
    assert message in bad(capsys, *argv)


def test_bad_directories(capsys, tmp_path):
    assert f"{tmp_path / 'nope'}: no such directory" in bad(capsys, "report", tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("not a report\n")
    (tmp_path / "stacktrace.json").write_text("{}")
    err = bad(capsys, "report", tmp_path)
    assert f"no aiowatchdog reports in {tmp_path} (2 other files)" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert f"no aiowatchdog reports in {empty} (0 other files)" in bad(capsys, "report", empty)
    assert "not a directory" in bad(capsys, "report", tmp_path / "notes.txt")


def test_a_bad_report_file_stops_the_report_unless_skipped(capsys, tmp_path):
    write_episode(tmp_path, 1, 1, T0, [0.25], "sleep")
    good = write_episode(tmp_path, 1, 2, T0 + 5, [0.25], "render")[0]
    cut = tmp_path / good.name.replace("-0.json", "-1.json")
    cut.write_text(good.read_text()[:200])  # truncated
    err = bad(capsys, "report", tmp_path)
    assert f"{cut}: not JSON" in err and "--skip-bad" in err
    code, out, err = cli(capsys, "report", "--skip-bad", "--no-color", tmp_path)
    assert code == 0 and "2 hang episodes" in out
    assert err.startswith(f"aiowatchdog report: skipped {cut}: not JSON")


def test_show_validates_the_json_twin(capsys, tmp_path):
    report = write_episode(tmp_path, 7, 1, T0, [0.25], "checkout")[0]
    code, out, err = cli(capsys, "show", "--no-color", report)
    assert code == 0, err
    assert "→ compute_tax" in out and "<stdlib>/json/__init__.py:346" in out
    assert "<site>/aiohttp/web_protocol.py:452" in out
    assert out.rstrip().endswith("valid (schema aiowatchdog.report 1; no text twin to compare)")
    data = json.loads(report.read_text())
    data["threads"][0]["frames"][0]["line"] = "forty"
    report.write_text(json.dumps(data))
    assert "threads[0].frames[0].line must be an integer or null, got 'forty'" in \
        bad(capsys, "show", report)


@pytest.mark.parametrize("content", ["hello\n", "", "{\"schema\": \"aiowatchdog.report\""])
def test_show_refuses_what_is_not_a_report(capsys, tmp_path, content):
    path = tmp_path / "stacktrace-20261121-080000.000000-0.txt"
    path.write_text(content)
    assert f"{path}: not a valid aiowatchdog report" in bad(capsys, "show", path)
    assert "no such file" in bad(capsys, "show", tmp_path / "missing.txt")


@pytest.mark.parametrize("command", ["run", "report", "show", "demo"])
def test_every_command_explains_itself_with_an_example(capsys, command):
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    assert re.search(r"^examples?:$", out, re.M), out
    assert f"python -m aiowatchdog {command}" in out.split("example", 1)[1]
