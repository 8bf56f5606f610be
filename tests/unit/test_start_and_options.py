"""hang_inspection.start's contract at its boundary: every bad option or
directory is refused at start with a message naming the value, stopping is
idempotent, and a Dumper works as a sync and an async context manager."""
from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiowatchdog import hang_inspection
from aiowatchdog._options import Options, default_signal

bad_seconds = st.one_of(
    st.floats(max_value=0.0),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e7]),
    st.integers(max_value=0),
)
not_numbers = st.one_of(st.text(), st.none(), st.booleans(), st.lists(st.integers()))


@given(value=bad_seconds)
def test_bad_interval_is_a_value_error_naming_it(value):
    with pytest.raises(ValueError, match=r"^interval must be .*got " + _re(value)):
        Options(interval=value)


@given(value=bad_seconds)
def test_bad_sample_interval_is_a_value_error_naming_it(value):
    with pytest.raises(ValueError, match=r"^sample_interval must be .*got " + _re(value)):
        Options(sample_interval=value)


@given(value=not_numbers)
def test_non_numbers_are_type_errors(value):
    with pytest.raises(TypeError, match=r"^interval must be a number of seconds, got "):
        Options(interval=value)


@given(value=st.integers(max_value=0))
def test_samples_below_one_are_refused(value):
    with pytest.raises(ValueError, match=rf"^samples must be >= 1, got {value}$"):
        Options(samples=value)


@pytest.mark.parametrize("value", [0, -1, 0.0, 1000.5, 1e9, math.nan, math.inf])
def test_profile_hz_out_of_range_is_a_value_error_naming_it(value):
    with pytest.raises(ValueError, match=r"^profile_hz must be > 0 and <= 1000 .*got " + _re(value)):
        Options(profile_hz=value)


@pytest.mark.parametrize("value", [True, "100", [100]])
def test_profile_hz_of_the_wrong_type_is_a_type_error(value):
    with pytest.raises(TypeError, match=r"^profile_hz must be a number or None, got "):
        Options(profile_hz=value)


def test_profile_hz_accepts_ints_and_floats_and_none():
    assert Options(profile_hz=100).profile_hz == 100.0
    assert Options(profile_hz=0.5).profile_hz == 0.5
    assert Options().profile_hz is None


COUNT_LIMITS = {"max_threads": 2**31 - 1, "max_reports": 2**31 - 1, "max_bytes": 2**63 - 1,
                "max_episodes_per_minute": 2**31 - 1}


@given(name=st.sampled_from(sorted(COUNT_LIMITS)), data=st.data())
def test_counts_out_of_range_are_value_errors_naming_them(name, data):
    value = data.draw(st.one_of(st.integers(max_value=0),
                                st.integers(min_value=COUNT_LIMITS[name] + 1)))
    with pytest.raises(ValueError, match=rf"^{name} must be from 1 to \d+, got {value}$"):
        Options(**{name: value})


@given(name=st.sampled_from(sorted(COUNT_LIMITS)),
       value=st.one_of(st.booleans(), st.floats(), st.text(), st.none()))
def test_counts_must_be_ints(name, value):
    with pytest.raises(TypeError, match=rf"^{name} must be an int, got "):
        Options(**{name: value})


@given(name=st.sampled_from(sorted(COUNT_LIMITS)), data=st.data())
def test_counts_in_range_are_kept(name, data):
    value = data.draw(st.integers(1, COUNT_LIMITS[name]))
    assert getattr(Options(**{name: value}), name) == value


@given(value=st.one_of(st.integers(max_value=33), st.integers(min_value=65)))
def test_signal_must_be_real_time(value):
    with pytest.raises(ValueError, match=rf"^signal must be a real-time signal .*got {value}$"):
        Options(signal=value)


@given(interval=st.floats(min_value=0.01, max_value=1e3), samples=st.integers(1, 1000),
       sample_interval=st.floats(min_value=1e-3, max_value=1e3))
def test_good_values_are_kept(interval, samples, sample_interval):
    options = Options(interval=interval, samples=samples, sample_interval=sample_interval)
    assert (options.interval, options.samples, options.sample_interval) == (
        interval, samples, sample_interval)
    assert options.signal == default_signal()


@given(value=st.floats(min_value=1e-300, max_value=0.01, exclude_max=True))
def test_interval_below_its_floor_is_a_value_error_naming_it(value):
    with pytest.raises(ValueError, match=r"^interval must be at least 0.01 seconds, got " + _re(value)):
        Options(interval=value)


