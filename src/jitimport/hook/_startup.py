"""Start-up from ``jitimport.pth`` (``JITIMPORT`` / ``JITIMPORT_REPORT`` set); must never crash start-up.

**The main script is not compiled.**  ``JITIMPORT=1 python app.py`` compiles
the pragma modules that ``app.py`` imports, but not ``app.py`` itself, even
with the pragma.  CPython runs the ``.pth`` files while ``site`` is imported,
and then ``Py_RunMain`` reads, compiles and executes the script file
directly: the import system (and so any finder or loader) is never asked, and
Python has no hook that sees a module-level ``def`` run.  Every way around it
would make ``python app.py`` differ from plain Python: re-executing the
interpreter as ``python -m jitimport app.py`` (another process start, a
different ``sys.orig_argv``), making CPython run the file through ``runpy``
with a ``sys.path_importer_cache`` entry (runpy frames in every traceback,
``sys.path[0]`` and ``__spec__`` set differently, which changes how
``multiprocessing`` re-imports the main module), executing the program from
inside an audit hook (tracing disabled) or tracing the script's lines
(every call slowed down).  So the script runs as CPython runs it, and when it
carries the pragma one warning (and a note in the report) says so and names
the command that does compile it: ``python -m jitimport app.py``.
"""
import os
import sys

#: ``sys.argv[0]`` while ``site`` runs, when the interpreter is not running a script file.
_NOT_A_SCRIPT = frozenset({"", "-", "-c", "-m"})


def run() -> None:
    """Arrange the report and install the hook, as the variables say (parsed by ``jitimport.config``)."""
    try:
        from jitimport import config

        if config.flag(config.REPORT):
            from .reporting import print_at_exit

            print_at_exit()  # says "not active" at exit unless the hook gets installed
        if config.flag(config.ACTIVATE):
            from .activate import install

            if install().active:
                _explain_main_script()
    except Exception as exc:  # pragma: no cover - defensive: never break interpreter start
        try:
            sys.stderr.write(f"jitimport: could not start from jitimport.pth: {exc!r}\n")
        except Exception:
            pass


def main_script() -> str | None:
    """The script file the interpreter is about to run (``python app.py``), else None.

    While ``site`` runs, ``sys.argv`` is already final: ``['app.py', ...]`` for
    a script, ``['-c']``/``['-m', ...]``/``['-']``/``['']`` otherwise.  A
    directory or zip application is run through the import system, so the
    hook sees its ``__main__`` module anyway.
    """
    argv = getattr(sys, "argv", None)
    if not argv or not isinstance(argv[0], str) or argv[0] in _NOT_A_SCRIPT:
        return None
    return argv[0] if os.path.isfile(argv[0]) else None


def _explain_main_script() -> None:
    """One warning and a report note when the main script carries the pragma (see the module docstring)."""
    script = main_script()
    if script is None:
        return
    from .pragma import has_pragma

    if not has_pragma(script):
        return
    from jitimport import config

    from . import reporting

    why = (f"{script} has the '# minijit: native' pragma, but a script run as `python {script}` is compiled "
           f"by CPython directly, not through the import system, so JITIMPORT=1 cannot compile its own "
           f"functions (the modules it imports are compiled); run `python -m jitimport {script}` to compile it too")
    reporting.note(why)
    config.warn_once("main script pragma", f"jitimport: {why}")
