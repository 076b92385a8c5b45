"""``python -m jitimport [options] script.py|dir|zip|- [args]`` / ``python -m jitimport [options] -m module [args]``.

Runs the program with the import hook active exactly as plain ``python``
would (CPython's ``Modules/main.c``, ``pymain_run_python``, and
``_PyRun_SimpleFileObject``): the same ``sys.argv``, ``sys.path`` (symlinks
resolved, nothing added under ``-P``/``-I``), ``__main__`` namespace
(``__file__``, ``__loader__``, ``__annotations__``), output, traceback and exit
status (SIGINT for an uncaught KeyboardInterrupt).  A script with the
``# minijit: native`` pragma is itself compiled, so its own ``main()`` sees
native functions.

Module-level names here are not annotated: this module runs as the start-up
``__main__``, and the program's ``__main__`` copies whether that has an
``__annotations__`` dict.
"""
from __future__ import annotations

import builtins
import marshal
import os
import sys
import types
from importlib.machinery import BuiltinImporter, SourceFileLoader, SourcelessFileLoader
from importlib.util import MAGIC_NUMBER
from typing import Callable

USAGE = "usage: python -m jitimport [--report] [--stats-out FILE] [--] script.py|dir|zip|- [args ...]\n" \
        "       python -m jitimport [--report] [--stats-out FILE] -m module [args ...]\n" \
        "       python -m jitimport annotate path/to/module.py [-o out.html] [--text] [--stats stats.json]\n"

HELP = USAGE + """
Run a Python program with the jitimport import hook active: every module whose
header carries the comment line

    # minijit: native

gets its eligible functions (pure integer functions: arithmetic, branches,
loops) compiled to native x86-64 code as soon as each `def` runs; everything
else runs unchanged.  Put
`# minijit: skip` on a def line to keep that function in Python.

subcommand:
  annotate      `python -m jitimport annotate module.py` writes module.html:
                the source with each function marked native or Python, the
                reason at the line that keeps a function Python, and each
                native function's optimized IR and machine code folded under
                its def (`--text` prints it instead; `-o FILE`; `--stats FILE`
                shows call counts from a JSON file of the form
                {"qualname": {"native": N, "fallback": M}}).  See
                `python -m jitimport annotate --help`.  Only the bare first
                word `annotate` is the subcommand: `annotate.py` runs that
                script, and `python -m jitimport -- annotate` a script named
                annotate.

options:
  -m module     run a library module as a script (like python -m); the rest
                of the command line goes to the module as sys.argv[1:]
  -             read the program from stdin (like python -)
  --report      at exit, print (to stderr) which functions became native and
                which stayed Python, and why, with each native's calls and how
                many fell back to Python (and why)
  --stats-out FILE
                at exit, write the call statistics of every native as JSON,
                {"module:qualname": {"native": N, "fallback": M,
                "fallbacks": {cause: count}}}: give it to `annotate --stats`
  -V, --version print the jitimport version and exit
  -h, --help    show this help and exit
  --            end of options (the next argument is the script)

environment variables:
  JITIMPORT=1          activate the hook in every interpreter that starts (via
                       the jitimport.pth file installed with the package), for
                       the modules it imports; a main script with the pragma
                       still needs `python -m jitimport script.py`
  JITIMPORT_DISABLE=1  kill switch: install(), `python -m jitimport` and
                       JITIMPORT=1 then leave everything in plain Python
  JITIMPORT_REPORT=1   print the report at exit (same as --report)
  JITIMPORT_VERIFY=1   verify mode: every native call also runs the Python
                       original; a difference raises jitimport.VerificationError

Accepted values: 1/true/yes/on and 0/false/no/off; anything else gets one
warning and counts as off, except for JITIMPORT_DISABLE, where it counts as
set (the safe side).

in code:
  import jitimport
  jitimport.install()                   # idempotent; returns a handle
  with jitimport.install(): ...         # hook active inside the block
  jitimport.install(include=["pkg.mod"])  # also compile modules without the pragma
  jitimport.report()                    # [(module, qualname, native, reason), ...]
  jitimport.stats()                     # [CallStats(module, qualname, calls, native, fallback...)]
"""


class UsageError(Exception):
    """Bad command line: print the usage and exit with status 2, like python does."""


