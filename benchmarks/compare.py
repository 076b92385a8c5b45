"""jitimport against plain CPython, Numba, Cython and mypyc: one run, one table, one chart.

    python benchmarks/compare.py                      # all kernels, all installed peers
    python benchmarks/compare.py --kernels foo,poly2 --rounds 3
    python benchmarks/compare.py --kernels loops      # a set: straight, loops, branchy

Every contender runs the same kernels (``kernels.py``).  Timings interleave
the contenders round by round so that drift on a shared machine hits them all
alike, and report the minimum (and median) ns/call of the rounds.  The
correctness column replays a fixed set of edge arguments (``cases.py``)
through each contender in a child process (a crash or a hang there is
reported, not fatal) and compares value and type, or exception type, with
CPython.  Peers that are not
installed are listed as skipped.  Writes ``compare.md`` and ``compare.png``
(when matplotlib is installed) to ``--out-dir``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import timeit
from dataclasses import dataclass, field
from typing import Any, Callable

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)
try:
    import jitimport  # noqa: F401  (installed: pip install -e .[bench])
except ImportError:  # a plain checkout: use the source tree
    sys.path.insert(0, os.path.join(REPO_DIR, "src"))

import kernels  # noqa: E402
from cases import (BRANCHY, EDGE_NAMES, EDGES, LOOP_EDGES, LOOPS, STRAIGHT,  # noqa: E402,F401
                   TIMING_ARGS, edge_cases, kernel_cases, outcome, select_kernels, show_call,
                   show_int, show_outcome)
from peers import contenders as peers  # noqa: E402
from peers.build import BuildDir  # noqa: E402
from peers.sources import kernel_functions  # noqa: E402
from isolation import run_worker  # noqa: E402


def all_cases(names: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    table = kernel_functions(kernels)
    return [(name, args) for name in names
            for args in kernel_cases(name, table[name].__code__.co_argcount)]


# ---------------------------------------------------------------- correctness (child processes)

def worker(key: str, build_dir: str, names: list[str], start: int) -> int:
    """Child process: replay edge cases from ``start``, one JSON line before and after each."""
    contender = peers.BY_KEY[key]
    build = BuildDir(build_dir)
    prepared = contender.prepare(kernels, names, build, TIMING_ARGS, reuse=True)
    for index, (name, args) in enumerate(all_cases(names)):
        if index < start or name not in prepared.functions:
            continue
        print(json.dumps({"start": index}), flush=True)
        print(json.dumps({"index": index, "outcome": outcome(prepared.functions[name], args)}), flush=True)
    return 0


@dataclass
class Verdict:
    """Correctness of one contender on one kernel's edge cases."""

    total: int = 0
    wrong: int = 0
    silent: int = 0  # of ``wrong``: a value where CPython gives another value or raises
    messages_differ: int = 0
    example: str = ""
    example_is_silent: bool = False

    def cell(self) -> str:
        if self.total == 0:
            return "n/a"
        if self.wrong:
            return f"✗ {self.wrong}/{self.total} differ" + (f", {self.silent} silently" if self.silent else "")
        if self.messages_differ:
            return f"✓ (message text differs in {self.messages_differ})"
        return f"✓ {self.total}/{self.total}"


