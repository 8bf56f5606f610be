"""os.execv and os.execve, fenced from our capture signal.

A capture signal still queued for a thread when it calls execve survives the
exec and meets the default action of a real-time signal in the new program,
which dies before its first line. Every exec function of `os` (execl, execle,
execlp, execlpe, execvp, execvpe) ends in os.execv or os.execve, looked up at
call time, so wrapping those two covers them: the calling thread is taken out
of captures, a capture under way is waited for, and our signals still queued
for it are taken off the queue, before the real call (see
native/capture/capture.h, FenceThisThreadForExec). If the exec fails, the thread is
sampled again. C code calling execve itself (or posix.execv) is not covered.

subprocess and multiprocessing need nothing: a forked child starts with no
pending signals.
"""

import functools
import os
from typing import Any, Callable

from . import _native
from ._wrap_once import wrap_once


def _fenced(exec_function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(exec_function)
    def fenced(*args: Any, **kwargs: Any) -> Any:
        _native.fence_thread_for_exec()
        try:
            return exec_function(*args, **kwargs)
        finally:  # reached only when the exec failed
            _native.unfence_thread()

    return fenced


def install() -> None:
    """Wraps os.execv and os.execve once per process (idempotent)."""
    for name in ("execv", "execve"):
        wrap_once(os, name, _fenced, "__aiowatchdog_unfenced__")
