"""The built cp311 wheel on a machine as a user's: a minimal Debian bookworm
root (`debootstrap --variant=minbase`, tools/bookworm_root.sh) holding only
python3 and python3-venv — no compiler, no -dev package, no Abseil, no fmt.
pip installs the wheel into a venv there, without an index, and both
`python -m aiowatchdog demo --dir X` and the `aiowatchdog report X` console
script must work on what the demo wrote.

Needs root (debootstrap, chroot) and a built wheel: tools/test.sh names
dist/ in AIOWATCHDOG_DIST and sets AIOWATCHDOG_FRESH_ROOT=1 for one run;
skipped otherwise."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def source_tree() -> Path:
    tree = Path(os.environ.get("AIOWATCHDOG_SOURCE_TREE") or Path(__file__).resolve().parents[2])
    if not (tree / "tools" / "bookworm_root.sh").is_file():
        pytest.skip(f"no tools/bookworm_root.sh under {tree} (set AIOWATCHDOG_SOURCE_TREE)")
    return tree


@pytest.fixture(scope="module")
def fresh_root():
    if os.environ.get("AIOWATCHDOG_FRESH_ROOT") != "1":
        pytest.skip("AIOWATCHDOG_FRESH_ROOT=1 not set (tools/test.sh sets it for one run)")
    if os.geteuid() != 0:
        pytest.skip("needs root: debootstrap and chroot")
    dist = os.environ.get("AIOWATCHDOG_DIST", "")
    wheels = sorted(glob.glob(os.path.join(dist, "aiowatchdog-*-cp311-cp311-manylinux*.whl")))
    assert wheels, f"no cp311 manylinux wheel in AIOWATCHDOG_DIST={dist!r} (tools/build_wheels.sh)"
    script = source_tree() / "tools" / "bookworm_root.sh"
    made = subprocess.run([str(script)], capture_output=True, text=True, timeout=1800)
    assert made.returncode == 0, made.stderr[-3000:]
    return script, Path(made.stdout.strip()), Path(wheels[-1])


def test_wheel_installs_and_runs_where_nothing_but_python_is(fresh_root):
    script, root, wheel = fresh_root
    # The root is a user's machine: no compiler, no Abseil, no fmt.
    for absent in ("usr/bin/cc", "usr/bin/gcc", "usr/bin/c++"):
        assert not (root / absent).exists(), f"{root} has {absent}: not a bare machine"
    for pattern in ("usr/lib/x86_64-linux-gnu/libabsl_*", "usr/lib/x86_64-linux-gnu/libfmt*"):
        assert not glob.glob(str(root / pattern)), f"{root} has {pattern}"

    inside = Path(tempfile.mkdtemp(prefix="aiowatchdog-fresh-", dir=root / "tmp"))
    try:
        shutil.copy(wheel, inside)
        at = "/" + str(inside.relative_to(root))
        commands = f"""
set -e
cd {at}
python3 -m venv venv
venv/bin/pip install --no-index -q {wheel.name}
venv/bin/python -m aiowatchdog demo --dir {at}/hangs > demo.out 2> demo.err
venv/bin/aiowatchdog report {at}/hangs > report.out 2> report.err
"""
        run = subprocess.run([str(script), "--enter", "sh", "-c", commands], capture_output=True,
                             text=True, timeout=600)
        outputs = {name: (inside / name).read_text() if (inside / name).exists() else "(none)"
                   for name in ("demo.out", "demo.err", "report.out", "report.err")}
        assert run.returncode == 0, (run.stdout, run.stderr, outputs)
        demo, report = outputs["demo.out"], outputs["report.out"]
        # The demo's three blocks, each caught with the function that blocked.
        assert "sleepy_coroutine" in demo, demo
        reports = sorted(os.listdir(inside / "hangs"))
        assert any(name.endswith(".json") for name in reports), reports
        # The report command read them: the blocking functions ranked.
        assert "sleepy_coroutine" in report and "count_primes_slowly" in report, report
    finally:
        shutil.rmtree(inside, ignore_errors=True)
