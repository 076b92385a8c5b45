"""Differential runner: native vs. original, in child processes, with minimisation.

The parent generates functions and calls (:mod:`.gen`), filters out calls the
guard says would make CPython build enormous ints or loop too long, and ships
batches of :class:`~.gen.Job` s to a child (:mod:`.child`) over stdin.  The
child compiles each function with the compiler under test, runs every call on
the original and on the native callable, and reports one JSON line per event on
stdout.  A child that dies (SIGSEGV,
SIGILL, ...) is a crash; a child that reports nothing for ``stall_timeout``
seconds is a hang (every call is cheap by construction, so only a native loop
that never ends, or a deadlock, can be that slow) and is killed.  Either way
the parent reruns the function alone with one progress line per call to find
the arguments, shrinks the failing function while it still fails the same
way, and writes the result as a regression test.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .child import DEFAULT_COMPILER, MyInt, frame, outcome
from .gen import (MODES, Assign, Binary, BoolOp, Call, Compare, Const, For, FuncSpec, Generator,
                  If, IfExp, Job, Method, Node, Return, Stmt, Subscript, TupleExpr, Unary, Unpack,
                  Var, While, check, guard)
from .module import FEATURES, MODULE_SHARE, ModuleGenerator, ModuleJob, guard_job, repro_script

__all__ = ["Campaign", "Stats", "Failure", "run_child", "minimise", "outcome", "DEFAULT_COMPILER"]

#: A child that sends no event for this long hangs (a batch event comes per function).
STALL_TIMEOUT = 20.0
#: While minimising each child runs one call per candidate: a hang shows sooner.
MINIMISE_STALL_TIMEOUT = 5.0
#: Allowed for a child to start (interpreter, imports, reading the jobs) before its first event.
STARTUP_TIMEOUT = 30.0
#: Cap on one child run, however steadily it reports.
BATCH_TIMEOUT = 1800.0
#: ``--mode mixed``: this share of the functions is straight-line, the rest has control flow
#: (of which :data:`.module.MODULE_SHARE` are module jobs).
STRAIGHT_SHARE = 0.25
#: How functions are counted: by what they contain, module jobs apart.
STAT_MODES = MODES + ("module",)
#: ``--mode`` values.
CAMPAIGN_MODES = ("mixed",) + STAT_MODES


# -- parent side ----------------------------------------------------------------------

def _package_root() -> Path:
    """The directory that makes this package importable under its current name."""
    root = Path(__file__).resolve().parent
    for _ in (__package__ or "").split("."):
        root = root.parent
    return root


def _child_env() -> dict[str, str]:
    import jitimport
    src = Path(jitimport.__file__).resolve().parent.parent
    env = dict(os.environ)
    paths = [str(_package_root()), str(src)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("JITIMPORT_DISABLE", None)
    return env


@dataclass
class ChildResult:
    events: list[dict[str, Any]]
    returncode: int | None     # None: killed because it hung; 0: answered every job
    stderr: str

    @property
    def died(self) -> bool:
        return self.returncode != 0

    @property
    def hung(self) -> bool:
        return self.returncode is None

    def last_started(self) -> int | None:
        started = [e["start"] for e in self.events if "start" in e]
        return started[-1] if started else None

    def last_case(self) -> int | None:
        cases = [e["case"] for e in self.events if "case" in e and "mismatch" not in e]
        return cases[-1] if cases else None


class Child:
    """One child interpreter (:mod:`.child`) that runs requests until closed or dead.

    Events are read by a thread into a queue, so that :meth:`run` can notice a child that
    stays silent for ``stall_timeout`` seconds (it hangs: it is killed) or that dies."""

    def __init__(self, compiler: str = DEFAULT_COMPILER, stall_timeout: float = STALL_TIMEOUT,
                 timeout: float = BATCH_TIMEOUT) -> None:
        self.stall_timeout = stall_timeout
        self.timeout = timeout
        self.proc = subprocess.Popen([sys.executable, "-m", f"{__package__}.child", compiler],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=_child_env())
        self.dead = False
        self._started = False
        self._events: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: list[bytes] = []
        self._threads = [threading.Thread(target=self._read_events, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._events.put(line)
        self._events.put(None)   # end of output: the child exited

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.append(self.proc.stderr.read())

    def run(self, jobs: list[Job], verbose: bool = False,
            stop_at_first: bool = False) -> ChildResult:
        """Send ``jobs`` and collect the events until the child says it is done with them."""
        assert not self.dead, "the child is dead: start another"
        request = {"jobs": [j.payload() for j in jobs], "verbose": verbose,
                   "stop_at_first": stop_at_first}
        events: list[dict[str, Any]] = []
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(frame(request))
            self.proc.stdin.flush()
        except OSError:
            return self._death(events, hung=False)   # died before reading: its exit says why
        started = time.monotonic()
        # Starting the interpreter and importing the compiler may take a while on a busy
        # machine: the first request's stall clock also allows for that.
        allowance = self.stall_timeout + (0.0 if self._started else STARTUP_TIMEOUT)
        self._started = True
        while True:
            remaining = self.timeout - (time.monotonic() - started)
            try:
                line = self._events.get(timeout=max(0.01, min(allowance, remaining)))
            except queue.Empty:
                self.proc.kill()
                return self._death(events, hung=True)
            allowance = self.stall_timeout
            if line is None:
                return self._death(events, hung=False)
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the crash
            if "end" in event:
                return ChildResult(events, 0, "")
            events.append(event)

    def _death(self, events: list[dict[str, Any]], hung: bool) -> ChildResult:
        self.dead = True
        self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=10)
        stderr = b"".join(self._stderr).decode(errors="replace")[-4000:]
        while True:   # events that arrived after the last one read (a crash right after them)
            try:
                line = self._events.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        # An exit with status 0 before answering is a death too (say, sys.exit in the compiler).
        code = None if hung else (self.proc.returncode if self.proc.returncode != 0 else -1)
        return ChildResult(events, code, stderr)

    def close(self) -> None:
        if self.dead:
            return
        self.dead = True
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=10)


def run_child(jobs: list[Job], compiler: str = DEFAULT_COMPILER, verbose: bool = False,
              stall_timeout: float = STALL_TIMEOUT, timeout: float = BATCH_TIMEOUT,
              stop_at_first: bool = False) -> ChildResult:
    """Run ``jobs`` in a fresh interpreter; survives its crash, and kills it when it hangs
    (no event for ``stall_timeout`` seconds, or ``timeout`` in all)."""
    child = Child(compiler, stall_timeout, timeout)
    try:
        return child.run(jobs, verbose, stop_at_first)
    finally:
        child.close()


@dataclass
class Failure:
    """One confirmed failure, minimised: a crash or a mismatch."""

    kind: str                      # "mismatch", "crash", "hang" or "error"
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
    """("crash"|"hang"|"mismatch"|"error"|"pass"|"refused", detail) for a one-job child run."""
    for event in result.events:
        if "mismatch" in event:
            return "mismatch", f"expected {tuple(event['expected'])}, got {tuple(event['got'])}"
        if "error" in event:
            return "error", event["exc"]
    if result.hung:
        return "hang", "child hung (no progress for the stall timeout, killed)"
    if result.died:
        return "crash", f"child exited with code {result.returncode}: {_last_line(result.stderr)}"
    if any("refused" in e for e in result.events):
        return "refused", ""
    return "pass", ""


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no stderr)"


# -- minimisation ----------------------------------------------------------------------
#
# A failing function is shrunk greedily: the first smaller candidate that still fails the
# same way replaces it, until no candidate does (or the time budget is spent).  Candidates are
# tried in order of how much they remove: whole statements first (deleting one, replacing an
# ``if`` or a loop by its body, dropping an ``else``), then smaller arguments, then smaller
# expressions.  A candidate must still compile (``break`` outside a loop does not), read no
# name that nothing assigns, and pass the guard -- which also rejects a candidate whose loop
# no longer terminates (say, its counter update was deleted).

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
    elif isinstance(node, Compare):
        yield from node.operands
        if len(node.operands) > 2:
            for i in range(len(node.ops)):
                yield Compare(node.operands[i:i + 2], node.ops[i:i + 1])
        for i, operand in enumerate(node.operands):
            for smaller in _node_shrinks(operand, params):
                yield Compare(node.operands[:i] + (smaller,) + node.operands[i + 1:], node.ops)
    elif isinstance(node, BoolOp):
        yield from node.values
        if len(node.values) > 2:
            for i in range(len(node.values)):
                yield BoolOp(node.op, node.values[:i] + node.values[i + 1:])
        for i, value in enumerate(node.values):
            for smaller in _node_shrinks(value, params):
                yield BoolOp(node.op, node.values[:i] + (smaller,) + node.values[i + 1:])
    elif isinstance(node, IfExp):
        yield node.body
        yield node.orelse
        yield node.test
        for smaller in _node_shrinks(node.test, params):
            yield IfExp(smaller, node.body, node.orelse)
        for smaller in _node_shrinks(node.body, params):
            yield IfExp(node.test, smaller, node.orelse)
        for smaller in _node_shrinks(node.orelse, params):
            yield IfExp(node.test, node.body, smaller)
    elif isinstance(node, Call):
        yield from node.args
        for i, arg in enumerate(node.args):
            for smaller in _node_shrinks(arg, params):
                yield Call(node.func, node.args[:i] + (smaller,) + node.args[i + 1:])
    elif isinstance(node, Method):
        yield node.receiver
        for smaller in _node_shrinks(node.receiver, params):
            yield Method(node.name, smaller)
    elif isinstance(node, Subscript):
        for smaller in _node_shrinks(node.index, params):
            yield Subscript(node.table, smaller)
    elif isinstance(node, TupleExpr):
        yield from node.items
        for i, item in enumerate(node.items):
            for smaller in _node_shrinks(item, params):
                yield TupleExpr(node.items[:i] + (smaller,) + node.items[i + 1:])
    if not isinstance(node, Var):
        yield Const(0)
        for p in params:
            yield Var(p)


def _with_block(stmt: Stmt, index: int, block: tuple[Stmt, ...]) -> Stmt:
    """``stmt`` with its body (index 0) or its else-block (index 1) replaced."""
    if index == 0:
        return dataclasses.replace(stmt, body=block)   # type: ignore[type-var]
    return dataclasses.replace(stmt, orelse=block)     # type: ignore[type-var]


def _with_exprs(stmt: Stmt, exprs: tuple[Node, ...]) -> Stmt:
    """``stmt`` with the expressions :meth:`exprs` lists replaced, in the same order."""
    if isinstance(stmt, Assign):
        return Assign(stmt.target, exprs[0], stmt.aug)
    if isinstance(stmt, Return):
        return Return(exprs[0])
    if isinstance(stmt, Unpack):
        return Unpack(stmt.targets, exprs[0])
    if isinstance(stmt, (If, While)):
        return dataclasses.replace(stmt, test=exprs[0])
    if isinstance(stmt, For):
        return dataclasses.replace(stmt, args=exprs)
    return stmt


def _block_shrinks(block: tuple[Stmt, ...]) -> Iterator[tuple[Stmt, ...]]:
    """Blocks with a statement fewer, or a compound statement flattened, anywhere inside."""
    if len(block) >= 4:   # halves first: long functions shrink in a few rounds
        half = len(block) // 2
        yield block[half:]
        yield block[:half]
    for i in range(len(block)):
        yield block[:i] + block[i + 1:]
    for i, stmt in enumerate(block):
        for replacement in _stmt_shrinks(stmt):
            yield block[:i] + replacement + block[i + 1:]


def _stmt_shrinks(stmt: Stmt) -> Iterator[tuple[Stmt, ...]]:
    if isinstance(stmt, If):
        yield stmt.body
        if stmt.orelse:
            yield stmt.orelse
            yield (dataclasses.replace(stmt, orelse=()),)
    elif isinstance(stmt, (While, For)):
        if stmt.orelse:
            yield (dataclasses.replace(stmt, orelse=()),)
        yield stmt.body + stmt.orelse       # the body once, without the loop
    elif isinstance(stmt, Assign) and stmt.aug:
        yield (Assign(stmt.target, Binary(stmt.aug, Var(stmt.target), stmt.expr)),)
    for index, inner in enumerate(stmt.blocks()):
        for smaller in _block_shrinks(inner):
            yield (_with_block(stmt, index, smaller),)


def _block_expr_shrinks(block: tuple[Stmt, ...], params: tuple[str, ...]
                        ) -> Iterator[tuple[Stmt, ...]]:
    """Blocks with one expression (anywhere inside) made smaller."""
    for i, stmt in enumerate(block):
        exprs = stmt.exprs()
        for k, expr in enumerate(exprs):
            for smaller in _node_shrinks(expr, params):
                new = _with_exprs(stmt, exprs[:k] + (smaller,) + exprs[k + 1:])
                yield block[:i] + (new,) + block[i + 1:]
        for index, inner in enumerate(stmt.blocks()):
            for smaller_block in _block_expr_shrinks(inner, params):
                yield block[:i] + (_with_block(stmt, index, smaller_block),) + block[i + 1:]


def structure_shrinks(spec: FuncSpec) -> Iterator[FuncSpec]:
    """Candidates with fewer statements or defaults than ``spec``."""
    for body in _block_shrinks(spec.body):
        yield dataclasses.replace(spec, body=body)
    if spec.defaults:
        yield dataclasses.replace(spec, defaults=spec.defaults[1:])


def expression_shrinks(spec: FuncSpec) -> Iterator[FuncSpec]:
    """Candidates with one smaller expression than ``spec``."""
    for body in _block_expr_shrinks(spec.body, spec.params):
        yield dataclasses.replace(spec, body=body)
    for result in _node_shrinks(spec.result, spec.params):
        yield dataclasses.replace(spec, result=result)


def spec_shrinks(spec: FuncSpec) -> Iterator[FuncSpec]:
    """Candidate specs one step smaller than ``spec``."""
    return itertools.chain(structure_shrinks(spec), expression_shrinks(spec))


def _arg_shrinks(args: tuple[Any, ...]) -> Iterable[tuple[Any, ...]]:
    for i, value in enumerate(args):
        simpler: list[Any] = []
        if type(value) is int:
            simpler = [v for v in (0, 1, -1) if abs(v) < abs(value)]
            if abs(value) > 2:
                simpler.append(value // 2)
        for s in simpler:
            yield args[:i] + (s,) + args[i + 1:]


def _defined(spec: FuncSpec, module_names: Iterable[str] = ()) -> bool:
    """Every name read is a parameter, assigned somewhere, or one of ``module_names`` (else
    it is a global: refused, or a NameError).

    Reading a local before its assignment is fine: that is an UnboundLocalError, an outcome
    like any other."""
    known = set(spec.params) | set(module_names)
    for stmt in spec.statements():
        if isinstance(stmt, Assign):
            known.add(stmt.target)
        elif isinstance(stmt, For):
            known.add(stmt.target)
        elif isinstance(stmt, Unpack):
            known.update(stmt.targets)
    return all(not isinstance(n, Var) or n.name in known for n in spec.nodes())


def _compiles(spec: FuncSpec) -> bool:
    try:
        compile(spec.source(), "<candidate>", "exec")
    except SyntaxError:   # `break`/`continue` left outside a loop
        return False
    return True


def _candidates(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> Iterator[tuple[FuncSpec, tuple[Any, ...]]]:
    """Valid, guard-approved, distinct candidates, most aggressive first."""
    seen: set[str] = {spec.source()}   # a "shrink" that changes nothing would loop forever

    def fresh(candidate: FuncSpec) -> bool:
        source = candidate.source()
        if source in seen:
            return False
        seen.add(source)
        return _defined(candidate) and _compiles(candidate) and guard(candidate, args, kwargs)

    for candidate in structure_shrinks(spec):
        if fresh(candidate):
            yield candidate, args
    for smaller_args in _arg_shrinks(args):
        if guard(spec, smaller_args, kwargs):
            yield spec, smaller_args
    for candidate in expression_shrinks(spec):
        if fresh(candidate):
            yield candidate, args


def signature(kind: str, detail: str) -> str:
    """What "fails the same way" means while shrinking: same kind, same exception type."""
    if kind == "error":
        return "error " + detail.split(":", 1)[0]
    return kind


class _Rounds:
    """The child the minimiser's rounds share, replaced when a candidate kills it."""

    def __init__(self, compiler: str, stall_timeout: float) -> None:
        self.compiler = compiler
        self.stall_timeout = stall_timeout
        self.child: Child | None = None

    def run(self, jobs: list[Job]) -> ChildResult:
        if self.child is None or self.child.dead:
            self.child = Child(self.compiler, self.stall_timeout)
        return self.child.run(jobs, stop_at_first=True)

    def close(self) -> None:
        if self.child is not None:
            self.child.close()


