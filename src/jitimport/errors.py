"""Exceptions raised by jitimport's public API."""
from __future__ import annotations


class NotCompilable(Exception):
    """A function cannot be turned into native code; the message says why and where.

    ``reason`` is the human-readable cause, ``filename``/``lineno`` point at the
    offending expression when one is known (they come from the bytecode, so a
    function defined in a REPL still gets a line number).  ``unbound_globals``:
    the global names read that were unbound (the import hook compiles again once they are bound).
    """

    unbound_globals: frozenset[str] = frozenset()

    def __init__(self, reason: str, filename: str | None = None, lineno: int | None = None) -> None:
        super().__init__(reason, filename, lineno)
        self.reason = reason
        self.filename = filename
        self.lineno = lineno

    def __str__(self) -> str:
        if self.filename is None and self.lineno is None:
            return self.reason
        where = self.filename or "<unknown>"
        if self.lineno is not None:
            where = f"{where}:{self.lineno}"
        return f"{where}: {self.reason}"


class UnsupportedPlatform(NotCompilable):
    """Native code cannot run in this interpreter (architecture, OS, version, build)."""


class CompilerError(RuntimeError):
    """A bug in jitimport: a stage of the pipeline failed unexpectedly (never a refusal)."""

    def __init__(self, stage: str, detail: str, filename: str | None = None, lineno: int | None = None) -> None:
        where = f" ({filename}:{lineno})" if filename else ""
        super().__init__(f"internal error in the {stage} stage{where}: {detail}")
        self.stage = stage
        self.detail = detail
