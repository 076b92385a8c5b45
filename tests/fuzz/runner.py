"""Differential runner: native vs. original, in child processes, with minimisation.

The parent generates functions and calls (:mod:`.gen`), filters out calls the
guard says would make CPython build enormous ints, and ships batches of
:class:`~.gen.Job` s to a child (``python -m <package>.runner --child``) over
stdin.  The child compiles each function with the compiler under test, runs
every call on the original and on the native callable, and reports one JSON
line per event on stdout.  A child that dies (SIGSEGV, SIGILL, ...) or hangs
is detected by the parent, which reruns the function alone with one progress
line per call to find the arguments, shrinks the failing function while it
still fails, and writes the result as a regression test.
"""
from __future__ import annotations

import collections
import hashlib
import importlib
import json
import os
import pickle
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .gen import (Assign, Binary, Const, FuncSpec, Generator, Job, MyInt, Node, Unary, Var,
                  guard)

DEFAULT_COMPILER = "jitimport:compile_native"
BATCH_TIMEOUT = 300.0

Outcome = tuple[str, str, str]


# -- outcomes (child side) ----------------------------------------------------------

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


def child_main(compiler_path: str) -> None:
    """Run the jobs pickled on stdin; one JSON event per line on stdout."""
    jobs: list[Job] = pickle.load(sys.stdin.buffer)
    compile_fn, refused = _load_compiler(compiler_path)
    verbose = os.environ.get("JITFUZZ_VERBOSE") == "1"
    for k, job in enumerate(jobs):
        _emit({"start": k})
        namespace: dict[str, Any] = {}
        exec(compile(job.source, f"<fuzz {k}>", "exec"), namespace)
        fn = namespace[job.name]
        try:
            native = compile_fn(fn)
        except refused as exc:
            _emit({"refused": k, "reason": getattr(exc, "reason", str(exc))})
            continue
        except Exception as exc:  # noqa: BLE001 - anything but NotCompilable is a compiler bug
            _emit({"error": k, "exc": f"{type(exc).__qualname__}: {exc}"})
            continue
        mismatches = 0
        for j, (args, kwargs) in enumerate(job.calls):
            if verbose:
                _emit({"case": j})
            expected = outcome(fn, args, kwargs)
            got = outcome(native, args, kwargs)
            if expected != got:
                mismatches += 1
                if mismatches <= 3:
                    _emit({"mismatch": k, "case": j, "expected": expected, "got": got})
        _emit({"done": k, "cases": len(job.calls), "mismatches": mismatches})


# -- parent side ----------------------------------------------------------------------

def _package_root() -> Path:
    """The directory that makes this package importable under its current name."""
    root = Path(__file__).resolve().parent
    for _ in (__package__ or "").split("."):
        root = root.parent
    return root


