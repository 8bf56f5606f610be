"""Attacks on the host process, as a hostile environment makes them: each
module is a program (run in a subprocess by its `trial` function) and a
`trials(count, ...)` function returning counts, used by the tests in
tests/integration/test_attacks_fork_exec.py and by tools/fault_figures.py."""
