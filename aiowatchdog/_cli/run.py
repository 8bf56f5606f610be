"""Runs a Python program with the hang watchdog on every asyncio event loop
it runs, on any thread, without a change to its code: as `python -m cProfile`
does, the program runs as `python script.py args...` or `python -m module
args...` would (sys.argv, sys.path[0], `__main__`), and its exit code,
uncaught exception or fatal signal is the command's own.

Each loop that starts running (asyncio.run, run_until_complete, run_forever;
uvloop's too, as the program imports uvloop itself) gets a dumper, as from
hang_inspection.start(DIR, ...) on it; the dumper stops when the loop stops
running, and the next run gets a new one. Reports go to DIR; a hang is also
logged on the "aiowatchdog" logger when it ends. Nothing else is printed.

Every option can be set by an environment variable instead (handy in
containers), AIOWATCHDOG_ and the option's name: AIOWATCHDOG_DIR,
AIOWATCHDOG_INTERVAL, ..., AIOWATCHDOG_NATIVE_STACKS=0, AIOWATCHDOG_PROFILE_HZ;
an option on the command line wins over its variable, and an empty variable
counts as unset. Bad values stop the command before the program starts
(exit code 2).

examples:
  python -m aiowatchdog run server.py --port 8080
  python -m aiowatchdog run --dir /var/log/app/hangs --interval 0.5 -m myapp.server
  AIOWATCHDOG_DIR=/hangs AIOWATCHDOG_INTERVAL=0.5 python -m aiowatchdog run -m uvicorn app:app
"""
from __future__ import annotations

import argparse
import atexit
import dataclasses
import importlib.util
import os
import re
import runpy
import signal
import sys
import zipfile
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional

from .._options import DEFAULT_SIGNAL_OFFSET
from .._support import unsupported_reason
from ._errors import CliError

NAME = "run"
HELP = "run a script or module with the watchdog on every event loop it runs"

DEFAULT_DIR = "aiowatchdog-reports"
ENV_PREFIX = "AIOWATCHDOG_"


# --- Settings: one table for the options, their variables and their checks ---


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number of seconds") from None


def _count(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError("not a whole number") from None


_SIZE = re.compile(r"(\d+)([KMG]?)\Z", re.IGNORECASE)


def _bytes(text: str) -> int:
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError("not a number of bytes (digits, optionally followed by K, M or G)")
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]


_RT_SIGNAL = re.compile(r"(?:SIG)?RT(MIN|MAX)(?:([+-])(\d+))?\Z")


def _signal_number(text: str) -> int:
    """A number, or a name: SIGRTMIN+N, SIGRTMAX-N (SIG optional)."""
    name = text.strip().upper()
    if name.isdigit():
        return int(name)
    match = _RT_SIGNAL.match(name)
    if match is not None:
        base = int(signal.SIGRTMIN if match.group(1) == "MIN" else signal.SIGRTMAX)
        offset = int(match.group(3) or 0)
        return base + offset if match.group(2) != "-" else base - offset
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise ValueError("not a signal (a number, or SIGRTMIN+N)") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word not in _TRUE | _FALSE:
        raise ValueError("not a yes/no value (1, 0, true, false, yes, no, on, off)")
    return word in _TRUE


