#!/usr/bin/env python3
"""The production-safety figures (docs/figures.md, Production safety): runs every fault at the
issue's full size, once, on this interpreter, and prints what survived and
what was found. A step of tools/test.sh; exits 1 if anything leaked, a report
was cut short, a bad input got through or a sanitizer spoke.

    python3 tools/fault_figures.py                 # everything (~5 min)
    python3 tools/fault_figures.py --quick         # a tenth of the sizes
    python3 tools/fault_figures.py --no-sanitizers # tools/test.sh ran them already

The stress and kill drivers are the ones the pytest suite runs at a smaller
size (tests/faults.py); forks use tests/programs/fork_program.py; bad inputs
are drawn by hypothesis, as in the unit tests.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from aiowatchdog._options import Options  # noqa: E402
from aiowatchdog._report_files import ReportFormatError, list_reports, read_report  # noqa: E402
from faults import kill_at_random_moments, run_stress  # noqa: E402
from attacks import other_user, planted_names, stop_continue  # noqa: E402
from attacks import drivers as attack  # noqa: E402

SANITIZER_FINDING = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer")


def stress(scratch: Path, sizes: dict) -> dict:
    hangs = run_stress(scratch / "hangs", "hangs", sizes["hangs"], timeout=1800)
    starts = run_stress(scratch / "starts", "startstop", sizes["starts"], timeout=1800)
    return {
        "hangs": hangs.done["hangs"],
        "hang_episodes": hangs.done["episodes"],
        "threads_started": hangs.done["threads_started"],
        "rss_growth_kib": hangs.rss_growth_kib,
        "starts": starts.done["starts"],
        "start_rss_growth_kib": starts.rss_growth_kib,
        "leaks": hangs.leaks + starts.leaks,
        "report_problems": hangs.problems,
    }


def forks(scratch: Path, count: int) -> dict:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "programs" / "fork_program.py"), str(scratch / "forks"),
         str(count)], capture_output=True, text=True, timeout=1800)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = events[-1]["results"] if events else []
    bad = [r for r in results if r != 0] + ([f"exit {proc.returncode}"] if proc.returncode else [])
    return {"forks": len(results), "fork_problems": bad}


def kills(scratch: Path, count: int) -> dict:
    directory = scratch / "kills"
    directory.mkdir()
    result = kill_at_random_moments(directory, count, seed=int(time.time()))
    return {"kills": result.kills, "kills_inside_a_write": result.killed_with_temporaries,
            "reports_checked": result.reports_checked, "kill_problems": result.problems}


def bad_inputs(scratch: Path, examples: int) -> dict:
    """Bad option values must raise TypeError/ValueError naming the option;
    arbitrary bytes under a report's name must read as a report or raise
    ReportFormatError. Returns how many were tried and what got through."""
    tried = {"options": 0, "report_bytes": 0}
    escaped = []
    numbers = st.one_of(st.integers(-2**70, 2**70), st.floats(), st.text(max_size=5), st.none(),
                        st.booleans(), st.lists(st.integers(), max_size=2))
    names = ["interval", "sample_interval", "samples", "signal", "max_threads", "max_reports",
             "max_bytes", "max_episodes_per_minute", "native_stacks", "file_mode", "dir_mode"]

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(names), value=numbers)
    def options(name, value):
        tried["options"] += 1
        try:
            Options(**{name: value})
        except (TypeError, ValueError) as e:
            if not str(e).startswith(name + " must "):
                escaped.append(f"Options({name}={value!r}): unclear message {e}")
        except Exception as e:  # noqa: BLE001 - that is what this looks for
            escaped.append(f"Options({name}={value!r}): {type(e).__name__}: {e}")

    directory = scratch / "bytes"
    directory.mkdir()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.binary(max_size=4096), suffix=st.sampled_from([".txt", ".json"]))
    def report_bytes(data, suffix):
        tried["report_bytes"] += 1
        path = directory / f"stacktrace-20261122-101112.{tried['report_bytes'] % 10**6:06d}-0{suffix}"
        path.write_bytes(data)
        try:
            assert path.as_posix() in list_reports(str(directory), suffix)
            read_report(str(path))
        except ReportFormatError:
            pass
        except Exception as e:  # noqa: BLE001
            escaped.append(f"{path.name} ({data[:40]!r}...): {type(e).__name__}: {e}")
        path.unlink()

    options()
    report_bytes()
    return {"bad_inputs": tried["options"] + tried["report_bytes"], "bad_input_escapes": escaped}


def planted(scratch: Path, rounds: int) -> dict:
    """A real second user plants links, FIFOs and 0666 files at our names
    while reports are written (tests/attacks/planted_names.py); root only."""
    reason = other_user.why_not()
    if reason:
        return {"planted_skipped": reason, "planted_problems": []}
    base = Path(tempfile.mkdtemp(prefix="awd-shared-", dir="/tmp"))
    os.chmod(base, 0o755)  # the other user must reach it
    user = other_user.create()
    try:
        r = planted_names.attack_shared_directory(user, str(base), rounds=rounds)
    finally:
        user.remove()
        subprocess.run(["rm", "-rf", str(base)])
    problems = [f"planted names: {what} {n}" for what, n in
                [("written through", r.written_through), ("stops hung", r.stop_hung),
                 ("foreign reports", r.foreign_reports), ("planted files deleted", r.planted_deleted)]
                if n] + [f"planted names: victim failed: {f[-300:]}" for f in r.failures]
    return {"planted_rounds": rounds, "planted": r.planted, "planted_reports": r.reports,
            "planted_written_through": r.written_through, "planted_stops_hung": r.stop_hung,
            "planted_problems": problems}


def stops(scratch: Path, rounds: int) -> dict:
    """SIGSTOP/SIGCONT while idle (false episodes must be 0) and during a real
    block (it must be reported), on asyncio and uvloop."""
    false_episodes, missed, problems = 0, 0, []
    for loop in ("asyncio", "uvloop"):
        idle_dir, block_dir = scratch / f"stop-idle-{loop}", scratch / f"stop-block-{loop}"
        idle_dir.mkdir()
        block_dir.mkdir()
        idle = stop_continue.stop_while_idle(str(idle_dir), loop, rounds=rounds, stop_s=0.5)
        block = stop_continue.stop_during_block(str(block_dir), loop)
        false_episodes += max(idle.episodes, 0)
        missed += block.episodes != 1 or len(block.reports) != 1
        problems += [f"stop/continue {loop}: exit {r.returncode}: {r.stderr[-300:]}"
                     for r in (idle, block) if r.returncode != 0]
    if false_episodes:
        problems.append(f"stop/continue: {false_episodes} false episode(s)")
    if missed:
        problems.append(f"stop/continue: {missed} real block(s) across a stop not reported")
    return {"stop_rounds": rounds, "stop_false_episodes": false_episodes,
            "stop_blocks_missed": missed, "stop_problems": problems}


def attacks(scratch: Path, scale: int) -> dict:
    """Issue 15's attacks on the host (tests/attacks): forks while the
    watchdog symbolizes and right after start, execs during captures, pools,
    address-space and descriptor limits. Every child and exec'd program must
    exit 0, every limited run with its own status (17)."""
    def ok(tally: dict, good: str) -> bool:
        return set(tally) <= {good}
    f = {
        "fork_symbolizing": attack.forks_while_symbolizing(max(1, 3 // scale), 12, 16, scratch),
        "fork_after_start": attack.forks_right_after_start(max(4, 40 // scale), scratch),
        "exec_loop": attack.execs_during_captures(max(4, 40 // scale), "loop", scratch),
        "exec_worker": attack.execs_during_captures(max(4, 40 // scale), "worker", scratch),
        "pools": [attack.pools_during_captures(m, max(1, 5 // scale), scratch)
                  for m in ("fork", "forkserver", "spawn")],
        "rlimit_as": attack.address_space_limits([1, 2, 4, 8, 12, 16, 20, 24, 32, 48, 64, 96],
                                                 scratch),
        "rlimit_nofile": attack.descriptor_limits([0, 1, 2, 3, 5, 8], scratch),
    }
    problems = []
    fs = f["fork_symbolizing"]
    if not (ok(fs["child_statuses"], "0") and ok(fs["pools"], "ok") and ok(fs["parent_statuses"], "0")):
        problems.append(f"forks while symbolizing: {fs}")
    if not ok(f["fork_after_start"]["child_statuses"], "0"):
        problems.append(f"fork right after start: {f['fork_after_start']}")
    for key in ("exec_loop", "exec_worker"):
        if not ok(f[key]["outcomes"], "ok"):
            problems.append(f"exec during captures: {f[key]}")
    problems += [f"pool: {p}" for p in f["pools"] if (p["pool"], p["status"]) != ("ok", 0)]
    for key in ("rlimit_as", "rlimit_nofile"):
        if not ok(f[key]["statuses"], "17"):
            problems.append(f"{key}: {f[key]}")
    return {"attacks": f, "attack_problems": problems}


def sanitizers() -> dict:
    proc = subprocess.run(["tools/sanitize.sh"], cwd=ROOT, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    findings = len(SANITIZER_FINDING.findall(output))
    if proc.returncode != 0 and findings == 0:
        findings = 1  # failed without a sanitizer's own words: count it
        print(output[-3000:], file=sys.stderr)
    return {"sanitizer_findings": findings, "sanitizer_runs": output.count("== native tests under")}


def attack_rows(a) -> list:
    if a is None:
        return []
    fs, fa = a["fork_symbolizing"], a["fork_after_start"]
    return [
        ("forks while the watchdog symbolizes (children's exit statuses)",
         f"{fs['children']} children: {fs['child_statuses']}; fork pools: {fs['pools']}; "
         f"parents: {fs['parent_statuses']}"),
        ("forks right after start (children's exit statuses)",
         f"{fa['tries']}: {fa['child_statuses']}"),
        ("execs during captures (exec'd program printed its line, exit 0)",
         f"loop thread {a['exec_loop']['outcomes']}, worker thread {a['exec_worker']['outcomes']}"),
        ("multiprocessing pools during captures (results checked)",
         ", ".join(f"{p['method']} x{p['rounds']}: {p['pool']}" for p in a["pools"])),
        ("runs under RLIMIT_AS, 1-96 MiB headroom (own exit status 17)",
         f"{a['rlimit_as']['runs']}: {a['rlimit_as']['statuses']}; "
         f"{a['rlimit_as']['with_reports']} still reported"),
        ("runs under RLIMIT_NOFILE, 0-8 spare (own exit status 17)",
         f"{a['rlimit_nofile']['runs']}: {a['rlimit_nofile']['statuses']}"),
    ]


def table(f: dict) -> str:
    leaks = len(f["leaks"])
    rows = [
        ("hangs survived (one process, threads coming and going)",
         f"{f['hangs']:,} ({f['hang_episodes']:,} caught; {f['threads_started']:,} threads started)"),
        ("start/stop cycles", f"{f['starts']:,}"),
        ("forks during captures", f"{f['forks']}, problems: {len(f['fork_problems'])}"),
        ("SIGKILLs at random moments", f"{f['kills']} ({f['kills_inside_a_write']} inside a write); "
                                       f"partial reports: {len(f['kill_problems'])}"),
        *attack_rows(f.get("attacks")),
        ("bad inputs tried (options, report bytes)",
         f"{f['bad_inputs']:,}; got through: {len(f['bad_input_escapes'])}"),
        ("leaks found (threads, descriptors, memory)",
         f"{leaks} (RSS {f['rss_growth_kib']:+} KiB over the hangs after warm-up, "
         f"{f['start_rss_growth_kib']:+} KiB over the start/stops)"),
        ("planted links/FIFOs/0666 files by another user, during writes",
         f"skipped ({f['planted_skipped']})" if "planted_skipped" in f else
         f"{f['planted']} planted in {f['planted_rounds']} runs ({f['planted_reports']} reports "
         f"written); written through: {f['planted_written_through']}, stops hung: "
         f"{f['planted_stops_hung']}, problems: {len(f['planted_problems'])}"),
        ("SIGSTOP/SIGCONT, asyncio and uvloop",
         f"{f['stop_rounds']} idle stops each: false episodes {f['stop_false_episodes']}; "
         f"a block across a stop missed: {f['stop_blocks_missed']} of 2"),
        ("sanitizer findings (ASan+UBSan, TSan)",
         "not run" if f.get("sanitizer_findings") is None else str(f["sanitizer_findings"])),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'figure':<{width}} | result |", f"| {'-' * width} | --- |"]
    lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--no-sanitizers", action="store_true")
    parser.add_argument("--json", action="store_true", help="the figures as JSON too")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    sizes = {"hangs": 10_000 // scale, "starts": 1_000 // scale, "forks": max(2, 20 // scale),
             "kills": 100 // scale, "examples": 5_000 // scale,
             "planted": max(1, 10 // scale), "stops": max(2, 20 // scale)}
    started = time.monotonic()
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="aiowatchdog-faults-") as scratch_name:
        scratch = Path(scratch_name)
        for step, run in [("stress", lambda: stress(scratch, sizes)),
                          ("forks", lambda: forks(scratch, sizes["forks"])),
                          ("kills", lambda: kills(scratch, sizes["kills"])),
                          ("attacks", lambda: attacks(scratch, scale)),
                          ("bad inputs", lambda: bad_inputs(scratch, sizes["examples"])),
                          ("planted names", lambda: planted(scratch, sizes["planted"])),
                          ("stop/continue", lambda: stops(scratch, sizes["stops"]))]:
            step_start = time.monotonic()
            figures.update(run())
            print(f"  {step}: {time.monotonic() - step_start:.0f} s", file=sys.stderr)
    if not args.no_sanitizers:
        figures.update(sanitizers())
    print(f"# aiowatchdog fault figures: CPython {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{time.monotonic() - started:.0f} s")
    print(table(figures))
    problems = (figures["leaks"] + figures["report_problems"] + figures["fork_problems"]
                + figures["kill_problems"] + figures["bad_input_escapes"]
                + figures["planted_problems"] + figures["stop_problems"]
                + figures["attack_problems"])
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if args.json:
        print(json.dumps(figures, default=str))
    failed = problems or figures.get("sanitizer_findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