def parse(argv: list[str]) -> tuple[dict[str, object], str | None, str | None, list[str]]:
    """Split argv into (options, script, module, program args)."""
    options: dict[str, object] = {"report": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            options["help"] = True
            return options, None, None, []
        if arg in ("-V", "--version"):
            options["version"] = True
            return options, None, None, []
        if arg == "--report":
            options["report"] = True
        elif arg == "--stats-out" or arg.startswith("--stats-out="):
            value = arg.partition("=")[2] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            if not value:
                raise UsageError("argument --stats-out: expected a file name")
            options["stats_out"] = value
            i += 0 if "=" in arg else 1
        elif arg == "-m":
            if i + 1 >= len(argv):
                raise UsageError("argument -m: expected a module name")
            return options, None, argv[i + 1], argv[i + 2:]
        elif arg.startswith("-m") and len(arg) > 2:
            return options, None, arg[2:], argv[i + 1:]
        elif arg == "--":
            if i + 1 >= len(argv):
                raise UsageError("expected a script after --")
            return options, argv[i + 1], None, argv[i + 2:]
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option: {arg}")
        else:
            return options, arg, None, argv[i + 1:]
        i += 1
    raise UsageError("nothing to run: give a script or -m module")


class _Program:
    """One run of the user's program in a fresh ``__main__``, set up as CPython's own command line does.

    ``python -m jitimport`` itself runs as the start-up ``__main__`` (runpy
    executes this file in that module), so the program gets a new module,
    installed in ``sys.modules`` for good like plain python's (atexit handlers,
    pickling of ``__main__`` objects, ``python -i``).
    """

    def __init__(self, startup_main: types.ModuleType | None) -> None:
        self.module = _fresh_main(startup_main)
        #: True while ``__file__``/``__cached__`` were set by us and are ours to delete.
        self.owns_file = False

    def run_module(self, name: str, args: list[str]) -> int:
        """``python -m name args``: runpy finds the module (through the hook) and runs it here."""
        sys.argv[:] = ["-m", *args]  # "-m" until runpy has found the module, then its file
        _runpy_main(name, True)
        return 0

    def run_path(self, path: str, args: list[str]) -> int:
        """``python path args``: a directory or zip archive runs its ``__main__``; a file runs as the script."""
        sys.argv[:] = [path, *args]
        filename = _cpython_abspath(path)
        if _has_main_importer(filename):
            _set_path0(filename, even_if_safe=True)
            _runpy_main("__main__", False)
            return 0
        _set_path0(_script_dir(path), even_if_safe=False)
        try:
            with open(filename, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            sys.stderr.write(f"{_program_name()}: can't open file {filename!r}: [Errno {exc.errno}] {exc.strerror}\n")
            return 2
        self._run_file(data, filename, from_stdin=False)
        return 0

    def run_stdin(self, args: list[str]) -> int:
        """``python - args``: the program is the whole of stdin, named ``<stdin>``."""
        sys.argv[:] = ["-", *args]
        _set_path0(_script_dir("-"), even_if_safe=False)
        data = sys.stdin.buffer.read() if sys.stdin is not None else b""
        self._run_file(data, "<stdin>", from_stdin=True)
        return 0

    def _run_file(self, data: bytes, filename: str, *, from_stdin: bool) -> None:
        """CPython's ``_PyRun_SimpleFileObject``: source or bytecode, with its ``__file__`` and ``__loader__``."""
        namespace = self.module.__dict__
        namespace["__file__"] = filename
        namespace["__cached__"] = None
        self.owns_file = True
        bytecode = filename.endswith(".pyc") or (not from_stdin and data[:2] == MAGIC_NUMBER[:2])
        if bytecode:
            namespace["__loader__"] = SourcelessFileLoader("__main__", filename)
        elif not from_stdin:  # stdin keeps the start-up BuiltinImporter
            namespace["__loader__"] = SourceFileLoader("__main__", filename)
        _exec_program(_compile_program(data, filename, bytecode), namespace)

    def forget_file(self) -> None:
        """Once the script has returned or raised (not on SystemExit), CPython deletes these two names."""
        if self.owns_file:
            self.owns_file = False
            self.module.__dict__.pop("__file__", None)
            self.module.__dict__.pop("__cached__", None)


def _fresh_main(startup_main: types.ModuleType | None) -> types.ModuleType:
    """A ``__main__`` as the interpreter creates it at start-up (``add_main_module``).

    What the interpreter put in the start-up ``__main__`` and runpy does not
    overwrite is carried over: the builtins and, where the interpreter starts
    ``__main__`` with one, an empty ``__annotations__`` (so this file must not
    annotate module-level names).
    """
    module = types.ModuleType("__main__")
    if startup_main is not None and "__annotations__" in vars(startup_main):
        module.__dict__["__annotations__"] = {}
    module.__dict__["__builtins__"] = builtins
    module.__loader__ = BuiltinImporter
    return module


def _cpython_abspath(path: str) -> str:
    """The script's ``__file__``: the working directory joined to the path as given, not normalized.

    CPython (``config_run_filename_abspath``) gives ``python ./a/../s.py`` the
    ``__file__`` ``cwd + "/./a/../s.py"``; it keeps a relative path when the
    working directory is gone.
    """
    if os.path.isabs(path):
        return path
    try:
        cwd = os.getcwd()
    except OSError:
        return path
    return cwd if path in ("", ".") else cwd + os.sep + path


def _script_dir(argv0: str) -> str:
    """The ``sys.path[0]`` plain python gives a script (``_PyPathConfig_ComputeSysPath0``).

    The directory of the script's real path, so a symlinked script imports
    from its target's directory; ``""`` when the name has no directory part
    and does not exist (``-`` for stdin).
    """
    try:
        path = os.path.realpath(argv0, strict=True)
    except (OSError, ValueError):
        path = argv0
    head, sep, _ = path.rpartition(os.sep)
    if not sep:
        return ""
    return head or os.sep


def _set_path0(entry: str, *, even_if_safe: bool) -> None:
    """Put ``entry`` on ``sys.path`` where plain python would have.

    ``python -m jitimport`` put the working directory at ``sys.path[0]``,
    unless ``-P``/``-I`` (``sys.flags.safe_path``) or a vanished working
    directory stopped it; plain python would have put ``entry`` there instead.
    Under ``-P``/``-I`` plain python adds nothing for a script or stdin, but
    still adds a directory or zip archive that it runs.
    """
    if sys.flags.safe_path:
        if even_if_safe:
            sys.path.insert(0, entry)
        return
    try:
        os.getcwd()
    except OSError:
        sys.path.insert(0, entry)
        return
    if sys.path:
        sys.path[0] = entry
    else:
        sys.path.append(entry)


def _has_main_importer(filename: str) -> bool:
    """A directory or zip archive (whatever its name): python runs its ``__main__`` module (``pymain_get_importer``)."""
    from pkgutil import get_importer

    return get_importer(filename) is not None


def _program_name() -> str:
    """The interpreter as the user invoked it: how python starts its own error messages."""
    return sys.orig_argv[0] if sys.orig_argv else sys.executable


def _compile_program(data: bytes, filename: str, bytecode: bool) -> types.CodeType:
    """The program's code object (through the hook when it has the pragma).

    Its frame marks a compile error: plain python shows no frames for it.
    """
    if bytecode:
        return _code_from_pyc(data)
    from .hook.activate import is_installed
    from .hook.pragma import source_has_pragma

    if is_installed() and source_has_pragma(data):
        from .hook.loader import JitSourceFileLoader
        from .hook.transform import bind_runtime

        return bind_runtime(JitSourceFileLoader("__main__", filename).source_to_code(data, filename))
    return compile(data, filename, "exec", dont_inherit=True)


def _code_from_pyc(data: bytes) -> types.CodeType:
    """CPython's ``run_pyc_file``: magic number, 12 more header bytes, then a marshalled code object."""
    if data[:4] != MAGIC_NUMBER:
        raise RuntimeError("Bad magic number in .pyc file")
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        code = None
    if not isinstance(code, types.CodeType):  # raised outside the handler: no chained context
        raise RuntimeError("Bad code object in .pyc file")
    return code


def _exec_program(code: types.CodeType, namespace: dict[str, object]) -> None:
    """Run the program; the traceback plain python shows starts right below this frame."""
    exec(code, namespace)


def _runpy_main(name: str, alter_argv: bool) -> None:
    """What CPython's ``pymain_run_module`` calls for ``-m``, directories and zip apps.

    ``runpy._run_module_as_main`` is private, but it is the very function
    python's command line runs, so the program gets the same module set-up,
    errors ("No module named ...", exit status 1) and traceback frames.  The
    traceback plain python shows starts right below this frame.
    """
    import runpy

    runpy._run_module_as_main(name, alter_argv)  # type: ignore[attr-defined]  # private, not in typeshed


def _program_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The part of ``tb`` that plain python would show: what follows the runner's frames."""
    entry = tb
    while entry is not None:
        code = entry.tb_frame.f_code
        if code is _exec_program.__code__ or code is _runpy_main.__code__:
            return entry.tb_next
        if code is _compile_program.__code__:
            return None
        entry = entry.tb_next
    return tb  # not from the program: a fault of the runner itself, shown whole


class _PlainTraceback:
    """A one-shot ``sys.excepthook`` that prints the program's uncaught exception as plain python does.

    The exception propagates out of the runner instead of being printed here,
    so that the interpreter ends the process as it would for plain python:
    exit status 1, or, for a KeyboardInterrupt, death by SIGINT after the
    usual finalization (status -2, 130 in a shell).  The interpreter prints it
    through ``sys.excepthook`` with the runner's frames on top; this hook cuts
    them off and hands over to the hook it replaced (the program's own, if it
    set one).
    """

    def __init__(self, exc: BaseException, after: Callable[[], None]) -> None:
        self.exc = exc
        self.after = after
        self.previous: Callable[[type[BaseException], BaseException, types.TracebackType | None], object] | None
        self.previous = getattr(sys, "excepthook", None)

    def install(self) -> None:
        if self.previous is not None:  # a program that deleted the hook gets the interpreter's fallback
            sys.excepthook = self

    def __call__(self, exc_type: type[BaseException], value: BaseException,
                 tb: types.TracebackType | None) -> object:
        previous = self.previous
        assert previous is not None  # install() installs this hook only when there is one to hand over to
        if sys.excepthook is self:
            sys.excepthook = previous
        if value is not self.exc:
            return previous(exc_type, value, tb)
        shown = _program_traceback(tb)
        value.__traceback__ = shown  # the default hook prints the exception's own traceback
        if getattr(sys, "last_traceback", None) is tb:
            sys.last_traceback = shown
        try:
            return previous(exc_type, value, shown)
        finally:
            self.after()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status.

    An uncaught exception of the program propagates (after arranging for its
    traceback to be printed without the runner's frames), so the interpreter
    ends the process exactly as it would have for plain python.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["annotate"]:  # the subcommand: only the bare word (annotate.py is a script to run)
        from .annotate import main as annotate

        return annotate(argv[1:])
    try:
        options, script, module, args = parse(argv)
    except UsageError as exc:
        sys.stderr.write(USAGE + f"python -m jitimport: error: {exc}\n")
        return 2
    if options.get("help"):
        sys.stdout.write(HELP)
        return 0
    if options.get("version"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            sys.stdout.write(f"jitimport {version('jitimport')}\n")
        except PackageNotFoundError:
            sys.stdout.write("jitimport (not installed)\n")
        return 0
    from .hook import install
    from .hook.reporting import print_at_exit

    if options["report"]:
        print_at_exit()
    if options.get("stats_out"):
        from .callstats import write_json_at_exit

        write_json_at_exit(str(options["stats_out"]))
    install()
    program = _Program(sys.modules.get("__main__"))
    sys.modules["__main__"] = program.module
    try:
        if module is not None:
            status = program.run_module(module, args)
        elif script == "-":
            status = program.run_stdin(args)
        else:
            assert script is not None  # parse() gives a script or a module (None for both: --help, --version)
            status = program.run_path(script, args)
    except SystemExit:
        raise  # CPython exits at once: __file__ stays for the atexit handlers
    except BaseException as exc:
        _PlainTraceback(exc, after=program.forget_file).install()
        raise
    program.forget_file()
    return status


if __name__ == "__main__":
    sys.exit(main())
