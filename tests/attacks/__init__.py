"""Attacks on the host process, as a hostile environment makes them: one small
module per attack, each running a real victim program in a subprocess and
returning what it counted. The tests in tests/integration/test_attacks_*.py
assert on them; tools/fault_figures.py runs them at full size for its rows.
"""
