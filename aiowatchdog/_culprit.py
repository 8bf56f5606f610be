"""Which frame of a blocked loop's stack is "the culprit": the innermost
Python frame in the application's own code, that is, not in the standard
library, a site-packages directory or aiowatchdog itself; when every Python
frame is library code, the innermost Python frame. Native frames are never the
culprit (they are shown in the stack); a stack without Python frames has none.
"""
from __future__ import annotations

import os
import site
import sysconfig
from functools import lru_cache
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

# The demo's blocking program plays the application, though it ships with us.
_DEMO_PROGRAM = os.path.join(os.path.dirname(os.path.realpath(__file__)), "_cli", "demo_program.py")


@lru_cache(maxsize=1)
def _library_dirs() -> Tuple[str, ...]:
    dirs = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.realpath(path))
    try:
        dirs.update(os.path.realpath(p) for p in site.getsitepackages())
    except AttributeError:  # virtualenvs of old: no getsitepackages
        pass
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if user_site:
        dirs.add(os.path.realpath(user_site))
    dirs.add(os.path.dirname(os.path.realpath(__file__)))  # aiowatchdog
    return tuple(sorted(d.rstrip(os.sep) + os.sep for d in dirs))


def is_library_file(path: str) -> bool:
    """True for the standard library, installed packages, aiowatchdog, and
    frozen or built-in code (`<frozen ...>`, `<string>` is the application's)."""
    if path.startswith("<frozen"):
        return True
    if not os.path.isabs(path):
        return False
    real = os.path.realpath(path)
    if real == _DEMO_PROGRAM:
        return False
    return any(real.startswith(d) for d in _library_dirs())


def culprit_frame(
    stack: Sequence[Mapping[str, Any]],
    is_library: Callable[[str], bool] = is_library_file,
) -> Optional[Mapping[str, Any]]:
    """The culprit among `stack`'s frames (dicts with kind, file, line,
    function; outermost first), or None when it has no Python frame.
    `is_library` tells library files (default: this machine's, above)."""
    python = [f for f in stack if f.get("kind") == "python"]
    for frame in reversed(python):
        if not is_library(frame.get("file") or ""):
            return frame
    return python[-1] if python else None
