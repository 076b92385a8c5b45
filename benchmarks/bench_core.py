"""Native vs CPython, side by side in one run, against the targets of issues 2, 6 and 10.

Prints ns/call for the original Python function and its native version,
their ratio and target, and the median compile time of each kernel, in three
sets: straight-line (issues 2 and 6), loop kernels with their geometric mean
(issue 10), and branchy one-liners (issue 10).  Rounds are interleaved
(python, native, python, native, ...) and the minimum is kept, so a noisy
shared machine affects both sides alike; the calls per round are calibrated
so that one CPython round takes about ``--target`` seconds.

Before timing, each kernel's native result (value and type, or exception type
and message) must equal CPython's on the timing arguments and on the edge
cases of ``cases.py``, checked in a child process; a kernel that differs, or
whose native code crashes or hangs there, is reported as an ERROR, not timed,
and makes the exit status 1.  A kernel that does not compile yet is
reported as ``not native: <reason>`` and the run goes on.

    PYTHONPATH=src python benchmarks/bench_core.py                 # everything
    PYTHONPATH=src python benchmarks/bench_core.py --kernels loops  # a set: straight, loops, branchy
    PYTHONPATH=src python benchmarks/bench_core.py --strict         # exit 1 when a target is missed
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
if __name__ == "__main__":  # run as a script: this checkout's compiler (imported by a test: whatever it tests)
    sys.path.insert(0, str(BENCH_DIR.parent / "src"))
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import jitimport  # noqa: E402
import kernels  # noqa: E402
from cases import (BRANCHY, LOOPS, TIMING_ARGS, kernel_cases, outcome, show_call,  # noqa: E402
                   show_outcome)
from isolation import run_worker  # noqa: E402

COMPILE_TARGET_US = 1000.0  # issue 10: median compile time per loop kernel
LOOP_GEOMEAN_TARGET = 0.05
COMPILES = 11  # compile time is the median of this many compiles


def foo(a, b):
    return a * a - b * b


def poly(x, y):
    """~20 operations in two variables."""
    t = x * x
    u = y * y
    r = 3 * t * x - 5 * t * y + 7 * x * u - 11 * u * y
    r += 13 * t - 17 * u + 19 * x * y - 23 * x + 29 * y - 31
    return r


def dot3(ax, ay, az, bx, by, bz):
    return ax * bx + ay * by + az * bz


@dataclass
class Kernel:
    """One benchmarked function: its arguments and its ratio target (native ns / CPython ns)."""

    name: str
    fn: Callable[..., Any]
    args: tuple[int, ...]
    target: float
    compile_target_us: float | None = None


STRAIGHT = [
    Kernel("foo", foo, (1234, 5678), 0.6),
    Kernel("poly", poly, (1234, -567), 0.12),
    Kernel("dot3", dot3, (12, -34, 56, 78, -90, 12), 0.5),
    # issue 6: masked 64-bit kernels (arguments chosen so the products overflow 64 bits)
    Kernel("splitmix64", kernels.splitmix64, (0xDEADBEEFCAFEF00D,), 0.12),
    Kernel("xorshift64", kernels.xorshift64, (0x9E3779B97F4A7C15,), 0.2),
    Kernel("fmix32", kernels.fmix32, (0xDEADBEEF,), 0.2),
    Kernel("fnv1a", kernels.fnv1a, (0xCBF29CE484222325, 0x61), 0.2),
]
# issue 10: each loop kernel <= 0.3x (their geometric mean <= 0.05x), each one-liner <= 0.6x
LOOP_SET = [Kernel(name, getattr(kernels, name), TIMING_ARGS[name], 0.3, COMPILE_TARGET_US) for name in LOOPS]
BRANCHY_SET = [Kernel(name, getattr(kernels, name), TIMING_ARGS[name], 0.6) for name in BRANCHY]
SETS: dict[str, list[Kernel]] = {"straight": STRAIGHT, "loops": LOOP_SET, "branchy": BRANCHY_SET}
TITLES = {"straight": "straight-line (issues 2, 6)", "loops": "loop kernels (issue 10)",
          "branchy": "branchy one-liners (issue 10)"}


@dataclass
class Result:
    """What happened to one kernel: timings, or why there are none."""

    kernel: Kernel
    py_ns: float | None = None
    native_ns: float | None = None
    compile_us: float | None = None
    not_native: str | None = None  # the reason, when the compiler refused or failed
    error: str | None = None  # native result differs from CPython's

    @property
    def ratio(self) -> float | None:
        return self.native_ns / self.py_ns if self.native_ns is not None and self.py_ns else None

    @property
    def missed(self) -> list[str]:
        """Which targets were missed: ``ratio``, ``compile``, or none."""
        missed = []
        if self.ratio is None or self.ratio > self.kernel.target:
            missed.append("ratio")
        target = self.kernel.compile_target_us
        if target is not None and (self.compile_us is None or self.compile_us > target):
            missed.append("compile")
        return missed

    @property
    def met(self) -> bool:
        return not self.missed


class CompileTimeout(Exception):
    """Raised into the compiler by the interval timer of :func:`compile_kernel`."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CompileTimeout


