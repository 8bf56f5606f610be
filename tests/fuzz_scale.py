"""How many examples the property tests draw: `examples(n)` is n scaled by
AIOWATCHDOG_FUZZ_SCALE (default 1). tools/test.sh runs the full count on the
default interpreter and a fifth on the others: the parsers and renderers
under test are the same code on every version, and CI has a time budget."""
from __future__ import annotations

import os


def examples(n: int) -> int:
    try:
        scale = float(os.environ.get("AIOWATCHDOG_FUZZ_SCALE", "1"))
    except ValueError:
        raise ValueError(f"AIOWATCHDOG_FUZZ_SCALE must be a number, got "
                         f"{os.environ['AIOWATCHDOG_FUZZ_SCALE']!r}") from None
    return max(10, int(n * scale))
