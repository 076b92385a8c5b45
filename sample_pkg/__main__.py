"""Demo: ``python -m jitimport -m sample_pkg`` (or plain ``python -m sample_pkg`` to compare).

Prints which functions of the package went native, then runs the same
fixed-point particle simulation twice in one process, once calling the
functions as imported (native when the hook is active) and once calling their
Python originals, checks both give the same result and prints the timings.
This module has no pragma: it is the ordinary (loops, attributes, calls) code
that calls the native functions.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from types import FunctionType, ModuleType, SimpleNamespace

import jitimport

from . import bits, fixed, geometry
from . import __name__ as _pkg_name

MODULES: list[ModuleType] = [sys.modules[_pkg_name], geometry, fixed, bits]
#: Calls to package functions per particle and step in :func:`simulate` (for the count printed).
CALLS_PER_PARTICLE_STEP = 19


def _functions(module: ModuleType) -> list[tuple[str, object]]:
    """(qualname, object) for the functions and static/plain methods defined in ``module``."""
    found: list[tuple[str, object]] = []
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if isinstance(value, type):
            for attr, raw in vars(value).items():
                target = raw.__func__ if isinstance(raw, staticmethod) else raw
                if isinstance(target, FunctionType) or jitimport.is_native(target):
                    found.append((f"{name}.{attr}", target))
        elif isinstance(value, FunctionType) or jitimport.is_native(value):
            found.append((name, value))
    return found


def show_functions() -> int:
    """Print one line per function: native or python (and why). Returns the native count."""
    reasons = {(r.module, r.qualname): r.reason for r in jitimport.report()}
    native = total = 0
    for module in MODULES:
        print(f"{module.__name__}:")
        for qualname, obj in _functions(module):
            total += 1
            if jitimport.is_native(obj):
                native += 1
                print(f"  native  {qualname}")
            else:
                why = reasons.get((module.__name__, qualname), "hook not active")
                print(f"  python  {qualname:<22} {why}")
    print(f"{native} of {total} functions are native.")
    if native == 0:
        print("(the import hook is not active: run `python -m jitimport -m sample_pkg` to turn it on)")
    else:
        print("A function stays Python when the compiler cannot translate what it does on every path (above:")
        print("len() and indexing of lists), or when you ask for it with `# minijit: skip`. It still runs,")
        print("exactly as before: only the native ones get faster.")
    return native


INTRO = """\
jitimport demo: sample_pkg (integer geometry, 16.16 fixed-point math, bit tricks)

What happens: each module of sample_pkg starts with the comment `# minijit: native`, so the jitimport
import hook compiles its pure integer functions to x86-64 machine code while they are imported. Below:
1. every function of the package, native or left in Python, and why;
2. one workload (a fixed-point particle simulation making {calls} calls to these functions), run twice in
   this process: once through the functions as imported (native) and once through their Python
   originals, with the time of each run and a checksum of its results.
"""


def _annotate_hint() -> str:
    """The annotate command for geometry.py, with a path the user can type from where they are."""
    path = geometry.__file__ or "sample_pkg/geometry.py"
    try:
        relative = os.path.relpath(path)
    except ValueError:
        relative = path
    return path if relative.startswith("..") else relative


def describe_ratio(ratio: float, native: int) -> str:
    """What the ratio means for this run, in words."""
    if native == 0:
        return "both runs are plain Python here: the hook is not active"
    if ratio < 1:
        return f"the native run took {ratio:.2f} of the Python time: {1 / ratio:.1f}x faster"
    return "not faster here: in a run this short, the Python loop that makes the calls dominates"


def next_steps() -> str:
    path = _annotate_hint()
    return f"""\