def compile_kernel(fn: Callable[..., Any], timeout: float) -> tuple[Any, float | None, str | None]:
    """Compile ``fn`` ``COMPILES`` times: (native function, median µs) or (None, None, reason).

    The compiler is Python code, so a compile that does not end (a fixpoint
    that never settles) is interrupted by a timer after ``timeout`` seconds
    and reported like any other compiler error.
    """
    times, native = [], None
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for _ in range(COMPILES):
            started = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                native = jitimport.compile_native(fn)
            except jitimport.NotCompilable as exc:
                return None, None, short_reason(str(exc))
            except CompileTimeout:
                return None, None, f"compiler error: no result in {timeout:g} s"
            except Exception as exc:  # a compiler bug must not stop the other kernels
                return None, None, f"compiler error: {type(exc).__name__}: {exc}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            times.append(time.perf_counter() - started)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return native, statistics.median(times) * 1e6, None


def short_reason(reason: str) -> str:
    """``line N: ...`` instead of the full path of kernels.py."""
    head, sep, rest = reason.partition(".py:")
    return f"line {rest.strip()}" if sep else reason


def check_cases(kernel: Kernel) -> list[tuple[int, ...]]:
    """The calls whose outcome must be CPython's: the timing arguments, then the edge cases."""
    return [kernel.args] + kernel_cases(kernel.name, kernel.fn.__code__.co_argcount)


def all_check_cases(chosen: list[Kernel]) -> list[tuple[Kernel, tuple[int, ...]]]:
    return [(kernel, args) for kernel in chosen for args in check_cases(kernel)]


def kernel_by_name(name: str) -> Kernel:
    return next(k for members in SETS.values() for k in members if k.name == name)


def child(names: list[str], start: int) -> int:
    """Child process of :func:`verify`: compile the kernels, call them on their cases from ``start`` on,
    one JSON line before and after each call."""
    chosen = [kernel_by_name(name) for name in names]
    natives = {kernel.name: jitimport.compile_native(kernel.fn) for kernel in chosen}
    for index, (kernel, args) in enumerate(all_check_cases(chosen)):
        if index >= start:
            print(json.dumps({"start": index}), flush=True)
            print(json.dumps({"index": index, "outcome": outcome(natives[kernel.name], args)}), flush=True)
    return 0


def child_argv(names: list[str], start: int) -> list[str]:
    return [sys.executable, "-c", f"import sys, bench_core; sys.exit(bench_core.child({names!r}, {start}))"]


def child_env() -> dict[str, str]:
    """The child imports the same jitimport as this process, and the kernels next to this file."""
    paths = [str(Path(jitimport.__file__).resolve().parent.parent), str(BENCH_DIR)]
    inherited = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths + ([inherited] if inherited else [])))


