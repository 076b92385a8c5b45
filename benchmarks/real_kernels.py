"""Eligibility on real code: how many of the integer kernels in ``real_kernels.csv`` compile.

The csv lists 116 integer functions found in public pure-Python packages and in the
standard library, with what their bodies need and whether they compiled on 2026-11-30.
For each row this script imports the module, resolves the qualname (nested classes,
methods, staticmethods, property getters such as ``UUID.time.fget``), calls
``jitimport.compile_native`` on it and records *compiled* or *refused* with the
``NotCompilable`` reason and its ``file:line``.  It prints how many compile, how many
modules are missing (package not installed), and the refusal reasons grouped, so that
the next compiler feature can be chosen by how many real kernels it unlocks.

Same-module callees are compiled first, as the import hook would have done at import
time: every function of the kernel's module that the kernel reaches through a global
name (transitively, plus the csv's "same-module callees") is compiled and, when it
compiles, its native is bound in the namespace before the caller is compiled.  This
happens in a throwaway *copy* of the module's globals (the functions are rebuilt on
the copy), so the imported modules are left exactly as they were.

A kernel that compiles is smoke-checked: the native and the pristine original are
called on small int arguments and their outcomes (value and type, or exception type
and message) compared.  A difference is a compiler bug and is reported loudly (exit
status 1).  The checks run in a forked child, so a crash or a hang in machine code, or
an argument tuple on which the original never finishes, cannot take the script down.

Run it with the working tree on the path and the packages installed, e.g.::

    PYTHONPATH=src /tmp/venv-kernels/bin/python benchmarks/real_kernels.py [--csv out.csv] [--markdown]
"""
from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import io
import itertools
import json
import os
import random
import re
import select
import signal
import sys
import time
import types
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
#: The repository's copy of the shared csv (the script and its smoke test must not depend on files outside the repo).
DEFAULT_KERNELS = os.path.join(HERE, "real_kernels.csv")

#: Small int arguments for the smoke check (past 32 bits, negative, and the usual edge values).
SMOKE_VALUES: tuple[int, ...] = (0, 1, 7, 255, 2**40 + 3, -5)
#: Argument tuples per arity at most: all combinations up to this many, a fixed sample beyond.
SMOKE_TUPLES = 216
#: An argument tuple on which the original takes longer than this is skipped.
ORIGINAL_BUDGET_S = 0.010
#: The native gets much more (it may exit and run the original from the start).
NATIVE_BUDGET_S = 1.0
#: Without a word from the child for this long (a hang in C code no signal interrupts), the tuple is skipped.
CHILD_SILENCE_S = 2.0
#: Address space a smoke-check child may add (a power with a 2**40 exponent must fail, not swap).
CHILD_EXTRA_MEMORY = 256 << 20

#: The top-level packages (PyPI names) the csv's third-party rows come from.
THIRD_PARTY = frozenset({
    "pymmh3", "fnvhash", "base58", "bech32", "crcmod", "crc", "ecdsa", "pyaes", "reedsolo", "pyfinite", "hashids",
    "siphash", "pure25519", "primefac", "sympy",
})

COMPILED, REFUSED, MISSING, UNRESOLVED, ERROR = "compiled", "refused", "missing", "unresolved", "error"


@dataclass
class KernelRow:
    """One row of the csv: a kernel and what was known about it on 2026-11-30."""

    module: str
    qualname: str
    domain: str
    compiled_then: bool
    needs: list[str]
    callees: list[str]
    big_values: str
    refusal_then: str

    @property
    def name(self) -> str:
        return f"{self.module}:{self.qualname}"

    @property
    def is_stdlib(self) -> bool:
        """The module ships with CPython (no third-party package needed).

        Decided by the package list, not ``sys.stdlib_module_names``: ``_pydatetime`` and ``_pylong``
        are 3.12+, and on 3.11 they must count as missing standard-library rows, not as packages.
        """
        return self.module.split(".")[0] not in THIRD_PARTY


