"""Type stub for aiowatchdog._native, the pybind11 binding of the C++ core
(native/python/module.cc). Internal: the public API is hang_inspection."""
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

REPORT_SCHEMA_VERSION: int
CHORE_FINISHED_EPISODES: int
CHORE_HOUSEKEEPING: int
CHORE_BLOCK_ENDED: int
MAX_PY_FRAMES: int
MAX_NATIVE_FRAMES: int

class Watchdog:
    """One watched loop's native watchdog thread."""

    def __init__(
        self,
        output_dir: Union[str, bytes],
        interval: float,
        samples: int,
        sample_interval: float,
        python_version: str,
        native_stacks: bool = True,
        max_threads: int = 1024,
        max_reports: int = 100,
        max_bytes: int = 64 << 20,
        max_episodes_per_minute: int = 10,
        write_reports: bool = True,
        profile_hz: float = 0.0,
        file_mode: int = 0o600,
        dir_mode: int = 0o700,
    ) -> None:
        """Arguments checked by aiowatchdog._options.check_native_arguments.
        start() raises PermissionError for a report directory owned by, or
        writable by, another user. write_reports=False: in memory (aiowatchdog.watch and friends): no
        file, no rate limit; episodes only through take_finished/sample_since."""
    def start(self) -> None: ...
    def set_stamp_uncertainty(self, seconds: float) -> None:
        """The probe sees the loop only every `seconds`: blocks are a range."""
    def touch(self, idle: bool) -> int:
        """The loop became busy or idle; returns the chores due (CHORE_* bits)."""
    def take_finished(self) -> List[Dict[str, Any]]:
        """Finished episodes: episode_id, blocked_s, recovered, report_paths,
        loop_frames (innermost first), discarded_samples, suppressed_before,
        reports_not_written, write_error (str or None: the first failure of a
        spell of disk trouble), reports_lost_before (> 0: writing resumed),
        activity (None, or what the loop's thread was doing: {"state":
        "on-cpu" | "syscall" | "gil" | "starved" | "unknown", "syscall": str
        ("" unless state is "syscall"), "cpu_share": float or None,
        "runqueue_share": float or None (shares of the time from sample 0 to
        the end of the episode), "gc_running": bool, "gil_holder_native_id":
        int or None}), gil_holder (None, or the thread holding the GIL the
        loop's thread waited for in sample 0: {"name", "native_id", "frames"
        (innermost first), "stack" (outermost first)}), loop_stack (the loop
        thread's whole stack in sample 0, outermost first), task (None, or
        {"coroutine", "file", "line", "coroutine_address": id() of the
        coroutine}), started_ns and sampled_ns (time.monotonic_ns(): the busy
        period began, sample 0 was taken)."""
    def sample_since(self, since_ns: int, timeout: float) -> Optional[Dict[str, Any]]:
        """Sample 0 (as take_finished's dicts) of the episode whose busy
        period began at or after since_ns, waiting up to timeout seconds for
        one being taken; None if there is none."""
    def request_stop(self) -> None: ...
    def stopped(self) -> bool: ...
    @property
    def ended_early(self) -> Optional[str]:
        """Why the watchdog thread ended without being asked to, else None."""
    def join(self) -> None: ...
    def forget_after_fork(self) -> None:
        """In a forked child: stopped, without touching the absent thread."""
    @property
    def episodes_started(self) -> int: ...
    @property
    def episodes_suppressed(self) -> int: ...

class SelectProbe:
    """Installed as a selector's `select`: touches idle/busy around the real one."""

    def __init__(self, watchdog: Watchdog, inner: Callable[..., Any],
                 on_chores: Callable[[int], None]) -> None: ...
    def __call__(self, timeout: Optional[float] = None) -> Any: ...
    def deactivate(self) -> None: ...
    @property
    def active(self) -> bool: ...
    @property
    def inner(self) -> Callable[..., Any]: ...

def enter_allowed_section() -> bool:
    """aiowatchdog.allow_blocking, on the calling thread; False when the
    table of threads is full (then not exempted)."""
def exit_allowed_section() -> None: ...

def install_capture_handler(signo: int) -> None:
    """Installs the process-wide capture handler; ValueError for another
    signal than the one already installed, or a non-real-time one."""

def fence_thread_for_exec() -> None:
    """Right before an exec on the calling thread: no capture signal reaches
    it from now on, and none of ours stays queued for it."""
def unfence_thread() -> None:
    """The exec failed: the calling thread is sampled again."""
def installed_capture_signal() -> int: ...
def capture_handler_reinstalls() -> int:
    """Times the capture handler was found replaced (by the application) and
    put back on top, chaining to the newcomer."""
def gc_callback(phase: str, info: Dict[str, Any]) -> None:
    """For gc.callbacks (see aiowatchdog/_gc_phase.py): notes the calling
    thread as collecting at phase "start", no thread at any other phase."""

def check_report_directory(path: Union[str, bytes]) -> None:
    """PermissionError when another user owns the directory or may write in
    it without the sticky bit (the check Watchdog.start() makes)."""
def publish_thread_names(rows: List[Tuple[int, int, Union[str, bytes]]]) -> None:
    """(native id, threading ident, name) for every thread."""
def note_thread_name(native_id: int, ident: int, name: Union[str, bytes]) -> None:
    """One thread just started: added, or renamed; the others kept."""

def render_text_report(report: Dict[str, Any]) -> bytes:
    """A report dict as _report_files parses it (key "loop_activity" optional)."""
def render_json_report(report: Dict[str, Any]) -> bytes: ...
