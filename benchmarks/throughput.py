"""The throughput and idle measurements, parent side: each tool in a child
of its own, switched on and off in turns inside it (workloads.py), tools
taken in a rotating order from round to round; and the load generator.

Every figure is a ratio to no monitoring in the same process and the same
run, and each tool's figure is the median over the rounds. The `none` tool
switches nothing, so its ratio is the noise floor of the method.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from benchmarks.workloads import abba, paired_ratio

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
Progress = Callable[[str], None]


class BenchError(Exception):
    """A measurement that broke (a child crashed, wrk failed): not a figure."""


def rotated(items: Sequence[str], round_index: int) -> List[str]:
    k = round_index % len(items) if items else 0
    return list(items[k:]) + list(items[:k])


def run_child(*args: str, timeout: float = 300) -> Dict:
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        proc = subprocess.run([sys.executable, CHILD, *args, "--out", out],
                              capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise BenchError(f"child {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")


def busy(peers: Sequence[str], rounds: int, phases: int, phase_s: float,
         progress: Progress) -> Dict[str, Dict]:
    """Busy-loop steps per second with the tool on, over off: medians of rounds."""
    per: Dict[str, List[Dict]] = {p: [] for p in peers}
    for r in range(rounds):
        for peer in rotated(peers, r):
            args = ["busy", "--peer", peer, "--phases", str(phases),
                    "--phase-seconds", str(phase_s)] + (["--on-first"] if r % 2 else [])
            got = run_child(*args)
            per[peer].append(got)
            progress(f"busy loop, round {r + 1}/{rounds}: {peer} x{got['ratio']:.3f}")
    return {p: _medians(results, ("ratio",)) for p, results in per.items()}


def _medians(results: List[Dict], keys: Sequence[str]) -> Dict:
    """Each key's median over the rounds, and the rounds' ratios (`rounds`)."""
    out: Dict = {key: statistics.median(res[key] for res in results) for key in keys}
    out["rounds"] = [res["ratio"] for res in results]
    return out


def idle(peers: Sequence[str], seconds: float, progress: Progress) -> Dict[str, Dict]:
    """CPU share of an idle loop's process with the tool on."""
    out = {}
    for peer in peers:
        out[peer] = run_child("idle", "--peer", peer, "--seconds", str(seconds))
        progress(f"idle loop: {peer} {out[peer]['cpu_pct']:.4f}% of a core")
    return out


# --- the aiohttp server under wrk ------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text: str) -> Dict[str, float]:
    """Requests per second and p99 latency (ms) from `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    if not rps or not p99:
        raise BenchError(f"wrk printed no Requests/sec or 99% line:\n{text[-1000:]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        raise BenchError(f"wrk saw {errors.group(1)} failed responses")
    return {"rps": float(rps.group(1)), "p99_ms": float(p99.group(1)) * _UNITS_MS[p99.group(2)]}


def wrk_path() -> Optional[str]:
    return shutil.which("wrk")


def _post(port: int, path: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def _wrk(port: int, seconds: float, connections: int) -> Dict[str, float]:
    seconds = max(1, round(seconds))  # wrk takes whole seconds
    proc = subprocess.run(
        [wrk_path() or "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0:
        raise BenchError(f"wrk exited {proc.returncode}: {proc.stderr[-500:]}")
    return parse_wrk(proc.stdout)


def server_once(peer: str, phases: int, phase_s: float, on_first: bool,
                connections: int) -> Dict:
    # The server's standard error goes to a file: a tool that logs a lot
    # (slow callbacks under load) must not fill a pipe nobody reads and stall it.
    with tempfile.TemporaryDirectory(prefix="bench-") as out, \
            tempfile.TemporaryFile("w+") as stderr, subprocess.Popen(
                [sys.executable, CHILD, "serve", "--peer", peer, "--out", out],
                stdout=subprocess.PIPE, stderr=stderr, text=True) as proc:
        try:
            line = proc.stdout.readline()
            if not line.startswith("PORT "):
                proc.wait(timeout=30)
                stderr.seek(0)
                raise BenchError(f"server for {peer} did not start: {stderr.read()[-2000:]}")
            port = int(line.split()[1])
            _wrk(port, 1, connections)  # warm-up
            runs: List[Tuple[bool, Dict[str, float]]] = []
            for on in abba(phases, on_first):
                _post(port, f"/_bench/switch?on={int(on)}")
                time.sleep(0.05)
                runs.append((on, _wrk(port, phase_s, connections)))
            _post(port, "/_bench/quit")
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def med(on: bool, key: str) -> float:
        return statistics.median(run[key] for was_on, run in runs if was_on == on)
    return {"ratio": paired_ratio([(on, run["rps"]) for on, run in runs]),
            "rps_on": med(True, "rps"), "rps_off": med(False, "rps"),
            "p99_on_ms": med(True, "p99_ms"), "p99_off_ms": med(False, "p99_ms")}


def server(peers: Sequence[str], rounds: int, phases: int, phase_s: float, connections: int,
           progress: Progress) -> Dict[str, Dict]:
    """aiohttp requests per second under wrk with the tool on, over off, and
    p99 latencies: medians of rounds."""
    per: Dict[str, List[Dict]] = {p: [] for p in peers}
    for r in range(rounds):
        for peer in rotated(peers, r):
            per[peer].append(server_once(peer, phases, phase_s, bool(r % 2), connections))
            got = per[peer][-1]
            progress(f"aiohttp, round {r + 1}/{rounds}: {peer} x{got['ratio']:.3f}, "
                     f"p99 {got['p99_on_ms']:.2f} ms (off {got['p99_off_ms']:.2f} ms)")
    return {peer: _medians(results, ("ratio", "rps_on", "rps_off", "p99_on_ms", "p99_off_ms"))
            for peer, results in per.items()}
