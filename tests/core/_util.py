"""Shared helpers for the compiler-core tests: outcomes, fallback detection, sources."""
from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import jitimport

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: Boundary values: around 0, 32 and 64 bits, and far beyond.
EDGES: list[int] = [
    0, 1, -1, 2, -2, 3, -3, 7, -7, 2**31, -(2**31), 2**31 - 1, 2**32, -(2**32), 2**62, -(2**62),
    2**63 - 1, -(2**63), -(2**63) + 1, 2**63, -(2**63) - 1, 2**64, -(2**64), 2**70, -(2**70),
    3**150, -(5**90),
]

#: Constants usable in source (a constant must fit in 64 bits to be compilable).
CONST_EDGES: list[int] = [e for e in EDGES if INT64_MIN <= e <= INT64_MAX]

Outcome = tuple[str, type, Any]


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """("ok", type, value) or ("raise", exception type, message): what a call amounts to."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("raise", type(exc), str(exc))
    return ("ok", type(value), value)


class FallbackProbe:
    """Counts calls of a Python code object in this thread (the native code's fallback).

    The native object is not a Python function, so a profiler only sees a
    ``call`` event for the original when the machine code forwarded to it.
    """

    def __init__(self, code: Any) -> None:
        self.code = code
        self.calls = 0

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is self.code:
            self.calls += 1

    def __enter__(self) -> "FallbackProbe":
        self._old = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._old)


def fell_back(native: Any, *args: Any, **kwargs: Any) -> tuple[Outcome, bool]:
    """The outcome of ``native(*args)`` and whether the original ran to produce it."""
    with FallbackProbe(jitimport.original(native).__code__) as probe:
        result = outcome(native, *args, **kwargs)
    return result, probe.calls > 0


_counter = itertools.count()


def define(source: str, tmp_dir: Path | None = None, name: str | None = None,
           namespace: dict[str, Any] | None = None) -> Any:
    """Define the (first or ``name``d) function of ``source``; in a real file when ``tmp_dir``."""
    source = textwrap.dedent(source)
    if tmp_dir is not None:
        path = tmp_dir / f"src_{next(_counter)}.py"
        path.write_text(source)
        filename = str(path)
    else:
        filename = f"<core-test-{next(_counter)}>"
    ns: dict[str, Any] = {} if namespace is None else namespace
    exec(compile(source, filename, "exec"), ns)
    if name is None:
        name = next(k for k, v in ns.items() if callable(v) and not k.startswith("__"))
    return ns[name]


def fits(value: object) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX

