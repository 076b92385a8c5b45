"""What became native and what stayed Python, as data (``report()``) and as text at exit.

Records come from the swap decorator, the post-import ``include=`` hook and
the install-time pass over already-imported modules.  There is one record per
function, keyed by (module, qualname): a reload replaces the record instead of
adding one, so a long-running process that reloads modules does not grow.
The store is a dict behind a lock: imports can happen on several threads at
once.

``JITIMPORT_REPORT=1`` start-up imports this module, so it imports nothing
that is not loaded already: the lock comes from ``_thread`` rather than
``threading``, and :class:`FunctionReport` (a ``typing.NamedTuple``) lives in
``function_report`` and is loaded with the first record.  ``install()`` does
not import it at all unless there is something to report.
"""
import sys
from _thread import allocate_lock

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from typing import TextIO

    from ..callstats import CallStats
    from .function_report import FunctionReport

_lock = allocate_lock()
#: (module, qualname) -> latest outcome; a dict keeps the first-seen order of its keys.
_records: "dict[tuple[str, str], FunctionReport]" = {}
_notes: list[str] = []
_requested = False


def __getattr__(name: str) -> object:
    """``reporting.FunctionReport`` (kept importable from here) without loading ``typing`` at install."""
    if name == "FunctionReport":
        from .function_report import FunctionReport

        return FunctionReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def record(module: str, qualname: str, native: bool, reason: str | None = None) -> None:
    """Remember the outcome for one function (a later outcome for the same name replaces it)."""
    from .function_report import FunctionReport

    entry = FunctionReport(module, qualname, native, reason)
    with _lock:
        _records[module, qualname] = entry


def mark_requested() -> None:
    """The hook was asked for (whatever came of it): the report is about the hook, not its absence."""
    global _requested
    _requested = True


def _install_called() -> bool:
    """``install()`` ran (it keeps the flag itself, so that it need not import this module)."""
    activate = sys.modules.get(f"{__package__}.activate")
    return bool(getattr(activate, "requested", False))


def note(message: str) -> None:
    """Add a line printed at the top of the exit report (e.g. 'disabled by ...')."""
    with _lock:
        if message not in _notes:
            _notes.append(message)


def report() -> "list[FunctionReport]":
    """Every function seen so far, latest outcome per (module, qualname), in first-seen order."""
    with _lock:
        return list(_records.values())


def format_report() -> str:
    """Human-readable report, grouped by module."""
    rows = report()
    with _lock:
        notes = list(_notes)
    if not (_requested or _install_called()) and not rows:
        lines = [
            "jitimport report: the import hook is not active in this process, so no module was compiled on import",
            "  note: activate it with JITIMPORT=1, `python -m jitimport script.py`, or jitimport.install()",
        ]
        lines.extend(f"  note: {n}" for n in notes)
        return "\n".join(lines)
    native = sum(r.native for r in rows)
    lines = [f"jitimport report: {native} function(s) native, {len(rows) - native} kept in Python"]
    lines.extend(f"  note: {n}" for n in notes)
    modules: "dict[str, list[FunctionReport]]" = {}
    for r in rows:
        modules.setdefault(r.module, []).append(r)
    counts = _call_counts()
    for module, items in modules.items():
        lines.append(f"  {module}")
        width = max(len(r.qualname) for r in items)
        for r in items:
            if r.native:
                lines.extend(_native_lines(r.qualname, width, counts.get((module, r.qualname)), r.reason))
            else:
                lines.append(f"    python  {r.qualname.ljust(width)}  {r.reason}")
    return "\n".join(lines)


def _call_counts() -> "dict[tuple[str, str], CallStats]":
    """(module, qualname) -> CallStats of the live natives; empty when no native was ever compiled
    (the compiler loads ``callstats``: without it there is nothing to read, and nothing is imported)."""
    callstats = sys.modules.get(f"{__package__.rpartition('.')[0]}.callstats")
    return callstats.merged(callstats.stats()) if callstats is not None else {}


def _native_lines(qualname: str, width: int, counts: "CallStats | None", note: "str | None" = None) -> "list[str]":
    """A native's line, with its call counts when it was called, and the flag when most calls fell back;
    ``note`` ends the line in parentheses (``from cache``)."""
    suffix = f"  ({note})" if note else ""
    if counts is None or not counts.calls:
        return [f"    native  {qualname}{suffix}"]
    lines = [f"    native  {qualname.ljust(width)}  {counts.summary()}{suffix}"]
    pad = " " * (14 + width)
    lines.extend(f"{pad}{cause}" for cause in counts.cause_lines())
    warning = counts.warning()
    if warning:
        lines.append(f"{pad}! {warning}")
    return lines


def print_report(stream: "TextIO | None" = None) -> None:
    """Print the report (to stderr by default, so it never mixes with a program's stdout)."""
    stream = stream or sys.stderr
    try:
        stream.write(format_report() + "\n")
        stream.flush()
    except (OSError, ValueError):  # closed stream at exit: nothing sensible to do
        pass


_at_exit_registered = False


def print_at_exit() -> None:
    """Arrange for the report to be printed once when the interpreter exits."""
    global _at_exit_registered
    with _lock:
        if _at_exit_registered:
            return
        _at_exit_registered = True
    import atexit

    atexit.register(print_report)
