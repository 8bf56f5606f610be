"""aiowatchdog against the tools a user would pick instead, in one run.

`python benchmarks/run.py [--quick]` is the entry point (run.py). Child
processes run `benchmarks/child.py`; the rest are the parent's modules.
"""
