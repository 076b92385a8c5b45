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
import sys
import time
from types import FunctionType, ModuleType, SimpleNamespace

import jitimport

from . import bits, fixed, geometry
from . import __name__ as _pkg_name

MODULES: list[ModuleType] = [sys.modules[_pkg_name], geometry, fixed, bits]


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
    print(f"{native} of {total} functions are native")
    if native == 0:
        print("(run `python -m jitimport -m sample_pkg` to activate the import hook)")
    return native


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

    native = show_functions()
    print()
    calls = args.particles * args.steps * 19
    t_native, r_native = best_time(function_table(python_only=False), args.particles, args.steps, args.repeat)
    t_python, r_python = best_time(function_table(python_only=True), args.particles, args.steps, args.repeat)
    label = "as imported (native)" if native else "as imported (plain Python: hook not active)"
    print(f"workload: {args.particles} particles x {args.steps} steps, {calls} calls to package functions")
    print(f"  {label:<44} {t_native * 1e3:8.1f} ms   checksum {r_native:#x}")
    print(f"  {'Python originals':<44} {t_python * 1e3:8.1f} ms   checksum {r_python:#x}")
    print(f"  ratio (as imported / Python): {t_native / t_python:.2f}x")
    if r_native != r_python:
        print("ERROR: native and Python results differ", file=sys.stderr)
        return 1
    print("  results identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
