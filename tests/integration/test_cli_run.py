"""`python -m aiowatchdog run`: programs that know nothing of aiowatchdog
(tests/programs/cli_*.py) run under it in real subprocesses, and every loop
they run is watched; they see themselves as `python script.py` or `python -m
module` would show them, and end as they would (exit code, traceback, fatal
signal). Bad settings stop the command before the program runs (exit code 2,
one line).

The runs are started together, once for the module (they mostly sleep in
their blocks), and each test checks one thing of one run.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest

import aiowatchdog
from aiowatchdog import hang_inspection
from aiowatchdog._cli import main as cli_main
from aiowatchdog._loop_dumpers import LoopDumpers
from aiowatchdog._profile_files import PROFILE_NAME
from runner import PROGRAMS, Run, loop_functions

INTERVAL = "0.05"
BLOCK_S = "0.25"
ROOT = Path(aiowatchdog.__file__).resolve().parent.parent
LOOPS = PROGRAMS / "cli_loops.py"
EXITS = PROGRAMS / "cli_exits.py"
HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
RUN_TIMEOUT_S = 60


def clean_environment(**extra: str) -> Dict[str, str]:
    """This test process's environment without AIOWATCHDOG_* variables,
    aiowatchdog importable from any cwd, and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOWATCHDOG_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


@dataclass
class Spec:
    args: List[str]  # after `python -m aiowatchdog run`, or after `python` if plain
    env: Dict[str, str]
    cwd: Path
    directory: Path  # where its reports go
    plain: bool = False  # without aiowatchdog: what python itself does