def check(key: str, build_dir: str, names: list[str], runnable: set[str],
          case_timeout: float = 60.0) -> dict[str, Verdict]:
    """Run the worker for one contender, restarting it past any case that kills the process or hangs."""
    cases = all_cases(names)
    reference = {i: outcome(kernel_functions(kernels)[n], a) for i, (n, a) in enumerate(cases)}
    got: dict[int, list[str]] = {}
    start = 0
    while start < len(cases):
        argv = [sys.executable, os.path.abspath(__file__), "--worker", key, "--build-dir", build_dir,
                "--kernels", ",".join(names), "--start", str(start)]
        run = run_worker(argv, case_timeout)
        last_started = -1
        for record in run.records:
            if "start" in record:
                last_started = record["start"]
            else:
                got[record["index"]] = record["outcome"]
        if run.returncode == 0 and not run.hung:
            break
        if last_started < 0 or last_started in got:  # died outside a call: give up on the rest
            tail = run.stderr.strip().splitlines()[-1:] or [
                "no answer" if run.hung else f"exit status {run.returncode}"]
            for i in range(start, len(cases)):
                got.setdefault(i, ["raise", "worker failed", tail[0]])
            break
        if run.hung:
            got[last_started] = ["raise", "process hung", f"no result in {case_timeout:g} s"]
        else:
            status = f"signal {-run.returncode}" if run.returncode < 0 else f"exit {run.returncode}"
            got[last_started] = ["raise", "process crashed", status]
        start = last_started + 1
    verdicts: dict[str, Verdict] = {name: Verdict() for name in names if name in runnable}
    for i, (name, args) in enumerate(cases):
        if name not in verdicts or i not in got:
            continue
        verdict, mine, ref = verdicts[name], got[i], reference[i]
        verdict.total += 1
        if mine == ref:
            continue
        if mine[0] == ref[0] == "raise" and mine[1] == ref[1]:
            verdict.messages_differ += 1
            continue
        verdict.wrong += 1
        silent = mine[0] == "ok"  # a wrong value, not an exception that at least says something failed
        verdict.silent += silent
        if not verdict.example or (silent and not verdict.example_is_silent):
            verdict.example = (f"{show_call(name, args)}: got {show_outcome(mine)}, "
                               f"CPython {show_outcome(ref)}")
            verdict.example_is_silent = silent
    return verdicts


# ---------------------------------------------------------------- timing (this process)

@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)  # ns/call, one per round

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def screen(active: list[peers.Contender], prepared: dict[str, peers.Prepared], names: list[str]) -> None:
    """Call each contender once on the timing arguments: one that raises is not timed, a wrong value is noted."""
    for name in names:
        expected = outcome(kernel_functions(kernels)[name], TIMING_ARGS[name])
        for c in active:
            fn = prepared[c.key].functions.get(name)
            if fn is None:
                continue
            got = outcome(fn, TIMING_ARGS[name])
            if got[0] == "raise":
                del prepared[c.key].functions[name]
                prepared[c.key].failures[name] = f"raises {show_outcome(got)} on the timing arguments"
            elif got != expected:
                note = f"wrong result on the timing arguments: {show_outcome(got)}"
                old = prepared[c.key].notes.get(name)
                prepared[c.key].notes[name] = f"{old}; {note}" if old else note


def make_timer(fn: Callable[..., Any], args: tuple[int, ...]) -> timeit.Timer:
    """A timeit loop calling ``fn`` with arguments held in fast locals (no global lookups)."""
    names = [f"a{i}" for i in range(len(args))]
    scope: dict[str, Any] = {"_f": fn, **{f"_{n}": v for n, v in zip(names, args)}}
    setup = "; ".join(["f = _f"] + [f"{n} = _{n}" for n in names])
    return timeit.Timer(f"f({', '.join(names)})", setup=setup, globals=scope)


def calibrate(timer: timeit.Timer, target: float) -> int:
    number = 1000
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target / 4 or number >= 10**8:
            return max(1000, int(number * target / max(elapsed, 1e-9)))
        number *= 4