def minimise(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any], kind: str,
             compiler: str = DEFAULT_COMPILER, budget_seconds: float = 90.0,
             chunk: int = 400, detail: str = "",
             stall_timeout: float = MINIMISE_STALL_TIMEOUT) -> tuple[FuncSpec, tuple[Any, ...], str]:
    """Greedy shrinking: keep the first smaller candidate that still fails the same way."""
    want = signature(kind, detail)
    deadline = time.monotonic() + budget_seconds
    rounds = _Rounds(compiler, stall_timeout)
    progress = True
    try:
        while progress and time.monotonic() < deadline:
            progress = False
            candidates = _candidates(spec, args, kwargs)
            size = min(chunk, 16)   # the first candidates remove the most: try them soon
            while time.monotonic() < deadline:
                group = list(itertools.islice(candidates, size))
                size = chunk
                if not group:
                    break
                found = _first_failing(group, kwargs, want, rounds)
                if found is not None:
                    (spec, args), detail = group[found[0]], found[1]
                    progress = True
                    break
    finally:
        rounds.close()
    return spec, args, detail


def _first_failing(group: list[tuple[FuncSpec, tuple[Any, ...]]], kwargs: dict[str, Any],
                   want: str, rounds: _Rounds) -> tuple[int, str] | None:
    """Index of the first candidate failing with signature ``want`` (several per request)."""
    return _first_failing_job([Job(s.source(), s.name, [(a, kwargs)]) for s, a in group],
                              want, rounds)