@dataclass
class SmokeResult:
    """Outcome of calling native and original on small ints."""

    checked: int = 0
    raised: int = 0            # of the checked tuples, those where both raised the same exception
    native: int = 0            # of the checked tuples, those the machine code returned without the original
    skipped: int = 0           # original raised an environment-dependent error, or was too slow / hung
    mismatches: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.checked} checked ({self.raised} raising, {self.native} native), {self.skipped} skipped"
        if self.mismatches:
            text += f", {len(self.mismatches)} MISMATCH"
        return text


@dataclass
class KernelResult:
    """What happened to one kernel in this run."""

    row: KernelRow
    status: str
    reason: str = ""           # the NotCompilable reason (or why the kernel could not be reached)
    where: str = ""            # file:line from the NotCompilable
    callees_compiled: list[str] = field(default_factory=list)
    callees_refused: list[str] = field(default_factory=list)
    smoke: SmokeResult | None = None
    compile_seconds: float = 0.0

    @property
    def reason_group(self) -> str:
        """The blanked reason; a call to a same-module function that is refused itself is its own group
        (the caller follows once the callee compiles)."""
        called = _CALLED.search(self.reason)
        if called and any(q.rsplit(".", 1)[-1] == called.group(1) for q in self.callees_refused):
            return "call to a same-module function that is refused itself"
        return group_reason(self.reason)


# --- the csv --------------------------------------------------------------------------


