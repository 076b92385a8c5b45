"""The import hook: ``# minijit: native`` modules get native functions on import.

Only ``install``, ``uninstall`` and ``report`` are public (re-exported by
``jitimport``).  Importing this package is cheap: the finder, the AST
transform and wrapt are loaded only when ``install()`` is called.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .reporting import FunctionReport, report

if TYPE_CHECKING:  # pragma: no cover
    from .activate import Handle

__all__ = ["install", "uninstall", "report", "FunctionReport"]


def install(include: Iterable[str] | None = None) -> Handle:
    """Activate the import hook (idempotent); returns a handle / context manager.

    ``include`` names modules *without* the pragma to compile when they are
    imported (or right away when they already are).
    """
    from .activate import install as _install

    return _install(include)


def uninstall() -> None:
    """Remove the import hook; functions that are already native stay native."""
    from .activate import uninstall as _uninstall

    _uninstall()
