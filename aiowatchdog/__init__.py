"""aiowatchdog: an always-on production hang catcher for asyncio.

- `aiowatchdog.hang_inspection`: reports of a blocked loop, written to a
  directory (a drop-in for aiodebug's);
- `aiowatchdog.watch`: a callback for every block longer than a threshold;
- `aiowatchdog.allow_blocking`: sections known to be slow, exempted;
- `aiowatchdog.log_slow_callbacks`: slow callbacks logged with their stacks;
- `aiowatchdog.monitor_loop_lag`: loop lag to statsd, Prometheus or a callback;
- `aiowatchdog.testing.TimeDilatedLoop`: a loop whose time runs faster;
- the pytest plugin (aiowatchdog.pytest_plugin): fails tests that block.
"""
from . import hang_inspection, log_slow_callbacks, monitor_loop_lag, testing
from ._allow_blocking import allow_blocking
from ._block_info import BlockInfo, LoopActivity, StackFrame
from ._watch import watch

__version__ = "0.1.0"
__all__ = [
    "BlockInfo",
    "LoopActivity",
    "StackFrame",
    "allow_blocking",
    "hang_inspection",
    "log_slow_callbacks",
    "monitor_loop_lag",
    "testing",
    "watch",
    "__version__",
]
