"""benchmarks/ on real children: blocks made for real and judged from what
each tool actually said, the workloads' children, and run.py end to end on
its cheapest section. The peers from PyPI and wrk are only on the machines
`tools/bootstrap.sh --benchmarks` set up; tests needing them skip elsewhere."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.append(str(REPO))

from benchmarks import throughput  # noqa: E402
from benchmarks.detection import observe  # noqa: E402
from benchmarks.judge import judge  # noqa: E402
from benchmarks.kinds import BLOCK_S, BY_NAME  # noqa: E402

pytestmark = pytest.mark.slow


def watch(peer, kind, native_blockers):
    seen = observe(peer, kind, 0.4, str(native_blockers))
    assert not seen.error, seen.error
    return judge(BY_NAME[kind], seen.block_start, seen.block_end, seen.outputs)


def test_gil_held_block_as_each_stdlib_tool_sees_it(native_blockers):
    ours = watch("aiowatchdog", "native_holding_gil", native_blockers)
    assert ours.during and ours.named and ours.native, ours
    assert 0.25 <= ours.latency_s < 0.6, ours
    # faulthandler's C thread dumps during the block, Python frames only.
    theirs = watch("faulthandler", "native_holding_gil", native_blockers)
    assert theirs.during and theirs.named and theirs.native is False, theirs
    # asyncio's debug mode logs the task after the block, not the function.
    debug = watch("asyncio_debug", "native_holding_gil", native_blockers)
    assert debug.reported and not debug.during and not debug.named, debug


def test_worker_thread_block_and_the_quiet_control(native_blockers):
    worker = watch("aiowatchdog", "worker_thread_loop", native_blockers)
    assert worker.during and worker.named and worker.native, worker
    # faulthandler has one timer a process: the main thread's loop, re-arming
    # it, hides the worker's block.
    assert not watch("faulthandler", "worker_thread_loop", native_blockers).reported
    assert not watch("aiowatchdog", "short_block", native_blockers).reported


@pytest.mark.skipif(importlib.util.find_spec("aiodebug") is None,
                    reason="aiodebug not installed (tools/bootstrap.sh --benchmarks)")
def test_aiodebug_cannot_see_a_block_that_holds_the_gil(native_blockers):
    verdict = watch("aiodebug", "native_holding_gil", native_blockers)
    assert not verdict.during, verdict


def test_worker_thread_block_holding_the_gil(native_blockers):
    # aiowatchdog interrupts the worker thread itself and unwinds its C stack.
    ours = watch("aiowatchdog", "worker_thread_native", native_blockers)
    assert ours.during and ours.named and ours.native, ours
    # The held GIL stops the main loop's re-arming too: faulthandler's timer
    # fires, and it names the Python caller, not the C function.
    theirs = watch("faulthandler", "worker_thread_native", native_blockers)
    assert theirs.during and theirs.named and theirs.native is False, theirs


def test_gil_held_by_the_pool_starves_the_loop_outside_its_callbacks(native_blockers, tmp_path):
    # The loop's ticker (every 10 ms) stops for the whole block: the loop's
    # thread left its selector and waits for the GIL.
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "child.py"), "block", "--peer", "none",
         "--out", str(tmp_path), "--kind", "gil_starvation", "--settle", "0.1",
         "--native-lib", str(native_blockers)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(next(line.split(" ", 1)[1] for line in proc.stdout.splitlines()
                             if line.startswith("RESULT ")))
    assert BLOCK_S - 0.01 <= result["longest_tick_gap_s"] < BLOCK_S + 0.1, result
    # No callback was slow, so asyncio's debug mode says nothing at all.
    debug = watch("asyncio_debug", "gil_starvation", native_blockers)
    assert not debug.reported, debug
    # faulthandler's timer fires (the heartbeat cannot run) and its dump of
    # every thread names the pool thread's Python function, not the C one.
    theirs = watch("faulthandler", "gil_starvation", native_blockers)
    assert theirs.during and theirs.named and theirs.native is False, theirs


def test_gil_held_by_the_pool_as_aiowatchdog_sees_it(native_blockers):
    # Reported during the block, the pool thread's function and its C frame
    # named (the thread holding the GIL is blamed: gil_wait.h).
    ours = watch("aiowatchdog", "gil_starvation", native_blockers)
    assert ours.during and ours.named and ours.native, ours


def test_busy_and_idle_children_measure():
    busy = throughput.run_child("busy", "--peer", "aiowatchdog", "--phases", "2",
                                "--phase-seconds", "0.2")
    assert [on for on, _ in busy["phases"]] == [False, True]
    assert min(rate for _, rate in busy["phases"]) > 1000
    idle = throughput.run_child("idle", "--peer", "aiowatchdog", "--seconds", "1")
    assert 0.9 < idle["wall_s"] < 3 and 0 <= idle["cpu_pct"] < 5


@pytest.mark.skipif(not shutil.which("wrk") or importlib.util.find_spec("aiohttp") is None,
                    reason="wrk or aiohttp missing (tools/bootstrap.sh --benchmarks)")
def test_aiohttp_server_under_wrk_switches_the_tool():
    figures = throughput.server_once("aiowatchdog", 2, 1, False, 8)
    assert figures["rps_on"] > 100 and figures["rps_off"] > 100
    assert 0 < figures["p99_on_ms"] < 1000


def run_py(*args):
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_run_py_names_a_bad_tool_and_section():
    for args, word in ((["--peers", "aiowatchdog,bogus"], "bogus"), (["--sections", "nap"], "nap")):
        proc = run_py(*args, "--no-chart")
        assert proc.returncode == 2 and word in proc.stderr and "Traceback" not in proc.stderr


def test_run_py_end_to_end_on_the_idle_section(tmp_path):
    proc = run_py("--quick", "--sections", "idle", "--peers", "aiowatchdog,faulthandler",
                  "--no-chart", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    figures = json.loads((tmp_path / "results.json").read_text())
    assert set(figures["idle"]) == {"aiowatchdog", "faulthandler"}
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| aiowatchdog | n/a | n/a | n/a |" in table and table in proc.stdout
