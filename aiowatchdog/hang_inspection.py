"""Catch a blocked event loop in the act: a drop-in for aiodebug.hang_inspection.

    dumper = hang_inspection.start("/var/log/app/hangs", interval=0.25)
    ...
    await hang_inspection.stop_wait(dumper)

A native watchdog thread follows the loop (each time it leaves and re-enters
its selector, or a heartbeat for loops like uvloop). When the loop has been
busy for `interval` seconds without coming back, the watchdog interrupts every
thread with a signal, each records its own stack, and the watchdog writes `stacktrace-YYYYMMDD-HHMMSS.ffffff-N.txt`
(and a `.json` twin) into the directory: sample 0 at detection, then one every
`sample_interval` while the hang lasts, up to `samples`. When the loop
recovers, a WARNING on the `aiowatchdog` logger says how long it was blocked,
where, and which reports were written.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import platform
import threading
import weakref
from types import TracebackType
from typing import List, Optional, Type, Union

from . import _native, _thread_names
from ._recovery_warning import log_episodes
from ._loop_watch import LoopWatch
from ._options import Options, check_directory
from ._support import check_supported

__all__ = ["Dumper", "start", "stop", "stop_wait"]

logger = logging.getLogger("aiowatchdog")

PathLike = Union[str, "os.PathLike[str]"]

# stop_wait polls the watchdog's exit this often; it must return within 50 ms.
_STOP_POLL_S = 0.002

# The running dumper of each loop: a second one on the same loop is refused
# (every hang would be reported twice, into two directories). Weak keys: a
# loop that is gone takes its entry with it.
_dumper_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dumper]" = (
    weakref.WeakKeyDictionary())


class Dumper(LoopWatch):
    """One watched loop. Made by `start`; stop it with `stop` or `stop_wait`,
    or use it as a (sync or async) context manager. It also stops by itself
    when its loop shuts down (asyncio.run, uvloop.run, Runner.close) and at
    interpreter exit (_loop_watch.py)."""

    def __init__(self, directory: str, loop: asyncio.AbstractEventLoop, options: Options) -> None:
        self.directory = directory
        self.options = options
        watchdog = _native.Watchdog(
            # Bytes: a path that is not UTF-8 (surrogate escapes) reaches the
            # core as the file system's own bytes.
            output_dir=os.fsencode(directory),
            interval=options.interval,
            samples=options.samples,
            sample_interval=options.sample_interval,
            python_version=f"{platform.python_implementation()} {platform.python_version()}",
            native_stacks=options.native_stacks,
            max_threads=options.max_threads,
            max_reports=options.max_reports,
            max_bytes=options.max_bytes,
            max_episodes_per_minute=options.max_episodes_per_minute,
            profile_hz=options.profile_hz or 0.0,
            file_mode=options.file_mode,
            dir_mode=options.dir_mode,
        )
        super().__init__(loop, watchdog, options.interval)
        self._automatic = False  # started by `python -m aiowatchdog run` (_loop_dumpers)

    def _start(self) -> None:
        _thread_names.install()
        _thread_names.publish_thread_names()
        self._start_watching(self.options.signal)
        _dumper_by_loop[self.loop] = self

    @property
    def episodes(self) -> int:
        """Hang episodes detected so far (suppressed ones included)."""
        return int(self._watchdog.episodes_started)

    @property
    def suppressed_episodes(self) -> int:
        """Episodes detected but not captured: over max_episodes_per_minute."""
        return int(self._watchdog.episodes_suppressed)

    def _on_stop(self) -> None:
        if _dumper_by_loop.get(self.loop) is self:
            del _dumper_by_loop[self.loop]

    def _hand_over(self, episodes: List[dict]) -> None:
        log_episodes(episodes)

    async def stop_wait(self) -> None:
        if not self._begin_stop():
            return
        # Wait for the thread without blocking the loop and without a helper
        # thread (the thread count must be back to what it was before start).
        while not self._watchdog.stopped():
            await asyncio.sleep(_STOP_POLL_S)
        self._finish_stop()

    def __enter__(self) -> "Dumper":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    async def __aenter__(self) -> "Dumper":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.stop_wait()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Dumper {state} dir={self.directory!r} interval={self.options.interval}>"


def start(
    stack_output_dir: PathLike,
    interval: float = 0.25,
    loop: Optional[asyncio.AbstractEventLoop] = None,
    *,
    samples: int = 3,
    sample_interval: float = 1.0,
    signal: Optional[int] = None,
    native_stacks: bool = True,
    max_threads: int = 1024,
    max_reports: int = 100,
    max_bytes: int = 64 << 20,
    max_episodes_per_minute: int = 10,
    profile_hz: Optional[float] = None,
    file_mode: int = 0o600,
    dir_mode: int = 0o700,
) -> Dumper:
    """Starts watching `loop` (default: the running loop) for hangs.

    The directory keeps at most `max_reports` reports and `max_bytes` bytes
    (the oldest go first) and gets reports for at most
    `max_episodes_per_minute` episodes; temporary files left by a killed
    writer are removed here. With `profile_hz`, the loop's thread alone is
    also sampled that many times a second while a hang lasts, and each
    episode gets one profile file when it ends.

    Report files are made with `file_mode` (default 0o600: reports hold
    source lines) and missing directories with `dir_mode` (0o700). The
    directory must be ours (or root's) and not writable by another user
    unless sticky, as sshd and cron require: files are created there with
    O_EXCL|O_NOFOLLOW through one directory descriptor, never through a link.

    Raises ValueError/TypeError for a bad option (an empty path included),
    NotADirectoryError when the path (or a parent) is a file, PermissionError
    when the directory cannot be written or is another user's (or writable by
    one), RuntimeError when there is no loop to watch, it already has a dumper,
    or the interpreter is a free-threaded build (not supported). On any
    error nothing is created and nothing runs.
    """
    check_supported("hang_inspection.start()")
    options = Options(interval=interval, samples=samples, sample_interval=sample_interval,
                      signal=signal, native_stacks=native_stacks, max_threads=max_threads,
                      max_reports=max_reports, max_bytes=max_bytes,
                      max_episodes_per_minute=max_episodes_per_minute,
                      profile_hz=profile_hz, file_mode=file_mode, dir_mode=dir_mode)
    requested = check_directory(stack_output_dir)
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "hang_inspection.start() needs a running event loop, or pass loop="
            ) from None
    if loop.is_closed():
        raise RuntimeError(f"cannot watch a closed event loop: {loop!r}")
    first = loop_dumper(loop)
    if first is not None and first._automatic:
        # `python -m aiowatchdog run`'s own dumper: the program's explicit
        # start() (an aiodebug drop-in) takes over this loop.
        logger.info("aiowatchdog: the program starts its own dumper on %r; the one `run` "
                    "started (writing to %r) stops", loop, first.directory)
        first.stop()
        first = None
    if first is not None:
        raise RuntimeError(
            f"this event loop already has a hang_inspection dumper, writing to "
            f"{first.directory!r}; stop it first (two would report every hang twice)")
    created = _prepare_directory(requested, options.dir_mode)
    try:
        dumper = Dumper(requested, loop, options)
        dumper._start()
    except BaseException:
        if created is not None:  # made by this call: not left behind
            _remove_created(created)
        raise
    return dumper


def stop(dumper: Dumper) -> None:
    """Stops `dumper` and waits for its thread (at most one capture). Stopping
    twice is harmless."""
    dumper.stop()


async def stop_wait(dumper: Dumper) -> None:
    """Stops `dumper` without blocking the loop; when it returns no further
    report is written and no thread of ours is left."""
    await dumper.stop_wait()


def loop_dumper(loop: asyncio.AbstractEventLoop) -> Optional[Dumper]:
    """The running dumper watching `loop`, if any."""
    dumper = _dumper_by_loop.get(loop)
    return dumper if dumper is not None and dumper.running else None


def prepare_report_directory(path: PathLike, dir_mode: int = 0o700) -> str:
    """For `python -m aiowatchdog run`: the directory checked (path, owner
    and mode: the rules start() applies), created and proved writable;
    returned absolute."""
    directory = check_directory(path)
    _prepare_directory(directory, dir_mode)
    _native.check_report_directory(os.fsencode(directory))
    return directory


def _prepare_directory(directory: str, dir_mode: int) -> Optional[str]:
    """Creates the report directory (missing parents too, with `dir_mode`)
    and proves it writable, so that a bad directory fails at start rather
    than at the first hang. Returns the outermost directory this call made
    (for start() to remove on a later error), or None."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, "stack_output_dir is not a directory", directory)
    created = directory
    while not os.path.exists(os.path.dirname(created)) and os.path.dirname(created) != created:
        created = os.path.dirname(created)
    if os.path.lexists(created):
        created = None  # type: ignore[assignment]
    try:
        _make_directories(directory, dir_mode)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(errno.ENOTDIR, "stack_output_dir is not a directory", directory) from None
    except PermissionError as e:
        raise PermissionError(
            e.errno, f"stack_output_dir cannot be created ({e.strerror})", directory
        ) from None
    # A temporary name (native/report/report_retention.h): a start killed between
    # these lines leaves a file the next start removes. O_EXCL|O_NOFOLLOW:
    # a name planted there is refused, never followed.
    probe = os.path.join(directory, f".aiowatchdog-probe-{threading.get_ident()}.{os.getpid()}.tmp")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NONBLOCK,
                     0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        if created is not None:
            _remove_created(created)
        raise PermissionError(
            e.errno, f"stack_output_dir is not writable ({e.strerror})", directory
        ) from None
    return created


def _make_directories(directory: str, dir_mode: int) -> None:
    """os.makedirs, with `dir_mode` for the parents it makes too (makedirs
    gives them 0o777 less the umask), exactly (chmod: whatever the umask)."""
    parent = os.path.dirname(directory)
    if parent != directory and not os.path.isdir(parent):
        _make_directories(parent, dir_mode)
    try:
        os.mkdir(directory, dir_mode)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise
        return
    os.chmod(directory, dir_mode)


def _remove_created(created: str) -> None:
    """Removes the (empty) directories start() made before failing."""
    for root, dirs, _files in os.walk(created, topdown=False):
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    try:
        os.rmdir(created)
    except OSError:
        pass
