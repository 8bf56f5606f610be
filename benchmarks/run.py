#!/usr/bin/env python3
"""aiowatchdog and the tools a user would pick instead, measured side by side
in one run: throughput cost on a busy loop and an aiohttp server under wrk,
CPU on an idle loop, and what each reports about nine kinds of block and a
control too short to report.

    python benchmarks/run.py            # the full run, under 30 minutes
    python benchmarks/run.py --quick    # fewer rounds, under 5 minutes
    python benchmarks/run.py --sections detection --peers aiowatchdog,faulthandler
    python benchmarks/run.py --sections detection --kinds gil_starvation --quick

Writes results.json, RESULTS.md and chart.png into --out (default
benchmarks/results) and prints RESULTS.md. `tools/bootstrap.sh --benchmarks`
installs the peers and wrk. Exits 2 on bad arguments or a missing
requirement, 1 when a measurement broke; never on a figure.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from typing import Dict, List, NoReturn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import results as results_files  # noqa: E402
from benchmarks import throughput  # noqa: E402
from benchmarks.detection import observe  # noqa: E402
from benchmarks.judge import judge, tally  # noqa: E402
from benchmarks.kinds import BLOCK_S, BY_NAME, KINDS, SHORT_BLOCK_S  # noqa: E402
from benchmarks.peers import INTERVAL, PEERS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE_SOURCE = os.path.join(os.path.dirname(HERE), "tests", "programs", "native_blockers.c")
SECTIONS = ("busy", "server", "idle", "detection")

# (full, quick)
SETTINGS = {
    "busy_rounds": (5, 1), "busy_phases": (40, 12), "busy_phase_s": (0.25, 0.25),
    "server_rounds": (3, 1), "server_phases": (16, 6), "server_phase_s": (1, 1),
    "server_connections": (32, 32),
    "idle_s": (10.0, 3.0),
    "detection_runs": (3, 1),
}


def _usage_error(message: str) -> NoReturn:
    print(f"run.py: {message}", file=sys.stderr)
    sys.exit(2)


def _names(text: str, allowed, what: str) -> List[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        _usage_error(f"unknown {what} {', '.join(bad) or repr(text)}; "
                     f"choose from {', '.join(allowed)}")
    return names


def build_native_lib(directory: str) -> str:
    library = os.path.join(directory, "libnative_blockers.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-g", "-o", library, NATIVE_SOURCE,
                    "-lpthread"], check=True)
    return library


def detection(peers: List[str], kinds: List[str], runs: int, native_lib: str,
              progress) -> Dict:
    """Each kind of block with every tool, `runs` times, the block's start
    swept across the tools' heartbeat phase (settle times stratified over
    INTERVAL)."""
    out: Dict[str, Dict] = {}
    watchers = [p for p in peers if p != "none"]
    for kind in (k for k in KINDS if k.name in kinds):
        verdicts: Dict[str, list] = {p: [] for p in watchers}
        for run in range(runs):
            settle = 0.4 + INTERVAL * (run + random.random()) / runs
            for peer in throughput.rotated(watchers, run):
                seen = observe(peer, kind.name, settle, native_lib)
                if seen.error:
                    raise throughput.BenchError(f"{peer} on {kind.name}: {seen.error}")
                verdict = judge(kind, seen.block_start, seen.block_end, seen.outputs)
                verdicts[peer].append(verdict)
                progress(f"detection, {kind.name}, run {run + 1}/{runs}: {peer} {verdict}")
        out[kind.name] = {p: asdict(tally(v)) for p, v in verdicts.items()}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--out", default=os.path.join(HERE, "results"),
                        help="directory for results.json, RESULTS.md, chart.png")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="comma-separated tools (default: all): " + ", ".join(PEERS))
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--kinds", default=",".join(BY_NAME),
                        help="comma-separated blocks for the detection section (default: all): "
                        + ", ".join(BY_NAME))
    parser.add_argument("--no-chart", action="store_true", help="skip chart.png (no matplotlib)")
    args = parser.parse_args(argv)
    peers = _names(args.peers, list(PEERS), "tool")
    sections = _names(args.sections, SECTIONS, "section")
    kinds = _names(args.kinds, list(BY_NAME), "kind")
    if "none" not in peers and {"busy", "server"} & set(sections):
        peers.insert(0, "none")
    skipped = {p: PEERS[p].missing() for p in peers if PEERS[p].missing()}
    peers = [p for p in peers if p not in skipped]
    if "server" in sections and not throughput.wrk_path():
        _usage_error("wrk not found (tools/bootstrap.sh --benchmarks installs it)")
    if "server" in sections:
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            _usage_error("aiohttp not installed (tools/bootstrap.sh --benchmarks)")
    if not args.no_chart:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            _usage_error("matplotlib not installed (tools/bootstrap.sh --benchmarks), "
                         "or pass --no-chart")
    pick = {key: value[1 if args.quick else 0] for key, value in SETTINGS.items()}
    began = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - began:6.0f} s] {message}", file=sys.stderr, flush=True)

    for peer, why in skipped.items():
        progress(f"skipping {peer}: {why}")
    results: Dict = {"peers": peers, "skipped": skipped, "settings": pick,
                     "block_s": BLOCK_S, "short_block_s": SHORT_BLOCK_S,
                     "detection_runs": pick["detection_runs"]}
    try:
        if "busy" in sections:
            results["busy"] = throughput.busy(peers, pick["busy_rounds"], pick["busy_phases"],
                                              pick["busy_phase_s"], progress)
        if "server" in sections:
            results["server"] = throughput.server(
                peers, pick["server_rounds"], pick["server_phases"], pick["server_phase_s"],
                pick["server_connections"], progress)
        if "idle" in sections:
            results["idle"] = throughput.idle(peers, pick["idle_s"], progress)
        if "detection" in sections:
            with tempfile.TemporaryDirectory(prefix="bench-native-") as scratch:
                results["detection"] = detection(peers, kinds, pick["detection_runs"],
                                                 build_native_lib(scratch), progress)
    except throughput.BenchError as error:
        print(f"run.py: a measurement broke: {error}", file=sys.stderr)
        return 1
    results["environment"] = {
        "command": "python benchmarks/run.py" + "".join(
            " " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "seconds": time.monotonic() - began,
    }
    written = results_files.write(results, args.out, with_chart=not args.no_chart)
    sys.stdout.write(results_files.markdown(results))
    progress("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
