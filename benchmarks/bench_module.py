"""Kernels that use their module (issue 11), native vs CPython side by side in one run.

Imports ``module_kernels.py`` through the import hook (so its functions are compiled in
definition order, as users get them), checks each native result against CPython's, then
times both with interleaved rounds (minimum kept, as ``bench_core.py`` does) and prints:

* named constants and a helper vs the literal-only version of the same hash (target: the
  module version at the literal version's ratio, <= 0.12x);
* a two-level call (``hash_pair`` calling ``fmix64``) vs the same function written out by
  hand (target: no slower than the hand-inlined one + 10 %);
* a divmod loop returning a tuple, and ``pow(b, e, m)`` (target: <= 0.5x).

    PYTHONPATH=src python benchmarks/bench_module.py
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jitimport  # noqa: E402
from bench_core import measure  # noqa: E402

PAIRS = [  # (kernel, its yardstick or None, arguments, target ratio)
    ("splitmix64", "splitmix64_literal", (0x1234567890ABCDEF,), 0.12),
    ("fmix64", "fmix64_literal", (0x1234567890ABCDEF,), 0.12),
    ("murmur3_block", "murmur3_block_literal", (0x1234567890ABCDEF, 0xFEDCBA0987654321), 0.12),
    ("hash_pair", "hash_pair_inlined", (0x1234567890ABCDEF, 42), None),
    ("to_base", None, (2**62 + 12345, 10), 0.5),
    ("mod_inverse", None, (123456789,), 0.5),
    ("crc32_bytes", None, (0, 0x0123456789ABCDEF, 8), 0.5),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.05, help="seconds per CPython round")
    options = parser.parse_args(argv)
    jitimport.install(include=["module_kernels"])
    import module_kernels as mk

    status = 0
    ns: dict[str, tuple[float, float]] = {}
    print(f"{'kernel':<24}{'python ns':>11}{'native ns':>11}{'ratio':>8}  target")
    for name, _, args, target in PAIRS:
        for kernel in (name, dict((p[0], p[1]) for p in PAIRS)[name]):
            if kernel is None or kernel in ns:
                continue
            native = getattr(mk, kernel)
            original = jitimport.original(native)
            if not jitimport.is_native(native):
                print(f"{kernel:<24}  not native: {jitimport.info(native).reason}")
                status = 1
                continue
            if native(*args) != original(*args):
                print(f"{kernel:<24}  ERROR: native {native(*args)!r} != CPython {original(*args)!r}")
                status = 1
                continue
            py_ns, nat_ns = measure(original, native, args, None, options.rounds, options.target)
            assert nat_ns is not None
            ns[kernel] = (py_ns, nat_ns)
            print(f"{kernel:<24}{py_ns:>11.1f}{nat_ns:>11.1f}{nat_ns / py_ns:>8.3f}  "
                  + (f"<= {target}" if target and kernel == name else ""))
    print()
    for name, yardstick, _, target in PAIRS:
        if yardstick and name in ns and yardstick in ns:
            ratio, base = ns[name][1] / ns[name][0], ns[yardstick][1] / ns[yardstick][0]
            if target is None:
                rel = ns[name][1] / ns[yardstick][1]
                print(f"{name}: native {ns[name][1]:.1f} ns vs hand-inlined {ns[yardstick][1]:.1f} ns"
                      f" = {rel:.2f}x (target <= 1.10x)")
            else:
                print(f"{name}: {ratio:.3f}x with module constants vs {base:.3f}x literal-only"
                      f" (target <= {target})")
    return status


if __name__ == "__main__":
    sys.exit(main())
