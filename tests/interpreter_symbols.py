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
    try:
        return _has_symtab(_interpreter_file())
    except OSError:
        return False


def _interpreter_file() -> str:
    """The ELF file holding the running CPython's code: the libpython mapped
    into this process, else its executable (sysconfig cannot say: Debian's
    interpreters are linked statically but report Py_ENABLE_SHARED)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip()
            if os.path.basename(path).startswith("libpython"):
                return path
    return os.path.realpath(sys.executable)

