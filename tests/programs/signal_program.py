"""A real asyncio program that has signals of its own while aiowatchdog
catches its hangs, for tests/integration/test_signal_coexistence.py. Usage:

    python signal_program.py DIR SCENARIO --lib PATH [options]

Scenarios:
  app_handler   the application handles our signal number too (--app python,
                native, native-forwarding or faulthandler; --when before or
                after start) and gets foreign signals of it (kill,
                pthread_kill, sigqueue from another process) during a hang
  app_resets    after start the application sets our signal to SIG_DFL or
                SIG_IGN (--to default/ignore), then hangs and gets a stray one
  faulthandler  faulthandler.enable() and dump_traceback_later(repeat=True)
                during a hang, then a segfault for faulthandler to report
  ctrl_c        hangs until SIGINT (sent by the test) raises KeyboardInterrupt
  syscalls      threads blocked in sleep, recv, select, subprocess wait and
                communicate, FIFO and pipe reads (some in C, not retrying on
                EINTR) while the loop hangs again and again

It prints one JSON object per line on stdout ({"event": ..., "t_ns": ...}).
Functions the tests look for in reports have distinctive names.
"""
import argparse
import asyncio
import ctypes
import faulthandler
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

from aiowatchdog import hang_inspection

LIB = None  # ctypes.CDLL of signal_helpers.c
# Carries aiowatchdog's token tag in its high bits: from another process it
# must still count as foreign.
QUEUED_VALUE = (0xA1D0 << 48) | 0x5EED
HANDSHAKE_S = 5.0  # a foreign signal's wait for the application's handler


def emit(event, **extra):
    # One write per line: print() writes the text and its newline apart, and
    # two threads printing at once made "{...}{...}" lines.
    sys.stdout.write(json.dumps({"event": event, "t_ns": time.time_ns(), **extra}) + "\n")
    sys.stdout.flush()


def load_library(path):
    lib = ctypes.CDLL(path)
    lib.awd_sig_count.restype = ctypes.c_long
    lib.awd_sig_last_queue_value.restype = ctypes.c_uint64
    lib.awd_sig_handler_address.restype = ctypes.c_size_t
    lib.awd_sig_queue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64]
    for name in ("awd_sig_raw_read", "awd_sig_raw_recv"):
        getattr(lib, name).argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_long]
        getattr(lib, name).restype = ctypes.c_long
    return lib


def sigqueue_from_another_process(signo, value):
    """sigqueue(this pid, signo, value) from a child process; returns its pid."""
    code = ("import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]);"
            "lib.awd_sig_queue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64];"
            "sys.exit(lib.awd_sig_queue(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))")
    child = subprocess.Popen([sys.executable, "-c", code, ARGS.lib, str(os.getpid()),
                              str(signo), str(value)])
    assert child.wait() == 0, "sigqueue failed"
    return child.pid


async def hang(seconds):
    """Blocks the loop: the function reports must name."""
    emit("block_start")
    blocked_loop(seconds)
    emit("block_end")


def blocked_loop(seconds):
    time.sleep(seconds)


# ---------------------------------------------------------------- app_handler

class AppHandler:
    """The application's own handler for our signal, of one kind."""

    def __init__(self, kind, signo, directory):
        self.kind = kind
        self.signo = signo
        self.python_calls = 0
        self.dump_path = os.path.join(directory, "faulthandler-dumps.log")
        self.dump_file = None
        self.address = None  # the C-level handler right after installing

    def install(self):
        if self.kind == "python":
            signal.signal(self.signo, self.on_signal)
        elif self.kind in ("native", "native-forwarding"):
            assert LIB.awd_sig_install(self.signo, int(self.kind == "native-forwarding")) == 0
        elif self.kind == "faulthandler":
            # Passes each signal on by putting its predecessor back and re-raising.
            self.dump_file = open(self.dump_path, "w")
            faulthandler.register(self.signo, file=self.dump_file, all_threads=False, chain=True)
        self.address = LIB.awd_sig_handler_address(self.signo)

    def on_signal(self, signo, frame):
        self.python_calls += 1

    def on_top(self):
        return LIB.awd_sig_handler_address(self.signo) == self.address

    def calls(self):
        if self.kind == "python":
            return self.python_calls
        if self.kind == "faulthandler":
            with open(self.dump_path) as f:
                return f.read().count("Stack (most recent call first)")
        return sum(LIB.awd_sig_count(kind) for kind in range(5))

    def native_counts(self):
        if not self.kind.startswith("native"):
            return None
        return {"user": LIB.awd_sig_count(0), "tkill": LIB.awd_sig_count(1),
                "queue_foreign": LIB.awd_sig_count(2), "queue_self": LIB.awd_sig_count(3),
                "other": LIB.awd_sig_count(4),
                "last_queue_value": LIB.awd_sig_last_queue_value(),
                "last_queue_pid": LIB.awd_sig_last_queue_pid()}


