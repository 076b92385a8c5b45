"""The record type of ``jitimport.report()``, apart from the store; without ``typing`` at run time
(``install()`` and a warm import of a pragma module never load it)."""
from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import NamedTuple

    class FunctionReport(NamedTuple):
        """One function the hook looked at."""

        module: str
        qualname: str
        native: bool
        reason: str | None  # None when native; otherwise why it stayed Python
else:
    FunctionReport = namedtuple("FunctionReport", ("module", "qualname", "native", "reason"))
    FunctionReport.__doc__ = "One function the hook looked at (reason: None when native, else why not)."

FunctionReport.__module__ = "jitimport.hook.reporting"  # where it is documented, imported and pickled from
