"""The child process of the differential runner: compile, call both sides, report.

``python -m <package>.child COMPILER`` reads requests from stdin, each an 8-byte
big-endian length and a pickled dict (``jobs``: ``(source, name, calls)``
tuples, or module jobs as dicts (see :mod:`.module` and :func:`run_module_job`);
``verbose``; ``stop_at_first``), and answers each with JSON events, one per line on stdout
(``start``, ``functions`` (module jobs: what compiled), ``refused``, ``error``, ``case``,
``mismatch``, ``done``) and a final ``{"end": n}``; it exits at the end of stdin.  A campaign sends one
request per child (a fresh interpreter per batch); the minimiser sends one per
round to the same child, which saves starting an interpreter each time.  It
imports only the standard library and the compiler under test.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import json
import linecache
import pickle
import sys
import types
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
    return ("ok", type(value).__qualname__, _text(value))


def _text(value: Any) -> str:
    """hex for ints: exact for any size, and not subject to the int->str digit limit (also
    inside tuples and lists, which module functions return)."""
    if isinstance(value, int):
        return hex(value)
    if type(value) in (tuple, list):
        return f"{type(value).__name__}({', '.join(_text(v) for v in value)})"
    return repr(value)


def same_outcome(expected: Outcome, got: Outcome) -> bool:
    """Equal outcomes; a RecursionError matches by type only (its message says where the
    limit was hit, which depends on the frames the caller already has)."""
    if expected == got:
        return True
    return expected[:2] == got[:2] == ("raise", "RecursionError")


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
    for k, job in enumerate(jobs):
        if isinstance(job, dict):
            _emit({"start": k})
            if not run_module_job(k, job, compile_fn, refused, verbose) and stop_at_first:
                return
            continue
        source, name, calls = job
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


_MISSING = object()


def apply_event(event: tuple[Any, ...], namespace: dict[str, Any], builtins_dict: dict[str, Any],
                initial: dict[str, Any], initial_builtins: dict[str, Any],
                define: Callable[[str], None]) -> None:
    """One change of a module job to one module (its globals ``namespace``, its builtins dict):

    ``("set", name, value)`` (a list is copied: each module gets its own), ``("del", name)``,
    ``("restore", name)`` (bound again to ``initial[name]``, the object it had right after
    compiling; deleted if it had none), ``("def", name, source)`` (a plain function, run by
    ``define``), ``("setitem", name, index, value)`` (when the name holds a list and the index
    is in range), ``("bset", name, value)`` and ``("brestore", name)`` on the builtins."""
    kind, name = event[0], event[1]
    if kind == "set":
        value = event[2]
        namespace[name] = list(value) if type(value) is list else value
    elif kind == "del":
        namespace.pop(name, None)
    elif kind == "restore":
        value = initial.get(name, _MISSING)
        if value is _MISSING:
            namespace.pop(name, None)
        else:
            namespace[name] = value
    elif kind == "def":
        define(event[2])
    elif kind == "setitem":
        target = namespace.get(name)
        if type(target) is list and -len(target) <= event[2] < len(target):
            target[event[2]] = event[3]
    elif kind == "bset":
        builtins_dict[name] = event[2]
    elif kind == "brestore":
        value = initial_builtins.get(name, _MISSING)
        if value is _MISSING:
            builtins_dict.pop(name, None)
        else:
            builtins_dict[name] = value
    else:
        raise ValueError(f"unknown module event {event!r}")


def _copied(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` with every list argument copied."""
    def fresh(value: Any) -> Any:
        return list(value) if type(value) is list else value
    return tuple(fresh(a) for a in args), {k: fresh(v) for k, v in kwargs.items()}


def _new_module(name: str, real_builtins: bool) -> types.ModuleType:
    """A fresh module, in ``sys.modules`` while its job runs; its builtins are ``builtins``
    itself or a private copy of its dict (so patches stay in the job)."""
    module = types.ModuleType(name)
    module.__dict__["__builtins__"] = builtins.__dict__ if real_builtins else dict(builtins.__dict__)
    sys.modules[name] = module
    return module


def run_module_job(k: int, job: dict[str, Any], compile_fn: Callable[[Any], Any],
                   refused: type[BaseException], verbose: bool = False) -> bool:
    """Run one module job (see :mod:`.module`): both modules, compiling, then the events.
    Returns False after a compile error or a mismatch."""
    source, main = job["source"], job["main"]
    filename = f"<fuzz module {k}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    names = (f"_fuzz_ref_{k}", f"_fuzz_nat_{k}")
    ref = _new_module(names[0], job["real_builtins"])
    nat = _new_module(names[1], job["real_builtins"])
    saved_builtins = dict(builtins.__dict__)
    status: dict[str, str] = {}
    try:
        exec(code, ref.__dict__)

        def compile_one(name: str) -> bool:
            try:
                nat.__dict__[name] = compile_fn(nat.__dict__[name])
            except refused as exc:
                status[name] = getattr(exc, "reason", str(exc))
            except Exception as exc:  # noqa: BLE001 - anything but NotCompilable is a compiler bug
                _emit({"error": k, "exc": f"{type(exc).__qualname__}: {exc}", "function": name})
                return False
            else:
                status[name] = "native"
            return True

        order = job["compile"]
        if job["compile_mode"] == "definition":   # as the hook: each function once defined
            for stmt in ast.parse(source).body:
                exec(compile(ast.Module([stmt], []), filename, "exec"), nat.__dict__)
                if isinstance(stmt, ast.FunctionDef) and stmt.name in order:
                    if not compile_one(stmt.name):
                        return False
        else:
            exec(code, nat.__dict__)
            for name in order:
                if not compile_one(name):
                    return False
        _emit({"functions": k, "status": status})
        if "native" not in status.values():
            _emit({"refused": k, "reason": status.get(main, "not compiled")})
            return True
        sides = []
        for module in (ref, nat):
            namespace = module.__dict__
            builtins_dict = namespace["__builtins__"]
            sides.append((namespace, builtins_dict, dict(namespace), dict(builtins_dict)))
        cases = mismatches = 0
        for j, event in enumerate(job["events"]):
            if event[0] != "call":
                for namespace, builtins_dict, initial, initial_builtins in sides:
                    apply_event(event, namespace, builtins_dict, initial, initial_builtins,
                                lambda text, ns=namespace: exec(compile(text, filename, "exec"), ns))
                continue
            if verbose:
                _emit({"case": j})
            _, args, kwargs = event
            # Each side gets its own copy of a list argument: ``t0 = b; t0 *= K0`` changes it.
            expected = outcome(ref.__dict__[main], *_copied(args, kwargs))
            got = outcome(nat.__dict__[main], *_copied(args, kwargs))
            cases += 1
            if not same_outcome(expected, got):
                mismatches += 1
                if mismatches <= 3:
                    _emit({"mismatch": k, "case": j, "expected": expected, "got": got})
        _emit({"done": k, "cases": cases, "mismatches": mismatches})
        return mismatches == 0
    finally:
        for name in names:
            sys.modules.pop(name, None)
        if job["real_builtins"]:
            for name, value in saved_builtins.items():
                if builtins.__dict__.get(name, _MISSING) is not value:
                    builtins.__dict__[name] = value


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
