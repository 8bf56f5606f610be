"""Writes one run's results: results.json (every figure), RESULTS.md (the
tables docs/peers.md shows) and chart.png (matplotlib). Pure rendering: the
figures come in as the dict run.py builds.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

from benchmarks.judge import Tally, cell, full_marks
from benchmarks.kinds import KINDS
from benchmarks.peers import PEERS

TARGET_SLOWDOWN = 0.01   # aiowatchdog at most 1% slower than no monitoring


def _ratio(figures: Optional[Dict], peer: str) -> str:
    if not figures or peer not in figures:
        return "n/a"
    return f"x{figures[peer]['ratio']:.3f}"


def _spread(values: List[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}" if values else ""


def throughput_table(results: Dict) -> List[str]:
    busy, server, idle = results.get("busy"), results.get("server"), results.get("idle")
    lines = ["| tool | busy loop (rounds) | aiohttp req/s (rounds) | aiohttp p99, on / off "
             "| idle CPU, % of a core |",
             "|---|---|---|---|---|"]
    for peer in results["peers"]:
        b = f"{_ratio(busy, peer)} ({_spread(busy[peer]['rounds'])})" if busy and peer in busy else "n/a"
        s = f"{_ratio(server, peer)} ({_spread(server[peer]['rounds'])})" if server and peer in server else "n/a"
        p99 = (f"{server[peer]['p99_on_ms']:.2f} / {server[peer]['p99_off_ms']:.2f} ms"
               if server and peer in server else "n/a")
        cpu = f"{idle[peer]['cpu_pct']:.4f}" if idle and peer in idle else "n/a"
        lines.append(f"| {PEERS[peer].label} | {b} | {s} | {p99} | {cpu} |")
    return lines


def _tallies(results: Dict) -> Dict[str, Dict[str, Tally]]:
    return {kind: {peer: Tally(**t) for peer, t in per.items()}
            for kind, per in results.get("detection", {}).items()}


def detection_table(results: Dict) -> List[str]:
    tallies = _tallies(results)
    peers = [p for p in results["peers"] if p != "none"]
    lines = ["| block | " + " | ".join(PEERS[p].label for p in peers) + " |",
             "|---|" + "---|" * len(peers)]
    for kind in KINDS:
        if kind.name not in tallies:
            continue
        row = [cell(kind, tallies[kind.name][p]) if p in tallies[kind.name] else "n/a"
               for p in peers]
        lines.append(f"| {kind.label} | " + " | ".join(row) + " |")
    scores = [str(sum(full_marks(k, tallies[k.name][p]) for k in KINDS
                      if k.name in tallies and p in tallies[k.name])) for p in peers]
    lines.append("| **full marks** (of %d) | " % len(tallies) + " | ".join(scores) + " |")
    return lines


ONLY_NAMER_KINDS = ("native_holding_gil", "worker_thread_loop", "worker_thread_native")


def _only_namer_targets(tallies: Dict[str, Dict[str, Tally]]) -> List[str]:
    """'The only one that names the culprit in the GIL-held and worker-thread
    cases', judged both ways the culprit can be read: its native frame, and
    the Python function that made the call. Each named during the block."""
    out = []
    labels = {k.name: k.label for k in KINDS}
    for kind in (k for k in ONLY_NAMER_KINDS if k in tallies):
        seen = sorted(tallies[kind].items(), key=lambda item: list(PEERS).index(item[0]))
        by_native = [PEERS[p].label for p, t in seen if t.during and t.native]
        by_function = [PEERS[p].label for p, t in seen if t.during and t.named]
        verdicts = [f"{what}: {', '.join(names) or 'none'}, "
                    f"{'met' if names == [PEERS['aiowatchdog'].label] else 'not met'}"
                    for what, names in (("native frame", by_native), ("function", by_function))]
        out.append(f"- the only one naming the culprit during the {labels[kind]} block; "
                   + "; ".join(verdicts))
    return out


def targets(results: Dict) -> List[str]:
    """The issue's targets for aiowatchdog, each judged on this run's figures."""
    out = []
    for section, label in (("busy", "busy loop"), ("server", "aiohttp server")):
        figures = results.get(section)
        if figures and "aiowatchdog" in figures:
            ratio = figures["aiowatchdog"]["ratio"]
            floor = figures.get("none", {}).get("rounds", [])
            verdict = "met" if ratio >= 1 - TARGET_SLOWDOWN else "not met"
            out.append(f"- {label} at most 1% slower: x{ratio:.3f}, {verdict}"
                       + (f" (no-monitoring noise floor {_spread(floor)})" if floor else ""))
    tallies = _tallies(results)
    if tallies:
        peers = [p for p in results["peers"] if p != "none"]
        score = {p: sum(full_marks(k, tallies[k.name][p]) for k in KINDS
                        if k.name in tallies and p in tallies[k.name]) for p in peers}
        if "aiowatchdog" in score:
            best_other = max((s for p, s in score.items() if p != "aiowatchdog"), default=0)
            verdict = "met" if score["aiowatchdog"] > best_other else "not met"
            out.append(f"- ahead of every peer on detection: {score['aiowatchdog']} full marks, "
                       f"best peer {best_other}, {verdict}")
        out += _only_namer_targets(tallies)
    return out


def markdown(results: Dict) -> str:
    env, s = results["environment"], results["settings"]
    lines = [
        "# aiowatchdog against its peers",
        "",
        f"One run of `{env['command']}` on {env['date']}: CPython {env['python']}, "
        f"{env['cpus']} CPUs, {env['seconds']:.0f} s. Every tool watches with a 0.25 s threshold.",
        "",
        "## Throughput and idle cost",
        "",
        "Ratios of the tool switched on to no monitoring, in turns inside one process "
        f"(ABBA phases: {s['busy_phases']} of {s['busy_phase_s']} s on the busy loop, "
        f"{s['server_phases']} wrk runs of {s['server_phase_s']} s on the server; on over off "
        "within each adjacent pair, median of the pairs), median of the rounds (their range "
        "in brackets); tools in a rotating order each round. The *no monitoring* row switches "
        "nothing: its ratio is the noise floor. The idle figure is the whole process's CPU "
        f"time over {s['idle_s']} s while its loop sleeps.",
        "",
        *throughput_table(results),
        "",
        "## Detection",
        "",
        f"Each block lasts {results['block_s']} s (the control {results['short_block_s']} s), "
        f"{results['detection_runs']} run(s) per cell, each in a fresh process. A cell says when "
        "the tool's first output arrived, counted from the block's start, if that was while the "
        "block lasted; `after the block` if it only spoke later; `—` if never. `fn`: it named "
        "the blocking function; `C`: it named the native frame (kinds with one). `k/n`: how many "
        "runs, where they disagreed. Full marks: reported during every block and named all "
        "there was to name; for the control, stayed quiet.",
        "",
        *detection_table(results),
        "",
        "## The issue's targets",
        "",
        *targets(results),
    ]
    if results.get("skipped"):
        lines += ["", "## Not measured", ""]
        lines += [f"- {PEERS[p].label}: {why}" for p, why in results["skipped"].items()]
    return "\n".join(lines) + "\n"


def chart(results: Dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    peers = results["peers"]
    labels = [PEERS[p].label for p in peers]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    for ax, section, title in ((axes[0][0], "busy", "Busy loop, x of no monitoring"),
                               (axes[0][1], "server", "aiohttp req/s, x of no monitoring")):
        figures = results.get(section) or {}
        values = [figures[p]["ratio"] if p in figures else 0 for p in peers]
        ax.barh(labels, values, color=["#2a7" if p == "aiowatchdog" else "#888" for p in peers])
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_title(title)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.text(v, y, f" x{v:.3f}", va="center", fontsize=8)
        ax.set_xlim(0, max(values + [1.0]) * 1.25)
    idle = results.get("idle") or {}
    ax = axes[1][0]
    values = [max(idle[p]["cpu_pct"], 1e-4) if p in idle else 1e-4 for p in peers]
    ax.barh(labels, values, color=["#2a7" if p == "aiowatchdog" else "#888" for p in peers])
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(min(values) / 2, max(values) * 6)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.4f}%", va="center", fontsize=8)
    ax.set_title("Idle loop: CPU, % of a core (log scale)")
    ax.invert_yaxis()
    ax = axes[1][1]
    tallies = _tallies(results)
    watchers = [p for p in peers if p != "none"]
    kinds = [k for k in KINDS if k.name in tallies and not k.control]
    during = [sum(tallies[k.name][p].during == tallies[k.name][p].runs for k in kinds) for p in watchers]
    named = [sum(tallies[k.name][p].named == tallies[k.name][p].runs for k in kinds) for p in watchers]
    native = [sum(tallies[k.name][p].native == tallies[k.name][p].runs for k in kinds
                  if tallies[k.name][p].native is not None) for p in watchers]
    ys = range(len(watchers))
    height = 0.27
    ax.barh([y - height for y in ys], during, height, label="reported during the block")
    ax.barh(list(ys), named, height, label="named the function")
    ax.barh([y + height for y in ys], native, height, label="named the native frame")
    ax.set_yticks(list(ys), [PEERS[p].label for p in watchers])
    ax.invert_yaxis()
    with_native = sum(k.native is not None for k in kinds)
    ax.set_title(f"Detection: kinds of block, of {len(kinds)} ({with_native} with a native culprit)")
    ax.set_xlim(0, len(kinds) + 0.5)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3)
    fig.suptitle(f"aiowatchdog and its peers (CPython {results['environment']['python']}, "
                 f"threshold 0.25 s)")
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def write(results: Dict, directory: str, with_chart: bool = True) -> List[str]:
    """Writes the three files, each whole or not at all; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    written = []

    def atomically(name: str, data: str) -> None:
        path = os.path.join(directory, name)
        with open(path + ".tmp", "w") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        written.append(path)

    atomically("results.json", json.dumps(results, indent=1, sort_keys=True) + "\n")
    atomically("RESULTS.md", markdown(results))
    if with_chart:
        path = os.path.join(directory, "chart.png")
        chart(results, path + ".tmp.png")
        os.replace(path + ".tmp.png", path)
        written.append(path)
    return written