def verify(natives: dict[str, Callable[..., Any]], chosen: list[Kernel], in_process: bool,
           case_timeout: float) -> dict[str, str]:
    """Check every native kernel against CPython on its cases; return the error of each kernel that fails.

    The native calls run in one child process (unless ``in_process``), so
    that native code that crashes or never returns is reported, not the end of
    the run: the child is restarted at the next kernel.
    """
    chosen = [kernel for kernel in chosen if kernel.name in natives]
    cases = all_check_cases(chosen)
    errors: dict[str, str] = {}
    got: dict[int, list[str]] = {}
    if in_process:
        got = {index: outcome(natives[kernel.name], args) for index, (kernel, args) in enumerate(cases)}
    start = len(got)
    while start < len(cases):
        run = run_worker(child_argv([k.name for k in chosen], start), case_timeout, setup_timeout=300.0,
                         env=child_env())
        got.update((record["index"], record["outcome"]) for record in run.records if "index" in record)
        if run.returncode == 0 and not run.hung:
            break
        index = run.last_started
        if index < start or index in got:  # failed outside a call: nothing more to learn from it
            tail = run.stderr.strip().splitlines()[-1:] or [""]
            for kernel, _ in cases[start:]:
                errors.setdefault(kernel.name, f"verification child failed ({run.status()}): {tail[0]}")
            break
        kernel, args = cases[index]
        detail = f" (no result in {case_timeout:g} s)" if run.hung else ""
        errors[kernel.name] = f"native code {run.status()} on {show_call(kernel.name, args)}{detail}"
        start = next((i for i in range(index, len(cases)) if cases[i][0] is not kernel), len(cases))
    for kernel in chosen:
        if kernel.name in errors:
            continue
        mine = [(args, got.get(i)) for i, (k, args) in enumerate(cases) if k is kernel]
        wrong = [f"{show_call(kernel.name, args)}: native {show_outcome(result) if result else 'nothing'}, "
                 f"CPython {show_outcome(outcome(kernel.fn, args))}"
                 for args, result in mine if result != outcome(kernel.fn, args)]
        if wrong:
            errors[kernel.name] = (f"native result differs from CPython's on {len(wrong)} of {len(mine)} "
                                   f"cases; first: {wrong[0]}")
    return errors


def make_timer(fn: Callable[..., Any], args: tuple[int, ...]) -> timeit.Timer:
    """A timeit loop calling ``fn`` with the arguments in fast locals (no global lookups)."""
    names = [f"a{i}" for i in range(len(args))]
    scope: dict[str, Any] = {"_f": fn, **{f"_{n}": v for n, v in zip(names, args)}}
    setup = "; ".join(["f = _f"] + [f"{n} = _{n}" for n in names])
    return timeit.Timer(f"f({', '.join(names)})", setup=setup, globals=scope)


def calls_per_round(timer: timeit.Timer, seconds: float) -> int:
    """How many calls make one round of about ``seconds``."""
    number = 10
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= seconds / 10 or number >= 10**7:
            return max(10, int(number * seconds / max(elapsed, 1e-9)))
        number *= 4


def measure(py: Callable[..., Any], native: Callable[..., Any] | None, args: tuple[int, ...],
            number: int | None, rounds: int, seconds: float) -> tuple[float, float | None]:
    """Minimum ns/call of the original and the native function over interleaved rounds."""
    t_py = make_timer(py, args)
    t_nat = make_timer(native, args) if native is not None else None
    number = number or calls_per_round(t_py, seconds)
    best_py = best_nat = math.inf
    for _ in range(rounds):
        best_py = min(best_py, t_py.timeit(number))
        if t_nat is not None:
            best_nat = min(best_nat, t_nat.timeit(number))
    return best_py / number * 1e9, (best_nat / number * 1e9 if t_nat is not None else None)


HEADER = (f"{'kernel':<16}{'python ns':>11}{'native ns':>11}{'ratio':>8}{'target':>8}"
          f"{'compile us':>12}{'target':>8}")


def row(result: Result) -> str:
    """One kernel's line: timings and targets, or why it has none."""
    k = result.kernel
    line = f"{k.name:<16}{result.py_ns:>11.1f}"
    if result.error:
        return line + f"  ERROR: {result.error}"
    if result.not_native:
        return line + f"{'—':>11}{'—':>8}{'<=' + str(k.target):>8}  not native: {result.not_native}"
    compile_target = f"<={k.compile_target_us:.0f}" if k.compile_target_us else ""
    return (line + f"{result.native_ns:>11.1f}{result.ratio:>8.3f}{'<=' + str(k.target):>8}"
            f"{result.compile_us:>12.0f}{compile_target:>8}  "
            + ("ok" if result.met else "MISSED " + " and ".join(result.missed)))


