"""Builds aiowatchdog._native by driving CMake (the pybind11 cmake_example way).

`pip install .` and `pip install -e .` both come here. CMAKE_ARGS in the
environment is passed through (tools/test.sh passes
-DAIOWATCHDOG_PREBUILT_CORE=... so that the core is compiled once for all
interpreters); AIOWATCHDOG_BUILD_TYPE picks the CMake build type (default
RelWithDebInfo, so native frames in our own code symbolize).
"""
import os
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
        build_type = os.environ.get("AIOWATCHDOG_BUILD_TYPE", "RelWithDebInfo")
        import pybind11  # a build requirement (pyproject.toml)

        cmake_args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={ext_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={build_type}",
            "-DAIOWATCHDOG_BUILD_TESTS=OFF",  # tools/test.sh builds those
            # Compile the core unless CMAKE_ARGS names a prebuilt one, even where
            # an earlier build left one in this build tree's cache.
            "-DAIOWATCHDOG_PREBUILT_CORE=",
        ]
        cmake_args += [a for a in os.environ.get("CMAKE_ARGS", "").split() if a]
        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        generator = ["-G", "Ninja"] if _has_ninja() else []
        subprocess.run(["cmake", ext.source_dir, *generator, *cmake_args], cwd=build_temp, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "--build", ".", "--target", "_native", "-j", jobs],
                       cwd=build_temp, check=True)


def _has_ninja() -> bool:
    try:
        subprocess.run(["ninja", "--version"], capture_output=True, check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


setup(ext_modules=[CMakeExtension("aiowatchdog._native")], cmdclass={"build_ext": CMakeBuild})