def send_foreign_signals(app, signo, worker_ident, per_kind, log):
    """Sends `per_kind` signals of each foreign kind, each after the previous
    one reached the application's handler (Python's handler runs once for
    signals that arrive together, so they are not sent together); stops at
    the first one lost."""
    senders = {
        "kill": lambda: os.kill(os.getpid(), signo),
        "pthread_kill_main": lambda: signal.pthread_kill(threading.main_thread().ident, signo),
        "pthread_kill_worker": lambda: signal.pthread_kill(worker_ident, signo),
        "sigqueue_other_process": lambda: log.setdefault("sigqueue_pids", []).append(
            sigqueue_from_another_process(signo, QUEUED_VALUE)),
    }
    for name, send in senders.items():
        for _ in range(per_kind):
            before = app.calls()
            send()
            deadline = time.monotonic() + HANDSHAKE_S
            while app.calls() == before and time.monotonic() < deadline:
                time.sleep(0.005)
            log.setdefault("sent", []).append(name)
            log.setdefault("calls_after", []).append(app.calls())
            if app.kind == "faulthandler":
                # faulthandler writes the dump we count, then passes the signal
                # on: puts its predecessor back, re-raises, re-registers. A
                # signal sent before that is over meets a documented limitation
                # (docs/limitations.md: it can be taken for the re-raise), so the next one
                # waits for it to finish.
                time.sleep(0.05)
            if app.calls() == before:
                log.setdefault("lost", []).append(name)
                return


def blocked_while_signals_arrive(sender, at_least):
    """Blocks the loop until the sender is done (and `at_least` seconds), in
    short sleeps."""
    deadline = time.monotonic() + at_least
    while sender.is_alive() or time.monotonic() < deadline:
        time.sleep(0.05)


async def app_handler_scenario(args, signo):
    app = AppHandler(args.app, signo, args.dir)
    if args.when == "before":
        app.install()
    dumper = hang_inspection.start(args.dir, interval=0.05, samples=40, sample_interval=0.05,
                                   signal=signo)
    release = threading.Event()
    worker = threading.Thread(target=release.wait, name="idle-worker")
    worker.start()
    await asyncio.sleep(0.3)
    if args.when == "after":
        app.install()
    emit("installed", app_on_top=app.on_top())
    await hang(0.6)
    emit("after_first_hang", app_on_top=app.on_top(), calls=app.calls())

    log = {}
    sender = threading.Thread(target=send_foreign_signals,
                              args=(app, signo, worker.ident, args.per_kind, log))
    emit("block_start")
    sender.start()
    blocked_while_signals_arrive(sender, at_least=0.5)
    emit("block_end")
    sender.join()
    await asyncio.sleep(0.2)
    release.set()
    worker.join()
    await hang_inspection.stop_wait(dumper)
    emit("done", calls=app.calls(), sent=log.get("sent", []), lost=log.get("lost", []),
         calls_after_each=log.get("calls_after", []), native=app.native_counts(),
         sigqueue_pids=log.get("sigqueue_pids", []), app_on_top=app.on_top(),
         queued_value=QUEUED_VALUE)


# ----------------------------------------------------------------- app_resets

