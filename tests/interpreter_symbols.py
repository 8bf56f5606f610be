"""What the interpreter's own binary lets a native stack name.

Debian's and Ubuntu's CPython packages ship the interpreter stripped of its
local symbols (the debug symbols are a separate package): a native frame in
a static function of CPython (builtin_sum, take_gil, the cold part of the
eval loop) is then shown as an address. Tests that check such a name ask
here first; everything else (the merge, the Python frames) must work either
way."""
from __future__ import annotations

import functools
import os
import struct
import sys
import sysconfig


def _has_symtab(path: str) -> bool:
    """Whether the ELF file at `path` has a .symtab section (local symbols)."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit only
            return False
        order = "<" if header[5] == 1 else ">"
        shoff, = struct.unpack_from(order + "Q", header, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", header, 0x3A)
        f.seek(shoff)
        sections = [f.read(shentsize) for _ in range(shnum)]
        types = [struct.unpack_from(order + "I", s, 4)[0] for s in sections]
    return 2 in types  # SHT_SYMTAB


@functools.lru_cache(maxsize=None)
def interpreter_has_local_symbols() -> bool:
    """Whether CPython's static functions have names in this interpreter:
    its executable, or its libpython when it is a shared build."""
    paths = [os.path.realpath(sys.executable)]
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        library = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
        if library:
            paths = [os.path.join(libdir, library)]
    try:
        return all(_has_symtab(p) for p in paths)
    except OSError:
        return False
