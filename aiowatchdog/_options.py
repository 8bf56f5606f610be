"""The watchdog's options: one dataclass mirroring native/common/options.h.

Every value is checked here, once, with a message that names the option and
the bad value. The native binding (native/python/module.cc) does not repeat
the checks with messages of its own: it calls `check_native_arguments` below,
so a value refused is refused with the same words whichever door it came in.
"""
from __future__ import annotations

import math
import os
import signal
from dataclasses import dataclass
from typing import Optional, Union

# A real-time signal the application is unlikely to use: not SIGRTMIN itself
# (glibc and some runtimes take the first ones), not SIGPROF/SIGUSR1/SIGUSR2.
DEFAULT_SIGNAL_OFFSET = 7


def default_signal() -> int:
    return int(signal.SIGRTMIN) + DEFAULT_SIGNAL_OFFSET


# The shortest hang_inspection interval. Below it a dumper reports what is
# not a hang and costs the loop for it: CPython hands the GIL between threads
# every 5 ms (sys.getswitchinterval()), so any loop sharing the GIL with a
# busy thread is "blocked" that long many times a second, and Linux's
# scheduler tick is 4 ms; uvloop's heartbeat runs 2/interval times a second.
# Measured (docs/api.md): interval=1e-9 made 19,750 episodes in 3 s and
# the loop 9% slower; at 0.01 s a busy uvloop loop pays 200 heartbeats/s.
MIN_INTERVAL_S = 0.01
# The shortest in-memory threshold (aiowatchdog.watch, log_slow_callbacks):
# BlockWatcher's MIN_THRESHOLD_S, checked by those APIs.
MIN_THRESHOLD_S = 0.005


def check_seconds(name: str, value: object, least: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    if seconds > 1e6:
        raise ValueError(f"{name} must be at most 1e6 seconds, got {value!r}")
    if seconds < least:
        raise ValueError(f"{name} must be at least {least} seconds, got {value!r}")
    return seconds


# Report files and directories: only their owner reads them unless asked
# (reports hold source lines and paths).
DEFAULT_FILE_MODE = 0o600
DEFAULT_DIR_MODE = 0o700


def check_mode(name: str, value: object, required: int, forbidden: int = 0o002) -> int:
    """A permission mode: an int from 0 to 0o777 (no setuid, setgid or sticky
    bit), with the owner's `required` bits (we must read and write what we
    make), and none of the `forbidden` write bits."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int such as 0o600, got {value!r}")
    if not 0 <= value <= 0o777:
        raise ValueError(f"{name} must be a permission mode from 0o000 to 0o777, got {value!r}")
    if value & required != required:
        raise ValueError(f"{name} must give its owner {required:#o} at least, got {value:#o}")
    if value & forbidden & 0o002:
        raise ValueError(f"{name} must not be writable by others, got {value:#o}")
    if value & forbidden & 0o020:
        # start() refuses a report directory its group may write (unless
        # sticky), as sshd does: a mode that made one would be refused at once.
        raise ValueError(f"{name} must not be writable by its group, got {value:#o}")
    return value


def check_directory(path: object) -> str:
    """The report directory as given: a non-empty str, bytes or os.PathLike
    without NUL bytes; returned as an absolute str (bytes decoded as
    os.fsdecode does, so that any byte path round-trips)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"stack_output_dir must be a path, got {path!r}")
    raw = os.fspath(path)
    text = os.fsdecode(raw) if isinstance(raw, bytes) else raw
    if not isinstance(text, str):  # a PathLike returning something else
        raise TypeError(f"stack_output_dir must be a path, got {path!r}")
    if text == "":
        raise ValueError("stack_output_dir must not be empty (an empty path would mean the "
                         "working directory); got ''")
    if "\0" in text:
        raise ValueError(f"stack_output_dir must not contain a NUL byte, got {text!r}")
    return os.path.abspath(text)


def check_native_arguments(output_dir: Union[str, bytes], interval: float, samples: int,
                           sample_interval: float, max_threads: int, max_reports: int,
                           max_bytes: int, max_episodes_per_minute: int, write_reports: bool,
                           profile_hz: float, file_mode: int, dir_mode: int) -> None:
    """What native/python/module.cc's Watchdog constructor calls before it
    trusts its arguments: the same checks, the same messages as Options."""
    if write_reports:
        check_seconds("interval", interval, MIN_INTERVAL_S)
        if not isinstance(output_dir, (str, bytes)) or not output_dir:
            raise ValueError("stack_output_dir must not be empty (an empty path would mean the "
                             f"working directory); got {output_dir!r}")
        if (b"\0" if isinstance(output_dir, bytes) else "\0") in output_dir:
            raise ValueError(f"stack_output_dir must not contain a NUL byte, got {output_dir!r}")
    else:
        check_seconds("interval", interval)
    check_seconds("sample_interval", sample_interval)
    _check_samples(samples)
    _check_count("max_threads", max_threads, _MAX_INT32)
    _check_count("max_reports", max_reports, _MAX_INT32)
    _check_count("max_bytes", max_bytes, _MAX_INT64)
    _check_count("max_episodes_per_minute", max_episodes_per_minute, _MAX_INT32)
    if profile_hz:
        _check_profile_hz(profile_hz)
    elif profile_hz != 0:
        raise ValueError(f"profile_hz must be > 0 and <= 1000 (or None: off), got {profile_hz!r}")
    check_mode("file_mode", file_mode, 0o600)
    check_mode("dir_mode", dir_mode, 0o700, forbidden=0o022)