def _first_failing_job(jobs: list[Job], want: str, rounds: _Rounds) -> tuple[int, str] | None:
    """Index of the first job failing with signature ``want`` (several per request)."""
    offset = 0
    kind = want.split()[0]
    while offset < len(jobs):
        result = rounds.run(jobs[offset:])
        for e in result.events:
            if kind == "mismatch" and "mismatch" in e:
                return offset + e["mismatch"], f"expected {tuple(e['expected'])}, got {tuple(e['got'])}"
            if kind == "error" and "error" in e and signature("error", e["exc"]) == want:
                return offset + e["error"], e["exc"]
        if result.died:
            k = result.last_started()
            if k is None:
                return None
            if (kind == "hang") == result.hung and kind in ("crash", "hang"):
                return offset + k, _status(result)[1]
            offset += k + 1  # died the other way than the one hunted: skip that candidate
            continue
        return None
    return None


def module_candidates(job: ModuleJob, case: int) -> Iterator[ModuleJob]:
    """Smaller module jobs, most aggressive first: the failing call alone after the changes
    before it, then one change fewer, then a smaller function under test (its expressions
    and statements, as :func:`minimise` shrinks), then fewer functions compiled."""
    import dataclasses as dc
    events = job.events[:case + 1]
    changes = [e for e in events[:-1] if e[0] != "call"]
    seen: set[str] = {repr(ModuleJob(job.spec, events).payload())}   # no "shrink" to itself

    def fresh(candidate: ModuleJob) -> bool:
        key = repr(candidate.payload())
        if key in seen:
            return False
        seen.add(key)
        return True

    single = ModuleJob(job.spec, changes + [events[-1]], job.guarded_defs)
    if fresh(single):
        yield single
    base = single
    for i in range(len(changes)):
        fewer = ModuleJob(job.spec, changes[:i] + changes[i + 1:] + [events[-1]], job.guarded_defs)
        if fresh(fewer):
            yield fewer
    spec = job.spec
    names = {n for n, _ in spec.constants} | {n for n, _, _ in spec.tables} | {
        h.name for h in spec.helpers} | ({spec.shadow[0]} if spec.shadow else set())
    call = events[-1]
    for smaller in spec_shrinks(spec.main):
        if not (_defined(smaller, names) and _compiles(smaller)):
            continue
        candidate = ModuleJob(dc.replace(spec, main=smaller), list(base.events), job.guarded_defs)
        if not fresh(candidate):
            continue
        before = len(candidate.events)
        guard_job(candidate)
        if len(candidate.events) == before and candidate.events[-1] == call:
            yield candidate
    for name in spec.compile_order:
        if name != spec.main.name:
            order = tuple(n for n in spec.compile_order if n != name)
            candidate = ModuleJob(dc.replace(spec, compile_order=order), list(base.events),
                                  job.guarded_defs)
            if fresh(candidate):
                yield candidate


