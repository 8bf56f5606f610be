"""Bare libc calls that C libraries make, timed while aiowatchdog captures,
for test_no_eintr.py. Usage:

    python no_eintr_program.py DIR WHERE [--profile-hz HZ] [--seconds S]

WHERE is "loop" (each call on the loop's thread, the GIL held, through
ctypes.PyDLL: the loop is blocked for the call's length, so hangs are
captured during it) or "workers" (each call in its own thread at the same
time, the GIL released, through ctypes.CDLL, while the loop blocks in
time.sleep so that hangs are captured). None of these calls retries EINTR,
as much C code does not: a capture signal landing in one cuts it short.

Prints one JSON object per line: {"event": "call", "name", "start_ns",
"end_ns", "elapsed", "rc", "errno"} per call and a final {"event": "done"}.
"""
import argparse
import asyncio
import ctypes
import ctypes.util
import json
import select
import socket
import struct
import threading
import time

from aiowatchdog import hang_inspection

LIBC_PATH = ctypes.util.find_library("c")


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


def bare_calls(libc, seconds):
    """name -> a function making one bare call that should last `seconds`."""
    ms = int(seconds * 1000)

    def usleep():
        return libc.usleep(ctypes.c_uint(int(seconds * 1_000_000)))

    def nanosleep():
        ts = Timespec(int(seconds), int((seconds % 1) * 1e9))
        return libc.nanosleep(ctypes.byref(ts), None)

    def poll():
        return libc.poll(None, ctypes.c_ulong(0), ctypes.c_int(ms))

    def select_():
        tv = Timeval(int(seconds), int((seconds % 1) * 1e6))
        return libc.select(0, None, None, None, ctypes.byref(tv))

    def epoll_wait():
        ep = select.epoll()
        try:
            events = (ctypes.c_char * 12)()  # one struct epoll_event (packed on x86-64)
            return libc.epoll_wait(ep.fileno(), events, 1, ctypes.c_int(ms))
        finally:
            ep.close()

    def recv_with_timeout():
        a, b = socket.socketpair()
        try:
            a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                         struct.pack("ll", int(seconds), int((seconds % 1) * 1e6)))
            buf = ctypes.create_string_buffer(16)
            return libc.recv(a.fileno(), buf, 16, 0)
        finally:
            a.close()
            b.close()

    return {"usleep": usleep, "nanosleep": nanosleep, "poll": poll, "select": select_,
            "epoll_wait": epoll_wait, "recv_SO_RCVTIMEO": recv_with_timeout}


def timed(name, call):
    ctypes.set_errno(0)
    start_ns, start = time.time_ns(), time.monotonic()
    rc = call()
    elapsed = time.monotonic() - start
    err = ctypes.get_errno()
    return {"event": "call", "name": name, "start_ns": start_ns, "end_ns": time.time_ns(),
            "elapsed": elapsed, "rc": rc, "errno": err}


def emit(record):
    print(json.dumps(record), flush=True)


async def main(args):
    options = dict(interval=0.05, samples=50, sample_interval=0.05, max_reports=1000,
                   max_episodes_per_minute=1000)
    if args.profile_hz:
        options["profile_hz"] = args.profile_hz
    dumper = hang_inspection.start(args.dir, **options)
    await asyncio.sleep(0.3)
    if args.where == "loop":
        libc = ctypes.PyDLL(LIBC_PATH, use_errno=True)  # the GIL stays held
        for name, call in bare_calls(libc, args.seconds).items():
            emit(timed(name, call))
            await asyncio.sleep(0.2)  # the loop runs again: the episode ends
    else:
        libc = ctypes.CDLL(LIBC_PATH, use_errno=True)  # the GIL is released
        results = []
        threads = [threading.Thread(target=lambda n=n, c=c: results.append(timed(n, c)),
                                    name=f"bare-{n}")
                   for n, c in bare_calls(libc, args.seconds).items()]
        for t in threads:
            t.start()
        time.sleep(args.seconds + 0.3)  # blocks the loop: captures run meanwhile
        for t in threads:
            t.join()
        for record in results:
            emit(record)
    await asyncio.sleep(0.2)
    await hang_inspection.stop_wait(dumper)
    emit({"event": "done"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("where", choices=["loop", "workers"])
    parser.add_argument("--profile-hz", type=float, default=None)
    parser.add_argument("--seconds", type=float, default=0.6)
    asyncio.run(main(parser.parse_args()))
