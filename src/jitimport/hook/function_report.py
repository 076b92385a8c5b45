"""The record type of ``jitimport.report()``, apart from the store so that ``install()`` never loads ``typing``."""
from __future__ import annotations

from typing import NamedTuple


class FunctionReport(NamedTuple):
    """One function the hook looked at."""

    module: str
    qualname: str
    native: bool
    reason: str | None  # None when native; otherwise why it stayed Python


FunctionReport.__module__ = "jitimport.hook.reporting"  # where it is documented, imported and pickled from