_MAX_INT32 = 2**31 - 1
_MAX_INT64 = 2**63 - 1


def _check_count(name: str, value: object, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not 1 <= value <= most:
        raise ValueError(f"{name} must be from 1 to {most}, got {value!r}")


def _check_samples(samples: object) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise TypeError(f"samples must be an int, got {samples!r}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples!r}")
    if samples > 1000:
        raise ValueError(f"samples must be <= 1000, got {samples!r}")


def _check_profile_hz(hz: object) -> float:
    if isinstance(hz, bool) or not isinstance(hz, (int, float)):
        raise TypeError(f"profile_hz must be a number or None, got {hz!r}")
    if not 0 < hz <= 1000:  # NaN fails too
        raise ValueError(f"profile_hz must be > 0 and <= 1000 (or None: off), got {hz!r}")
    return float(hz)


@dataclass(frozen=True)
class Options:
    """What `hang_inspection.start` was asked for, validated.

    interval: a hang is declared when the loop ran no heartbeat for longer
        than this many seconds (the heartbeat runs every interval/2); at
        least MIN_INTERVAL_S (0.01).
    samples: stack samples per hang episode; sample 0 at detection.
    sample_interval: seconds between the samples of one episode.
    signal: the real-time signal used to interrupt threads for a capture.
    native_stacks: merge native frames into every thread's stack; False
        writes Python-only reports.
    max_threads: threads sampled per capture (the loop's always); the rest
        are counted in the report, not sampled.
    max_reports: reports kept in the directory (a report is one sample: a
        .txt and its .json twin); the oldest go first.
    max_bytes: bytes the kept reports may take; the oldest go first (the
        newest report is kept even if it alone is bigger).
    max_episodes_per_minute: episodes reported in any sliding minute; the
        ones over it are not captured, only counted, and the count appears
        in the next report written.
    file_mode, dir_mode: permissions of the report files (default 0o600)
        and of directories start() creates (default 0o700); never writable
        by others.
    profile_hz: None (off), or how many times a second the loop's thread
        alone is sampled while a hang lasts, into one profile file per
        episode (aiowatchdog/_profile_files.py); 0 < profile_hz <= 1000.
    """

    interval: float = 0.25
    samples: int = 3
    sample_interval: float = 1.0
    signal: Optional[int] = None
    native_stacks: bool = True
    max_threads: int = 1024
    max_reports: int = 100
    max_bytes: int = 64 << 20
    max_episodes_per_minute: int = 10
    profile_hz: Optional[float] = None
    file_mode: int = DEFAULT_FILE_MODE
    dir_mode: int = DEFAULT_DIR_MODE

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval",
                           check_seconds("interval", self.interval, MIN_INTERVAL_S))
        object.__setattr__(
            self, "sample_interval", check_seconds("sample_interval", self.sample_interval)
        )
        _check_samples(self.samples)
        if not isinstance(self.native_stacks, bool):
            raise TypeError(f"native_stacks must be a bool, got {self.native_stacks!r}")
        _check_count("max_threads", self.max_threads, _MAX_INT32)
        _check_count("max_reports", self.max_reports, _MAX_INT32)
        _check_count("max_bytes", self.max_bytes, _MAX_INT64)
        _check_count("max_episodes_per_minute", self.max_episodes_per_minute, _MAX_INT32)
        if self.profile_hz is not None:
            object.__setattr__(self, "profile_hz", _check_profile_hz(self.profile_hz))
        check_mode("file_mode", self.file_mode, 0o600)
        check_mode("dir_mode", self.dir_mode, 0o700, forbidden=0o022)
        signo = default_signal() if self.signal is None else self.signal
        if isinstance(signo, bool) or not isinstance(signo, int):
            raise TypeError(f"signal must be an int, got {signo!r}")
        low, high = int(signal.SIGRTMIN) + 1, int(signal.SIGRTMAX)
        if not low <= int(signo) <= high:
            raise ValueError(
                f"signal must be a real-time signal from SIGRTMIN+1 ({low}) to SIGRTMAX ({high}), "
                f"got {signo!r}"
            )
        object.__setattr__(self, "signal", int(signo))
