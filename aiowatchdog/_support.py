"""Whether this interpreter can be watched, asked before anything starts.

The native frame walker reads CPython's private frame layout of the GIL
builds of CPython 3.9 to 3.15 (native/python/py_frames.c). A free-threaded
build (PEP 703, `python3.13t` and later: sysconfig's Py_GIL_DISABLED) lays
objects and frames out differently and runs threads truly in parallel, so
every entry point that starts a watchdog refuses it here with a RuntimeError,
before it creates a directory or starts a thread. (Its extension module,
built without the walker, refuses once more in install_capture_handler.)
Reading reports (`aiowatchdog report`, aiowatchdog._report_files) works on
any build.
"""
from __future__ import annotations

import sys
import sysconfig
from typing import Optional

# The oldest and newest CPython minor versions whose frame layout the walker knows.
OLDEST = (3, 9)
NEWEST = (3, 15)


def _free_threaded() -> bool:
    """sysconfig's Py_GIL_DISABLED; else the "t" of a free-threaded build's
    ABI flags, when sysconfig cannot load its data (a process that dropped
    its privileges after startup may not read the standard library any more)."""
    try:
        return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    except Exception:
        return "t" in getattr(sys, "abiflags", "")


def unsupported_reason() -> Optional[str]:
    """None when a watchdog can run on this interpreter, else why not."""
    if sys.implementation.name != "cpython":
        return f"aiowatchdog needs CPython, not {sys.implementation.name}"
    if _free_threaded():
        return (f"aiowatchdog does not support free-threaded CPython builds "
                f"({sys.version.split()[0]} with Py_GIL_DISABLED): its frame walker "
                f"reads the frame layout of the GIL builds; use the standard "
                f"(GIL) build of CPython {OLDEST[0]}.{OLDEST[1]}-{NEWEST[0]}.{NEWEST[1]}")
    return None


def check_supported(what: str) -> None:
    """Raises RuntimeError naming `what` (the entry point) when a watchdog
    cannot run on this interpreter."""
    reason = unsupported_reason()
    if reason is not None:
        raise RuntimeError(f"{what}: {reason}")