def load_rows(path: str = DEFAULT_KERNELS) -> list[KernelRow]:
    """The kernels of the csv, in its order."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            KernelRow(
                module=rec["module"], qualname=rec["qualname"], domain=rec["domain"],
                compiled_then=rec["compiled"].strip() == "True",
                needs=rec["needs (incl. callees)"].split(),
                callees=rec["same-module callees"].split(),
                big_values=rec["runtime values >64 bit"], refusal_then=rec["first refusal"],
            )
            for rec in csv.DictReader(fh)
        ]


# --- resolving and rebinding ----------------------------------------------------------


class Unresolved(Exception):
    """The qualname does not lead to a function in the imported module."""


def resolve(module: types.ModuleType, qualname: str) -> Any:
    """The object ``qualname`` names in ``module``; class attributes are read raw (a staticmethod stays one)."""
    obj: Any = module
    for part in qualname.split("."):
        if part == "<locals>":
            raise Unresolved(f"{qualname} is local to a function body")
        try:
            obj = inspect.getattr_static(obj, part) if isinstance(obj, type) else getattr(obj, part)
        except AttributeError:
            raise Unresolved(f"{type(obj).__name__} {getattr(obj, '__qualname__', obj)!r} has no attribute {part!r}") from None
    return obj


def unwrap(obj: Any) -> Any:
    """The function inside a staticmethod / classmethod / ``functools`` wrapper (``lru_cache``); else ``obj``.

    The hook leaves decorated functions alone, but the kernel is the function inside: compiling it
    measures the compiler, which is what the yardstick is for.
    """
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    while type(obj) is not types.FunctionType and isinstance(getattr(obj, "__wrapped__", None), types.FunctionType):
        obj = obj.__wrapped__
    return obj


def rebind(fn: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    """A copy of ``fn`` whose globals are ``namespace`` (the throwaway copy of its module's)."""
    clone = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__qualname__ = fn.__qualname__
    clone.__kwdefaults__ = fn.__kwdefaults__
    clone.__module__ = fn.__module__
    clone.__dict__.update(fn.__dict__)
    return clone


def _global_names(code: types.CodeType) -> set[str]:
    """Names a code object (and the code nested in it) may read as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def same_module_callees(fn: types.FunctionType, listed: Iterable[str]) -> list[tuple[str, types.FunctionType]]:
    """(global name, function) for every same-module function ``fn`` reaches through globals, transitively.

    "Same module" means the function's globals are ``fn``'s.  The csv's callees are added when they
    name a global (by key or qualname); methods reached through ``self`` cannot be bound in the
    globals and are left out.  Sorted by definition line, the order the hook compiles them in.
    """
    namespace = fn.__globals__

    def same_module(value: Any) -> bool:
        return type(value) is types.FunctionType and value.__globals__ is namespace and value is not fn

    found: dict[str, types.FunctionType] = {}
    pending = [fn]
    listed = set(listed)
    for key, value in namespace.items():
        if same_module(value) and (key in listed or value.__qualname__ in listed):
            found[key] = value
            pending.append(value)
    while pending:
        current = pending.pop()
        for name in _global_names(current.__code__):
            value = namespace.get(name)
            if name not in found and same_module(value):
                found[name] = value
                pending.append(value)
    return sorted(found.items(), key=lambda item: (item[1].__code__.co_firstlineno, item[0]))


# --- compiling one kernel -------------------------------------------------------------


def _compiler() -> tuple[Callable[[Any], Any], type[BaseException]]:
    import jitimport

    return jitimport.compile_native, jitimport.NotCompilable


def native_available() -> str | None:
    """None when native code can run in this interpreter, else why not (every kernel would be refused)."""
    from jitimport.support import unsupported_reason

    return unsupported_reason()


def evaluate(row: KernelRow, smoke: bool = True) -> KernelResult:
    """Import, resolve, compile (callees first, in a copied namespace) and smoke-check one kernel."""
    compile_native, not_compilable = _compiler()
    try:
        module = importlib.import_module(row.module)
    except ImportError as exc:
        return KernelResult(row, MISSING, reason=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a module that fails to import for another reason is reported, not fatal
        return KernelResult(row, MISSING, reason=f"import failed: {type(exc).__name__}: {exc}")
    try:
        raw = resolve(module, row.qualname)
    except Unresolved as exc:
        return KernelResult(row, UNRESOLVED, reason=str(exc))
    target = unwrap(raw)
    result = KernelResult(row, REFUSED)
    native: Any = None
    started = time.perf_counter()
    try:
        if type(target) is types.FunctionType:
            namespace = dict(target.__globals__)
            for key, callee in same_module_callees(target, row.callees):
                try:
                    namespace[key] = compile_native(rebind(callee, namespace))
                    result.callees_compiled.append(callee.__qualname__)
                except not_compilable:
                    result.callees_refused.append(callee.__qualname__)
            clone = rebind(target, namespace)
            native = compile_native(clone)
            if namespace.get(target.__name__) is target:
                namespace[target.__name__] = native  # the hook's end state: recursion goes through the native
        else:
            native = compile_native(target)  # not a Python function: compile_native says why
    except not_compilable as exc:
        result.reason = getattr(exc, "reason", str(exc))
        filename, lineno = getattr(exc, "filename", None), getattr(exc, "lineno", None)
        if filename is not None or lineno is not None:
            result.where = f"{_short_path(filename)}:{lineno}" if lineno is not None else _short_path(filename)
        return result
    except Exception as exc:  # never a refusal: a bug in the compiler
        result.status = ERROR
        result.reason = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        result.compile_seconds = time.perf_counter() - started
    result.status = COMPILED
    if smoke and type(target) is types.FunctionType:
        result.smoke = smoke_check(native, target)
    return result


def _short_path(path: str | None) -> str:
    """A file path without the site-packages / stdlib prefix."""
    if not path:
        return "<unknown>"
    for marker in ("site-packages" + os.sep, "lib" + os.sep + "python"):
        index = path.rfind(marker)
        if index >= 0:
            rest = path[index + len(marker):]
            return rest.split(os.sep, 1)[1] if marker.startswith("lib") and os.sep in rest else rest
    return path


# --- the smoke check ------------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by the interval timer inside a call that took too long."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def tuple_parameters(fn: types.FunctionType) -> dict[int, int]:
    """{parameter index: item count} for the parameters the body unpacks (``x, y = P``) or indexes
    with constants (``P[0]``): the smoke check passes them tuples of ints, not ints."""
    import dis

    code = fn.__code__
    params = code.co_varnames[:code.co_argcount]
    sizes: dict[int, int] = {}
    instructions = list(dis.get_instructions(code))
    for here, after, later in zip(instructions, instructions[1:], instructions[2:] + [instructions[-1]]):
        if not here.opname.startswith("LOAD_FAST"):
            continue
        name = here.argval[-1] if isinstance(here.argval, tuple) else here.argval
        if name not in params:
            continue
        index = params.index(name)
        if after.opname == "UNPACK_SEQUENCE":
            sizes[index] = max(sizes.get(index, 0), after.arg)
        elif after.opname == "LOAD_CONST" and type(after.argval) is int and 0 <= after.argval < 16 \
                and (later.opname == "BINARY_SUBSCR" or (later.opname == "BINARY_OP" and "[" in later.argrepr)):
            sizes[index] = max(sizes.get(index, 0), after.argval + 1)
    return sizes


def smoke_arguments(fn: types.FunctionType) -> list[tuple[Any, ...]]:
    """Argument tuples for every positional arity ``fn`` accepts (with and without its defaults).

    A parameter the body unpacks gets tuples of small ints of the size it unpacks."""
    code = fn.__code__
    most = code.co_argcount
    least = most - len(fn.__defaults__ or ())
    rng = random.Random(fn.__qualname__)
    candidates: list[list[Any]] = []
    tuple_sizes = tuple_parameters(fn)
    for index in range(most):
        size = tuple_sizes.get(index)
        if size is None:
            candidates.append(list(SMOKE_VALUES))
        else:
            candidates.append([(1,) * size] + [tuple(rng.choice(SMOKE_VALUES) for _ in range(size))
                                               for _ in range(len(SMOKE_VALUES) - 1)])
    tuples: list[tuple[Any, ...]] = []
    for arity in sorted({least, most}):
        combos = 1
        for options in candidates[:arity]:
            combos *= len(options)
        if combos <= SMOKE_TUPLES:
            tuples.extend(itertools.product(*candidates[:arity]))
        else:
            tuples.extend(tuple(rng.choice(options) for options in candidates[:arity]) for _ in range(SMOKE_TUPLES))
    return tuples


#: Errors that depend on the environment (stack depth, memory, our own timer): such a tuple is skipped.
_ENVIRONMENT_ERRORS = (RecursionError, MemoryError, _Timeout)


def _outcome(fn: Callable[..., Any], args: tuple[int, ...], budget: float) -> tuple[str, Any, Any]:
    """("value", type, value) or ("raise", type, message); _Timeout passes through."""
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        value = fn(*args)
    except _Timeout:
        raise
    except BaseException as exc:  # noqa: BLE001 - the exception is the outcome
        signal.setitimer(signal.ITIMER_REAL, 0)
        return ("raise", type(exc), str(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return ("value", type(value), value)


def _show(outcome: tuple[str, Any, Any]) -> str:
    kind, typ, payload = outcome
    text = f"{typ.__name__}({payload!r})" if kind == "raise" else f"{payload!r} ({typ.__name__})"
    return text if len(text) <= 200 else text[:197] + "..."


def _check_one(native: Callable[..., Any], original: Callable[..., Any], args: tuple[int, ...]) -> tuple[str, str]:
    """("checked" | "raised" | "skipped" | "mismatch", detail) for one argument tuple."""
    try:
        expected = _outcome(original, args, ORIGINAL_BUDGET_S)
    except _Timeout:
        return "skipped", "original too slow"
    if expected[0] == "raise" and issubclass(expected[1], _ENVIRONMENT_ERRORS):
        return "skipped", f"original raised {expected[1].__name__}"
    exited = _ExitWatch(original.__code__)
    try:
        with exited:
            got = _outcome(native, args, NATIVE_BUDGET_S)
    except _Timeout:
        return "mismatch", f"{args}: original {_show(expected)} within {ORIGINAL_BUDGET_S * 1000:g} ms, native still running after {NATIVE_BUDGET_S:g} s"
    same = got[0] == expected[0] and got[1] is expected[1] and (
        got[2] == expected[2] if expected[0] == "raise" else _same_value(got[2], expected[2]))
    if not same:
        return "mismatch", f"{args}: native {_show(got)} != original {_show(expected)}"
    if expected[0] == "raise":
        return "raised", ""
    return ("checked" if exited.seen else "native"), ""


class _ExitWatch:
    """Whether the kernel's Python body ran during a native call (an exit: the original re-ran).

    The profiler sees Python frames only, never the machine code, so a ``call`` event for the
    kernel's own code object means the native left to the original (recursive calls happen inside it).
    """

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        self.seen = False

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is self.code:
            self.seen = True

    def __enter__(self) -> "_ExitWatch":
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(None)


def _same_value(a: Any, b: Any) -> bool:
    """Equal and of the same type, element by element for tuples and lists (``(True, 1) != (1, 1)`` here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def _child(native: Callable[..., Any], original: Callable[..., Any], tuples: Sequence[tuple[int, ...]],
           start: int, out: int) -> None:
    """In the forked child: check tuples[start:], one JSON line per tuple on ``out``."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = used + CHILD_EXTRA_MEMORY
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass
    signal.signal(signal.SIGALRM, _on_alarm)
    with os.fdopen(out, "w", buffering=1) as stream:
        for index in range(start, len(tuples)):
            try:
                status, detail = _check_one(native, original, tuples[index])
            except BaseException as exc:  # noqa: BLE001 - e.g. a _Timeout that escaped a handler
                status, detail = "skipped", f"{type(exc).__name__} in the check"
            stream.write(json.dumps({"i": index, "status": status, "detail": detail}) + "\n")


def smoke_check(native: Callable[..., Any], original: types.FunctionType) -> SmokeResult:
    """Compare native and pristine original on small ints, in forked children (in-process without fork)."""
    tuples = smoke_arguments(original)
    result = SmokeResult()

    def tally(status: str, detail: str) -> None:
        if status == "mismatch":
            result.mismatches.append(detail)
        elif status == "skipped":
            result.skipped += 1
        else:
            result.checked += 1
            result.raised += status == "raised"
            result.native += status == "native"

    if not hasattr(os, "fork") or not hasattr(signal, "setitimer"):
        for args in tuples:  # no fork (not Linux/macOS): in-process, without the hang protection
            tally(*_check_one_in_process(native, original, args))
        return result
    start = 0
    while start < len(tuples):
        start = _run_child(native, original, tuples, start, tally)
    return result


def _check_one_in_process(native: Callable[..., Any], original: Callable[..., Any], args: tuple[int, ...]) -> tuple[str, str]:
    try:
        expected = original(*args)
        got = native(*args)
    except Exception:
        return "skipped", "raised"
    if not _same_value(got, expected):
        return "mismatch", f"{args}: native {got!r} != original {expected!r}"
    return "checked", ""


def _run_child(native: Callable[..., Any], original: Callable[..., Any], tuples: Sequence[tuple[int, ...]],
               start: int, tally: Callable[[str, str], None]) -> int:
    """Fork a child checking tuples[start:]; returns where the next child must start."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 0
        try:
            os.close(read_end)
            _child(native, original, tuples, start, write_end)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    next_index = start
    buffer = b""
    with os.fdopen(read_end, "rb", buffering=0) as stream:
        while True:
            ready, _, _ = select.select([stream], [], [], CHILD_SILENCE_S)
            if not ready:  # silent too long: a hang in C code; skip that tuple
                os.kill(pid, signal.SIGKILL)
                tally("skipped", "hung")
                next_index += 1
                break
            chunk = stream.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                record = json.loads(line)
                tally(record["status"], record["detail"])
                next_index = record["i"] + 1
    _, status = os.waitpid(pid, 0)
    if next_index < len(tuples) and os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
        args = tuples[next_index]
        tally("mismatch", f"{args}: the child died of signal {os.WTERMSIG(status)} (a crash in native code?)")
        next_index += 1
    elif next_index < len(tuples) and not os.WIFSIGNALED(status):
        if next_index == start:  # the child exited without checking anything: do not loop forever
            tally("skipped", f"child exited with {os.WEXITSTATUS(status)}")
        next_index += 1
    return next_index


# --- running and reporting ------------------------------------------------------------


def run(rows: Sequence[KernelRow], smoke: bool = True, progress: io.TextIOBase | None = None) -> list[KernelResult]:
    """Evaluate every row, in order."""
    results = []
    for row in rows:
        result = evaluate(row, smoke=smoke)
        results.append(result)
        if progress is not None:
            progress.write(f"{result.status:10} {row.name}\n")
            progress.flush()
    return results


#: What varies inside one refusal cause: the enclosing callee, the called name, the attribute, a quoted name,
#: the type of a global.  Blanked in the group, kept as the variant.
_VARYING = (
    (re.compile(r"^in [\w.<>]+\(\): "), ""),
    (re.compile(r"call to [\w.<>]+\(\)"), "call to …()"),
    (re.compile(r"\(\.\w+\)"), "(.…)"),
    (re.compile(r"'[^']*'"), "'…'"),
    (re.compile(r" \(it is an? [\w.]+\)$"), ""),
)


_CALLED = re.compile(r"call to ([\w.<>]+)\(\) is not supported")


def group_reason(reason: str) -> str:
    """A refusal reason with its names blanked, so that equal causes count together."""
    for pattern, blank in _VARYING:
        reason = pattern.sub(blank, reason)
    return reason


def _variant(reason: str) -> str:
    """The parts of a reason its group blanked (the called name, the attribute, ...), else the reason."""
    parts = [match.group(0).strip() for pattern, _ in _VARYING for match in pattern.finditer(reason)]
    return " ".join(parts) if parts else "(as is)"


@dataclass
class Summary:
    """The counts the script prints (also what the smoke test checks)."""

    total: int
    compiled: int
    refused: int
    missing: int
    missing_modules: list[str]
    unresolved: int
    errors: int
    compiled_then: int
    compiled_then_available: int
    newly_compiled: list[str]
    no_longer_compiled: list[str]
    reasons: list[tuple[str, int, list[str], Counter[str]]]   # group, count, example kernels, exact reasons
    mismatches: list[tuple[str, str]]


def summarize(results: Sequence[KernelResult]) -> Summary:
    by_status = Counter(r.status for r in results)
    groups: dict[str, list[KernelResult]] = {}
    for r in results:
        if r.status in (REFUSED, ERROR):
            groups.setdefault(r.reason_group if r.status == REFUSED else "compiler error (a bug)", []).append(r)
    reasons = sorted(
        ((group, len(members), [m.row.name for m in members], Counter(m.reason for m in members))
         for group, members in groups.items()),
        key=lambda item: (-item[1], item[0]),
    )
    available = [r for r in results if r.status not in (MISSING, UNRESOLVED)]  # this interpreter lacks the kernel
    return Summary(
        total=len(results), compiled=by_status[COMPILED], refused=by_status[REFUSED], missing=by_status[MISSING],
        missing_modules=sorted({r.row.module for r in results if r.status == MISSING}),
        unresolved=by_status[UNRESOLVED], errors=by_status[ERROR],
        compiled_then=sum(r.row.compiled_then for r in results),
        compiled_then_available=sum(r.row.compiled_then for r in available),
        newly_compiled=[r.row.name for r in results if r.status == COMPILED and not r.row.compiled_then],
        no_longer_compiled=[r.row.name for r in available if r.row.compiled_then and r.status != COMPILED],
        reasons=reasons,
        mismatches=[(r.row.name, m) for r in results if r.smoke for m in r.smoke.mismatches],
    )


def format_text(results: Sequence[KernelResult], top: int = 15, verbose: bool = False) -> str:
    s = summarize(results)
    out = [f"real kernels: {s.compiled} of {s.total} compile "
           f"({s.compiled_then} did on 2026-11-30; {s.compiled_then_available} of those are importable here)"]
    out.append(f"refused {s.refused}, missing {s.missing} (modules not importable: {len(s.missing_modules)}"
               + (f": {', '.join(s.missing_modules)}" if s.missing_modules else "") + ")"
               + (f", unresolved {s.unresolved}" if s.unresolved else "")
               + (f", COMPILER ERRORS {s.errors}" if s.errors else ""))
    if s.newly_compiled:
        out.append(f"compiled now, not on 2026-11-30 ({len(s.newly_compiled)}): {', '.join(s.newly_compiled)}")
    if s.no_longer_compiled:
        out.append(f"REGRESSED: compiled on 2026-11-30, refused now: {', '.join(s.no_longer_compiled)}")
    smoked = [r for r in results if r.smoke is not None]
    if smoked:
        checked = sum(r.smoke.checked for r in smoked if r.smoke)
        skipped = sum(r.smoke.skipped for r in smoked if r.smoke)
        native = sum(r.smoke.native for r in smoked if r.smoke)
        out.append(f"smoke check: {len(smoked)} compiled kernels, {checked} argument tuples compared "
                   f"({native} returned by machine code, the rest exited or raised), "
                   f"{skipped} skipped, {len(s.mismatches)} mismatches")
        never = [r.row.name for r in smoked if r.smoke and r.smoke.native == 0]
        if never:
            out.append(f"compiled, but every smoke call exited to the original ({len(never)}): {', '.join(never)}")
    out.append("")
    out.append(f"refusal reasons (top {min(top, len(s.reasons))} of {len(s.reasons)} groups):")
    for group, count, examples, exact in s.reasons[:top]:
        out.append(f"  {count:3}  {group}    e.g. {examples[0]}")
        if len(exact) > 1:
            detail = ", ".join(f"{_variant(reason)} {n}" for reason, n in exact.most_common(8))
            out.append(f"       {detail}" + (" …" if len(exact) > 8 else ""))
    if s.mismatches:
        out.append("")
        out.append("!!! MISMATCHES between native and original (compiler bugs):")
        out.extend(f"  {name}: {detail}" for name, detail in s.mismatches)
    errors = [r for r in results if r.status == ERROR]
    if errors:
        out.append("")
        out.append("!!! COMPILER ERRORS (not refusals):")
        out.extend(f"  {r.row.name}: {r.reason}" for r in errors)
    if verbose:
        out.append("")
        out.append("per kernel:")
        for r in results:
            out.append(f"  {r.status:10} {r.row.name:60} {_detail(r)}")
    return "\n".join(out)


def _detail(r: KernelResult) -> str:
    if r.status == COMPILED:
        text = "smoke " + r.smoke.describe() if r.smoke else ""
        if r.callees_compiled:
            text += f"; native callees: {', '.join(r.callees_compiled)}"
        return text
    text = f"{r.where}: {r.reason}" if r.where else r.reason
    if r.callees_compiled:
        text += f" [native callees: {', '.join(r.callees_compiled)}]"
    return text


def format_markdown(results: Sequence[KernelResult], top: int = 15) -> str:
    s = summarize(results)
    out = [f"**{s.compiled} of {s.total}** real kernels compile ({s.compiled_then} did on 2026-11-30); "
           f"{s.refused} refused, {s.missing} missing ({', '.join(s.missing_modules) or 'none'})"
           + (f", {s.errors} compiler errors" if s.errors else "")
           + (f", **{len(s.mismatches)} mismatches**" if s.mismatches else "") + ".", ""]
    out += ["| refusal reason | kernels | example | variants |", "|---|---:|---|---|"]
    for group, count, examples, exact in s.reasons[:top]:
        variants = ", ".join(f"`{_variant(reason)}` {n}" for reason, n in exact.most_common(6)) if len(exact) > 1 else ""
        out.append(f"| {group.replace('|', '/')} | {count} | `{examples[0]}` | {variants} |")
    out += ["", "| kernel | domain | 2026-11-30 | now | reason / smoke check |", "|---|---|---|---|---|"]
    for r in results:
        out.append(f"| `{r.row.name}` | {r.row.domain} | {'yes' if r.row.compiled_then else 'no'} | {r.status} | "
                   f"{_detail(r).replace('|', '/')} |")
    return "\n".join(out)


def write_csv(results: Sequence[KernelResult], path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["module", "qualname", "domain", "compiled_2026_11_30", "status", "reason_group", "reason",
                         "where", "native_callees", "refused_callees", "smoke_checked", "smoke_native", "smoke_skipped",
                         "smoke_mismatches", "compile_ms"])
        for r in results:
            writer.writerow([
                r.row.module, r.row.qualname, r.row.domain, r.row.compiled_then, r.status,
                r.reason_group if r.status == REFUSED else "", r.reason, r.where,
                " ".join(r.callees_compiled), " ".join(r.callees_refused),
                r.smoke.checked if r.smoke else "", r.smoke.native if r.smoke else "", r.smoke.skipped if r.smoke else "",
                " | ".join(r.smoke.mismatches) if r.smoke else "", f"{r.compile_seconds * 1000:.1f}",
            ])


def main(argv: Sequence[str] | None = None) -> int:
    global SMOKE_VALUES, SMOKE_TUPLES  # --values / --tuples: the script's own settings, for this process
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", default=DEFAULT_KERNELS, help="the csv of kernels (default: %(default)s)")
    parser.add_argument("--csv", metavar="OUT", help="write the per-kernel result to this csv")
    parser.add_argument("--markdown", action="store_true", help="print the summary as markdown tables")
    parser.add_argument("--stdlib-only", action="store_true", help="only the standard-library rows")
    parser.add_argument("--no-smoke", action="store_true", help="do not call the compiled kernels")
    parser.add_argument("--values", metavar="INTS",
                        help="smoke-check arguments, comma-separated Python int expressions (default: "
                             + ", ".join(map(str, SMOKE_VALUES)) + ")")
    parser.add_argument("--tuples", type=int, default=SMOKE_TUPLES, metavar="N",
                        help="argument tuples per arity at most (default: %(default)s)")
    parser.add_argument("--top", type=int, default=15, help="how many refusal groups to show")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per kernel, and progress on stderr")
    args = parser.parse_args(argv)
    if args.values:
        SMOKE_VALUES = tuple(int(eval(text, {"__builtins__": {}})) for text in args.values.split(","))
    SMOKE_TUPLES = args.tuples
    unavailable = native_available()
    if unavailable is not None:
        print(f"real_kernels: native code is not available here ({unavailable}): nothing can compile", file=sys.stderr)
        return 2
    rows = load_rows(args.kernels)
    if args.stdlib_only:
        rows = [row for row in rows if row.is_stdlib]
    results = run(rows, smoke=not args.no_smoke, progress=sys.stderr if args.verbose else None)
    if args.csv:
        write_csv(results, args.csv)
    print(format_markdown(results, args.top) if args.markdown else format_text(results, args.top, args.verbose))
    s = summarize(results)
    return 1 if s.mismatches or s.errors else 0


if __name__ == "__main__":
    sys.exit(main())
