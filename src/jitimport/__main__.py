"""``python -m jitimport [options] script.py [args]`` / ``python -m jitimport [options] -m module [args]``.

Runs the program with the import hook active, as plain ``python`` would run
it: same ``sys.argv``, ``__name__ == "__main__"``, ``sys.path[0]``, exit code
and uncaught-exception traceback.  A script with the ``# minijit: native``
pragma is itself compiled, so its own ``main()`` sees native functions.
"""
from __future__ import annotations

import os
import sys

USAGE = "usage: python -m jitimport [--report] [--] script.py [args ...]\n" \
        "       python -m jitimport [--report] -m module [args ...]\n"

HELP = USAGE + """
Run a Python program with the jitimport import hook active: every module whose
header carries the comment line

    # minijit: native

gets its eligible functions (branchless integer arithmetic) compiled to native
x86-64 code as soon as each `def` runs; everything else runs unchanged.  Put
`# minijit: skip` on a def line to keep that function in Python.

options:
  -m module     run a library module as a script (like python -m); the rest
                of the command line goes to the module as sys.argv[1:]
  --report      at exit, print (to stderr) which functions became native and
                which stayed Python, and why
  --version     print the jitimport version and exit
  -h, --help    show this help and exit
  --            end of options (the next argument is the script)

environment variables:
  JITIMPORT=1          activate the hook in every interpreter that starts (via
                       the jitimport.pth file installed with the package); no
                       code change and no `-m jitimport` needed
  JITIMPORT_DISABLE=1  kill switch: install(), `python -m jitimport` and
                       JITIMPORT=1 then leave everything in plain Python
  JITIMPORT_REPORT=1   print the report at exit (same as --report)

Accepted values: 1/true/yes/on and 0/false/no/off; anything else gets one
warning and does not activate anything.

in code:
  import jitimport
  jitimport.install()                   # idempotent; returns a handle
  with jitimport.install(): ...         # hook active inside the block
  jitimport.install(include=["pkg.mod"])  # also compile modules without the pragma
  jitimport.report()                    # [(module, qualname, native, reason), ...]
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
        if arg == "--version":
            options["version"] = True
            return options, None, None, []
        if arg == "--report":
            options["report"] = True
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


def _trimmed(tb):
    """Drop the leading frames that belong to jitimport / runpy, like plain python's traceback."""
    here = os.path.abspath(__file__)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == here or filename.endswith(("runpy.py", "<frozen runpy>")):
            tb = tb.tb_next
            continue
        break
    return tb


def _run_script(path: str, args: list[str]) -> None:
    """Run ``path`` as ``__main__`` (compiled through the hook when it has the pragma)."""
    import runpy

    sys.argv[:] = [path, *args]
    if os.path.isdir(path) or not os.path.isfile(path) or path.endswith((".zip", ".pyz")):
        # Directories and zip apps: runpy puts them on sys.path and imports
        # __main__ through the import system (so through the hook).
        if not os.path.exists(path):
            sys.stderr.write(f"{sys.executable}: can't open file {os.path.abspath(path)!r}: "
                             f"[Errno 2] No such file or directory\n")
            raise SystemExit(2)
        runpy.run_path(path, run_name="__main__")
        return
    import builtins
    import types
    from importlib.machinery import SourceFileLoader

    abspath = os.path.abspath(path)
    sys.path[0] = os.path.dirname(abspath)
    with open(abspath, "rb") as fh:
        source = fh.read()
    code = None
    from .hook.activate import is_installed

    if is_installed():
        from .hook.pragma import source_has_pragma

        if source_has_pragma(source):
            from .hook.loader import JitSourceFileLoader

            code = JitSourceFileLoader("__main__", abspath).source_to_code(source, abspath)
    if code is None:
        code = compile(source, abspath, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__dict__.update({
        "__file__": abspath,
        "__cached__": None,
        "__loader__": SourceFileLoader("__main__", abspath),
        "__spec__": None,
        "__builtins__": builtins,
    })
    # Like plain python, the script's module stays sys.modules["__main__"] for good
    # (atexit handlers, pickling by reference of __main__ objects).
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (exceptions of the program propagate)."""
    argv = list(sys.argv[1:] if argv is None else argv)
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
    install()
    try:
        if module is not None:
            import runpy

            sys.argv[:] = [module, *args]  # run_module(alter_sys=True) sets argv[0] to the file
            error = getattr(runpy, "_Error", None)
            details = getattr(runpy, "_get_module_details", None)
            if error is not None and details is not None:
                try:
                    details(module, error)  # "No module named ...", as python -m reports it
                except error as exc:
                    sys.stderr.write(f"{sys.executable}: {exc}\n")
                    return 1
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            _run_script(script, args)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        # Print the traceback as plain python would (without our frames) and exit 1.
        tb = _trimmed(exc.__traceback__)
        exc.__traceback__ = tb  # the default hook prints the exception's own traceback
        sys.excepthook(type(exc), exc, tb)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