def geomean_line(results: list[Result]) -> str:
    """The loop set's geometric mean against its target, saying over how many kernels it is taken."""
    ratios = [r.ratio for r in results if r.ratio is not None]
    total = len(results)
    if not ratios:
        return f"loop set: geometric mean n/a, no kernel native (0/{total}); target <= {LOOP_GEOMEAN_TARGET}: MISSED"
    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    worst = max(results, key=lambda r: r.ratio if r.ratio is not None else -1.0)
    met = len(ratios) == total and mean <= LOOP_GEOMEAN_TARGET
    over = f"over {len(ratios)}/{total} kernels" + ("" if len(ratios) == total else " (the others not native)")
    return (f"loop set: geometric mean {mean:.4f} {over}, target <= {LOOP_GEOMEAN_TARGET}: "
            f"{'ok' if met else 'MISSED'}; slowest {worst.kernel.name} {worst.ratio:.3f}")


def select(spec: str | None) -> dict[str, list[Kernel]]:
    """The sets to run, each reduced to the kernels named in ``spec`` (names and set names)."""
    if not spec:
        return SETS
    wanted = {item.strip() for item in spec.split(",") if item.strip()}
    known = set(SETS) | {k.name for members in SETS.values() for k in members}
    unknown = wanted - known
    if unknown:
        raise SystemExit(f"unknown kernel(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    chosen = {}
    for set_name, members in SETS.items():
        picked = members if set_name in wanted else [k for k in members if k.name in wanted]
        if picked:
            chosen[set_name] = picked
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", help="comma-separated kernel names and sets (straight, loops, branchy)")
    parser.add_argument("--number", type=int, default=None,
                        help="calls per round (default: calibrated to --target seconds of CPython)")
    parser.add_argument("--target", type=float, default=0.05, help="seconds per CPython round when calibrating")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (minimum kept)")
    parser.add_argument("--compile-timeout", type=float, default=60.0, help="seconds one compile may take")
    parser.add_argument("--case-timeout", type=float, default=10.0,
                        help="seconds one native call may take when checked against CPython")
    parser.add_argument("--in-process", action="store_true",
                        help="check native results in this process (for a debugger; a crash or hang of "
                             "native code then stops the run)")
    parser.add_argument("--strict", action="store_true",
                        help="exit status 1 also when a kernel is not native or misses a target")
    args = parser.parse_args(argv)
    chosen = select(args.kernels)
    print(f"CPython {platform.python_version()} on {platform.machine()}, jitimport from "
          f"{Path(jitimport.__file__).parent}; load average {os.getloadavg()[0]:.2f} at start")
    print(f"ns/call is the minimum of {args.rounds} interleaved rounds; compile time is the median of "
          f"{COMPILES} compiles")
    compile_kernel(foo, args.compile_timeout)  # the first compile pays for imports and setup: not counted
    everything = [kernel for members in chosen.values() for kernel in members]
    by_name = {kernel.name: Result(kernel) for kernel in everything}
    natives = {}
    for kernel in everything:  # compile everything, then check everything, then time
        result = by_name[kernel.name]
        native, result.compile_us, result.not_native = compile_kernel(kernel.fn, args.compile_timeout)
        if native is not None:
            natives[kernel.name] = native
    print(f"checking {len(natives)} native kernels against CPython ...", flush=True)
    for name, error in verify(natives, everything, args.in_process, args.case_timeout).items():
        by_name[name].error = error
        del natives[name]
    for set_name, members in chosen.items():
        print(f"\n{TITLES[set_name]}\n{HEADER}")
        set_results = []
        for kernel in members:
            result = by_name[kernel.name]
            result.py_ns, result.native_ns = measure(kernel.fn, natives.get(kernel.name), kernel.args,
                                                     args.number, args.rounds, args.target)
            print(row(result), flush=True)
            set_results.append(result)
        if set_name == "loops" and len(members) > 1:
            print(geomean_line(set_results))

    results = list(by_name.values())
    errors = [r for r in results if r.error]
    not_native = [r for r in results if r.not_native]
    missed = [r for r in results if not r.error and not r.not_native and not r.met]
    print(f"\n{len(results)} kernels: {len(results) - len(errors) - len(not_native) - len(missed)} met "
          f"their targets, {len(missed)} missed, {len(not_native)} not native, {len(errors)} ERRORS")
    for r in errors:
        print(f"ERROR {r.kernel.name}: {r.error}", file=sys.stderr)
    if errors:
        return 1
    return 1 if args.strict and (missed or not_native) else 0


if __name__ == "__main__":
    raise SystemExit(main())