def minimise_module(job: ModuleJob, case: int, kind: str, compiler: str = DEFAULT_COMPILER,
                    budget_seconds: float = 90.0, detail: str = "",
                    stall_timeout: float = MINIMISE_STALL_TIMEOUT) -> tuple[ModuleJob, str]:
    """Greedy shrinking of a module job whose event ``case`` fails: keep the first smaller
    candidate that still fails the same way (its failing call is then its last event)."""
    want = signature(kind, detail)
    deadline = time.monotonic() + budget_seconds
    rounds = _Rounds(compiler, stall_timeout)
    try:
        progress = True
        while progress and time.monotonic() < deadline:
            progress = False
            candidates = module_candidates(job, case)
            while time.monotonic() < deadline:
                group = list(itertools.islice(candidates, 40))
                if not group:
                    break
                jobs = [Job(c.spec.source(), c.spec.main.name, [], True, c.spec.main, "module", c)
                        for c in group]
                found = _first_failing_job(jobs, want, rounds)
                if found is not None:
                    job, detail = group[found[0]], found[1]
                    case = len(job.events) - 1
                    progress = True
                    break
    finally:
        rounds.close()
    job = ModuleJob(job.spec, job.events[:case + 1], job.guarded_defs)
    return job, detail


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


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


@dataclass
class Stats:
    functions: int = 0
    compiled: int = 0
    refused: collections.Counter = field(default_factory=collections.Counter)
    cases: int = 0
    skipped_big: int = 0          # calls the guard skipped: an int would pass BIT_LIMIT bits
    skipped_long: int = 0         # ... or the loops would run more than STEP_LIMIT iterations
    mismatches: int = 0
    crashes: int = 0
    hangs: int = 0
    errors: int = 0
    functions_by_mode: collections.Counter = field(default_factory=collections.Counter)
    compiled_by_mode: collections.Counter = field(default_factory=collections.Counter)
    fit_functions: int = 0
    fit_compiled: int = 0
    fit_refused: collections.Counter = field(default_factory=collections.Counter)
    #: Module jobs, per construct (:data:`.module.FEATURES`): functions under test that have
    #: it, and how many of those compiled natively; helpers (and a compilable shadowing
    #: function) compiled by the job, and how many of them compiled.
    construct_functions: collections.Counter = field(default_factory=collections.Counter)
    construct_compiled: collections.Counter = field(default_factory=collections.Counter)
    helpers: int = 0
    helpers_compiled: int = 0
    module_events: int = 0        # changes to a module replayed between calls
    failures: list[Failure] = field(default_factory=list)

    @property
    def skipped_cases(self) -> int:
        return self.skipped_big + self.skipped_long

    def compile_rate(self, mode: str | None = None) -> float:
        """Share of the functions (of one mode, or all) that compiled natively."""
        if mode is None:
            return self.compiled / self.functions if self.functions else 1.0
        total = self.functions_by_mode[mode]
        return self.compiled_by_mode[mode] / total if total else 1.0

    def compile_rate_fit(self) -> float:
        return self.fit_compiled / self.fit_functions if self.fit_functions else 1.0

    def report(self) -> str:
        lines = [
            f"python {sys.version.split()[0]}",
            f"functions:          {self.functions}  ("
            + ", ".join(f"{mode} {self.functions_by_mode[mode]}" for mode in STAT_MODES) + ")",
            f"compiled natively:  {self.compiled}  ({_percent(self.compiled, self.functions)})",
        ]
        for mode in STAT_MODES:
            lines.append(f"    {mode:9s} {self.compiled_by_mode[mode]:8d} / "
                         f"{self.functions_by_mode[mode]:<8d} "
                         f"({_percent(self.compiled_by_mode[mode], self.functions_by_mode[mode])})")
        lines.append(f"    int64 constants {self.fit_compiled} / {self.fit_functions} "
                     f"({_percent(self.fit_compiled, self.fit_functions)})")
        if self.functions_by_mode["module"]:
            lines.append(f"module jobs: function under test compiled, per construct "
                         f"({self.module_events} changes replayed between calls)")
            for name in FEATURES:
                total = self.construct_functions[name]
                lines.append(f"    {name:19s} {self.construct_compiled[name]:7d} / {total:<7d} "
                             f"({_percent(self.construct_compiled[name], total)})")
            lines.append(f"    {'helpers compiled':19s} {self.helpers_compiled:7d} / "
                         f"{self.helpers:<7d} ({_percent(self.helpers_compiled, self.helpers)})")
        lines.append(f"refused:            {sum(self.refused.values())}")
        for reason, count in self.refused.most_common(12):
            lines.append(f"    {count:8d}  {reason}")
        lines += [
            f"cases:              {self.cases}  (calls compared, on compiled functions)",
            f"skipped (guard):    {self.skipped_cases}  ({self.skipped_big} ints too big, "
            f"{self.skipped_long} loops too long)",
            f"mismatches:         {self.mismatches}",
            f"crashes:            {self.crashes}",
            f"hangs:              {self.hangs}",
            f"compile errors:     {self.errors}  (compile_native raised something else than "
            f"NotCompilable)",
        ]
        return "\n".join(lines)


