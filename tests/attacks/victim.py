"""The program the attacks in this folder run: a real asyncio (or uvloop)
application under hang_inspection, which blocks, idles or names things as
told, and prints one JSON line per event on stdout ("ready", then "done"
with what the dumper counted and the WARNINGs it logged). Any exception
reaching the application exits non-zero with its traceback.

    python victim.py DIR --scenario idle|block|latin1|thread-names [--loop uvloop]
"""
from __future__ import annotations

import _thread
import argparse
import asyncio
import ctypes
import json
import logging
import os
import sys
import threading
import time

from aiowatchdog import hang_inspection

warnings: list = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        warnings.append(record.getMessage())


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def blocked_in_victim(seconds: float) -> None:
    time.sleep(seconds)  # a real blocking call: the loop's thread waits in the kernel


LATIN1_MODULE = (
    b"# -*- coding: latin-1 -*-\n"
    b"import time\n"
    b"def blocked_in_latin1(seconds):\n"
    b"    time.sleep(seconds); label = 'caf\xe9 cr\xe8me'\n"
)


def set_comm(name: bytes) -> None:
    """The calling thread's kernel name (comm), any bytes."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME


async def main(args: argparse.Namespace) -> None:
    directory = bytes.fromhex(args.dir_hex) if args.dir_hex else args.dir
    if args.surrogate_dir:
        directory = os.fsdecode(directory if isinstance(directory, bytes) else os.fsencode(directory))
    if args.scenario == "thread-names":
        # Named before start(): publish_thread_names sees it at start.
        worker = threading.Thread(target=time.sleep, args=(args.seconds + 5,), daemon=True,
                                  name=os.fsdecode(b"worker-\xe9"))
        worker.start()
    dumper = hang_inspection.start(directory, interval=args.interval, samples=args.samples,
                                   sample_interval=0.2, max_reports=args.max_reports)
    emit("ready", pid=os.getpid())
    if args.scenario == "idle":
        await asyncio.sleep(args.seconds)
    elif args.scenario == "block":
        await asyncio.sleep(args.delay)
        blocked_in_victim(args.seconds)
        await asyncio.sleep(args.interval * 4)
    elif args.scenario == "latin1":
        sys.path.insert(0, args.module_dir)
        import latin1_victim  # noqa: E402  (written by the attack)

        await asyncio.sleep(0.2)
        latin1_victim.blocked_in_latin1(args.seconds)
        await asyncio.sleep(args.interval * 4)
    elif args.scenario == "thread-names":
        ready = threading.Event()

        def bad_comm() -> None:
            set_comm(b"k\xff\xfe-comm")
            ready.set()
            time.sleep(args.seconds + 5)

        await asyncio.sleep(0.3)  # the surrogate-named worker is published meanwhile
        # Started by _thread, in this very step: neither threading.Thread
        # (wrapped to note names) nor a refresh names it, so its comm is reported.
        _thread.start_new_thread(bad_comm, ())
        ready.wait()
        blocked_in_victim(args.seconds)
        await asyncio.sleep(args.interval * 4)
    await hang_inspection.stop_wait(dumper)
    emit("done", episodes=dumper.episodes, warnings=warnings)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default="")
    parser.add_argument("--dir-hex", default="")
    parser.add_argument("--surrogate-dir", action="store_true")
    parser.add_argument("--scenario", default="idle")
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--module-dir", default="")
    parser.add_argument("--max-reports", type=int, default=100)
    return parser.parse_args()


if __name__ == "__main__":
    logging.getLogger("aiowatchdog").addHandler(_Collect())
    options = parse()
    if options.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main(options))
