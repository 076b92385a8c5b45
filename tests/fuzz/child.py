"""The child process of the differential runner: compile, call both sides, report.

``python -m <package>.child COMPILER`` reads requests from stdin, each an 8-byte
big-endian length and a pickled dict (``jobs``: ``(source, name, calls)``
tuples; ``verbose``; ``stop_at_first``), and answers each with JSON events, one per line on stdout
(``start``, ``refused``, ``error``, ``case``, ``mismatch``, ``done``) and a
final ``{"end": n}``; it exits at the end of stdin.  A campaign sends one
request per child (a fresh interpreter per batch); the minimiser sends one per
round to the same child, which saves starting an interpreter each time.  It
imports only the standard library and the compiler under test.
"""
from __future__ import annotations

import importlib
import json
import linecache
import pickle
import sys
import warnings
from typing import Any, Callable

DEFAULT_COMPILER = "jitimport:compile_native"

Outcome = tuple[str, str, str]


class MyInt(int):
    """An int subclass argument: the native code must fall back (type check is exact)."""

    def __repr__(self) -> str:
        return f"MyInt({int(self)})"


def outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
    """What a call did, exactly: ("ok", type, repr) or ("raise", exception type, message)."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every exception is part of the outcome
        return ("raise", type(exc).__qualname__, str(exc))
    # hex: exact for ints of any size, and not subject to the int->str digit limit
    text = hex(value) if isinstance(value, int) else repr(value)
    return ("ok", type(value).__qualname__, text)


def _load_compiler(path: str) -> tuple[Callable[[Any], Any], type[BaseException]]:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    from jitimport import NotCompilable
    return getattr(module, attr), NotCompilable


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def run_jobs(jobs: list[tuple[str, str, list[Any]]], compile_fn: Callable[[Any], Any],
             refused: type[BaseException], verbose: bool = False,
             stop_at_first: bool = False) -> None:
    """Compile and compare each job, reporting events.

    ``verbose``: one ``case`` event before each call (to find the call that crashes or
    hangs).  ``stop_at_first``: return after the first mismatch or compile error (the
    minimiser only wants the first failing candidate of a group)."""
    for k, (source, name, calls) in enumerate(jobs):
        _emit({"start": k})
        namespace: dict[str, Any] = {}
        filename = f"<fuzz {k}>"
        # Registered so tracebacks and inspect.getsource work (selftest's mutants need it).
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)
        fn = namespace[name]
        try:
            native = compile_fn(fn)
        except refused as exc:
            _emit({"refused": k, "reason": getattr(exc, "reason", str(exc))})
            continue
        except Exception as exc:  # noqa: BLE001 - anything but NotCompilable is a compiler bug
            _emit({"error": k, "exc": f"{type(exc).__qualname__}: {exc}"})
            if stop_at_first:
                return
            continue
        mismatches = 0
        for j, (args, kwargs) in enumerate(calls):
            if verbose:
                _emit({"case": j})
            expected = outcome(fn, args, kwargs)
            got = outcome(native, args, kwargs)
            if expected != got:
                mismatches += 1
                if mismatches <= 3:
                    _emit({"mismatch": k, "case": j, "expected": expected, "got": got})
        _emit({"done": k, "cases": len(calls), "mismatches": mismatches})
        if mismatches and stop_at_first:
            return


def read_request(stream: Any) -> dict[str, Any] | None:
    """The next request on ``stream``, or None at its end."""
    header = stream.read(8)
    if len(header) < 8:
        return None
    return pickle.loads(stream.read(int.from_bytes(header, "big")))


def frame(request: dict[str, Any]) -> bytes:
    """``request`` as the child reads it."""
    payload = pickle.dumps(request)
    return len(payload).to_bytes(8, "big") + payload


def child_main(compiler_path: str) -> None:
    compile_fn, refused = _load_compiler(compiler_path)
    # Warnings are not part of the compared outcome: ~ on a bool (3.12+) would only add noise.
    warnings.simplefilter("ignore")
    while True:
        request = read_request(sys.stdin.buffer)
        if request is None:
            return
        run_jobs(request["jobs"], compile_fn, refused, request.get("verbose", False),
                 request.get("stop_at_first", False))
        _emit({"end": len(request["jobs"])})


if __name__ == "__main__":
    child_main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_COMPILER)
