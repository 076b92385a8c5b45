"""Issue 2's speed check: native vs CPython, side by side in one run.

Prints ns/call for the original Python function and the native version of a
few kernels, their ratio, and the compile time per function.  Rounds are
interleaved (python, native, python, native, ...) and the minimum is kept,
so a noisy shared machine affects both sides alike.

    python benchmarks/bench_core.py [--number N] [--rounds R]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import jitimport  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernels import fmix32, fnv1a, splitmix64, xorshift64  # noqa: E402


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


KERNELS = [
    ("foo", foo, (1234, 5678), 0.6),
    ("poly", poly, (1234, -567), 0.12),
    ("dot3", dot3, (12, -34, 56, 78, -90, 12), 0.5),
    # issue 6: masked 64-bit kernels (arguments chosen so the products overflow 64 bits)
    ("splitmix64", splitmix64, (0xDEADBEEFCAFEF00D,), 0.12),
    ("xorshift64", xorshift64, (0x9E3779B97F4A7C15,), 0.2),
    ("fmix32", fmix32, (0xDEADBEEF,), 0.2),
    ("fnv1a", fnv1a, (0xCBF29CE484222325, 0x61), 0.2),
]


def measure(fn, args, number: int, rounds: int, py) -> tuple[float, float]:
    call = "f(" + ", ".join(f"a{i}" for i in range(len(args))) + ")"
    env = {f"a{i}": v for i, v in enumerate(args)}
    t_py = timeit.Timer(call, globals={**env, "f": py})
    t_nat = timeit.Timer(call, globals={**env, "f": fn})
    best_py = best_nat = float("inf")
    for _ in range(rounds):
        best_py = min(best_py, t_py.timeit(number))
        best_nat = min(best_nat, t_nat.timeit(number))
    return best_py / number * 1e9, best_nat / number * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (minimum kept)")
    args = parser.parse_args(argv)
    print(f"CPython {platform.python_version()} on {platform.machine()}")
    print(f"{'kernel':<12}{'python ns':>11}{'native ns':>11}{'ratio':>8}{'target':>8}{'compile us':>12}")
    worst = True
    jitimport.compile_native(foo)  # first compile pays for imports and setup: not counted
    for name, fn, fargs, target in KERNELS:
        times = []
        for _ in range(11):
            start = time.perf_counter()
            native = jitimport.compile_native(fn)
            times.append(time.perf_counter() - start)
        compile_us = sorted(times)[len(times) // 2] * 1e6  # median of 11 compiles
        if not jitimport.info(native).compiled:
            print(f"{name:<8} not native: {jitimport.info(native).reason}")
            continue
        assert native(*fargs) == fn(*fargs)
        py_ns, nat_ns = measure(native, fargs, args.number, args.rounds, fn)
        ratio = nat_ns / py_ns
        ok = ratio <= target
        worst &= ok
        print(f"{name:<12}{py_ns:>11.1f}{nat_ns:>11.1f}{ratio:>8.3f}{'<=' + str(target):>8}{compile_us:>12.0f}"
              f"  {'ok' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
