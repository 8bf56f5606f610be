"""A real asyncio program whose loop hangs again and again while its report
directory is bounded or in trouble, for tests/integration/test_bounded_disk.py.
Usage:

    python disk_program.py DIR SCENARIO [--hangs N] [--max-reports N]
                           [--max-bytes N] [--per-minute N] [--mount M]

Scenarios:
  many     N hangs, every one reported (unless the rate limit says no).
  removed / notdir / fsize / enospc / readonly
           one hang written, then the trouble begins: the directory removed,
           replaced by a file, the process's file size limit (RLIMIT_FSIZE)
           too small for a report, the file system (a tmpfs at --mount, which
           DIR is under) filled up, or remounted read-only; two hangs in
           trouble; the trouble cleared; one more hang.

Log records of the "aiowatchdog" logger go to stderr as "LEVEL message", and
JSON event lines to stdout: one "hang" per hang, "trouble" and "cleared", then
"done" with the dumper's counters.
"""
import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import time

from aiowatchdog import hang_inspection

HANG_S = 0.08
INTERVAL_S = 0.02


def emit(event, **extra):
    print(json.dumps({"event": event, **extra}), flush=True)


def hang_in_disk_program():
    time.sleep(HANG_S)


async def hang(index):
    hang_in_disk_program()
    emit("hang", index=index)
    await asyncio.sleep(0.05)  # the episode ends; its WARNING is logged


def begin_trouble(kind, directory, mount):
    if kind == "removed":
        shutil.rmtree(directory)
    elif kind == "notdir":
        shutil.rmtree(directory)
        with open(directory, "w") as f:
            f.write("a file where the report directory was\n")
    elif kind == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))
    elif kind == "enospc":
        # Unbuffered: nothing is left to flush (and fail again) at close.
        with open(os.path.join(mount, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
    elif kind == "readonly":
        subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
    emit("trouble", kind=kind)


def clear_trouble(kind, directory, mount):
    if kind == "notdir":
        os.unlink(directory)
    elif kind == "fsize":
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    elif kind == "enospc":
        os.unlink(os.path.join(mount, "filler"))
    elif kind == "readonly":
        subprocess.run(["mount", "-o", "remount,rw", mount], check=True)
    emit("cleared", kind=kind)


async def main(args):
    dumper = hang_inspection.start(
        args.dir, interval=INTERVAL_S, samples=1, max_reports=args.max_reports,
        max_bytes=args.max_bytes, max_episodes_per_minute=args.per_minute)
    await asyncio.sleep(0.05)
    if args.scenario == "many":
        for i in range(args.hangs):
            await hang(i)
    else:
        await hang(0)
        begin_trouble(args.scenario, args.dir, args.mount)
        await hang(1)
        await hang(2)
        clear_trouble(args.scenario, args.dir, args.mount)
        await hang(3)
    await hang_inspection.stop_wait(dumper)
    emit("done", episodes=dumper.episodes, suppressed=dumper.suppressed_episodes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("scenario")
    parser.add_argument("--hangs", type=int, default=10)
    parser.add_argument("--max-reports", type=int, default=100)
    parser.add_argument("--max-bytes", type=int, default=64 << 20)
    parser.add_argument("--per-minute", type=int, default=1000)
    parser.add_argument("--mount", help="the tmpfs DIR is under (enospc, readonly)")
    parsed = parser.parse_args()
    logging.basicConfig(format="%(levelname)s %(message)s")
    asyncio.run(main(parsed))
