"""aiowatchdog: an always-on production hang catcher for asyncio.

`aiowatchdog.hang_inspection` is the entry point (a drop-in for aiodebug's).
"""
from . import hang_inspection, monitor_loop_lag, testing

__version__ = "0.1.0"
__all__ = ["hang_inspection", "monitor_loop_lag", "testing", "__version__"]