def _child_env(verbose: bool) -> dict[str, str]:
    import jitimport
    src = Path(jitimport.__file__).resolve().parent.parent
    env = dict(os.environ)
    paths = [str(_package_root()), str(src)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["JITFUZZ_VERBOSE"] = "1" if verbose else "0"
    env.pop("JITIMPORT_DISABLE", None)
    return env


@dataclass
class ChildResult:
    events: list[dict[str, Any]]
    returncode: int | None     # None: killed after the timeout
    stderr: str

    @property
    def died(self) -> bool:
        return self.returncode != 0

    def last_started(self) -> int | None:
        started = [e["start"] for e in self.events if "start" in e]
        return started[-1] if started else None

    def last_case(self) -> int | None:
        cases = [e["case"] for e in self.events if "case" in e and "mismatch" not in e]
        return cases[-1] if cases else None


def run_child(jobs: list[Job], compiler: str = DEFAULT_COMPILER, verbose: bool = False,
              timeout: float = BATCH_TIMEOUT) -> ChildResult:
    """Run ``jobs`` in a fresh interpreter; survives its crash or hang."""
    payload = pickle.dumps([Job(j.source, j.name, j.calls) for j in jobs])
    cmd = [sys.executable, "-m", f"{__package__}.runner", "--child", compiler]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_child_env(verbose))
    try:
        out, err = proc.communicate(payload, timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        code = None
    events = []
    for line in out.decode(errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut by the crash
    return ChildResult(events, code, err.decode(errors="replace")[-4000:])


@dataclass
class Failure:
    """One confirmed failure, minimised: a crash or a mismatch."""

    kind: str                      # "crash" or "mismatch"
    source: str
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    detail: str
    original_source: str = ""
    regression_file: str | None = None

    def describe(self) -> str:
        return (f"{self.kind.upper()}: {self.detail}\n  call: {self.name}{_call_text(self.args, self.kwargs)}"
                f"\n  minimised source:\n{_indent(self.source)}"
                + (f"\n  original source:\n{_indent(self.original_source)}" if self.original_source else ""))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def _call_text(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [literal(a) for a in args] + [f"{k}={literal(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def literal(value: Any) -> str:
    """Python source for an argument value (floats round-trip, including inf and nan)."""
    if isinstance(value, MyInt):
        return f"MyInt({int(value)})"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"float({str(value)!r})"
        return repr(value)
    return repr(value)


def _status(result: ChildResult) -> tuple[str, str]:
    """("crash"|"mismatch"|"pass"|"refused", detail) for a one-job, one-call child run."""
    for event in result.events:
        if "mismatch" in event:
            return "mismatch", f"expected {tuple(event['expected'])}, got {tuple(event['got'])}"
        if "error" in event:
            return "error", event["exc"]
    if result.died:
        if result.returncode is None:
            return "crash", "child hung (killed after the timeout)"
        return "crash", f"child exited with code {result.returncode}: {_last_line(result.stderr)}"
    if any("refused" in e for e in result.events):
        return "refused", ""
    return "pass", ""


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no stderr)"


# -- minimisation ----------------------------------------------------------------------

def _node_shrinks(node: Node, params: tuple[str, ...]) -> Iterable[Node]:
    """Smaller trees to try in place of ``node``, most aggressive first."""
    if isinstance(node, Binary):
        yield node.left
        if node.op not in ("**",):
            yield node.right
        for left in _node_shrinks(node.left, params):
            yield Binary(node.op, left, node.right)
        if node.op != "**":
            for right in _node_shrinks(node.right, params):
                yield Binary(node.op, node.left, right)
    elif isinstance(node, Unary):
        yield node.operand
        for inner in _node_shrinks(node.operand, params):
            yield Unary(node.op, inner)
    elif isinstance(node, Const):
        for simpler in (0, 1, -1):
            if abs(simpler) < abs(node.value) or (simpler != node.value and abs(node.value) > 1):
                yield Const(simpler)
    if not isinstance(node, Var):
        yield Const(0)
        for p in params:
            yield Var(p)


def spec_shrinks(spec: FuncSpec) -> Iterable[FuncSpec]:
    """Candidate specs one step smaller than ``spec``."""
    for i in range(len(spec.body)):
        yield FuncSpec(spec.params, spec.body[:i] + spec.body[i + 1:], spec.result, spec.defaults)
    if spec.defaults:
        yield FuncSpec(spec.params, spec.body, spec.result, spec.defaults[1:])
    for i, stmt in enumerate(spec.body):
        if stmt.aug:
            plain = Assign(stmt.target, Binary(stmt.aug, Var(stmt.target), stmt.expr))
            yield FuncSpec(spec.params, spec.body[:i] + (plain,) + spec.body[i + 1:], spec.result,
                           spec.defaults)
        for expr in _node_shrinks(stmt.expr, spec.params):
            new = Assign(stmt.target, expr, stmt.aug)
            yield FuncSpec(spec.params, spec.body[:i] + (new,) + spec.body[i + 1:], spec.result,
                           spec.defaults)
    for result in _node_shrinks(spec.result, spec.params):
        yield FuncSpec(spec.params, spec.body, result, spec.defaults)


def _arg_shrinks(args: tuple[Any, ...]) -> Iterable[tuple[Any, ...]]:
    for i, value in enumerate(args):
        simpler: list[Any] = []
        if type(value) is int:
            simpler = [v for v in (0, 1, -1) if abs(v) < abs(value)]
            if abs(value) > 2:
                simpler.append(value // 2)
        for s in simpler:
            yield args[:i] + (s,) + args[i + 1:]


def _defined(spec: FuncSpec) -> bool:
    """Every variable is assigned before it is read (a shrink may break that)."""
    known = set(spec.params)
    for stmt in spec.body:
        if stmt.aug and stmt.target not in known:
            return False
        if any(isinstance(n, Var) and n.name not in known for n in _walk(stmt.expr)):
            return False
        known.add(stmt.target)
    return all(not isinstance(n, Var) or n.name in known for n in _walk(spec.result))


def _walk(node: Node) -> Iterable[Node]:
    from .gen import walk
    return walk(node)


def signature(kind: str, detail: str) -> str:
    """What "fails the same way" means while shrinking: same kind, same exception type."""
    if kind == "error":
        return "error " + detail.split(":", 1)[0]
    return kind


def minimise(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any], kind: str,
             compiler: str = DEFAULT_COMPILER, budget_seconds: float = 90.0,
             chunk: int = 400, detail: str = "") -> tuple[FuncSpec, tuple[Any, ...], str]:
    """Greedy shrinking: keep the first smaller candidate that still fails the same way."""
    want = signature(kind, detail)
    deadline = time.monotonic() + budget_seconds
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        candidates: list[tuple[FuncSpec, tuple[Any, ...]]] = []
        candidates += [(s, args) for s in spec_shrinks(spec) if _defined(s)]
        candidates += [(spec, a) for a in _arg_shrinks(args)]
        candidates = [(s, a) for s, a in candidates if guard(s, a, kwargs)]
        for start in range(0, len(candidates), chunk):
            if time.monotonic() >= deadline:
                break
            group = candidates[start:start + chunk]
            found = _first_failing(group, kwargs, want, compiler)
            if found is not None:
                (spec, args), detail = group[found[0]], found[1]
                progress = True
                break
    return spec, args, detail


def _first_failing(group: list[tuple[FuncSpec, tuple[Any, ...]]], kwargs: dict[str, Any],
                   want: str, compiler: str) -> tuple[int, str] | None:
    """Index of the first candidate failing with signature ``want`` (several per child run)."""
    offset = 0
    kind = want.split()[0]
    while offset < len(group):
        jobs = [Job(s.source(), s.name, [(a, kwargs)]) for s, a in group[offset:]]
        result = run_child(jobs, compiler, timeout=60.0)
        for e in result.events:
            if kind == "mismatch" and "mismatch" in e:
                return offset + e["mismatch"], f"expected {tuple(e['expected'])}, got {tuple(e['got'])}"
            if kind == "error" and "error" in e and signature("error", e["exc"]) == want:
                return offset + e["error"], e["exc"]
        if result.died:
            k = result.last_started()
            if k is None:
                return None
            if kind == "crash":
                return offset + k, _status(result)[1]
            offset += k + 1  # a mismatch hunt ran into a crash: skip that candidate
            continue
        return None
    return None


# -- regression tests --------------------------------------------------------------------

REGRESSIONS_FILE = "fuzz_cases.json"


def write_regression(failure: Failure, directory: Path, seed: int | None, xfail: bool = True) -> Path:
    """Append ``failure`` to ``directory/fuzz_cases.json``, the data behind
    ``tests/regressions/test_fuzz_regressions.py`` (marked xfail until fixed)."""
    call = "((" + "".join(literal(a) + ", " for a in failure.args) + "), {" + ", ".join(
        f"{k!r}: {literal(v)}" for k, v in failure.kwargs.items()) + "})"
    digest = hashlib.sha1((failure.source + call).encode()).hexdigest()[:10]
    origin = f"seed {seed}" if seed is not None else "long mode"
    case = {
        "id": f"fuzz_{failure.kind}_{digest}",
        "found": f"{failure.kind}, minimised; found by tests/fuzz ({origin}, Python "
                 f"{'.'.join(map(str, sys.version_info[:3]))})",
        "detail": failure.describe().splitlines()[0] if failure.describe() else failure.kind,
        "source": failure.source, "call": call, "name": failure.name, "xfail": xfail,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / REGRESSIONS_FILE
    cases = json.loads(path.read_text()) if path.exists() else []
    if all(c["id"] != case["id"] for c in cases):
        cases.append(case)
        path.write_text(json.dumps(cases, indent=2) + "\n")
    return path


# -- the campaign ------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+")


def normalise_reason(reason: str) -> str:
    """Refusal reasons grouped: numbers and line positions dropped."""
    return _NUMBER.sub("N", reason)


@dataclass
class Stats:
    functions: int = 0
    compiled: int = 0
    refused: collections.Counter = field(default_factory=collections.Counter)
    cases: int = 0
    skipped_cases: int = 0
    mismatches: int = 0
    crashes: int = 0
    errors: int = 0
    fit_functions: int = 0
    fit_compiled: int = 0
    fit_refused: collections.Counter = field(default_factory=collections.Counter)
    failures: list[Failure] = field(default_factory=list)

    def compile_rate_fit(self) -> float:
        return self.fit_compiled / self.fit_functions if self.fit_functions else 1.0

    def report(self) -> str:
        lines = [
            f"python {sys.version.split()[0]}",
            f"functions tried:   {self.functions}",
            f"compiled:          {self.compiled}",
            f"refused:           {sum(self.refused.values())}",
        ]
        for reason, count in self.refused.most_common(12):
            lines.append(f"    {count:8d}  {reason}")
        lines += [
            f"int64-constant functions: {self.fit_functions}, compiled {self.fit_compiled} "
            f"({100 * self.compile_rate_fit():.2f} %)",
        ]
        for reason, count in self.fit_refused.most_common(6):
            lines.append(f"    {count:8d}  {reason}")
        lines += [
            f"cases:             {self.cases}",
            f"skipped (guard):   {self.skipped_cases}",
            f"mismatches:        {self.mismatches}",
            f"crashes:           {self.crashes}",
            f"compile errors:    {self.errors}  (compile_native raised something else than NotCompilable)",
        ]
        return "\n".join(lines)


class Campaign:
    """Generates, runs in children, and records; one per seed."""

    def __init__(self, seed: int, compiler: str = DEFAULT_COMPILER, calls_per_function: int = 40,
                 batch_size: int = 100, regressions: Path | None = None, minimise_budget: float = 90.0,
                 log: Callable[[str], None] | None = None, max_minimised: int = 5) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.gen = Generator(self.rng)
        self.compiler = compiler
        self.calls_per_function = calls_per_function
        self.batch_size = batch_size
        self.regressions = regressions
        self.minimise_budget = minimise_budget
        self.log = log or (lambda text: None)
        self.stats = Stats()
        self.max_minimised = max_minimised
        self._seen_failures: set[str] = set()
        self._signature_counts: collections.Counter = collections.Counter()

    def make_job(self) -> Job:
        spec = self.gen.function()
        job = Job(spec.source(), spec.name, [], spec.constants_fit_int64(), spec)
        for _ in range(self.calls_per_function):
            args, kwargs = self.gen.call(spec)
            if guard(spec, args, kwargs):
                job.calls.append((args, kwargs))
            else:
                self.stats.skipped_cases += 1
        return job

    def run_for(self, seconds: float | None = None, max_functions: int | None = None) -> Stats:
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if max_functions is not None and self.stats.functions >= max_functions:
                break
            n = self.batch_size
            if max_functions is not None:
                n = min(n, max_functions - self.stats.functions)
            self.run_batch([self.make_job() for _ in range(n)])
            self.log(f"[{self.stats.functions} functions, {self.stats.cases} cases, "
                     f"{self.stats.mismatches} mismatches, {self.stats.crashes} crashes]")
        return self.stats

    def run_batch(self, jobs: list[Job]) -> None:
        pending = jobs
        while pending:
            result = run_child(pending, self.compiler)
            finished = self._account(pending, result)
            if not result.died:
                return
            k = result.last_started()
            if k is None:  # the child could not even start: a broken environment
                raise RuntimeError(f"fuzz child failed to start: {result.stderr}")
            if k < finished:
                k = finished
            if k >= len(pending):
                return
            self._crashed(pending[k], result)
            pending = pending[k + 1:]

    def _account(self, jobs: list[Job], result: ChildResult) -> int:
        """Count the events of a child run; returns how many jobs it finished."""
        finished = 0
        for event in result.events:
            if "refused" in event:
                job = jobs[event["refused"]]
                reason = normalise_reason(event["reason"])
                self.stats.functions += 1
                self.stats.refused[reason] += 1
                if job.fits_int64:
                    self.stats.fit_functions += 1
                    self.stats.fit_refused[reason] += 1
                finished = event["refused"] + 1
            elif "error" in event:
                job = jobs[event["error"]]
                self.stats.functions += 1
                self.stats.errors += 1
                self.stats.refused["ERROR " + normalise_reason(event["exc"])] += 1
                if job.fits_int64:
                    self.stats.fit_functions += 1
                    self.stats.fit_refused["ERROR " + normalise_reason(event["exc"])] += 1
                args, kwargs = job.calls[0] if job.calls else ((), {})
                self._record("error", job, args, kwargs, event["exc"])
                finished = event["error"] + 1
            elif "mismatch" in event:
                self._mismatch(jobs[event["mismatch"]], event)
            elif "done" in event:
                job = jobs[event["done"]]
                self.stats.functions += 1
                self.stats.compiled += 1
                self.stats.cases += event["cases"]
                if job.fits_int64:
                    self.stats.fit_functions += 1
                    self.stats.fit_compiled += 1
                finished = event["done"] + 1
        return finished

    def _mismatch(self, job: Job, event: dict[str, Any]) -> None:
        self.stats.mismatches += 1
        args, kwargs = job.calls[event["case"]]
        detail = f"expected {tuple(event['expected'])}, got {tuple(event['got'])}"
        self._record("mismatch", job, args, kwargs, detail)

    def _crashed(self, job: Job, batch: ChildResult) -> None:
        """Find the crashing call by rerunning the function alone, verbosely."""
        self.stats.functions += 1
        self.stats.crashes += 1
        result = run_child([job], self.compiler, verbose=True, timeout=120.0)
        case = result.last_case()
        kind, detail = _status(result)
        if result.died and case is not None:
            args, kwargs = job.calls[case]
            self._record("crash", job, args, kwargs, detail)
            return
        # Not reproduced alone: report what the batch child said, with the function.
        batch_code = "hung" if batch.returncode is None else f"exited with code {batch.returncode}"
        detail = (f"batch child {batch_code} in this function, not reproduced alone "
                  f"({kind} {detail}): {_last_line(batch.stderr)}")
        args, kwargs = job.calls[0] if job.calls else ((), {})
        self._record("crash", job, args, kwargs, detail)

    def _record(self, kind: str, job: Job, args: tuple[Any, ...], kwargs: dict[str, Any],
                detail: str) -> None:
        spec = job.spec
        source = job.source
        # Minimise each distinct compile error / crash message once, and a few mismatches.
        sig = f"{kind} {normalise_reason(detail)}" if kind != "mismatch" else "mismatch"
        self._signature_counts[sig] += 1
        if self._signature_counts[sig] > (self.max_minimised if kind == "mismatch" else 1):
            return
        reproducible = not detail.startswith("batch child")
        if spec is not None and self.minimise_budget > 0 and reproducible:
            small, small_args, small_detail = minimise(spec, args, kwargs, kind, self.compiler,
                                                       self.minimise_budget, detail=detail)
            source, args, detail = small.source(), small_args, small_detail or detail
        failure = Failure(kind, source, job.name, args, kwargs, detail, job.source)
        key = source + _call_text(args, kwargs)
        if key in self._seen_failures:
            return
        self._seen_failures.add(key)
        if self.regressions is not None:
            failure.regression_file = str(write_regression(failure, self.regressions, self.seed))
        self.stats.failures.append(failure)
        self.log(failure.describe())


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2] if len(sys.argv) > 2 else DEFAULT_COMPILER)
    else:
        sys.exit("usage: python -m tests.fuzz [--seconds N] [--seed N]")