def time_kernel(functions: dict[str, Callable[..., Any]], args: tuple[int, ...], number: int,
                rounds: int) -> dict[str, Timing]:
    """Interleave the contenders: each round times every contender once, in a rotated order."""
    timers = {key: make_timer(fn, args) for key, fn in functions.items()}
    keys = list(timers)
    result = {key: Timing() for key in keys}
    for key in keys:  # one untimed warm-up pass each
        timers[key].timeit(max(1, number // 10))
    for r in range(rounds):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            result[key].samples.append(timers[key].timeit(number) / number * 1e9)
    return result


def import_time(module: str, paths: list[str], runs: int) -> float | None:
    """Seconds to import ``module`` in a fresh interpreter (minimum over ``runs``)."""
    code = ("import sys, time; sys.path[:0] = " + repr(paths) + "; t = time.perf_counter(); "
            f"import {module}; print(time.perf_counter() - t)")
    best: float | None = None
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            return None
        value = float(proc.stdout.strip().splitlines()[-1])
        best = value if best is None else min(best, value)
    return best


# ---------------------------------------------------------------- report

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compiler_version() -> str:
    try:
        proc = subprocess.run(["cc", "--version"], capture_output=True, text=True, timeout=30)
        return proc.stdout.splitlines()[0] if proc.returncode == 0 else "?"
    except (OSError, IndexError, subprocess.SubprocessError):
        return "none"


@dataclass
class Report:
    names: list[str]
    active: list[peers.Contender]
    skipped: dict[str, str]
    prepared: dict[str, peers.Prepared]
    timings: dict[str, dict[str, Timing]]
    verdicts: dict[str, dict[str, Verdict]]
    imports: dict[str, float | None]
    number: dict[str, int]
    rounds: int
    loop_ns: float
    load: float

    def ns(self, name: str, key: str) -> float | None:
        timing = self.timings.get(name, {}).get(key)
        return timing.best if timing and timing.samples else None

    def ratio(self, name: str, key: str) -> float | None:
        mine, base = self.ns(name, key), self.ns(name, "cpython")
        return mine / base if mine is not None and base else None

    def geomean(self, names: list[str], key: str) -> str:
        """Geometric mean of the × CPython ratios, noting kernels the contender could not run."""
        ratios = [r for r in (self.ratio(name, key) for name in names) if r is not None]
        if not ratios:
            return "—"
        mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        cell = f"{mean:.3f}×" if mean < 0.1 else f"{mean:.2f}×"
        if len(ratios) < len(names):
            cell += f" (of {len(ratios)}/{len(names)})"
        if any(name in self.prepared[key].fallback for name in names):
            cell += " †"
        return cell

    def header(self) -> list[str]:
        versions = ", ".join(f"{c.product} {c.version()}" for c in self.active if c.product)
        return [
            "# jitimport vs CPython, Numba, Cython, mypyc",
            "",
            f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} "
            f"{platform.release()} ({platform.machine()}); load average at start "
            f"{self.load:.2f} (the machine is shared)",
            f"- Versions: {versions}; C compiler: {compiler_version()}",
            f"- Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; command: "
            f"`{' '.join(['python benchmarks/compare.py'] + sys.argv[1:])}`",
            f"- Timing: timeit loop with the arguments in fast locals, gc off; contenders interleaved, "
            f"{self.rounds} rounds; ns/call is the minimum over the rounds (median alongside); "
            f"the empty loop costs {self.loop_ns:.1f} ns/iteration and is included in every number.",
        ]

    def summary(self) -> list[str]:
        keys = [c.key for c in self.active]
        lines = ["", "## ns/call (× CPython)", "",
                 "| kernel | " + " | ".join(c.label for c in self.active) + " |",
                 "|---|" + "---:|" * len(keys)]
        for name in self.names:
            cells = []
            for key in keys:
                ns = self.ns(name, key)
                if ns is None:
                    cells.append("failed" if name in self.prepared[key].failures else "—")
                    continue
                cell = f"{ns:.1f} ({self.ratio(name, key):.2f}×)"
                verdict = self.verdicts.get(key, {}).get(name)
                if verdict is not None and verdict.wrong:
                    cell += " ✗"
                if name in self.prepared[key].fallback:
                    cell += " †"
                cells.append(cell)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        loops = [name for name in self.names if name in LOOPS]
        if len(loops) > 1:
            lines.append("| *loops: geometric mean* | "
                         + " | ".join(self.geomean(loops, key) for key in keys) + " |")
        lines += ["", "✗ = results differ from CPython on the edge arguments (see below); "
                  "† = not native, the number is jitimport's fallback to the original function."]
        return lines

    def details(self) -> list[str]:
        lines = ["", "## Details", "",
                 "| kernel | contender | ns/call (min) | median | × CPython | compile cost "
                 "| exact on edge args | note |",
                 "|---|---|---:|---:|---:|---|---|---|"]
        for name in self.names:
            for c in self.active:
                prepared = self.prepared[c.key]
                ns = self.ns(name, c.key)
                verdict = self.verdicts.get(c.key, {}).get(name)
                exact = "reference" if c.key == "cpython" else (verdict.cell() if verdict else "n/a")
                note = prepared.notes.get(name) or prepared.failures.get(name, "")
                if ns is None:
                    lines.append(f"| {name} | {c.label} | — | — | — | "
                                 f"{prepared.compile_cost.get(name, '—')} | {exact} | {note} |")
                    continue
                timing = self.timings[name][c.key]
                lines.append(f"| {name} | {c.label} | {ns:.1f} | {timing.median:.1f} | "
                             f"{self.ratio(name, c.key):.2f}× | {prepared.compile_cost.get(name, '—')} | "
                             f"{exact} | {note} |")
        return lines

    def footer(self) -> list[str]:
        lines = ["", "## Import time (fresh interpreter, minimum of runs)", "",
                 "| contender | `import` | seconds |", "|---|---|---:|"]
        for c in self.active:
            seconds = self.imports.get(c.key)
            lines.append(f"| {c.label} | `{c.import_module}` | "
                         + (f"{seconds:.4f}" if seconds is not None else "failed") + " |")
        examples = [f"- {c.label} / {name}: {v.example}"
                    for c in self.active for name, v in self.verdicts.get(c.key, {}).items() if v.example]
        if examples:
            lines += ["", "## Where results differ from CPython (first case per kernel; "
                      "a wrong value rather than an exception when there is one)", ""] + examples
        lines += ["", "Edge arguments: " + ", ".join(EDGE_NAMES.values())
                  + " in every position (all pairs for two-parameter kernels); value and type must "
                  "equal CPython's, or the same exception type must be raised."]
        loops = [name for name in self.names if name in LOOP_EDGES]
        if loops:
            lines += ["", "Loop kernels have their own edge values per parameter (a trip count cannot be "
                      "2**70), every combination checked; chosen so that 64-bit arithmetic overflows "
                      "inside the loop:", ""]
            lines += [f"- {name}: " + " × ".join("{" + ", ".join(show_int(v) for v in values) + "}"
                                               for values in LOOP_EDGES[name]) for name in loops]
        if self.skipped:
            lines += ["", "## Skipped", ""] + [f"- {peers.BY_KEY[k].label}: {why}"
                                             for k, why in self.skipped.items()]
        return lines

    def markdown(self) -> str:
        return "\n".join(self.header() + self.summary() + self.details() + self.footer()) + "\n"


def chart(report: Report, path: str) -> str | None:
    """Grouped bars of ns/call per kernel and contender, log scale, one panel per kernel set.

    Returns why there is no chart (matplotlib absent), or None.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart"
    panels = [(title, [n for n in report.names if n in members]) for title, members in CHART_PANELS]
    panels = [(title, names) for title, names in panels if names]
    others = [n for n in report.names if not any(n in names for _, names in panels)]
    if others:
        panels.append(("other kernels", others))
    widest = max(len(names) for _, names in panels)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(max(8.0, 1.3 * widest + 2), 0.6 + 3.6 * len(panels)))
    for (title, names), ax in zip(panels, axes[:, 0]):
        _bars(ax, report, names)
        ax.set_title(title, fontsize=9, loc="left")
    axes[0, 0].legend(fontsize=8, ncol=len(report.active), loc="lower center", bbox_to_anchor=(0.5, 1.08))
    fig.suptitle(f"Python {platform.python_version()} on {cpu_model()}; hatched: jitimport fallback; "
                 "✗: differs from CPython on edge arguments", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


CHART_PANELS = [("straight-line kernels", STRAIGHT), ("loop kernels", LOOPS), ("branchy one-liners", BRANCHY)]


def _bars(ax: Any, report: Report, names: list[str]) -> None:
    """One panel: a group of bars per kernel, one bar per contender."""
    keys = [c.key for c in report.active]
    width = 0.8 / len(keys)
    for k, c in enumerate(report.active):
        offset = (k - (len(keys) - 1) / 2) * width
        xs, ys, hatches, wrong = [], [], [], []
        for i, name in enumerate(names):
            ns = report.ns(name, c.key)
            if ns is not None:
                verdict = report.verdicts.get(c.key, {}).get(name)
                xs.append(i + offset)
                ys.append(ns)
                hatches.append("//" if name in report.prepared[c.key].fallback else "")
                wrong.append(bool(verdict and verdict.wrong))
            elif name in report.prepared[c.key].failures:
                ax.text(i + offset, 0.02, "failed", rotation=90, fontsize=7,
                        ha="center", va="bottom", transform=ax.get_xaxis_transform())
        bars = ax.bar(xs, ys, width=width, label=c.label, color=f"C{k}")
        for bar, hatch, bad in zip(bars, hatches, wrong):
            bar.set_hatch(hatch)
            if bad:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() * 1.04, "✗",
                        ha="center", va="bottom", fontsize=8, color="crimson")
    ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 1.8)  # room for the ✗ above the tallest bar
    ax.set_xticks(range(len(names)), names, rotation=15)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("ns per call (log, lower is better)", fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)


# ---------------------------------------------------------------- main

def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kernels", default=",".join(TIMING_ARGS),
                   help="comma-separated kernel names and sets (straight, loops, branchy); default: all")
    p.add_argument("--contenders", default=",".join(peers.BY_KEY), help="comma-separated contender keys")
    p.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds")
    p.add_argument("--iterations", type=int, default=None,
                   help="calls per timing (default: calibrated so one timing of CPython takes --target)")
    p.add_argument("--target", type=float, default=0.05, help="seconds per timing when calibrating")
    p.add_argument("--import-runs", type=int, default=3)
    p.add_argument("--case-timeout", type=float, default=60.0,
                   help="seconds one edge case may take before the contender is reported as hung")
    p.add_argument("--out-dir", default=os.path.join(BENCH_DIR, "results"))
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--keep-build", action="store_true", help="keep the temporary build directory")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--build-dir", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        names = select_kernels(args.kernels)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if args.worker:
        return worker(args.worker, args.build_dir, names, args.start)
    wanted = [peers.BY_KEY[k] for k in args.contenders.split(",") if k]
    if "cpython" not in [c.key for c in wanted]:
        wanted.insert(0, peers.BY_KEY["cpython"])
    active, skipped = [], {}
    for c in wanted:
        reason = c.missing()
        if reason:
            skipped[c.key] = reason
        else:
            active.append(c)
    for key, reason in skipped.items():
        print(f"note: skipping {peers.BY_KEY[key].label}: {reason}", file=sys.stderr)
    if "jitimport" not in skipped and "jitimport" in [c.key for c in wanted]:
        import jitimport as _jitimport  # an installed copy may be older than this checkout: say which
        print(f"note: jitimport from {os.path.dirname(_jitimport.__file__)}", file=sys.stderr)

    load = os.getloadavg()[0]
    build = BuildDir(keep=args.keep_build)
    try:
        prepared = {}
        for c in active:
            print(f"preparing {c.label} ...", file=sys.stderr, flush=True)
            prepared[c.key] = c.prepare(kernels, names, build, TIMING_ARGS)

        screen(active, prepared, names)
        timings: dict[str, dict[str, Timing]] = {}
        number: dict[str, int] = {}
        for name in names:
            functions = {c.key: prepared[c.key].functions[name] for c in active
                         if name in prepared[c.key].functions}
            reference = make_timer(functions["cpython"], TIMING_ARGS[name])
            number[name] = args.iterations or calibrate(reference, args.target)
            print(f"timing {name}: {len(functions)} contenders x {args.rounds} rounds x "
                  f"{number[name]} calls", file=sys.stderr, flush=True)
            timings[name] = time_kernel(functions, TIMING_ARGS[name], number[name], args.rounds)
        loop_n = args.iterations or 10**6
        loop_ns = min(timeit.Timer("pass").timeit(loop_n) for _ in range(3)) / loop_n * 1e9

        verdicts = {}
        for c in active:
            if c.key != "cpython":
                print(f"checking {c.label} on edge arguments ...", file=sys.stderr, flush=True)
                verdicts[c.key] = check(c.key, build.path, names, set(prepared[c.key].functions),
                                        args.case_timeout)

        paths = [BENCH_DIR, build.path] + [p for p in sys.path if p.endswith("src")]
        imports = {c.key: import_time(c.import_module, paths, args.import_runs) for c in active}
    finally:
        build.close()

    report = Report(names, active, skipped, prepared, timings, verdicts, imports, number,
                    args.rounds, loop_ns, load)
    text = report.markdown()
    print(text)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "compare.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    if not args.no_chart:
        problem = chart(report, os.path.join(args.out_dir, "compare.png"))
        if problem:
            print(f"note: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