def test_the_native_binding_checks_with_the_same_messages():
    """module.cc defers to _options: the same words from either door."""
    from aiowatchdog import _native

    common = dict(samples=1, sample_interval=1.0, python_version="")
    for kwargs, message in [
        (dict(output_dir="/tmp/x", interval=1e-9), "interval must be at least 0.01 seconds, got 1e-09"),
        (dict(output_dir="/tmp/x", interval=math.nan), "interval must be a finite number of seconds > 0, got nan"),
        (dict(output_dir="", interval=0.25), "stack_output_dir must not be empty"),
        (dict(output_dir=b"", interval=0.25), "stack_output_dir must not be empty"),
        (dict(output_dir="/tmp/x", interval=0.25, max_reports=0), "max_reports must be from 1 to"),
        (dict(output_dir="/tmp/x", interval=0.25, file_mode=0o666), "file_mode must not be writable by others, got 0o666"),
    ]:
        with pytest.raises(ValueError) as native:
            _native.Watchdog(**common, **kwargs)
        assert str(native.value).startswith(message), (kwargs, native.value)
    for name, value in [("interval", 1e-9), ("interval", math.inf), ("max_reports", 0),
                        ("file_mode", 0o666), ("dir_mode", 0o600), ("dir_mode", 0o770),
                        ("file_mode", 0o4600)]:
        with pytest.raises(ValueError) as python:
            Options(**{name: value})
        with pytest.raises(ValueError) as native:
            _native.Watchdog(**common, **{"output_dir": "/tmp/x", "interval": 0.25, name: value})
        assert str(python.value) == str(native.value)


@pytest.mark.parametrize("path", ["", b""])
def test_an_empty_directory_is_refused_and_nothing_is_written(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def main():
        hang_inspection.start(path)

    with pytest.raises(ValueError, match=r"^stack_output_dir must not be empty"):
        asyncio.run(main())
    assert os.listdir(tmp_path) == []


def _re(value) -> str:
    import re

    return re.escape(repr(value))


def run_in_loop(coro_fn):
    return asyncio.run(coro_fn())


def test_start_checks_options_before_touching_the_directory(tmp_path):
    async def go():
        with pytest.raises(ValueError, match="interval"):
            hang_inspection.start(tmp_path / "new", interval=-1)
    run_in_loop(go)
    assert not (tmp_path / "new").exists()


def test_start_creates_missing_parents(tmp_path):
    async def go():
        async with hang_inspection.start(tmp_path / "a" / "b" / "c") as dumper:
            assert dumper.running
        assert not dumper.running
    run_in_loop(go)
    assert (tmp_path / "a" / "b" / "c").is_dir()


def test_a_file_is_not_a_directory(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")

    async def go():
        with pytest.raises(NotADirectoryError, match="stack_output_dir is not a directory") as e:
            hang_inspection.start(path)
        assert e.value.filename == str(path)
        with pytest.raises(NotADirectoryError):
            hang_inspection.start(path / "below")
    run_in_loop(go)


@pytest.mark.parametrize("case, message", [
    ("locked", "stack_output_dir is not writable (Permission denied)"),
    ("locked/below", "stack_output_dir cannot be created (Permission denied)"),
])
def test_an_unwritable_directory_fails_at_start(case, message):
    # As root permission bits do not apply, so the check runs as nobody, in a
    # directory nobody can reach (pytest's tmp_path is private to root).
    base = tempfile.mkdtemp(prefix="aiowatchdog-perm-")
    try:
        os.chmod(base, 0o755)
        os.mkdir(os.path.join(base, "locked"), mode=0o555)
        directory = os.path.join(base, case)
        program = textwrap.dedent(f"""
            import asyncio, os
            from aiowatchdog import hang_inspection
            if os.getuid() == 0:
                os.setgid(65534); os.setuid(65534)
            async def main():
                try:
                    hang_inspection.start({directory!r})
                except PermissionError as e:
                    print("PermissionError", e.filename, e.strerror)
            asyncio.run(main())
        """)
        out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                             cwd="/", timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"PermissionError {directory} {message}"
    finally:
        shutil.rmtree(base)


def test_start_needs_a_loop(tmp_path):
    with pytest.raises(RuntimeError, match="needs a running event loop, or pass loop="):
        hang_inspection.start(tmp_path)


def test_start_with_loop_argument_from_another_thread(tmp_path):
    loop = asyncio.new_event_loop()
    try:
        dumper = hang_inspection.start(tmp_path, loop=loop)
        loop.run_until_complete(asyncio.sleep(0.05))
        hang_inspection.stop(dumper)
    finally:
        loop.close()
    assert not dumper.running


def test_stopping_twice_is_harmless(tmp_path):
    async def go():
        dumper = hang_inspection.start(tmp_path)
        await hang_inspection.stop_wait(dumper)
        await hang_inspection.stop_wait(dumper)
        hang_inspection.stop(dumper)
        assert "stopped" in repr(dumper)
    run_in_loop(go)


def test_sync_context_manager(tmp_path):
    async def go():
        with hang_inspection.start(tmp_path, interval=0.05) as dumper:
            await asyncio.sleep(0.1)
        assert not dumper.running
        assert dumper.episodes == 0
    run_in_loop(go)


@settings(max_examples=20, deadline=None)
@given(interval=st.floats(min_value=0.01, max_value=2.0))
def test_stop_wait_is_prompt_whatever_the_interval(tmp_path_factory, interval):
    directory = tmp_path_factory.mktemp("prompt")

    async def go():
        dumper = hang_inspection.start(directory, interval=interval)
        await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await hang_inspection.stop_wait(dumper)
        return loop.time() - started
    took = run_in_loop(go)
    # Generous against a busy machine; a stop that slept out the interval
    # would take up to `interval` (2 s).
    assert took < 0.25
