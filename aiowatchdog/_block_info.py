"""BlockInfo: what aiowatchdog.watch (and the pytest plugin) tell about one
block of the event loop, made from a finished episode of an in-memory
watchdog on the loop's thread once the block is over.

The task is found by the address of the coroutine the sample showed running
(its id()): among the loop's tasks, done ones included while something still
holds them. A task that finished and was freed by then is not found; its
coroutine's name is still in `stack`.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Mapping, Optional, Tuple

from ._culprit import culprit_frame


@dataclass(frozen=True)
class StackFrame:
    """One frame of the loop thread's stack. Native frames have kind
    "native", the library in `file`, no line."""

    kind: str
    file: str
    line: Optional[int]
    function: str
    source: str = ""

    def format(self) -> str:
        if self.kind == "native":
            return f"  Native: {self.function} ({self.file or '?'})"
        text = f'  File "{self.file}", line {"?" if self.line is None else self.line}, in {self.function}'
        return text + (f"\n    {self.source}" if self.source else "")


@dataclass(frozen=True)
class LoopActivity:
    """What the loop's thread was doing during the block (see docs/reports.md,
    "Why the loop was blocked"): state is "on-cpu", "syscall", "gil",
    "starved" or "unknown". gil_holder: for "gil", the thread that held the
    GIL then ('"name" (native id N)'), None when not known."""

    state: str
    syscall: str = ""
    cpu_share: Optional[float] = None
    runqueue_share: Optional[float] = None
    gc_running: bool = False
    gil_holder: Optional[str] = None

    def describe(self) -> str:
        words = {
            "on-cpu": "running on a CPU",
            "syscall": "waiting in a system call",
            "gil": "waiting for the GIL",
            "starved": "runnable but not scheduled (starved)",
        }.get(self.state, "unknown")
        if self.state == "syscall" and self.syscall:
            words += f" ({self.syscall})"
        shares = [f"{label} {value * 100:.0f}%" for label, value in
                  (("CPU", self.cpu_share), ("run queue", self.runqueue_share)) if value is not None]
        if shares:
            words += f" ({', '.join(shares)})"
        if self.state == "gil" and self.gil_holder:
            words += f"; held by thread {self.gil_holder}"
        if self.gc_running:
            words += "; the garbage collector was running"
        return words


@dataclass(frozen=True)
class BlockInfo:
    """One block of the event loop longer than the watch's threshold.

    duration: seconds the loop ran without coming back to its selector (or,
    for loops without a Python selector such as uvloop, since its last
    heartbeat); function/file/line: the culprit, the innermost frame of the
    application's own code (see _culprit.py), None when the block ended before
    it could be sampled (for a loop waiting for the GIL, the culprit is in
    the thread that held it: activity.gil_holder); stack: the loop thread's
    whole stack, outermost
    first, Python and native frames; task_name: the asyncio task that ran it,
    when it could be found; activity: what the thread was doing; ongoing:
    the block had not ended when the watch ended.
    """

    duration: float
    function: Optional[str]
    file: Optional[str]
    line: Optional[int]
    stack: Tuple[StackFrame, ...] = field(repr=False)
    task_name: Optional[str]
    activity: Optional[LoopActivity] = None
    ongoing: bool = False

    def format(self, max_frames: Optional[int] = None) -> str:
        """Several lines: the summary, the activity, then the stack (only
        its innermost `max_frames` frames when given)."""
        where = f"{self.function} ({self.file}:{self.line})" if self.function else "an unsampled place"
        lines = [f"event loop blocked for {self.duration * 1000:.1f} ms in {where}"
                 + (f", task {self.task_name!r}" if self.task_name else "")]
        if self.activity is not None:
            lines.append(f"loop thread: {self.activity.describe()}")
        if self.stack:
            shown = self.stack if max_frames is None else self.stack[-max_frames:]
            hidden = len(self.stack) - len(shown)
            lines.append("stack, most recent call last"
                         + (f" ({hidden} outer frames not shown):" if hidden else ":"))
            lines.extend(frame.format() for frame in shown)
        return "\n".join(lines)


def stack_frame(d: Mapping[str, Any]) -> StackFrame:
    """A frame of an episode (a dict from the native side) as a StackFrame."""
    return StackFrame(d["kind"], d["file"], d["line"], d["function"], d.get("source", ""))


def block_info_from_episode(episode: Mapping[str, Any],
                            loop: Optional[asyncio.AbstractEventLoop],
                            tasks_at_end: Iterable[Any] = ()) -> BlockInfo:
    """On the loop's thread (the task lookup reads the loop's tasks, and
    `tasks_at_end`: the loop's tasks when the block ended, see tasks_of)."""
    stack = tuple(stack_frame(f) for f in episode.get("loop_stack", ()))
    holder = episode.get("gil_holder")
    culprit = culprit_frame(holder["stack"] if holder and holder["stack"]
                            else episode.get("loop_stack", ()))
    task = episode.get("task")
    activity = episode.get("activity")
    return BlockInfo(
        duration=float(episode["blocked_s"]),
        function=culprit["function"] if culprit else None,
        file=culprit["file"] if culprit else None,
        line=culprit["line"] if culprit else None,
        stack=stack,
        task_name=(find_task_name(loop, task["coroutine_address"], tasks_at_end)
                   if task and loop else None),
        activity=activity_of(activity, holder) if activity else None,
        ongoing=not episode["recovered"],
    )


