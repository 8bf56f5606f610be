"""Report files written from a compact description, byte-for-byte the same
on every run: the fixed input of the `report` command's golden-file test and
of its bad-input tests. Each report is a valid JSON report (schema 1) with
its text twin left out (the JSON twin is what `report` reads first)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

APP = "/srv/shop/app"
STDLIB = "/usr/lib/python3.11"
SITE = "/srv/shop/venv/lib/python3.11/site-packages"

# The loop thread's stack down to where each handler blocks.
_OUTER = [
    ("native", "/lib/x86_64-linux-gnu/libc.so.6", None, "__libc_start_main + 0x84"),
    ("python", f"{APP}/main.py", 40, "<module>"),
    ("python", f"{STDLIB}/asyncio/runners.py", 190, "run"),
    ("python", f"{STDLIB}/asyncio/base_events.py", 607, "BaseEventLoop.run_forever"),
    ("python", f"{STDLIB}/asyncio/base_events.py", 1922, "BaseEventLoop._run_once"),
    ("python", f"{STDLIB}/asyncio/events.py", 80, "Handle._run"),
    ("python", f"{SITE}/aiohttp/web_protocol.py", 452, "RequestHandler._handle_request"),
]
LEAVES: Dict[str, List[Tuple[str, str, Any, str]]] = {
    "checkout": [("python", f"{APP}/handlers/orders.py", 88, "checkout"),
                 ("python", f"{APP}/pricing.py", 17, "compute_tax"),
                 ("python", f"{STDLIB}/json/__init__.py", 346, "loads")],
    "render": [("python", f"{APP}/handlers/pages.py", 12, "render_catalog"),
               ("python", f"{SITE}/jinja2/environment.py", 1301, "Template.render")],
    "sleep": [("python", f"{APP}/handlers/health.py", 5, "health"),
              ("native", "/lib/x86_64-linux-gnu/libc.so.6", None, "clock_nanosleep + 0x65")],
    "native_only": [("native", "/srv/shop/lib/libcrunch.so", None, "crunch_numbers")],
}


def stack(leaf: str) -> List[Dict[str, Any]]:
    frames = _OUTER if leaf != "native_only" else _OUTER[:1]
    return [{"kind": k, "file": f, "line": line, "function": fn, "source": ""}
            for k, f, line, fn in frames + LEAVES[leaf]]


def _stamp(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).strftime("%Y%m%d-%H%M%S.%f")


def write_episode(directory: Path, pid: int, seq: int, start_unix_s: float,
                  blocked: Sequence[float], leaf: str) -> List[Path]:
    """One episode: a report per entry of `blocked` (its blocked_s), one
    second apart, the loop blocked in LEAVES[leaf]."""
    directory.mkdir(parents=True, exist_ok=True)
    episode = f"{pid}-{int(start_unix_s * 1000)}-{seq}"
    stamp = _stamp(start_unix_s)
    paths = []
    for sample, blocked_s in enumerate(blocked):
        at = start_unix_s + sample
        when = datetime.fromtimestamp(at, timezone.utc)
        report = {
            "schema": "aiowatchdog.report", "schema_version": 1, "episode": episode,
            "sample": sample, "samples": 3, "blocked_s": blocked_s, "interval_s": 0.25,
            "sample_interval_s": 1.0, "pid": pid, "python": "CPython 3.11.7",
            "captured_at": when.strftime("%Y-%m-%dT%H:%M:%S.%f+0000"),
            "captured_unix_ns": int(round(at * 1e9)), "capture_ms": 0.4, "loop_pause_ms": 0.2,
            "task": None, "loop_activity": None, "other_threads": 0, "threads_not_sampled": 0,
            "suppressed_episodes": 0,
            "threads": [{"ident": 1, "native_id": pid, "name": "MainThread", "is_loop": True,
                         "status": "answered", "kernel_state": "R", "truncated": False,
                         "frames": stack(leaf)}],
        }
        path = directory / f"stacktrace-{_stamp(at) if sample else stamp}-{sample}.json"
        path.write_text(json.dumps(report, indent=1), encoding="utf-8")
        paths.append(path)
    return paths


# 2026-11-21 08:00:00 UTC
T0 = 1795248000.0


def write_fleet(root: Path) -> List[Path]:
    """Two hosts' report directories: checkout blocks 4 times (one long), the
    catalog render twice, health once, a C library once."""
    a, b = root / "host-a", root / "host-b"
    write_episode(a, 101, 1, T0, [0.25, 1.25, 2.25], "checkout")
    write_episode(a, 101, 2, T0 + 600, [0.25], "checkout")
    write_episode(a, 101, 3, T0 + 1200, [0.25, 1.25], "render")
    write_episode(a, 102, 1, T0 + 3600, [0.25], "sleep")
    write_episode(b, 201, 1, T0 + 60, [0.25, 1.25], "checkout")
    write_episode(b, 201, 2, T0 + 7200, [0.25], "checkout")
    write_episode(b, 201, 3, T0 + 7300, [0.25, 1.25, 2.25], "render")
    write_episode(b, 202, 1, T0 + 86400, [0.25], "native_only")
    return [a, b]
