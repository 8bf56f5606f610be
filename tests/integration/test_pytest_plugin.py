"""The pytest plugin (aiowatchdog.pytest_plugin) on real pytest runs: one
generated test file whose tests block their loops for real (time.sleep in a
coroutine), run by pytest in a subprocess with the option, the ini option, or
neither, each test's outcome and failure message read from the JUnit XML.

A few subprocess runs cover every case, since each costs a Python start-up;
usage errors, found before any test runs (so before the plugin patches asyncio
or starts a watchdog thread), run in process.

The plugin is loaded by name (`-p aiowatchdog.pytest_plugin`, with entry
points off), from the copy this test imports: the installed entry point may be
missing, or point at another checkout.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Tuple

import pytest

import aiowatchdog

pytest_plugins = ["pytester"]

THIS_COPY = str(Path(aiowatchdog.__file__).resolve().parent.parent)
# The plugin under test and pytest-asyncio, nothing else installed (with
# entry points loaded, hypothesis' plugin alone adds half a second of imports
# to each run).
PLUGIN_ARGS = ("-p", "asyncio", "-p", "aiowatchdog.pytest_plugin")

# Warnings are errors (the asyncio.run case caught a ResourceWarning this
# way), but for pytest-asyncio 1.2 on 3.9: after an async test it leaves a loop
# of its own as the current loop, which the next asyncio.run drops unclosed.
INI = """\
[pytest]
addopts = --strict-markers
filterwarnings =
    error
    ignore:unclosed event loop:ResourceWarning
    ignore:unclosed <socket.socket:ResourceWarning
