"""The watchdog's options: one dataclass mirroring native/options.h.

Every value is checked here, at the boundary users call, with a message that
names the option and the bad value; the native core checks again and trusts
nothing, but these are the messages people read.
"""
from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from typing import Optional

# A real-time signal the application is unlikely to use: not SIGRTMIN itself
# (glibc and some runtimes take the first ones), not SIGPROF/SIGUSR1/SIGUSR2.
DEFAULT_SIGNAL_OFFSET = 7


def default_signal() -> int:
    return int(signal.SIGRTMIN) + DEFAULT_SIGNAL_OFFSET


def check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    if seconds > 1e6:
        raise ValueError(f"{name} must be at most 1e6 seconds, got {value!r}")
    return seconds


_MAX_INT32 = 2**31 - 1
_MAX_INT64 = 2**63 - 1


def _check_count(name: str, value: object, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not 1 <= value <= most:
        raise ValueError(f"{name} must be from 1 to {most}, got {value!r}")


@dataclass(frozen=True)
class Options:
    """What `hang_inspection.start` was asked for, validated.

    interval: a hang is declared when the loop ran no heartbeat for longer
        than this many seconds (the heartbeat runs every interval/2).
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", check_seconds("interval", self.interval))
        object.__setattr__(
            self, "sample_interval", check_seconds("sample_interval", self.sample_interval)
        )
        if isinstance(self.samples, bool) or not isinstance(self.samples, int):
            raise TypeError(f"samples must be an int, got {self.samples!r}")
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples!r}")
        if self.samples > 1000:
            raise ValueError(f"samples must be <= 1000, got {self.samples!r}")
        if not isinstance(self.native_stacks, bool):
            raise TypeError(f"native_stacks must be a bool, got {self.native_stacks!r}")
        _check_count("max_threads", self.max_threads, _MAX_INT32)
        _check_count("max_reports", self.max_reports, _MAX_INT32)
        _check_count("max_bytes", self.max_bytes, _MAX_INT64)
        _check_count("max_episodes_per_minute", self.max_episodes_per_minute, _MAX_INT32)
        if self.profile_hz is not None:
            hz = self.profile_hz
            if isinstance(hz, bool) or not isinstance(hz, (int, float)):
                raise TypeError(f"profile_hz must be a number or None, got {hz!r}")
            if not 0 < hz <= 1000:  # NaN fails too
                raise ValueError(f"profile_hz must be > 0 and <= 1000 (or None: off), got {hz!r}")
            object.__setattr__(self, "profile_hz", float(hz))
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
