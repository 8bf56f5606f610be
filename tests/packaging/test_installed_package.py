"""What a user installs: the installed distribution holds every file of the
source tree's package (a module missing from the wheel, as aiowatchdog._cli
once was, fails here), the tests run against that install and not the source
tree, and the console script works. tools/test.sh runs the suite against
each interpreter's installed wheel and names the source tree in
AIOWATCHDOG_SOURCE_TREE; a development run (editable install, from the tree)
finds the tree beside tests/."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

import aiowatchdog

# Files of the package as the source tree has them: what the wheel must ship.
PACKAGE_SUFFIXES = {".py", ".pyi", ".typed"}


def source_tree() -> Path:
    named = os.environ.get("AIOWATCHDOG_SOURCE_TREE")
    tree = Path(named) if named else Path(__file__).resolve().parents[2]
    if not (tree / "aiowatchdog" / "__init__.py").is_file():
        pytest.skip(f"no aiowatchdog source tree at {tree} (set AIOWATCHDOG_SOURCE_TREE)")
    return tree


def is_editable() -> bool:
    dist = metadata.distribution("aiowatchdog")
    text = dist.read_text("direct_url.json")
    return bool(text) and json.loads(text).get("dir_info", {}).get("editable", False)


def tree_package_files(tree: Path) -> set:
    files = set()
    for path in (tree / "aiowatchdog").rglob("*"):
        if path.is_file() and path.suffix in PACKAGE_SUFFIXES and "__pycache__" not in path.parts:
            files.add(path.relative_to(tree).as_posix())
    return files


def installed_files() -> set:
    # As the installer recorded them (RECORD, from the wheel) and present.
    files = [p for p in metadata.files("aiowatchdog") or [] if Path(p.locate()).is_file()]
    return {f.as_posix() for f in (Path(str(p)) for p in files)
            if f.parts and f.parts[0] == "aiowatchdog" and "__pycache__" not in f.parts}


@pytest.fixture()
def installed():
    if is_editable():
        pytest.skip("an editable install: tools/test.sh runs this against the installed wheel")


def test_every_package_file_of_the_tree_is_installed(installed):
    tree = source_tree()
    expected = tree_package_files(tree)
    assert "aiowatchdog/_cli/__init__.py" in expected and "aiowatchdog/py.typed" in expected
    got = installed_files()
    missing = sorted(expected - got)
    assert not missing, f"in {tree}/aiowatchdog but not in the installed wheel: {missing}"
    extensions = [f for f in got if f.startswith("aiowatchdog/_native.") and f.endswith(".so")]
    assert len(extensions) == 1, f"the extension module in the wheel: {extensions}"


def test_the_package_imported_is_the_installed_one(installed):
    where = Path(aiowatchdog.__file__).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    platsite = Path(sysconfig.get_paths()["platlib"]).resolve()
    assert site in where.parents or platsite in where.parents, (
        f"aiowatchdog imported from {where}, not from this environment's {site}: "
        "the tests would test the source tree, not what users install")
    assert metadata.version("aiowatchdog") == aiowatchdog.__version__


def test_console_script_and_module_give_the_same_help(installed, tmp_path):
    script = Path(sysconfig.get_paths()["scripts"]) / "aiowatchdog"
    assert script.is_file(), f"no console script at {script}"
    # From an empty directory: nothing there to import but the install.
    by_script = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                               cwd=tmp_path, timeout=60)
    by_module = subprocess.run([sys.executable, "-m", "aiowatchdog", "--help"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert by_script.returncode == 0, by_script.stderr
    assert by_module.returncode == 0, by_module.stderr
    assert by_script.stdout == by_module.stdout
    for command in ("run", "report", "show", "demo"):
        assert command in by_script.stdout


def test_metadata_names_license_version_and_python_versions():
    meta = metadata.metadata("aiowatchdog")
    assert meta["Version"] == aiowatchdog.__version__
    assert meta.get("License-Expression") == "MIT" or meta.get("License") == "MIT"
    classifiers = set(meta.get_all("Classifier") or [])
    for minor in range(9, 16):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Typing :: Typed" in classifiers and "Operating System :: POSIX :: Linux" in classifiers


def test_the_extension_needs_only_the_c_and_cxx_runtimes(installed):
    """A release wheel links Abseil and fmt statically, hidden: its extension
    needs nothing a bare Linux lacks, and exports only its init function."""
    if not shutil.which("readelf"):
        pytest.skip("readelf (binutils) not installed")
    if os.environ.get("AIOWATCHDOG_EXPECT_SELF_CONTAINED") != "1":
        pytest.skip("not a release wheel (tools/test.sh sets AIOWATCHDOG_EXPECT_SELF_CONTAINED)")
    so = aiowatchdog._native.__file__
    # auditwheel grafts the shared libraries it needs (elfutils' libdw and what
    # that needs) beside the package; they may need only the runtimes too.
    libs = Path(so).parent.parent / "aiowatchdog.libs"
    grafted = sorted(libs.glob("*.so*")) if libs.is_dir() else []
    assert any(g.name.startswith("libdw") for g in grafted), f"libdw not grafted in {libs}"
    allowed = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2",
               "libpthread.so.0", "libdl.so.2",
               "libz.so.1"} | {g.name for g in grafted}  # zlib: in manylinux's policy
    for lib in [Path(so), *grafted]:
        dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True,
                                 check=True).stdout
        needed = {line.split("[")[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line}
        assert needed <= allowed, f"{lib} needs {sorted(needed - allowed)}"
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", so], capture_output=True, text=True,
                             check=True).stdout
    exported = {line.split()[7] for line in symbols.splitlines()
                if len(line.split()) >= 8 and line.split()[6] != "UND"
                and line.split()[4] in ("GLOBAL", "WEAK") and line.split()[3] in ("FUNC", "OBJECT")}
    assert {name.split("@")[0] for name in exported} == {"PyInit__native"}, sorted(exported)[:20]
    sections = subprocess.run(["readelf", "-S", "-W", so], capture_output=True, text=True,
                              check=True).stdout
    assert ".debug_info" not in sections, f"{so} carries debug info"