Try next:
  python -m jitimport annotate {path}
      writes {os.path.splitext(path)[0]}.html: the source with each function marked native or Python, the
      reason at the line that keeps a function Python, and each native function's IR and machine code
      (add --text to see it in the terminal)
  python -m jitimport --report your_script.py
      your own program under the hook; at exit, the list of what went native and why the rest did not
  README.md: what the compiler translates, and how to turn the hook on (JITIMPORT=1, pytest --jitimport)"""


def plain(fn):
    """The Python original of ``fn`` (``fn`` itself when it is not native)."""
    return jitimport.original(fn) if jitimport.is_native(fn) else fn


def function_table(python_only: bool) -> SimpleNamespace:
    """The functions the workload calls, native where available or all-Python."""
    pick = plain if python_only else (lambda f: f)
    names = {
        bits: ["xorshift32", "popcount32", "morton2", "clamp64", "min64", "max64", "abs64"],
        fixed: ["lerp", "smoothstep", "fmul", "to_int"],
        geometry: ["orient", "dist2", "manhattan", "isqrt", "gcd"],
    }
    table = {name: pick(getattr(mod, name)) for mod, group in names.items() for name in group}
    table["wrap"] = pick(geometry.Torus.wrap)
    table["delta"] = pick(geometry.Torus.delta)
    return SimpleNamespace(**table)


def simulate(f: SimpleNamespace, particles: int, steps: int) -> int:
    """Fixed-point particles drifting on a torus; returns a checksum of the whole run."""
    size = 256 << 16  # world is 256 x 256 units, in 16.16
    xs = [(i * 7919 << 12) % size for i in range(particles)]
    ys = [(i * 104729 << 11) % size for i in range(particles)]
    vx = [0] * particles
    vy = [0] * particles
    seed = 2463534242
    checksum = 0
    xorshift32, popcount32, morton2, clamp64 = f.xorshift32, f.popcount32, f.morton2, f.clamp64
    min64, max64, abs64 = f.min64, f.max64, f.abs64
    lerp, smoothstep, fmul, to_int = f.lerp, f.smoothstep, f.fmul, f.to_int
    orient, dist2, manhattan, wrap, delta = f.orient, f.dist2, f.manhattan, f.wrap, f.delta
    isqrt, gcd = f.isqrt, f.gcd
    for step in range(steps):
        t = smoothstep((step << 16) // steps)
        for i in range(particles):
            seed = xorshift32(seed)
            jitter = (seed & 0xFFFF) - 32768
            x, y = xs[i], ys[i]
            vx[i] = clamp64(lerp(vx[i], jitter, t) + fmul(jitter, 4096), -(4 << 16), 4 << 16)
            vy[i] = clamp64(lerp(vy[i], -jitter, t), -(4 << 16), 4 << 16)
            x = wrap(x + vx[i], size)
            y = wrap(y + vy[i], size)
            xs[i], ys[i] = x, y
            cx, cy = to_int(x), to_int(y)
            cell = morton2(cx, cy)
            near = dist2(cx, cy, 128, 128)
            turn = orient(128, 128, cx, cy, to_int(x + vx[i]), to_int(y + vy[i]))
            checksum = (checksum * 31 + popcount32(cell) + min64(near, 9999) + max64(turn, 0)
                        + abs64(delta(cx, 128, 256)) + manhattan(cx, cy, 0, 0)
                        + isqrt(near) + gcd(cx, cy)) & 0xFFFFFFFFFFFF
    return checksum


def best_time(f: SimpleNamespace, particles: int, steps: int, repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs, and the checksum."""
    best = float("inf")
    result = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = simulate(f, particles, steps)
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitimport -m sample_pkg", description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, default=400)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    calls = args.particles * args.steps * CALLS_PER_PARTICLE_STEP

    print(INTRO.format(calls=calls))
    print("1. Functions")
    native = show_functions()
    print()
    print(f"2. Timing: {args.particles} particles x {args.steps} steps, best of {args.repeat} run(s); lower is better")
    print("   ratio = time as imported / time in Python: 1.00x is no gain, 0.33x means the run took a third of")
    print("   the Python time (3x faster)")
    t_native, r_native = best_time(function_table(python_only=False), args.particles, args.steps, args.repeat)
    t_python, r_python = best_time(function_table(python_only=True), args.particles, args.steps, args.repeat)
    label = "as imported (native)" if native else "as imported (plain Python: hook not active)"
    print(f"  {label:<44} {t_native * 1e3:8.1f} ms   checksum {r_native:#x}")
    print(f"  {'Python originals':<44} {t_python * 1e3:8.1f} ms   checksum {r_python:#x}")
    ratio = t_native / t_python
    print(f"  ratio (as imported / Python): {ratio:.2f}x   ({describe_ratio(ratio, native)})")
    if r_native != r_python:
        print("ERROR: native and Python results differ", file=sys.stderr)
        return 1
    print("  results identical: both runs computed the same checksum")
    print()
    print(next_steps())
    return 0


if __name__ == "__main__":
    sys.exit(main())
