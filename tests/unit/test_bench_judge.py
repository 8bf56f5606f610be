"""The benchmark's parent-side logic on canned input (benchmarks/): the judge
of what a tool said about a block, its tallies and table cells, wrk's output
parser, the ABBA and rotation orders, and the Markdown and chart it writes."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.append(str(REPO))

from benchmarks import results as results_files  # noqa: E402
from benchmarks.judge import DURING_MARGIN_S, EARLIEST_S, Verdict, cell, full_marks, judge, tally  # noqa: E402
from benchmarks.kinds import BY_NAME, KINDS  # noqa: E402
from benchmarks.throughput import BenchError, parse_wrk, rotated  # noqa: E402
from benchmarks.workloads import abba, paired_ratio  # noqa: E402

GIL = BY_NAME["native_holding_gil"]
CPU = BY_NAME["cpu_bound"]
CONTROL = BY_NAME["short_block"]

AIOWATCHDOG_REPORT = """# ThreadID: 1 name="MainThread" native=5 state=S [event loop]
File: "/b/blocks.py", line 57, in culprit_calls_native_holding_gil
  Native: awd_test_sleep_holding_gil + 0x13 (/tmp/libnb.so)
  Native: clock_nanosleep + 0x65 (/lib/x86_64-linux-gnu/libc.so.6)
"""


def test_a_report_during_the_block_with_function_and_native_frame():
    v = judge(GIL, 10.0, 11.2, [(10.27, AIOWATCHDOG_REPORT)])
    assert v == Verdict(reported=True, during=True, latency_s=pytest.approx(0.27),
                        named=True, native=True)


def test_output_before_the_block_is_not_about_it():
    v = judge(GIL, 10.0, 11.2, [(9.0, AIOWATCHDOG_REPORT)])
    assert not v.reported and not v.named and v.native is False and v.latency_s is None
    # Read a moment after the block began: sent before it.
    assert not judge(GIL, 10.0, 11.2, [(10.0 + EARLIEST_S / 2, "select.epoll.poll")]).reported


def test_a_report_as_the_block_ends_is_after_it():
    assert not judge(CPU, 10.0, 11.2, [(11.2 - DURING_MARGIN_S / 2, "x")]).during
    assert judge(CPU, 10.0, 11.2, [(11.2 - DURING_MARGIN_S * 2, "x")]).during


def test_names_match_whole_words_and_the_first_arrival_counts():
    outputs = [(10.9, "culprit_calls_native_holding_gil_helper awd_test_sleep_holding_gilx"),
               (10.3, "Executing <Task coro=<handle_request()>> took 1.2 seconds")]
    v = judge(GIL, 10.0, 11.2, outputs)
    assert v.latency_s == pytest.approx(0.3)
    assert not v.named and v.native is False


def test_a_kind_without_a_native_culprit_has_no_native_verdict():
    assert judge(CPU, 0.0, 1.0, [(0.3, "culprit_computes_in_python")]).native is None


def test_tally_and_cells():
    late = Verdict(True, False, 1.2, True, False)
    early = Verdict(True, True, 0.26, True, True)
    assert cell(GIL, tally([early, early])) == "0.26 s · fn · C"
    assert cell(GIL, tally([early, late])) == "0.26 s 1/2 · fn · C 1/2"
    assert cell(GIL, tally([late])) == "after the block · fn"
    assert cell(GIL, tally([Verdict(False, False, None, False, False)])) == "—"
    assert full_marks(GIL, tally([early, early])) and not full_marks(GIL, tally([early, late]))
    quiet, loud = Verdict(False, False, None, False, None), Verdict(True, True, 0.2, False, None)
    assert cell(CONTROL, tally([quiet])) == "quiet ✓" and full_marks(CONTROL, tally([quiet]))
    assert cell(CONTROL, tally([quiet, loud])) == "false alarm 1/2"
    assert not full_marks(CONTROL, tally([loud]))


WRK = """Running 3s test @ http://127.0.0.1:4000/
  1 threads and 32 connections
  Latency Distribution
     50%    1.52ms
     75%    1.70ms
     90%    2.10ms
     99%  {p99}
  51240 requests in 3.00s, 8.02MB read
