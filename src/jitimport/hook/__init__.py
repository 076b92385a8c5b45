"""The import hook: ``# minijit: native`` modules get native functions on import.

Only ``install``, ``uninstall`` and ``report`` are public (re-exported by
``jitimport``).  Importing this package is cheap, and so is ``install()``: it
puts the finder on ``sys.meta_path`` and nothing more.  The AST transform and
the loader are loaded at the first pragma module, the compiler, the C-API glue
and the platform probe when its first function is compiled, and wrapt only
when ``include=`` is used.  (``JITIMPORT=1`` runs ``install()`` in every
interpreter that starts, so this package imports nothing at start-up that
``python -c pass`` does not load already: no ``typing``, ``logging``,
``threading``, ``re`` or ``ctypes``.)
"""
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from .activate import Handle
    from .function_report import FunctionReport
    from .reporting import report

__all__ = ["install", "uninstall", "report", "FunctionReport"]


def install(include: "Iterable[str] | None" = None) -> "Handle":
    """Activate the import hook (idempotent); returns a handle / context manager.

    ``include`` names modules *without* the pragma to compile when they are
    imported (or right away when they already are).
    """
    from .activate import install as _install

    return _install(include)


def uninstall() -> None:
    """Remove the hook; functions that are already native stay native."""
    from .activate import uninstall as _uninstall

    _uninstall()


def __getattr__(name: str) -> object:
    """``report`` and ``FunctionReport`` come from ``reporting``, loaded on first use."""
    if name in ("report", "FunctionReport"):
        from . import reporting

        return getattr(reporting, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
