"""Attacks on the process aiowatchdog watches, one small module per attack,
each a function that runs a real victim program (victim.py) in a subprocess
and returns what it counted. tests/integration/test_attacks_hostile.py
asserts on them; tools/fault_figures.py runs them at full size for its rows.
"""