Requests/sec:  17079.12
Transfer/sec:      2.67MB
"""


@pytest.mark.parametrize("p99,ms", [("6.97ms", 6.97), ("812.00us", 0.812), ("1.02s", 1020.0)])
def test_wrk_output_parses_in_every_unit(p99, ms):
    assert parse_wrk(WRK.format(p99=p99)) == {"rps": 17079.12, "p99_ms": pytest.approx(ms)}


def test_wrk_output_without_figures_or_with_failures_is_an_error():
    with pytest.raises(BenchError, match="Requests/sec"):
        parse_wrk("unable to connect to 127.0.0.1:4000 Connection refused")
    with pytest.raises(BenchError, match="12 failed"):
        parse_wrk(WRK.format(p99="6ms") + "  Non-2xx or 3xx responses: 12\n")


def test_orders_alternate_and_rotate():
    assert abba(6, False) == [False, True, True, False, False, True]
    assert abba(4, True) == [True, False, False, True]
    assert rotated(["a", "b", "c"], 4) == ["b", "c", "a"]


def test_paired_ratio_compares_neighbours():
    # A slow swing (the last pair at half speed) cancels within its pair.
    phases = [(False, 100.0), (True, 99.0), (True, 99.0), (False, 100.0),
              (False, 50.0), (True, 49.5)]
    assert paired_ratio(phases) == pytest.approx(0.99)
    with pytest.raises(ValueError):
        paired_ratio([(True, 1.0), (True, 1.0)])


def fake_results():
    tallied = {k.name: {"aiowatchdog": vars(tally([Verdict(True, True, 0.27, True, True
                                                            if k.native else None)]))
                        if not k.control else vars(tally([Verdict(False, False, None, False, None)])),
                        "faulthandler": vars(tally([Verdict(not k.control, not k.control, 0.2,
                                                            not k.control,
                                                            False if k.native else None)]))}
               for k in KINDS}
    ratios = {"none": {"ratio": 1.001, "rounds": [0.99, 1.001, 1.01]},
              "aiowatchdog": {"ratio": 0.995, "rounds": [0.99, 0.995, 1.0]},
              "faulthandler": {"ratio": 0.9, "rounds": [0.9]}}
    server = {p: {**r, "rps_on": 1.0, "rps_off": 1.0, "p99_on_ms": 3.0, "p99_off_ms": 2.9}
              for p, r in ratios.items()}
    return {"peers": ["none", "aiowatchdog", "faulthandler"],
            "skipped": {"pyinstrument": "not installed: pyinstrument"},
            "busy": ratios, "server": server,
            "idle": {p: {"cpu_pct": 0.01} for p in ratios},
            "detection": tallied, "block_s": 1.2, "short_block_s": 0.15, "detection_runs": 1,
            "settings": {"busy_phases": 40, "busy_phase_s": 0.25, "server_phases": 16,
                         "server_phase_s": 1, "idle_s": 10.0},
            "environment": {"command": "python benchmarks/run.py", "date": "2026-12-05",
                            "python": "3.11.7", "cpus": 2, "seconds": 60.0}}


def test_markdown_tables_and_target_verdicts():
    text = results_files.markdown(fake_results())
    assert "| aiowatchdog | x0.995 (0.990–1.000) | x0.995 (0.990–1.000) | 3.00 / 2.90 ms | 0.0100 |" in text
    assert "| native call holding the GIL | 0.27 s · fn · C | 0.20 s · fn |" in text
    assert "| **full marks** (of 10) | 10 | 2 |" in text
    assert "- busy loop at most 1% slower: x0.995, met" in text
    assert "- ahead of every peer on detection: 10 full marks, best peer 2, met" in text
    # 'The only one naming the culprit': the native frame (aiowatchdog alone)
    # and the Python function (faulthandler too), in each GIL-held or
    # worker-thread block.
    only = [line for line in text.splitlines() if line.startswith("- the only one naming")]
    assert len(only) == 3, only
    assert only[0] == ("- the only one naming the culprit during the native call holding the "
                       "GIL block; native frame: aiowatchdog, met; function: aiowatchdog, "
                       "faulthandler re-armed, not met")
    assert "- pyinstrument per callback: not installed: pyinstrument" in text


def test_written_files_are_whole(tmp_path):
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib not installed (tools/bootstrap.sh --benchmarks)")
    # In a child: numpy, under matplotlib, starts a thread pool that would
    # outlive the test.
    (tmp_path / "in.json").write_text(json.dumps(fake_results()))
    subprocess.run([sys.executable, "-c", (
        "import json, sys; sys.path.append(sys.argv[1]); from benchmarks import results; "
        "results.write(json.load(open(sys.argv[2])), sys.argv[3])"),
        str(REPO), str(tmp_path / "in.json"), str(tmp_path / "out")], check=True)
    tmp_path = tmp_path / "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md", "chart.png", "results.json"]
    assert json.loads((tmp_path / "results.json").read_text())["peers"][1] == "aiowatchdog"
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