def describe_gil_holder(holder: Optional[Mapping[str, Any]]) -> Optional[str]:
    """'"name" (native id N)' for an episode's gil_holder, None for none."""
    if not holder:
        return None
    return f'"{holder["name"]}" (native id {holder["native_id"]})'


def activity_of(d: Mapping[str, Any], holder: Optional[Mapping[str, Any]] = None) -> LoopActivity:
    """An episode's activity (and GIL holder) as a LoopActivity."""
    def share(v: Any) -> Optional[float]:
        return None if v is None or v < 0 else float(v)
    return LoopActivity(d["state"], d.get("syscall", ""), share(d.get("cpu_share")),
                        share(d.get("runqueue_share")), bool(d.get("gc_running")),
                        describe_gil_holder(holder))


def find_task_name(loop: asyncio.AbstractEventLoop, coroutine_address: int,
                   also: Iterable[Any] = ()) -> Optional[str]:
    """The name of the task of `loop` running the coroutine at
    `coroutine_address`, looked for among its tasks now and in `also`."""
    if not coroutine_address:
        return None
    for task in itertools.chain(also, tasks_of(loop)):
        try:
            if id(task.get_coro()) == coroutine_address:
                return task.get_name()
        except Exception:  # a foreign Task-like object
            continue
    return None


def tasks_of(loop: asyncio.AbstractEventLoop) -> List["asyncio.Task[Any]"]:
    """The loop's tasks, done ones too while still alive: asyncio up to 3.13
    keeps every task in a WeakSet (the name differs across versions);
    all_tasks() only lists the pending ones. 3.14's C tasks are in a
    per-thread list that only all_tasks() reads, so a task that finished
    with its block is looked for where the loop still holds it: the
    callbacks it has ready (a task's wakeup is bound to the task that waits,
    and is given the task it waited for). Those run right after the block,
    before a watcher has its sample: the watcher keeps this list from the
    touch that ended the block (CHORE_BLOCK_ENDED)."""
    seen = []
    for name in ("_scheduled_tasks", "_all_tasks"):
        tasks = getattr(asyncio.tasks, name, None)
        if tasks is not None:
            try:
                seen.extend(list(tasks))
            except RuntimeError:  # changed size during iteration
                pass
    try:
        seen.extend(asyncio.all_tasks(loop))
    except RuntimeError:
        pass
    seen.extend(_tasks_in_ready_callbacks(loop))
    return [t for t in seen if _loop_of(t) is loop]


def _tasks_in_ready_callbacks(loop: asyncio.AbstractEventLoop) -> List[Any]:
    """Tasks the handles in a BaseEventLoop's ready queue are bound to or
    called with (none for loops without one, such as uvloop's)."""
    ready = getattr(loop, "_ready", None)
    if ready is None:
        return []
    found = []
    try:
        handles = list(ready)
    except RuntimeError:  # changed size during iteration
        return []
    for handle in handles:
        candidates = (getattr(getattr(handle, "_callback", None), "__self__", None),
                      *(getattr(handle, "_args", None) or ()))
        found.extend(c for c in candidates
                     if isinstance(c, asyncio.Future) and hasattr(c, "get_coro"))
    return found


def _loop_of(task: Any) -> Any:
    try:
        return task.get_loop()
    except Exception:
        return None
