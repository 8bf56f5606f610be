"""One measurement in a fresh process: a workload or a block, with one tool.

    python benchmarks/child.py busy  --peer NAME --out DIR --phases N --phase-seconds S [--on-first]
    python benchmarks/child.py serve --peer NAME --out DIR
    python benchmarks/child.py idle  --peer NAME --out DIR --seconds S
    python benchmarks/child.py block --peer NAME --out DIR --kind KIND --settle S [--native-lib SO]

It prints its result as one `RESULT {json}` line on standard output (block
children also print `EVENT block_start|block_end <monotonic time>`); the
tools' own output goes to standard error and DIR, where the parent watches
it arrive. gil_starvation's result adds its loop's ticker's figures: `ticks`,
`longest_tick_gap_s` (how long the loop went without running) and `block_s`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
from typing import Dict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import blocks, workloads  # noqa: E402
from benchmarks.kinds import BY_NAME  # noqa: E402
from benchmarks.peers import PEERS, Peer  # noqa: E402

TAIL_S = 0.5  # after a block, time for the tools that report as it ends


async def _block_on_this_loop(peer: Peer, out_dir: str, settle: float, block) -> object:
    stop = await peer.start(out_dir)
    await asyncio.sleep(settle)
    measured = await asyncio.ensure_future(blocks.handle_request(block))
    await asyncio.sleep(TAIL_S)
    await stop()
    return measured


async def _main_loop_beside(peer: Peer, out_dir: str, worker: threading.Thread) -> None:
    """The main thread's own loop, watched by the same tool, running (a tick
    every 50 ms) while the worker thread's loop blocks: the usual reason for
    a loop on a worker thread is that the main thread has one too."""
    stop = await peer.start(out_dir)
    worker.start()
    while worker.is_alive():
        await asyncio.sleep(0.05)
    await stop()


def detect(peer: Peer, out_dir: str, kind: str, settle: float, native_lib: str) -> Dict:
    """One block of `kind` with `peer` watching the loop that blocks (and,
    for the worker-thread kind, the main thread's loop as well)."""
    worker_block = blocks.prepare_worker(kind, native_lib)
    if worker_block is not None:
        failure = []

        def worker() -> None:
            try:
                asyncio.run(_block_on_this_loop(peer, out_dir, settle, worker_block))
            except BaseException as error:  # reported by the main thread
                failure.append(error)

        asyncio.run(_main_loop_beside(peer, out_dir, threading.Thread(target=worker,
                                                                      name="worker-loop")))
        if failure:
            raise failure[0]
    else:
        block = blocks.prepare(kind, native_lib)
        measured = asyncio.run(_block_on_this_loop(peer, out_dir, settle, block))
        if isinstance(measured, dict):   # gil_starvation's ticker: how long the loop stalled
            return {"kind": kind, **measured}
    return {"kind": kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["busy", "serve", "idle", "block"])
    parser.add_argument("--peer", required=True, choices=sorted(PEERS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--phases", type=int, default=8)
    parser.add_argument("--phase-seconds", type=float, default=1.0)
    parser.add_argument("--on-first", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--kind", choices=sorted(BY_NAME))
    parser.add_argument("--settle", type=float, default=0.6)
    parser.add_argument("--native-lib", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(name)s %(levelname)s %(message)s")
    peer = PEERS[args.peer]
    missing = peer.missing()
    if missing:
        raise SystemExit(f"{peer.name}: {missing}")
    if args.what == "busy":
        result = asyncio.run(workloads.busy(peer, args.out, args.phases, args.phase_seconds,
                                            args.on_first))
    elif args.what == "serve":
        result = asyncio.run(workloads.serve(peer, args.out))
    elif args.what == "idle":
        result = asyncio.run(workloads.idle(peer, args.out, args.seconds))
    else:
        if not args.kind:
            parser.error("block needs --kind")
        result = detect(peer, args.out, args.kind, args.settle, args.native_lib)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