asyncio_default_fixture_loop_scope = function
"""

CASES = '''\
import asyncio
import threading
import time

import pytest

import aiowatchdog


def block_the_loop(seconds=0.15):
    time.sleep(seconds)  # BLOCK_LINE


def block_outside_the_section():
    time.sleep(0.15)


@pytest.mark.asyncio
async def test_blocks_in_a_helper():
    block_the_loop()


@pytest.mark.asyncio
async def test_only_awaits():
    await asyncio.sleep(0.1)


def test_asyncio_run_blocks():
    async def main():
        block_the_loop()
    asyncio.run(main())


def test_sync_without_a_loop():
    time.sleep(0.1)


@pytest.mark.asyncio
@pytest.mark.aiowatchdog(threshold=0.5)
async def test_marker_threshold():
    block_the_loop()


@pytest.mark.asyncio
@pytest.mark.aiowatchdog(allow_blocking=True)
async def test_marker_allows_blocking():
    block_the_loop(0.1)


@pytest.mark.asyncio
@pytest.mark.aiowatchdog(threshold=0.05)
async def test_marker_turns_it_on():
    block_the_loop()


@pytest.mark.asyncio
@pytest.mark.aiowatchdog(threshold=None)
async def test_marker_threshold_none_is_the_options():
    block_the_loop(0.1)


@pytest.mark.asyncio
async def test_allowed_section():
    with aiowatchdog.allow_blocking():
        block_the_loop(0.1)


@pytest.mark.asyncio
async def test_blocks_after_an_allowed_section():
    with aiowatchdog.allow_blocking():
        block_the_loop(0.1)
    block_outside_the_section()


def test_loop_on_another_thread():
    async def main():
        block_the_loop()
    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join()


@pytest.mark.asyncio
async def test_fails_on_its_own():
    block_the_loop(0.1)
    assert 1 + 1 == 3, "the test's own failure"
'''
BLOCK_LINE = next(number for number, line in enumerate(CASES.splitlines(), 1)
                  if "BLOCK_LINE" in line)

Outcomes = Dict[str, Tuple[str, str]]


@pytest.fixture(autouse=True)
def only_these_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [THIS_COPY, os.environ.get("PYTHONPATH")])))


@pytest.fixture
def cases(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_cases=CASES)
    return pytester


def run(pytester: pytest.Pytester, *args: str, ini: str = "") -> Tuple[pytest.RunResult, Outcomes]:
    """Runs the cases in a subprocess: its result, and each test's outcome
    with its failure text."""
    pytester.makefile(".ini", pytest=INI + ini)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "--junitxml=junit.xml", *args,
                                           timeout=60)
    outcomes = {}
    for case in ET.parse(pytester.path / "junit.xml").iter("testcase"):
        problems = [child for child in case if child.tag in ("failure", "error", "skipped")]
        outcome = problems[0].tag if problems else "passed"
        outcomes[case.get("name")] = (outcome, (problems[0].text or "") if problems else "")
    return result, outcomes


def assert_blocked_in(text: str, function: str) -> None:
    assert text.startswith("the event loop was blocked 1 time(s) longer than the aiowatchdog "
                           "threshold of 50 ms"), text
    assert "event loop blocked for " in text and f" ms in {function} (" in text, text
    assert '", line ' in text and "stack, most recent call last" in text, text
    assert "time_sleep" in text or "clock_nanosleep" in text, "native frames: " + text
    assert "aiowatchdog.allow_blocking()" in text, text


def test_off_by_default_and_on_for_a_marked_test(cases):
    result, outcomes = run(cases, "-k", "in_a_helper or asyncio_run or turns_it_on")
    assert outcomes.keys() == {"test_blocks_in_a_helper", "test_asyncio_run_blocks",
                               "test_marker_turns_it_on"}, result.outlines
    assert outcomes["test_blocks_in_a_helper"] == ("passed", "")
    assert outcomes["test_asyncio_run_blocks"] == ("passed", "")
    # Without the option, a marker with a threshold watches its test.
    outcome, text = outcomes["test_marker_turns_it_on"]
    assert outcome == "failure", text
    assert_blocked_in(text, "block_the_loop")


def test_the_option_fails_the_tests_that_block_and_wins_over_the_ini(cases):
    # The ini's 5 s would let every test pass: the command line's 50 ms wins.
    result, outcomes = run(cases, "--aiowatchdog-threshold=0.05", ini="aiowatchdog_threshold = 5\n")
    failed = {name for name, (outcome, _) in outcomes.items() if outcome != "passed"}
    assert failed == {"test_blocks_in_a_helper", "test_asyncio_run_blocks",
                      "test_marker_turns_it_on", "test_marker_threshold_none_is_the_options",
                      "test_blocks_after_an_allowed_section", "test_loop_on_another_thread",
                      "test_fails_on_its_own"}, outcomes
    result.assert_outcomes(passed=5, failed=7)

    text = outcomes["test_blocks_in_a_helper"][1]
    assert_blocked_in(text, "block_the_loop")
    assert f"test_cases.py:{BLOCK_LINE})" in text, text
    assert f'test_cases.py", line {BLOCK_LINE}, in block_the_loop\n' in text, text
    assert "time.sleep(seconds)  # BLOCK_LINE" in text, text
    assert text.index("in test_blocks_in_a_helper\n") < text.index("in block_the_loop\n"), text
    # pytrace=False: the message, no traceback into the plugin.
    assert "pytest_plugin.py" not in text, text

    for name in ("test_asyncio_run_blocks", "test_loop_on_another_thread"):
        assert_blocked_in(outcomes[name][1], "block_the_loop")
        assert "main\n    block_the_loop()\n" in outcomes[name][1], outcomes[name][1]
    # Only the block outside the allowed section counts.
    assert_blocked_in(outcomes["test_blocks_after_an_allowed_section"][1],
                      "block_outside_the_section")
    # A test's own failure is what it reports.
    outcome, text = outcomes["test_fails_on_its_own"]
    assert outcome == "failure" and "AssertionError: the test's own failure" in text, text
    assert "event loop was blocked" not in text, text


def test_the_ini_option(cases):
    result, outcomes = run(cases, "-k", "in_a_helper or only_awaits",
                           ini="aiowatchdog_threshold = 0.05\n")
    assert outcomes["test_only_awaits"] == ("passed", ""), result.outlines
    outcome, text = outcomes["test_blocks_in_a_helper"]
    assert outcome == "failure", result.outlines
    assert_blocked_in(text, "block_the_loop")


def usage_error(pytester: pytest.Pytester, *args: str, ini: str = "") -> str:
    """Runs pytest in process, expecting a usage error: its message."""
    pytester.makefile(".ini", pytest=INI + ini)
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS, "--assert=plain", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines + result.errlines
    errors = "\n".join(result.errlines)
    assert errors.startswith("ERROR: ") and "Traceback" not in errors, errors
    return errors


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "0.001"])
def test_a_bad_option_is_a_usage_error(pytester, value):
    errors = usage_error(pytester, f"--aiowatchdog-threshold={value}")
    assert "--aiowatchdog-threshold must be " in errors and repr(value) in errors, errors


def test_a_bad_ini_option_is_a_usage_error(pytester):
    errors = usage_error(pytester, ini="aiowatchdog_threshold = soon\n")
    assert "aiowatchdog_threshold ini option must be a number of seconds, got 'soon'" in errors


@pytest.mark.parametrize("arguments, told", [
    ("0.5", "got args (0.5,) and []"),
    ("treshold=0.5", "got args () and ['treshold']"),
    ("threshold='abc'", "aiowatchdog(threshold=) must be a number of seconds, got 'abc'"),
    ("threshold=0", "aiowatchdog(threshold=) must be a finite number of seconds >= 0.005, got 0"),
    ("threshold=float('nan')", "got nan"),
    ("allow_blocking='no'", "aiowatchdog(allow_blocking=) must be True or False, got 'no'"),
], ids=["positional", "misspelt", "abc", "0", "nan", "allow_blocking"])
def test_bad_marker_arguments_are_a_usage_error(pytester, arguments, told):
    pytester.makepyfile(test_marked=f"""
        import pytest

        def test_fine():
            pass

        @pytest.mark.aiowatchdog({arguments})
        def test_marked():
            pass
    """)
    errors = usage_error(pytester)
    assert errors.startswith("ERROR: test_marked.py::test_marked: ") and told in errors, errors
