"""Drivers for the attack programs of this folder: each runs its program a
number of times and returns what happened, in counts. Used by
tests/integration/test_attacks_fork_exec.py (small sizes) and
tools/fault_figures.py (full sizes)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from ._common import first_failure, last_json, run_attack, tally


def _scratch(directory: Optional[Path], name: str) -> Path:
    base = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="aiowatchdog-attack-"))
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def forks_while_symbolizing(rounds: int, children: int = 12, pool_tasks: int = 16,
                            directory: Optional[Path] = None) -> Dict:
    """`rounds` runs of fork_symbolizing.py: the children's exit statuses
    (all must be 0), the fork pools' outcomes and the parents' own."""
    statuses: List = []
    pools: List[str] = []
    parents: List = []
    procs = []
    for i in range(rounds):
        proc = run_attack("fork_symbolizing",
                          [str(_scratch(directory, f"forks-{i}")), str(children), str(pool_tasks)],
                          timeout=240)
        out = last_json(proc.stdout)
        statuses += out.get("children", [])
        pools.append(out.get("pool", "none"))
        parents.append(proc.returncode)
        procs.append(proc)
    hung = [line for proc in procs for line in proc.stderr.splitlines()
            if line.startswith("hung child ")]
    return {"children": len(statuses), "child_statuses": tally(statuses),
            "pools": tally(pools), "parent_statuses": tally(parents), "hung": hung,
            "first_failure": first_failure(procs)}


def forks_right_after_start(tries: int, directory: Optional[Path] = None) -> Dict:
    """`tries` fresh processes that fork right after a dumper starts: the
    children's statuses ("hung": still there 10 s later)."""
    statuses = []
    procs = []
    for i in range(tries):
        proc = run_attack("fork_after_start",
                          [str(_scratch(directory, f"after-start-{i}")), str(i)], timeout=60)
        statuses.append(last_json(proc.stdout).get("child", f"parent {proc.returncode}"))
        procs.append(proc)
    return {"tries": tries, "child_statuses": tally(statuses), "first_failure": first_failure(procs)}


def execs_during_captures(tries: int, where: str, directory: Optional[Path] = None) -> Dict:
    """`tries` execs at random moments of captures from the loop's thread or a
    worker thread: how many exec'd programs printed their line and exited 0."""
    outcomes = []
    procs = []
    for seed in range(tries):
        proc = run_attack("exec_during_capture",
                          [str(_scratch(directory, f"exec-{where}-{seed}")), where, str(seed)],
                          timeout=60)
        ok = proc.returncode == 0 and "exec'd ok" in proc.stdout
        outcomes.append("ok" if ok else f"status {proc.returncode}")
        procs.append(proc)
    return {"tries": tries, "where": where, "outcomes": tally(outcomes),
            "first_failure": first_failure(procs)}


def pools_during_captures(method: str, rounds: int, directory: Optional[Path] = None) -> Dict:
    """A multiprocessing pool of `method` (fork, forkserver, spawn) used
    `rounds` times while captures run, results checked."""
    proc = run_attack("exec_during_capture",
                      [str(_scratch(directory, f"pool-{method}")), f"pool-{method}", str(rounds)],
                      timeout=300)
    pool = last_json(proc.stdout).get("pool", f"status {proc.returncode}")
    return {"method": method, "rounds": rounds, "pool": pool, "status": proc.returncode,
            "first_failure": first_failure([proc]) or ("" if pool == "ok" else proc.stderr[-3000:])}


def address_space_limits(headrooms_mb: List[int], directory: Optional[Path] = None) -> Dict:
    """Runs under RLIMIT_AS at each headroom: the exit statuses (17 is the
    program's own) and how many runs still wrote reports."""
    statuses = []
    procs = []
    reported = 0
    ended_early = []  # (why, still said running, ERROR logged) of each thread that ended
    for mb in headrooms_mb:
        proc = run_attack("limits", [str(_scratch(directory, f"as-{mb}")), "as", str(mb)],
                          timeout=120)
        statuses.append(proc.returncode)
        procs.append(proc)
        result = last_json(proc.stdout)
        reported += result.get("reports", 0) > 0
        if result.get("ended_early"):
            ended_early.append((result["ended_early"], result["running"],
                                "aiowatchdog's watchdog thread ended (" in proc.stderr))
    return {"runs": len(headrooms_mb), "statuses": tally(statuses), "with_reports": reported,
            "ended_early": ended_early, "first_failure": first_failure(procs, ok=(17,))}


def descriptor_limits(spares: List[int], directory: Optional[Path] = None) -> Dict:
    """Runs under RLIMIT_NOFILE with `spare` descriptors left: exit statuses."""
    statuses = []
    procs = []
    for spare in spares:
        proc = run_attack("limits", [str(_scratch(directory, f"nofile-{spare}")), "nofile",
                                     str(spare)], timeout=120)
        statuses.append(proc.returncode)
        procs.append(proc)
    return {"runs": len(spares), "statuses": tally(statuses), "first_failure": first_failure(procs, ok=(17,))}


if __name__ == "__main__":  # a quick look by hand
    import json
    import sys
    print(json.dumps(forks_right_after_start(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
    os._exit(0)
