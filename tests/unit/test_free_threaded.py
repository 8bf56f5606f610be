"""Free-threaded CPython (sysconfig's Py_GIL_DISABLED) is refused by every
entry point that starts a watchdog, with a clear error and nothing started
or created; the native walker, built for such a build, refuses too.

No free-threaded CPython is packaged where the suite runs, so the Python side
is tested by making sysconfig say Py_GIL_DISABLED in a real subprocess, and
the native side by compiling py_frames.c with Py_GIL_DISABLED defined (the
refusing walker reads no CPython structure, so it builds and runs alone)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The C sources: the tree's, also when the tests run from a copy against an
# installed wheel (tools/test_installed.sh says where the tree is).
SOURCES = Path(os.environ.get("AIOWATCHDOG_SOURCE_TREE") or ROOT)

# Prepended to each child program: this interpreter now says it is free-threaded.
PRETEND_FREE_THREADED = textwrap.dedent("""
    import sysconfig
    _real = sysconfig.get_config_var
    sysconfig.get_config_var = lambda name: 1 if name == "Py_GIL_DISABLED" else _real(name)
""")


def run_child(body: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PRETEND_FREE_THREADED + textwrap.dedent(body),
                           *args], capture_output=True, text=True, timeout=120,
                          cwd=str(ROOT / "tests"))


def test_the_check_names_the_build():
    from aiowatchdog._support import unsupported_reason
    assert unsupported_reason() is None  # this interpreter is a GIL build
    run = run_child("""
        from aiowatchdog._support import unsupported_reason
        print(unsupported_reason())
    """)
    assert run.returncode == 0, run.stderr
    assert "free-threaded" in run.stdout and "Py_GIL_DISABLED" in run.stdout
    assert sys.version.split()[0] in run.stdout


def test_hang_inspection_start_refuses_before_creating_anything(tmp_path):
    reports = tmp_path / "reports"
    run = run_child("""
        import asyncio, os, sys, threading
        from aiowatchdog import _native, hang_inspection

        async def main():
            before = threading.active_count(), len(os.listdir("/proc/self/task"))
            try:
                hang_inspection.start(sys.argv[1], interval=0.1)
            except RuntimeError as e:
                print("refused:", e)
            after = threading.active_count(), len(os.listdir("/proc/self/task"))
            print("threads", before == after, "handler", _native.installed_capture_signal())

        asyncio.run(main())
    """, str(reports))
    assert run.returncode == 0, run.stderr
    assert "refused: hang_inspection.start(): aiowatchdog does not support free-threaded" \
        in run.stdout, run.stdout
    assert "threads True handler 0" in run.stdout, run.stdout
    assert not reports.exists(), "no report directory for a refused start"


def test_watch_log_slow_callbacks_and_block_watcher_refuse():
    run = run_child("""
        import asyncio
        import aiowatchdog
        from aiowatchdog import _native, log_slow_callbacks
        from aiowatchdog._block_watcher import BlockWatcher

        run_before = asyncio.events.Handle._run

        async def main():
            for name, start in [
                ("watch", lambda: aiowatchdog.watch(0.05).__enter__()),
                ("log_slow_callbacks", lambda: log_slow_callbacks.enable(0.05)),
                ("BlockWatcher", lambda: BlockWatcher(asyncio.get_running_loop(), 0.05,
                                                      None).start()),
            ]:
                try:
                    start()
                    print(name, "started")
                except RuntimeError as e:
                    print(name, "refused", "free-threaded" in str(e))
            print("Handle._run kept", asyncio.events.Handle._run is run_before,
                  "enabled", log_slow_callbacks.is_enabled(),
                  "handler", _native.installed_capture_signal())

        asyncio.run(main())
    """)
    assert run.returncode == 0, run.stderr
    for name in ("watch", "log_slow_callbacks", "BlockWatcher"):
        assert f"{name} refused True" in run.stdout, run.stdout
    assert "Handle._run kept True enabled False handler 0" in run.stdout, run.stdout


@pytest.mark.parametrize("command", ["run", "demo"])
def test_cli_commands_that_watch_refuse_with_exit_code_2(tmp_path, command):
    program = tmp_path / "program.py"
    program.write_text("print('the program ran')\n")
    argv = ["run", "--dir", str(tmp_path / "r"), str(program)] if command == "run" \
        else ["demo", "--dir", str(tmp_path / "r")]
    run = run_child("""
        import sys
        from aiowatchdog._cli import main
        sys.exit(main(sys.argv[1:]))
    """, *argv)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "the program ran" not in run.stdout
    assert "does not support free-threaded CPython" in run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "r").exists()


def test_pytest_plugin_with_a_threshold_is_a_usage_error(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    run = run_child("""
        import sys, pytest
        sys.exit(pytest.main(["-p", "no:cacheprovider",
                              "--aiowatchdog-threshold", "0.1", sys.argv[1]]))
    """, str(tmp_path / "test_x.py"))
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, (run.stdout, run.stderr)
    assert "does not support free-threaded CPython" in run.stderr + run.stdout


def _python_include() -> str:
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "patchlevel.h").exists():
        pytest.skip(f"no CPython headers at {include}")
    return include


def test_the_native_walker_built_free_threaded_refuses_and_walks_nothing(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    include = _python_include()
    main = tmp_path / "main.c"
    main.write_text(textwrap.dedent("""
        #include <stdio.h>
        #include <string.h>
        #include "py_frames.h"
        static awd_py_stack stack;
        int main(void) {
          awd_py_frames_init();
          memset(&stack, 0x5a, sizeof stack);
          awd_walk_current_thread(&stack);
          const char *why = awd_py_frames_unsupported();
          printf("why=%s\\nhas_python=%d depth=%d truncated=%d\\n", why ? why : "(null)",
                 stack.has_python, stack.depth, stack.truncated);
          return 0;
        }
    """))
    exe = tmp_path / "walker"
    native = SOURCES / "native" / "python"
    # Only this file and libc: a walker that touched a CPython symbol would not link.
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-DPy_GIL_DISABLED=1", "-I", include,
                    "-I", str(native), "-I", str(native.parent),
                    "-o", str(exe), str(main), str(native / "py_frames.c")],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert "why=aiowatchdog does not support free-threaded CPython builds" in out, out
    assert "has_python=0 depth=0 truncated=0" in out, out


def test_the_native_walker_built_for_the_gil_compiles_with_its_frame_layout(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    include = _python_include()
    native = SOURCES / "native" / "python"
    run = subprocess.run([cc, "-std=c11", "-c", "-I", include,
                          "-I", os.path.join(include, "internal"), "-I", str(native),
                          "-I", str(native.parent),
                          "-o", str(tmp_path / "py_frames.o"), str(native / "py_frames.c")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
