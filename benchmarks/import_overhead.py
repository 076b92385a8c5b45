"""Import overhead of the jitimport hook on modules *without* the pragma.

Generates 500 ordinary modules (a docstring, imports, a class and a few
functions each, about 60 lines), byte-compiles them, then in one process
imports all 500 alternately without and with the hook installed, several
rounds, and prints the best time of each and the ratio.  Target: <= 3 %.

    PYTHONPATH=src python benchmarks/import_overhead.py [--modules 500] [--rounds 7]
"""
from __future__ import annotations

import argparse
import compileall
import gc
import importlib
import os
import statistics
import sys
import tempfile
import time

TEMPLATE = '''\
"""Generated module {i}: ordinary code without the jitimport pragma."""
from __future__ import annotations

import os
import math
from collections import namedtuple

# a comment that mentions minijit in passing, which must not matter

Point = namedtuple("Point", "x y")
LIMIT_{i} = {i} * 3
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]
TABLE = {{name: len(name) * {i} for name in NAMES}}


class Shape{i}:
    """A small class with a few methods."""

    def __init__(self, w, h):
        self.w = w
        self.h = h

    def area(self):
        return self.w * self.h

    def perimeter(self):
        return 2 * (self.w + self.h)

    def scaled(self, k):
        return Shape{i}(self.w * k, self.h * k)

    def __repr__(self):
        return f"Shape{i}({{self.w}}, {{self.h}})"


def poly(x, y):
    return x * x + {i} * x * y - y


def hypot(p):
    return math.hypot(p.x, p.y)


def describe(value):
    if value > LIMIT_{i}:
        return "big"
    elif value < 0:
        return "negative"
    return "small"


def path_of(name):
    return os.path.join("data", name + ".txt")


def total():
    return sum(TABLE.values()) + poly(2, 3)
'''


def generate(root: str, count: int, prefix: str) -> list[str]:
    """Write ``count`` modules under ``root`` and byte-compile them; returns their names."""
    names = []
    for i in range(count):
        name = f"{prefix}{i:04d}"
        with open(os.path.join(root, name + ".py"), "w") as fh:
            fh.write(TEMPLATE.format(i=i))
        names.append(name)
    compileall.compile_dir(root, quiet=1)
    return names


def import_all(names: list[str]) -> float:
    """Import every module once (fresh), returning the elapsed seconds."""
    for name in names:
        sys.modules.pop(name, None)
    gc.collect()
    gc.disable()  # no collection pauses landing in one side only
    try:
        start = time.perf_counter()
        for name in names:
            importlib.import_module(name)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    for name in names:
        sys.modules.pop(name, None)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()

    sys.dont_write_bytecode = True  # the pycs are made once by compileall
    import jitimport.hook as hook
    from jitimport.hook.activate import is_installed

    with tempfile.TemporaryDirectory(prefix="jitimport-bench-") as root:
        names = generate(root, args.modules, "bench_mod_")
        sys.path.insert(0, root)
        import_all(names)  # warm the OS cache and the finder's directory cache
        without: list[float] = []
        with_hook: list[float] = []
        for r in range(args.rounds):
            # Alternate the order so drift (CPU frequency, other load) hits both equally.
            for hooked in ((False, True) if r % 2 == 0 else (True, False)):
                if hooked:
                    handle = hook.install()
                    assert is_installed()
                    with_hook.append(import_all(names))
                    handle.uninstall()
                else:
                    assert not is_installed()
                    without.append(import_all(names))
        sys.path.remove(root)

    best_without, best_with = min(without), min(with_hook)
    med_without, med_with = statistics.median(without), statistics.median(with_hook)
    # Rounds are paired (same moment, same load): the median of the per-round ratios
    # is the most robust number on a busy machine.
    paired = statistics.median(w / wo for w, wo in zip(with_hook, without))
    n = args.modules
    print(f"importing {n} modules without the pragma, {args.rounds} rounds (Python {sys.version.split()[0]})")
    print(f"  without hook: best {best_without * 1e3:7.1f} ms ({best_without / n * 1e6:6.1f} us/module), "
          f"median {med_without * 1e3:7.1f} ms")
    print(f"  with hook:    best {best_with * 1e3:7.1f} ms ({best_with / n * 1e6:6.1f} us/module), "
          f"median {med_with * 1e3:7.1f} ms")
    print(f"  overhead: {100 * (best_with / best_without - 1):+.1f} % (best), "
          f"{100 * (med_with / med_without - 1):+.1f} % (median), "
          f"{100 * (paired - 1):+.1f} % (median of paired rounds); target <= +3 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