async def app_resets_scenario(args, signo):
    dumper = hang_inspection.start(args.dir, interval=0.05, samples=5, sample_interval=0.05,
                                   signal=signo)
    await asyncio.sleep(0.3)
    signal.signal(signo, signal.SIG_DFL if args.to == "default" else signal.SIG_IGN)
    emit("reset", to=args.to)
    await hang(0.5)
    await asyncio.sleep(0.2)
    os.kill(os.getpid(), signo)  # a stray one: the default action would terminate
    await asyncio.sleep(0.2)
    await hang_inspection.stop_wait(dumper)
    emit("done")


# --------------------------------------------------------------- faulthandler

def blocked_beside_faulthandler(seconds):
    time.sleep(seconds)


async def faulthandler_scenario(args, signo):
    faulthandler.enable()
    dumper = hang_inspection.start(args.dir, interval=0.05, samples=30, sample_interval=0.05,
                                   signal=signo)
    await asyncio.sleep(0.3)
    before = set(os.listdir("/proc/self/task"))
    faulthandler.dump_traceback_later(0.3, repeat=True)  # its thread blocks every signal
    [watchdog_tid] = set(os.listdir("/proc/self/task")) - before
    emit("faulthandler_thread", tid=int(watchdog_tid))
    emit("block_start")
    blocked_beside_faulthandler(1.2)
    emit("block_end")
    faulthandler.cancel_dump_traceback_later()
    await asyncio.sleep(0.2)
    await hang_inspection.stop_wait(dumper)
    emit("done")
    faulthandler._sigsegv()  # faulthandler.enable()'s report, then the process dies


# --------------------------------------------------------------------- ctrl_c

def blocks_until_interrupted():
    time.sleep(60)


async def ctrl_c_main(args, signo, state):
    state["dumper"] = hang_inspection.start(args.dir, interval=0.02, samples=1000,
                                            sample_interval=0.02, signal=signo)
    await asyncio.sleep(0.3)
    emit("block_start")
    blocks_until_interrupted()
    emit("block_end")


def ctrl_c_scenario(args, signo):
    """Runs its own loop, without asyncio.run's SIGINT handling (3.11+ defers
    the KeyboardInterrupt to the main task's next await), so that SIGINT
    must interrupt the blocking call itself."""
    state = {}
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ctrl_c_main(args, signo, state))
    except KeyboardInterrupt:
        innermost = traceback.extract_tb(sys.exc_info()[2])[-1]
        emit("keyboard_interrupt", function=innermost.name)
    finally:
        hang_inspection.stop(state["dumper"])
        loop.close()
    emit("done")


# ------------------------------------------------------------------- syscalls

WAIT_S = 1.5  # how long each worker's call blocks before its data comes
PAYLOAD = b"payload-" * 512


def sleeps_through_captures(result):
    start = time.monotonic()
    time.sleep(WAIT_S)
    result["elapsed"] = time.monotonic() - start


def receives_from_socket(result, sock):
    result["data"] = sock.recv(len(PAYLOAD)).hex()


def selects_on_a_pipe(result, fd):
    ready, _, _ = select.select([fd], [], [], 30)
    result["ready"] = ready == [fd]
    result["data"] = os.read(fd, len(PAYLOAD)).hex()


def select_times_out(result):
    start = time.monotonic()
    result["returned"] = [list(x) for x in select.select([], [], [], WAIT_S)]
    result["elapsed"] = time.monotonic() - start


def waits_for_a_child(result):
    child = subprocess.Popen([sys.executable, "-c",
                              f"import time; time.sleep({WAIT_S}); raise SystemExit(7)"])
    result["returncode"] = child.wait()


