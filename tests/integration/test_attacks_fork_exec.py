"""Attacks a hostile environment makes on the process we watch (issue 15
items 1-4): forks while the watchdog symbolizes and right after it starts,
execs at random moments of captures (from the loop's thread, from workers,
through multiprocessing pools), address-space and descriptor limits. The
host must never abort, hang or lose its exit status. The drivers and
programs are in tests/attacks (tools/fault_figures.py runs them at full
size)."""
from __future__ import annotations

import pytest

from attacks import drivers

pytestmark = pytest.mark.slow


def test_forks_while_symbolizing_leave_children_and_parent_well(tmp_path):
    result = drivers.forks_while_symbolizing(rounds=1, children=12, pool_tasks=16,
                                             directory=tmp_path)
    assert result["child_statuses"] == {"0": 12}, result
    assert result["pools"] == {"ok": 1}, "a fork pool's map completes with the right results"
    assert result["parent_statuses"] == {"0": 1}, result


def test_fork_right_after_start_never_hangs_the_child(tmp_path):
    result = drivers.forks_right_after_start(tries=40, directory=tmp_path)
    assert result["child_statuses"] == {"0": 40}, result


@pytest.mark.parametrize("where", ["loop", "worker"])
def test_exec_during_captures_runs_the_new_program(tmp_path, where):
    result = drivers.execs_during_captures(tries=20, where=where, directory=tmp_path)
    assert result["outcomes"] == {"ok": 20}, result


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_pools_during_captures_give_their_results(tmp_path, method):
    result = drivers.pools_during_captures(method, rounds=3, directory=tmp_path)
    assert (result["pool"], result["status"]) == ("ok", 0), result


def test_an_address_space_limit_never_costs_the_process(tmp_path):
    # 1 MiB to spare: the watchdog thread's first exception aborted the host
    # there in 3 runs of 3 (3.10) before its thread-local storage was warmed
    # up only with memory found for it (native_stack.h).
    headrooms = [1, 1, 1, 2, 4, 8, 12, 16, 20, 24, 32, 48, 64, 96]
    result = drivers.address_space_limits(headrooms, directory=tmp_path)
    assert result["statuses"] == {"17": len(headrooms)}, result["first_failure"]
    assert result["with_reports"] >= 1, "with room enough, hangs are still reported"
    for why, running, logged in result["ended_early"]:
        assert not running and logged, result["ended_early"]


def test_a_watchdog_thread_short_of_memory_ends_and_says_so(tmp_path):
    """At the edge of what start() needs, the thread has its stack and
    hardly more: it ends before its first allocation could abort the host,
    says why once (an ERROR), and its dumper stops saying it runs."""
    result = drivers.watchdog_thread_short_of_memory(directory=tmp_path)
    edge = result["edge"]
    assert edge is not None, result
    assert edge["status"] == 17, edge["stderr"]
    assert edge["ended_early"] == "too little memory for its thread to start", edge
    assert not edge["running"] and edge["logged"], edge
    assert edge["stderr"].count("watchdog thread ended") == 1, edge["stderr"]


def test_a_descriptor_limit_never_costs_the_process(tmp_path):
    spares = [0, 1, 2, 3, 5, 8]
    result = drivers.descriptor_limits(spares, directory=tmp_path)
    assert result["statuses"] == {"17": len(spares)}, result