class Campaign:
    """Generates, runs in children, and records; one per seed."""

    def __init__(self, seed: int, compiler: str = DEFAULT_COMPILER, calls_per_function: int = 40,
                 batch_size: int = 100, regressions: Path | None = None, minimise_budget: float = 90.0,
                 log: Callable[[str], None] | None = None, max_minimised: int = 5,
                 mode: str = "mixed", stall_timeout: float = STALL_TIMEOUT) -> None:
        if mode not in CAMPAIGN_MODES:
            raise ValueError(f"mode must be one of {CAMPAIGN_MODES}, not {mode!r}")
        self.seed = seed
        self.rng = random.Random(seed)
        self.gen = Generator(self.rng)
        self.modgen = ModuleGenerator(self.gen)
        self.compiler = compiler
        self.calls_per_function = calls_per_function
        self.batch_size = batch_size
        self.regressions = regressions
        self.minimise_budget = minimise_budget
        self.log = log or (lambda text: None)
        self.stats = Stats()
        self.max_minimised = max_minimised
        self.mode = mode
        self.stall_timeout = stall_timeout
        self._seen_failures: set[str] = set()
        self._signature_counts: collections.Counter = collections.Counter()

    def next_mode(self) -> str:
        mode = self.mode
        if mode == "mixed":
            mode = "straight" if self.rng.random() < STRAIGHT_SHARE else "flow"
        if mode == "flow" and self.rng.random() < MODULE_SHARE:
            mode = "module"
        return mode

    def make_job(self) -> Job:
        mode = self.next_mode()
        if mode == "module":
            return self.make_module_job()
        spec = self.gen.function(mode)
        # Counted by what the function contains: a few "flow" draws come out branchless.
        job = Job(spec.source(), spec.name, [], spec.constants_fit_int64(), spec, spec.mode)
        for _ in range(self.calls_per_function):
            args, kwargs = self.gen.call(spec)
            verdict = check(spec, args, kwargs)
            if verdict == "ok":
                job.calls.append((args, kwargs))
            elif verdict == "big":
                self.stats.skipped_big += 1
            else:
                self.stats.skipped_long += 1
        return job

    def make_module_job(self) -> Job:
        module = self.modgen.job(self.calls_per_function)
        big, long = guard_job(module)
        self.stats.skipped_big += big
        self.stats.skipped_long += long
        spec = module.spec
        fits = all(f.constants_fit_int64() for f in spec.functions())
        return Job(spec.source(), spec.main.name, [], fits, spec.main, "module", module)

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
            self.log(f"[{self.stats.functions} functions, {self.stats.compiled} compiled, "
                     f"{self.stats.cases} cases, {self.stats.mismatches} mismatches, "
                     f"{self.stats.crashes} crashes, {self.stats.hangs} hangs]")
        return self.stats

    def run_batch(self, jobs: list[Job]) -> None:
        pending = jobs
        while pending:
            result = run_child(pending, self.compiler, stall_timeout=self.stall_timeout)
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
            self._died(pending[k], result)
            pending = pending[k + 1:]

    def _count_function(self, job: Job, compiled: bool, reason: str = "") -> None:
        self.stats.functions += 1
        self.stats.functions_by_mode[job.mode] += 1
        if job.fits_int64:
            self.stats.fit_functions += 1
        if compiled:
            self.stats.compiled += 1
            self.stats.compiled_by_mode[job.mode] += 1
            if job.fits_int64:
                self.stats.fit_compiled += 1
        else:
            self.stats.refused[f"[{job.mode}] {reason}"] += 1
            if job.fits_int64:
                self.stats.fit_refused[reason] += 1

    def _account(self, jobs: list[Job], result: ChildResult) -> int:
        """Count the events of a child run; returns how many jobs it finished."""
        finished = 0
        statuses: dict[int, dict[str, str]] = {}
        for event in result.events:
            if "functions" in event:
                statuses[event["functions"]] = event["status"]
                self._count_module(jobs[event["functions"]], event["status"])
            if "refused" in event:
                self._count_function(jobs[event["refused"]], False,
                                     normalise_reason(event["reason"]))
                finished = event["refused"] + 1
            elif "error" in event:
                job = jobs[event["error"]]
                self.stats.errors += 1
                self._count_function(job, False, "ERROR " + normalise_reason(event["exc"]))
                args, kwargs = job_call(job, None)
                self._record("error", job, args, kwargs, event["exc"])
                finished = event["error"] + 1
            elif "mismatch" in event:
                self._mismatch(jobs[event["mismatch"]], event)
            elif "done" in event:
                job = jobs[event["done"]]
                status = statuses.get(event["done"], {})
                main = job.name
                if job.module is not None and status.get(main) != "native":
                    # Its helpers compiled, the caller did not: compared, counted as refused.
                    self._count_function(job, False, normalise_reason(status.get(main, "?")))
                else:
                    self._count_function(job, True)
                self.stats.cases += event["cases"]
                finished = event["done"] + 1
        return finished

    def _count_module(self, job: Job, status: dict[str, str]) -> None:
        """What compiled in a module job, per construct."""
        module: ModuleJob = job.module
        main = module.spec.main.name
        compiled = status.get(main) == "native"
        for name in module.features():
            self.stats.construct_functions[name] += 1
            self.stats.construct_compiled[name] += compiled
        others = [v for k, v in status.items() if k != main]
        self.stats.helpers += len(others)
        self.stats.helpers_compiled += sum(v == "native" for v in others)
        self.stats.module_events += sum(e[0] != "call" for e in module.events)

    def _mismatch(self, job: Job, event: dict[str, Any]) -> None:
        self.stats.mismatches += 1
        args, kwargs = job_call(job, event["case"])
        detail = f"expected {tuple(event['expected'])}, got {tuple(event['got'])}"
        self._record("mismatch", job, args, kwargs, detail, event["case"])

    def _died(self, job: Job, batch: ChildResult) -> None:
        """A child crashed or hung in ``job``: find the call by rerunning it alone, verbosely."""
        self._count_function(job, True)
        if batch.hung:
            self.stats.hangs += 1
        else:
            self.stats.crashes += 1
        result = run_child([job], self.compiler, verbose=True, stall_timeout=self.stall_timeout)
        case = result.last_case()
        kind, detail = _status(result)
        if result.died:
            if case is None:
                detail += " (before the first call: while compiling)"
            args, kwargs = job_call(job, case)
            self._record(kind, job, args, kwargs, detail, case)
            return
        # Not reproduced alone: report what the batch child said, with the function.
        batch_kind = "hang" if batch.hung else "crash"
        batch_code = "hung" if batch.hung else f"exited with code {batch.returncode}"
        detail = (f"batch child {batch_code} in this function, not reproduced alone "
                  f"({kind} {detail}): {_last_line(batch.stderr)}")
        args, kwargs = job_call(job, None)
        self._record(batch_kind, job, args, kwargs, detail)

    def _record(self, kind: str, job: Job, args: tuple[Any, ...], kwargs: dict[str, Any],
                detail: str, case: int | None = None) -> None:
        if job.module is not None:
            self._record_module(kind, job, args, kwargs, detail, case)
            return
        spec = job.spec
        source = job.source
        # Minimise each distinct compile error / crash message once, and a few mismatches.
        sig = f"{kind} {normalise_reason(detail)}" if kind != "mismatch" else "mismatch"
        self._signature_counts[sig] += 1
        if self._signature_counts[sig] > (self.max_minimised if kind == "mismatch" else 1):
            return
        reproducible = not detail.startswith("batch child")
        if spec is not None and self.minimise_budget > 0 and reproducible:
            small, small_args, small_detail = minimise(
                spec, args, kwargs, kind, self.compiler, self.minimise_budget, detail=detail,
                stall_timeout=min(self.stall_timeout, MINIMISE_STALL_TIMEOUT))
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

    def _record_module(self, kind: str, job: Job, args: tuple[Any, ...], kwargs: dict[str, Any],
                       detail: str, case: int | None) -> None:
        """A module job failed: minimised (changes, then the function), reported with a
        standalone script that replays it.  Not written to ``tests/regressions`` (whose cases
        are single functions); the script is the reproduction."""
        sig = f"{kind} {normalise_reason(detail)}" if kind != "mismatch" else "mismatch module"
        self._signature_counts[sig] += 1
        if self._signature_counts[sig] > (self.max_minimised if kind == "mismatch" else 1):
            return
        module: ModuleJob = job.module
        if case is None:
            calls = module.calls()
            case = calls[0][0] if calls else len(module.events) - 1
        reproducible = not detail.startswith("batch child")
        if self.minimise_budget > 0 and reproducible and case >= 0:
            module, small_detail = minimise_module(
                module, case, kind, self.compiler, self.minimise_budget, detail=detail,
                stall_timeout=min(self.stall_timeout, MINIMISE_STALL_TIMEOUT))
            detail = small_detail or detail
            last = module.events[-1] if module.events else ("call", (), {})
            if last[0] == "call":
                args, kwargs = last[1], last[2]
        else:
            module = ModuleJob(module.spec, module.events[:case + 1], module.guarded_defs)
        script = repro_script(module.payload())
        key = script
        if key in self._seen_failures:
            return
        self._seen_failures.add(key)
        failure = Failure(kind, script, job.name, args, kwargs, detail, job.source)
        self.stats.failures.append(failure)
        self.log(failure.describe())


def job_call(job: Job, case: int | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of call ``case`` of ``job`` (for a module job, ``case`` indexes its
    events), or of its first call when ``case`` is None."""
    if job.module is not None:
        events = job.module.events
        if case is not None and 0 <= case < len(events) and events[case][0] == "call":
            return events[case][1], events[case][2]
        calls = job.module.calls()
        return (calls[0][1], calls[0][2]) if calls else ((), {})
    if case is not None:
        return job.calls[case]
    return job.calls[0] if job.calls else ((), {})
