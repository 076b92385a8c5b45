"""Call statistics: how often each native function ran natively, and why its other calls fell back.

Every native's machine code counts its calls (one ``add`` to memory at its entry, the only cost on
the native path) and, on the cold path of each exit, the exit's cause: keyword arguments or an
argument count it does not take, an argument that is not an exact int, one that does not fit in
64 bits, a default it cannot use, a name rebound since compiling, an overflow or an operation
Python raises on, or one of the IR's exits (a ``raise``, a construct not compiled), each with its
source line.  ``native`` is the calls minus the exits.

:func:`stats` reads the counters of every native compiled in this process (still alive), cheaply:
nothing is counted in Python.  ``JITIMPORT_REPORT=1``, ``--report`` and pytest's
``--jitimport-report`` print them; :func:`write_json` writes what ``python -m jitimport annotate
--stats`` reads.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiler import CompileInfo

#: Share of calls falling back from which a function is flagged (it likely runs slower than Python).
MOSTLY_FALLING_BACK = 0.5

#: native object -> its compile info, for every native compiled in this process (weakly).
_natives: weakref.WeakKeyDictionary[Any, CompileInfo] = weakref.WeakKeyDictionary()


class CallStats:
    """The counts of one native function."""

    __slots__ = ("module", "qualname", "calls", "fallbacks")

    def __init__(self, module: str, qualname: str, calls: int, fallbacks: dict[str, int]) -> None:
        self.module = module
        self.qualname = qualname
        #: Every call of the native object.
        self.calls = calls
        #: Cause -> calls that left the machine code for the Python original (non-zero only).
        self.fallbacks = fallbacks

    @property
    def fallback(self) -> int:
        return sum(self.fallbacks.values())

    @property
    def native(self) -> int:
        return self.calls - self.fallback

    @property
    def mostly_falls_back(self) -> bool:
        return self.calls > 0 and self.fallback >= MOSTLY_FALLING_BACK * self.calls

    def as_dict(self) -> dict[str, Any]:
        return {"module": self.module, "qualname": self.qualname, "calls": self.calls,
                "native": self.native, "fallback": self.fallback, "fallbacks": dict(self.fallbacks)}

    def __repr__(self) -> str:
        return (f"CallStats({self.module}.{self.qualname}: {self.calls} calls, {self.native} native, "
                f"{self.fallback} fell back)")


def register(native: Any, info: CompileInfo) -> None:
    """Called by the compiler for each new native (its counters live in ``info.buffers``)."""
    try:
        _natives[native] = info
    except TypeError:  # pragma: no cover - natives support weak references
        pass


def _read(native: Any, info: CompileInfo) -> CallStats | None:
    buffers = info.buffers
    if buffers is None:
        return None
    counts = list(buffers.counters)
    fallbacks: dict[str, int] = {}
    for cause, count in zip(info.causes[1:], counts[1:]):
        if count:
            fallbacks[cause] = fallbacks.get(cause, 0) + count
    module = getattr(native, "__module__", None) or "?"
    return CallStats(module, info.name, counts[0], fallbacks)


def stats(fn: Any = None) -> list[CallStats]:
    """The call statistics of ``fn`` (a native), or of every live native compiled in this
    process, sorted by module and name."""
    if fn is not None:
        info = _natives.get(fn)
        found = _read(fn, info) if info is not None else None
        return [found] if found is not None else []
    rows = [row for native, info in list(_natives.items()) if (row := _read(native, info)) is not None]
    return sorted(rows, key=lambda r: (r.module, r.qualname))


def reset() -> None:
    """Set every live native's counters back to zero."""
    for info in list(_natives.values()):
        if info.buffers is not None:
            for i in range(len(info.buffers.counters)):
                info.buffers.counters[i] = 0


def write_json(path: str, module: str | None = None) -> None:
    """``{"qualname": {"native": N, "fallback": M, "fallbacks": {...}}}`` of the natives of
    ``module`` (all modules: keys are ``module:qualname``) — the format ``annotate --stats`` reads."""
    import json   # here, not at the top: natives loaded from the machine-code cache register at import

    out: dict[str, Any] = {}
    for row in stats():
        if module is not None and row.module != module:
            continue
        key = row.qualname if module is not None else f"{row.module}:{row.qualname}"
        out[key] = {"native": row.native, "fallback": row.fallback, "fallbacks": row.fallbacks}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(out, handle, indent=1, sort_keys=True)
