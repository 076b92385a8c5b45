"""Call statistics: how often each native function ran natively, and why its other calls fell back.

Every native's machine code counts its calls (one ``add`` to memory at its entry, the only cost on
the native path) and, on the cold path of each exit, the exit's cause: keyword arguments or an
argument count it does not take, an argument that is not an exact int, one that does not fit in
64 bits, a default it cannot use, a name rebound since compiling, an overflow or an operation
Python raises on, or one of the IR's exits (a ``raise``, a construct not compiled), each with its
source line.  ``native`` is the calls minus the exits.

The counters are plain ``add qword [counter], 1`` instructions, neither atomic nor locked: a
native counts only while it holds the GIL (it is called with the GIL held, and its loops release
it at a poll between iterations, never around a count), so calls from several threads are
counted exactly.  Interpreters without a GIL are not supported (``support.py``).  The entry
``add`` is the only instruction counting adds to a call that stays native; the exit counters sit
on the cold paths, after the decision to leave is taken.

:func:`stats` reads the counters of every native compiled in this process (still alive), cheaply:
nothing is counted in Python.  ``JITIMPORT_REPORT=1``, ``--report`` and pytest's
``--jitimport-report`` print them; :func:`write_json` writes what ``python -m jitimport annotate
--stats`` reads.
"""
from __future__ import annotations

import weakref

#: Not ``typing.TYPE_CHECKING``: natives loaded from the machine-code cache register here, on the
#: import hook's warm path, which does not load ``typing``.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Protocol

    class CompileInfo(Protocol):
        """What this module reads of :class:`jitimport.compiler.CompileInfo` (a protocol: this
        module, which the compiler imports, does not import the compiler back)."""

        name: str
        buffers: Any
        causes: list[str]


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

    def top_causes(self, limit: int = 3) -> list[tuple[str, int]]:
        """The ``limit`` most frequent fallback causes, most frequent first."""
        return sorted(self.fallbacks.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def summary(self) -> str:
        """``12 calls: 9 native, 3 fell back`` (or ``12 calls: all native``)."""
        calls = f"{self.calls} call{'' if self.calls == 1 else 's'}"
        if not self.fallback:
            return f"{calls}: all native"
        return f"{calls}: {self.native} native, {self.fallback} fell back"

    def cause_lines(self, limit: int = 3) -> list[str]:
        """``count  cause`` for the top causes, and how many more causes there are."""
        lines = [f"{count:>{len(str(self.fallback))}}  {cause}" for cause, count in self.top_causes(limit)]
        if len(self.fallbacks) > limit:
            lines.append(f"... and {len(self.fallbacks) - limit} more cause(s)")
        return lines

    def warning(self) -> str | None:
        """The flag for a function whose calls mostly fall back (each fallback pays for the native
        attempt and then a whole Python run), naming the main cause; None otherwise."""
        if not self.mostly_falls_back:
            return None
        return f"runs slower than Python: most calls fall back — because {self.top_causes(1)[0][0]}"

    def merge(self, other: CallStats) -> CallStats:
        """The counts of two natives of one function (compiled again, or in two processes), added."""
        fallbacks = dict(self.fallbacks)
        for cause, count in other.fallbacks.items():
            fallbacks[cause] = fallbacks.get(cause, 0) + count
        return CallStats(self.module, self.qualname, self.calls + other.calls, fallbacks)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallStats:
        """The inverse of :meth:`as_dict` (for rows sent between processes, e.g. by pytest-xdist)."""
        return cls(str(data["module"]), str(data["qualname"]), int(data["calls"]),
                   {str(cause): int(count) for cause, count in dict(data.get("fallbacks", {})).items()})

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
    qualname = info.name
    code = getattr(native, "__code__", None)
    if qualname.endswith("<lambda>") and code is not None:  # as the hook's report names it
        qualname = f"{qualname} (line {code.co_firstlineno})"
    return CallStats(module, qualname, counts[0], fallbacks)


def stats(fn: Any = None) -> list[CallStats]:
    """The call statistics of ``fn`` (a native), or of every live native compiled in this
    process, sorted by module and name."""
    if fn is not None:
        fn = getattr(fn, "__dict__", {}).get("__jitimport_verified_native__", fn)  # verify mode's wrapper
        info = _natives.get(fn)
        found = _read(fn, info) if info is not None else None
        return [found] if found is not None else []
    rows = [row for native, info in list(_natives.items()) if (row := _read(native, info)) is not None]
    return sorted(rows, key=lambda r: (r.module, r.qualname))


def merged(rows: list[CallStats]) -> dict[tuple[str, str], CallStats]:
    """Rows keyed by (module, qualname), the counts of natives sharing a name added up (a function
    compiled again by the hook's definition-order pass, ``compile_native`` called twice)."""
    out: dict[tuple[str, str], CallStats] = {}
    for row in rows:
        key = (row.module, row.qualname)
        out[key] = out[key].merge(row) if key in out else row
    return out


def reset() -> None:
    """Set every live native's counters back to zero."""
    for info in list(_natives.values()):
        if info.buffers is not None:
            for i in range(len(info.buffers.counters)):
                info.buffers.counters[i] = 0


def write_json(path: str, module: str | None = None) -> None:
    """``{"qualname": {"native": N, "fallback": M, "fallbacks": {...}}}`` of the natives of
    ``module`` (all modules: keys are ``module:qualname``) — the format ``annotate --stats`` reads.
    Natives sharing a name (a function compiled again) are added up."""
    out: dict[str, Any] = {}
    for (row_module, qualname), row in merged(stats()).items():
        if module is not None and row_module != module:
            continue
        key = qualname if module is not None else f"{row_module}:{qualname}"
        out[key] = {"native": row.native, "fallback": row.fallback, "fallbacks": row.fallbacks}
    import json

    with open(path, "w", encoding="utf-8") as handle:
        json.dump(out, handle, indent=1, sort_keys=True)
        handle.write("\n")


def write_json_at_exit(path: str) -> None:
    """Arrange for :func:`write_json` of every module to ``path`` (made absolute now: the program
    may change directory) when the interpreter exits (``python -m jitimport --stats-out FILE``)."""
    import atexit
    import os

    atexit.register(_write_at_exit, os.path.abspath(path))


def _write_at_exit(path: str) -> None:
    try:
        write_json(path)
    except OSError as exc:  # never turn a program's exit into a traceback
        import sys

        sys.stderr.write(f"jitimport: cannot write the call statistics to {path}: {exc.strerror or exc}\n")
