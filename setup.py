"""Builds aiowatchdog._native by driving CMake (the pybind11 cmake_example way).

`pip install .`, `pip install -e .`, `python -m build` and
tools/build_wheels.sh all come here. The environment chooses:

- AIOWATCHDOG_BUILD_TYPE: the CMake build type, default Release (no debug
  info: what a wheel ships). RelWithDebInfo builds with it (tools/test.sh's
  development builds, and anyone debugging the native core).
- AIOWATCHDOG_ABSEIL_PREFIX: an Abseil installed by tools/abseil.sh (static,
  -fPIC). Given, the extension is self-contained: Abseil linked statically,
  fmt header-only, both hidden (CMakeLists.txt's AIOWATCHDOG_SELF_CONTAINED),
  so it needs only libc, libm, libstdc++ and libgcc_s. Without it the
  extension links Debian's shared libabsl and libfmt (development builds).
- CMAKE_ARGS: passed through (tools/test.sh passes
  -DAIOWATCHDOG_PREBUILT_CORE=... so that the core is compiled once).

Each build gets its own CMake build tree, named by everything a CMake cache
remembers (the interpreter, cmake and ninja, the arguments): a second build
from the same source tree by another environment of the same Python version
(pyenv's 3.11, then Debian's; or pip's isolated build environments, deleted
after each build) never reuses a cache naming the first one's tools.
"""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class CMakeExtension(Extension):
    def __init__(self, name: str, source_dir: str = ".") -> None:
        super().__init__(name, sources=[])  # CMake, not setuptools, compiles
        self.source_dir = str(Path(source_dir).resolve())


class CMakeBuild(build_ext):
    def build_extension(self, ext: CMakeExtension) -> None:
        # Where setuptools expects the module: CMake's install step puts it there.
        ext_dir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_type = os.environ.get("AIOWATCHDOG_BUILD_TYPE", "Release")
        import pybind11  # a build requirement (pyproject.toml)

        cmake = shutil.which("cmake")
        if cmake is None:
            raise RuntimeError("aiowatchdog needs cmake (>= 3.18) to build its native extension")
        ninja = shutil.which("ninja")
        cmake_args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={ext_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={build_type}",
            "-DAIOWATCHDOG_BUILD_TESTS=OFF",  # tools/test.sh builds those
            # Compile the core unless CMAKE_ARGS names a prebuilt one.
            "-DAIOWATCHDOG_PREBUILT_CORE=",
        ]
        generator = ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else []
        abseil = os.environ.get("AIOWATCHDOG_ABSEIL_PREFIX", "")
        if abseil:
            if not Path(abseil, "lib", "cmake", "absl").is_dir():
                raise RuntimeError(f"AIOWATCHDOG_ABSEIL_PREFIX={abseil!r} holds no Abseil CMake "
                                   "package (lib/cmake/absl): run tools/abseil.sh, which prints it")
            cmake_args += [f"-DCMAKE_PREFIX_PATH={abseil}", "-DAIOWATCHDOG_SELF_CONTAINED=ON"]
        else:
            cmake_args += ["-DCMAKE_PREFIX_PATH=", "-DAIOWATCHDOG_SELF_CONTAINED=OFF"]
        cmake_args += [a for a in os.environ.get("CMAKE_ARGS", "").split() if a]

        # One build tree per configuration; the same configuration again (an
        # incremental rebuild by the same environment) reuses its tree.
        identity = "\0".join([sys.executable, sys.prefix, cmake, ninja or "", *generator,
                              *cmake_args])
        key = hashlib.sha256(identity.encode()).hexdigest()[:12]
        build_temp = Path(self.build_temp) / f"{ext.name}-{key}"
        build_temp.mkdir(parents=True, exist_ok=True)
        subprocess.run([cmake, ext.source_dir, *generator, *cmake_args], cwd=build_temp, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run([cmake, "--build", ".", "--target", "_native", "-j", jobs],
                       cwd=build_temp, check=True)


setup(ext_modules=[CMakeExtension("aiowatchdog._native")], cmdclass={"build_ext": CMakeBuild})