def _hz(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number of samples per second") from None


@dataclasses.dataclass(frozen=True)
class _Setting:
    """A keyword of hang_inspection.start, as an option and a variable."""

    keyword: str
    parse: Callable[[str], Any]
    metavar: str
    help: str
    default: Optional[str] = None  # as shown in --help; None: Options' default

    @property
    def option(self) -> str:
        return "--" + self.keyword.replace("_", "-")

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.keyword.upper()


_SETTINGS = [
    _Setting("interval", _seconds, "S",
             "a hang is a loop busy for longer than S seconds without coming back "
             "to its selector"),
    _Setting("samples", _count, "N", "stack samples per hang; the first at detection"),
    _Setting("sample_interval", _seconds, "S", "seconds between the samples of one hang"),
    _Setting("signal", _signal_number, "SIG",
             "the real-time signal that interrupts threads for a capture: a number or "
             "SIGRTMIN+N", default=f"SIGRTMIN+{DEFAULT_SIGNAL_OFFSET}"),
    _Setting("native_stacks", _flag, "",
             "merge native frames into the stacks; --no-native-stacks: Python frames only",
             default="on"),
    _Setting("max_threads", _count, "N", "threads sampled per capture, the loop's always"),
    _Setting("max_reports", _count, "N", "reports kept in DIR; the oldest go first"),
    _Setting("max_bytes", _bytes, "BYTES",
             "bytes the kept reports may take; a K, M or G suffix multiplies by 1024, 1024²..."),
    _Setting("max_episodes_per_minute", _count, "N",
             "hangs reported in any sliding minute; the others only counted"),
    _Setting("profile_hz", _hz, "HZ",
             "also profile the loop thread at HZ samples a second during each hang, "
             "0 < HZ <= 1000", default="off"),
]


def _option_defaults() -> Dict[str, Any]:
    """From Options, not start(): building the parser loads no native code."""
    from .._options import Options

    return {f.name: f.default for f in dataclasses.fields(Options)}


def register(parser: argparse.ArgumentParser) -> None:
    parser.usage = "%(prog)s [options] (script.py | -m module) [args ...]"
    parser.add_argument("-m", dest="module", action="store_true",
                        help="run a library module as a script, as python -m does: the first "
                        "argument after the options names it")
    parser.add_argument("--dir", metavar="DIR",
                        help=f"where reports go, created if need be (default ./{DEFAULT_DIR}; "
                        f"env {ENV_PREFIX}DIR)")
    defaults = _option_defaults()
    for setting in _SETTINGS:
        default = setting.default or defaults[setting.keyword]
        if setting.keyword == "max_bytes":
            default = f"{default >> 20}M"
        help_text = f"{setting.help} (default {default}; env {setting.variable})"
        if setting.parse is _flag:
            parser.add_argument(setting.option, dest=setting.keyword, default=None,
                                action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(setting.option, dest=setting.keyword, metavar=setting.metavar,
                                help=help_text)
    parser.add_argument("program", nargs=argparse.REMAINDER,
                        help="the script (or with -m, the module) and its arguments")


def _start_options(args: argparse.Namespace, environ: Mapping[str, str]) -> Dict[str, Any]:
    """The keywords for hang_inspection.start that were given, each checked
    as start() checks it; CliError names the option or variable and the value
    of the first bad one."""
    from .._options import Options

    options: Dict[str, Any] = {}
    for setting in _SETTINGS:
        given = getattr(args, setting.keyword)
        if given is not None:
            source, raw = setting.option, given
        else:
            source, raw = setting.variable, environ.get(setting.variable) or None
        if raw is None:
            continue
        where = f"{source}={raw!r}" if source.startswith(ENV_PREFIX) else f"{source} {raw!r}"
        try:
            value = raw if isinstance(raw, bool) else setting.parse(raw)
            Options(**{setting.keyword: value})
        except (TypeError, ValueError) as e:
            raise CliError(f"{where}: {e}") from None
        options[setting.keyword] = value
    try:  # every option together, as start() will
        Options(**options)
    except (TypeError, ValueError) as e:
        raise CliError(str(e)) from None
    return options


def _report_directory(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """DIR made absolute (the program may chdir), created and proved
    writable now, so that a bad one fails before the program starts."""
    from ..hang_inspection import prepare_report_directory

    variable = ENV_PREFIX + "DIR"
    if args.dir is not None:
        where, path = f"--dir {args.dir!r}", args.dir
    elif environ.get(variable):
        where, path = f"{variable}={environ[variable]!r}", environ[variable]
    else:
        where, path = f"the default directory {DEFAULT_DIR!r}", DEFAULT_DIR
    try:
        return prepare_report_directory(path)
    except ValueError as e:
        raise CliError(f"{where}: {e}") from None
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        if isinstance(e, PermissionError) and e.strerror and not e.errno:
            reason = e.strerror
        raise CliError(f"{where}: cannot write reports there: {reason}") from None


# --- The program ---


@dataclasses.dataclass(frozen=True)
class _Program:
    argv: List[str]  # sys.argv while it runs; argv[0] "-m" until the module is found
    module: Optional[str]  # -m's module, or None for a script
    path: str  # the script (absolute), else ""
    path0: str  # sys.path[0] while it runs


def _program(args: argparse.Namespace) -> _Program:
    if args.program[:1] == ["--"]:  # `run [options] -- script.py`: kept by REMAINDER
        del args.program[0]
    if not args.program:
        raise CliError("no program to run: give a script, or -m and a module")
    target, rest = args.program[0], args.program[1:]
    if args.module:
        if not target or target.startswith("."):
            raise CliError(f"-m {target!r}: relative module names are not supported")
        return _Program(["-m", *rest], target, "", os.getcwd())
    path = os.path.abspath(target)
    if os.path.isdir(path):
        if not any(os.path.exists(os.path.join(path, "__main__" + suffix))
                   for suffix in (".py", ".pyc")):
            raise CliError(f"can't find '__main__' module in {target!r}")
        return _Program([target, *rest], None, path, path)
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise CliError(f"can't open file {target!r}: [Errno {e.errno}] {e.strerror}") from None
    # A zip application is a sys.path entry itself, as for python.
    path0 = path if zipfile.is_zipfile(path) else os.path.dirname(os.path.realpath(path))
    return _Program([target, *rest], None, path, path0)


def _find_module(name: str) -> None:
    """Raises CliError as python -m would fail for a module not there.
    Imports the parent packages, as python -m does; an error inside one is
    the program's own and goes through."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            raise CliError(f"-m {name!r}: no module named {e.name!r}") from None
        raise
    if spec is None:
        raise CliError(f"-m {name!r}: no module named {name!r}")
    if spec.submodule_search_locations is not None:
        main = name + ".__main__"
        if importlib.util.find_spec(main) is None:
            raise CliError(f"-m {name!r}: no module named {main!r}; {name!r} is a package "
                           "and cannot be directly executed")


def _run(program: _Program) -> int:
    sys.argv = list(program.argv)
    if not (getattr(sys.flags, "safe_path", False) or sys.flags.isolated):
        sys.path[0] = program.path0  # python -m aiowatchdog put the cwd there
    try:
        if program.module is not None:
            _find_module(program.module)
            runpy.run_module(program.module, run_name="__main__", alter_sys=True)
        else:
            # __file__ absolute, as python gives it since 3.9 (so is argv[0] here).
            runpy.run_path(program.path, run_name="__main__")
    except (CliError, SystemExit):
        raise  # SystemExit: the interpreter exits with its code, as for the program
    except KeyboardInterrupt as e:
        # Uncaught, it makes the interpreter print it, finalize and then die
        # of SIGINT (-2 for the parent), as the program would: let it.
        _print_program_traceback_when_uncaught(e, _program_traceback(e.__traceback__))
        raise
    except BaseException as e:
        # The default hook prints e.__traceback__, whatever it is given.
        e.__traceback__ = _program_traceback(e.__traceback__)
        sys.excepthook(type(e), e, e.__traceback__)
        return 1
    return 0


_OURS = {__name__, "runpy"}


def _program_traceback(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """The traceback without our frames and runpy's: the program's, as
    python prints it (None for a SyntaxError in the script: no frames)."""
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in _OURS:
        tb = tb.tb_next
    return tb


def _print_program_traceback_when_uncaught(exception: BaseException,
                                           tb: Optional[TracebackType]) -> None:
    """For an exception leaving the command to the interpreter: the hook it
    calls (sys.excepthook as the program left it) gets the program's
    traceback, not one through the CLI and runpy."""
    hook = sys.excepthook

    def program_excepthook(kind: type, value: BaseException,
                           traceback: Optional[TracebackType]) -> None:
        sys.excepthook = hook
        if value is exception:
            value.__traceback__ = traceback = tb
        hook(kind, value, traceback)

    sys.excepthook = program_excepthook


def execute(args: argparse.Namespace) -> int:
    reason = unsupported_reason()
    if reason is not None:
        raise CliError(reason)  # before the program runs, not at its first loop
    options = _start_options(args, os.environ)
    program = _program(args)
    directory = _report_directory(args, os.environ)

    from .. import _loop_watchers
    from .._loop_dumpers import LoopDumpers

    dumpers = LoopDumpers(directory, options).open()
    _loop_watchers.see_uvloop_imported_later()
    # After the program's own atexit callbacks (registered later, run first)
    # and before hang_inspection's, which would find nothing left.
    atexit.register(dumpers.close)
    return _run(program)