def run_specs(base: Path) -> Dict[str, Spec]:
    d = {name: base / name for name in ("script", "module", "exits", "quiet", "profile")}
    for directory in d.values():
        directory.mkdir()
    module_scenarios = ["main", "uvloop"] if HAS_UVLOOP else ["main"]
    specs = {
        # AIOWATCHDOG_INTERVAL=30 would hide every block: the option must win.
        "script": Spec(["--dir", str(d["script"]), "--interval", INTERVAL, "--samples", "1",
                        "--no-native-stacks", str(LOOPS), BLOCK_S, "main", "thread", "rerun",
                        "exit=3"],
                       clean_environment(AIOWATCHDOG_INTERVAL="30"), ROOT, d["script"]),
        "module": Spec(["-m", "cli_loops", BLOCK_S, *module_scenarios],
                       clean_environment(AIOWATCHDOG_DIR=str(d["module"]),
                                         AIOWATCHDOG_INTERVAL=INTERVAL, AIOWATCHDOG_SAMPLES="1"),
                       PROGRAMS, d["module"]),
        "quiet": Spec([str(LOOPS), "0", "main", "thread"], clean_environment(), d["quiet"],
                      d["quiet"] / "aiowatchdog-reports"),
        "raise": Spec(["--dir", str(d["exits"]), str(EXITS), "raise"], clean_environment(),
                      ROOT, d["exits"]),
        "raise_plain": Spec([str(EXITS), "raise"], clean_environment(), ROOT, d["exits"],
                            plain=True),
        "sigterm": Spec(["--dir", str(d["exits"]), str(EXITS), "sigterm"], clean_environment(),
                        ROOT, d["exits"]),
        "sigint": Spec(["--dir", str(d["exits"]), str(EXITS), "sigint"], clean_environment(),
                       ROOT, d["exits"]),
        "sigint_plain": Spec([str(EXITS), "sigint"], clean_environment(), ROOT, d["exits"],
                             plain=True),
        "bad_env": Spec([str(LOOPS), BLOCK_S, "main"],
                        clean_environment(AIOWATCHDOG_DIR=str(d["exits"]),
                                          AIOWATCHDOG_SAMPLES="lots"), ROOT, d["exits"]),
        "missing_script": Spec(["--dir", str(d["exits"]), "no_such_script.py"],
                               clean_environment(), ROOT, d["exits"]),
        "missing_module": Spec(["--dir", str(d["exits"]), "-m", "no_such_module_xyz"],
                               clean_environment(), ROOT, d["exits"]),
    }
    specs["profile"] = Spec(["--dir", str(d["profile"]), "--interval", INTERVAL,
                             "--profile-hz", "200", str(LOOPS), BLOCK_S, "main"],
                            clean_environment(), ROOT, d["profile"])
    return specs


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Dict[str, Run]:
    """Every run, started at once and waited for."""
    base = tmp_path_factory.mktemp("cli_run")
    logs = base / "logs"
    logs.mkdir()
    started = {}
    for name, spec in run_specs(base).items():
        command = [sys.executable] + ([] if spec.plain else ["-m", "aiowatchdog", "run"])
        out, err = (open(logs / f"{name}.{kind}", "w+") for kind in ("out", "err"))
        process = subprocess.Popen(command + spec.args, cwd=spec.cwd, env=spec.env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        started[name] = (spec, process, out, err)
    finished = {}
    for name, (spec, process, out, err) in started.items():
        try:
            process.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with out, err:
            out.seek(0)
            err.seek(0)
            stdout = out.read()
            events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
            finished[name] = Run(process.returncode, stdout, err.read(), spec.directory, events)
    return finished


def reports_naming(run: Run, function: str) -> List[Dict]:
    return [r for r in run.reports() if function in loop_functions(r)]


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# --- A script -------------------------------------------------------------


def test_a_script_sees_itself_as_under_python(runs):
    run = runs["script"]
    seen = run.event("main")
    assert seen["argv"] == [str(LOOPS), BLOCK_S, "main", "thread", "rerun", "exit=3"]
    assert seen["path0"] == str(PROGRAMS)
    assert seen["name"] == "__main__" and seen["file"] == str(LOOPS)


def test_the_exit_code_is_the_programs(runs):
    assert runs["script"].returncode == 3, runs["script"].stderr


def test_a_block_in_a_script_is_reported_with_the_options_given(runs):
    run = runs["script"]
    reports = reports_naming(run, "blocking_in_main_loop")
    assert reports, f"no report names blocking_in_main_loop\n{run.stderr[-3000:]}"
    report = reports[0]
    # --interval won over AIOWATCHDOG_INTERVAL=30; --samples, --no-native-stacks applied.
    assert report["interval_s"] == pytest.approx(float(INTERVAL))
    assert report["samples"] == 1
    assert all(f["kind"] != "native" for t in report["threads"] for f in t["frames"])


def test_a_loop_on_another_thread_is_watched(runs):
    reports = reports_naming(runs["script"], "blocking_in_thread_loop")
    assert reports, runs["script"].stderr[-3000:]
    assert [t["name"] for t in reports[0]["threads"] if t["is_loop"]] == ["loop-thread"]


def test_a_stopped_loop_is_not_reported_and_is_watched_when_it_runs_again(runs):
    run = runs["script"]
    assert reports_naming(run, "blocking_before_stop"), run.stderr[-3000:]
    assert reports_naming(run, "blocking_on_second_run"), run.stderr[-3000:]
    idle = reports_naming(run, "idle_while_loop_stopped")
    assert not idle, f"a stopped loop was reported as hung: {[r['path'] for r in idle]}"


# --- A module, set up by environment variables only ----------------------


def test_a_module_sees_itself_as_under_python_m(runs):
    run = runs["module"]
    assert run.returncode == 0, run.stderr
    seen = run.event("main")
    assert seen["argv"][0] == str(LOOPS) and seen["argv"][1:3] == [BLOCK_S, "main"]
    assert seen["path0"] == str(PROGRAMS) == seen["cwd"]
    assert seen["name"] == "__main__"


def test_a_block_in_a_module_is_reported_where_the_environment_says(runs):
    run = runs["module"]
    reports = reports_naming(run, "blocking_in_main_loop")
    assert reports, f"none in AIOWATCHDOG_DIR\n{run.stderr[-3000:]}"
    assert reports[0]["interval_s"] == pytest.approx(float(INTERVAL))
    assert reports[0]["samples"] == 1


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")
def test_a_uvloop_loop_is_watched(runs):
    assert reports_naming(runs["module"], "blocking_in_uvloop"), runs["module"].stderr[-3000:]


# --- Ends -------------------------------------------------------------------


def test_a_run_without_a_hang_prints_nothing_of_ours(runs):
    run = runs["quiet"]
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert [line for line in run.stdout.splitlines() if not line.startswith("{")] == []
    assert run.directory.is_dir(), "the default directory ./aiowatchdog-reports was not made"
    assert run.reports() == []


def test_an_uncaught_exception_prints_as_under_python(runs):
    run, plain = runs["raise"], runs["raise_plain"]
    assert run.returncode == plain.returncode == 1, run.stderr
    assert run.stderr == plain.stderr
    assert "failing_coroutine failed" in run.stderr


def test_sigterm_kills_as_it_would_kill_the_program(runs):
    run = runs["sigterm"]
    assert run.returncode == -signal.SIGTERM, run.stderr
    assert run.stderr == ""


def test_an_uncaught_keyboard_interrupt_prints_as_under_python_and_ends_in_sigint(runs):
    run, plain = runs["sigint"], runs["sigint_plain"]
    assert run.returncode == plain.returncode == -signal.SIGINT, run.stderr
    assert run.stderr == plain.stderr
    assert run.stderr.rstrip().endswith("KeyboardInterrupt"), run.stderr


def test_profile_hz_is_passed_to_start(runs):
    run = runs["profile"]
    assert run.returncode == 0, run.stderr
    assert reports_naming(run, "blocking_in_main_loop"), run.stderr[-3000:]
    profiles = [n for n in os.listdir(run.directory) if PROFILE_NAME.match(n)]
    assert len(profiles) == 1, os.listdir(run.directory)


# --- Bad settings: exit code 2, one line, before the program runs -----------


def test_a_bad_environment_value_stops_the_command(runs):
    run = runs["bad_env"]
    assert run.returncode == 2
    assert "AIOWATCHDOG_SAMPLES='lots'" in one_line(run.stderr)
    assert run.stdout == "", "the program ran"


def test_a_missing_script(runs):
    run = runs["missing_script"]
    assert run.returncode == 2
    assert "can't open file 'no_such_script.py'" in one_line(run.stderr)


def test_a_missing_module(runs):
    run = runs["missing_module"]
    assert run.returncode == 2
    assert "no module named 'no_such_module_xyz'" in one_line(run.stderr)


@pytest.mark.parametrize("argv, environ, named", [
    (["--interval", "abc"], {}, "--interval 'abc'"),
    (["--interval", "0"], {}, "--interval '0'"),
    (["--sample-interval", "inf"], {}, "--sample-interval 'inf'"),
    (["--samples", "1.5"], {}, "--samples '1.5'"),
    (["--signal", "SIGUSR1"], {}, "--signal 'SIGUSR1'"),
    (["--max-threads", "0"], {}, "--max-threads '0'"),
    (["--max-reports", "-3"], {}, "--max-reports '-3'"),
    (["--max-bytes", "12Q"], {}, "--max-bytes '12Q'"),
    (["--max-episodes-per-minute", "x"], {}, "--max-episodes-per-minute 'x'"),
    (["--profile-hz", "0"], {}, "--profile-hz '0'"),
    (["--profile-hz", "1001"], {}, "--profile-hz '1001'"),
    ([], {"AIOWATCHDOG_INTERVAL": "-1"}, "AIOWATCHDOG_INTERVAL='-1'"),
    ([], {"AIOWATCHDOG_NATIVE_STACKS": "maybe"}, "AIOWATCHDOG_NATIVE_STACKS='maybe'"),
    ([], {"AIOWATCHDOG_MAX_BYTES": "1T"}, "AIOWATCHDOG_MAX_BYTES='1T'"),
    ([], {"AIOWATCHDOG_DIR": str(LOOPS)}, f"AIOWATCHDOG_DIR='{LOOPS}'"),
    (["--samples", "0"], {"AIOWATCHDOG_SAMPLES": "2"}, "--samples '0'"),
])
def test_a_bad_value_is_named(argv, environ, named, monkeypatch, capsys):
    for key in [k for k in os.environ if k.startswith("AIOWATCHDOG_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", *argv, str(LOOPS), BLOCK_S])
    assert exit_.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("python -m aiowatchdog run: error: ") and named in line, line


@pytest.mark.parametrize("argv", [[], ["-m"], ["--"]])
def test_no_program(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", *argv])
    assert exit_.value.code == 2
    assert "no program to run" in one_line(capsys.readouterr().err)


# --- A dumper that cannot start --------------------------------------------


def test_a_dumper_that_cannot_start_is_logged_once_and_the_loop_runs(tmp_path, caplog):
    async def answer():
        return 42

    dumpers = LoopDumpers(str(tmp_path), {"samples": 0}).open()
    try:
        assert [asyncio.run(answer()) for _ in range(2)] == [42, 42]
    finally:
        dumpers.close()
    errors = [r for r in caplog.records if r.name == "aiowatchdog" and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "samples must be >= 1" in errors[0].getMessage()