def communicates_with_a_child(result):
    child = subprocess.Popen(
        [sys.executable, "-c",
         f"import sys, time; data = sys.stdin.buffer.read(); time.sleep({WAIT_S});"
         "sys.stdout.buffer.write(data[::-1])"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = child.communicate(PAYLOAD)
    result["data"] = out.hex()
    result["returncode"] = child.returncode


def reads_a_fifo(result, path):
    with open(path, "rb") as fifo:  # open itself waits for the writer
        result["data"] = fifo.read().hex()


def reads_a_pipe_in_c(result, fd):
    buffer = ctypes.create_string_buffer(len(PAYLOAD))
    n = LIB.awd_sig_raw_read(fd, buffer, len(PAYLOAD))
    result["n"] = n
    result["data"] = buffer.raw[:max(n, 0)].hex()


def receives_in_c(result, fd):
    buffer = ctypes.create_string_buffer(len(PAYLOAD))
    n = LIB.awd_sig_raw_recv(fd, buffer, len(PAYLOAD))
    result["n"] = n
    result["data"] = buffer.raw[:max(n, 0)].hex()


def waits_for_a_child_in_c(result):
    child = subprocess.Popen([sys.executable, "-c",
                              f"import time; time.sleep({WAIT_S}); raise SystemExit(5)"])
    result["returncode"] = LIB.awd_sig_raw_waitpid(child.pid)
    child.returncode = result["returncode"]  # reaped already: Popen must not wait


def feeds_everyone(sockets, pipe_fds, fifo_path):
    time.sleep(WAIT_S)
    for sock in sockets:
        sock.sendall(PAYLOAD)
    for fd in pipe_fds:
        os.write(fd, PAYLOAD)
    with open(fifo_path, "wb") as fifo:
        for i in range(0, len(PAYLOAD), 1024):  # in pieces, a moment apart
            fifo.write(PAYLOAD[i:i + 1024])
            fifo.flush()
            time.sleep(0.02)


def hangs_repeatedly(seconds):
    time.sleep(seconds)


async def syscalls_scenario(args, signo):
    dumper = hang_inspection.start(args.dir, interval=0.02, samples=15, sample_interval=0.02,
                                   signal=signo)
    a1, b1 = socket.socketpair()
    a2, b2 = socket.socketpair()
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    fifo_path = os.path.join(args.dir, "fifo")
    os.mkfifo(fifo_path)
    workers = {
        "sleeps_through_captures": (),
        "receives_from_socket": (a1,),
        "selects_on_a_pipe": (r1,),
        "select_times_out": (),
        "waits_for_a_child": (),
        "communicates_with_a_child": (),
        "reads_a_fifo": (fifo_path,),
        "reads_a_pipe_in_c": (r2,),
        "receives_in_c": (a2.fileno(),),
        "waits_for_a_child_in_c": (),
    }
    results = {name: {} for name in workers}
    threads = [threading.Thread(target=globals()[name], args=(results[name], *extra), name=name)
               for name, extra in workers.items()]
    threads.append(threading.Thread(target=feeds_everyone, args=([b1, b2], [w1, w2], fifo_path),
                                    name="feeder"))
    for thread in threads:
        thread.start()
    emit("threads", native_ids={t.name: t.native_id for t in threads})
    await asyncio.sleep(0.05)
    for _ in range(5):
        emit("block_start")
        hangs_repeatedly(0.4)
        emit("block_end")
        await asyncio.sleep(0.03)
    while any(t.is_alive() for t in threads):
        await asyncio.sleep(0.05)
    await hang_inspection.stop_wait(dumper)
    emit("done", results=results, payload=PAYLOAD.hex(), wait_s=WAIT_S)


SCENARIOS = {
    "app_handler": app_handler_scenario,
    "app_resets": app_resets_scenario,
    "faulthandler": faulthandler_scenario,
    "syscalls": syscalls_scenario,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("scenario", choices=[*SCENARIOS, "ctrl_c"])
    parser.add_argument("--lib", required=True, help="signal_helpers.c built as a shared library")
    parser.add_argument("--signal-offset", type=int, default=9, help="our signal: SIGRTMIN + this")
    parser.add_argument("--app", choices=["python", "native", "native-forwarding", "faulthandler"])
    parser.add_argument("--when", choices=["before", "after"], default="before")
    parser.add_argument("--per-kind", type=int, default=3)
    parser.add_argument("--to", choices=["default", "ignore"], default="default")
    ARGS = parser.parse_args()
    LIB = load_library(ARGS.lib)
    signo = int(signal.SIGRTMIN) + ARGS.signal_offset
    if ARGS.scenario == "ctrl_c":
        ctrl_c_scenario(ARGS, signo)
    else:
        asyncio.run(SCENARIOS[ARGS.scenario](ARGS, signo))
    sys.exit(0)
