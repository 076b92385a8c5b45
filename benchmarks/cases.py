"""What each kernel of ``kernels.py`` is called with: timing arguments, edge cases, kernel sets.

Shared by ``bench_core.py`` and ``compare.py`` so that both time the same
calls and check exactness on the same edge cases.  Straight-line kernels get
the generic edge values in every position.  A loop kernel's trip count
depends on its arguments, so it lists edge values per parameter instead
(all combinations are checked): chosen so that CPython finishes each call in
well under a millisecond, and so that a contender computing in 64 bits shows
itself — a value that overflows *inside* the loop, an argument beyond 64
bits, ``-2**63 % -1``.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable

STRAIGHT = ["foo", "poly2", "dot3", "horner5", "fixmul", "divmod_mix",
            "fmix32", "splitmix64", "xorshift64", "fnv1a"]
LOOPS = ["gcd", "popcount", "collatz_steps", "sum_mul", "modpow", "crc32_byte", "isqrt",
         "xorshift_rounds", "fib", "digit_sum", "nested_pairs"]
BRANCHY = ["clamp", "sign", "iabs", "is_leap"]
KERNEL_SETS: dict[str, list[str]] = {"straight": STRAIGHT, "loops": LOOPS, "branchy": BRANCHY}

# Arguments for timing: the common case of real code, where every intermediate fits in int64
# (the masked kernels' states use all 64 bits, as real hashes and PRNGs do).
TIMING_ARGS: dict[str, tuple[int, ...]] = {
    "foo": (12345, 678),
    "poly2": (123, -45),
    "dot3": (1200, -340, 56, 78, 9000, -12),
    "horner5": (37,),
    "fixmul": (3 << 16, 5 << 15),
    "divmod_mix": (1000003, -97),
    "fmix32": (0x9E3779B9,),
    "splitmix64": (0x0123456789ABCDEF,),
    "xorshift64": (88172645463325252,),
    "fnv1a": (0xCBF29CE484222325, 0x61),
    # loops: the comment gives the trip count
    "gcd": (1836311903, 1134903170),            # consecutive Fibonacci numbers: 44 steps, the worst case
    "popcount": (0x5DEECE66DCAFEF0D,),          # 41 bits set
    "collatz_steps": (837799,),                 # 524 steps (the longest below 10**6)
    "sum_mul": (1000, 12345),                   # 1000
    "modpow": (3, 1234567891, 2**31 - 1),       # 31 squarings, 31-bit modulus
    "crc32_byte": (0xFFFFFFFF, 0x61),           # 8
    "isqrt": (10**18,),                         # 34 Newton steps
    "xorshift_rounds": (88172645463325252, 100),  # 100
    "fib": (90,),                               # 90
    "digit_sum": (1234567890123456789,),        # 19 digits
    "nested_pairs": (50, 0x5A5A),               # 1225 inner iterations
    # branchy one-liners: arguments that take the longest path
    "clamp": (5, 0, 10),
    "sign": (-42,),
    "iabs": (-42,),
    "is_leap": (1900,),
}

# Generic edge values (straight-line and branchy kernels), with the names the report shows.
EDGE_NAMES: dict[int, str] = {
    0: "0", 1: "1", -1: "-1", 3: "3", -7: "-7", 2**31: "2**31", 2**32 - 1: "2**32-1",
    2**63 - 1: "2**63-1", -(2**63): "-2**63", 2**63: "2**63", 2**64: "2**64",
    2**70: "2**70", -(2**70): "-2**70",
}
EDGES = list(EDGE_NAMES)
BASE = (2, -3, 5, 7, -11, 13)

_WIDE = [2**63 - 1, -(2**63), 2**64, 2**70, -(2**70)]  # int64 limits and beyond

# Loop kernels: edge values per parameter; every combination is a case.
LOOP_EDGES: dict[str, tuple[list[int], ...]] = {
    "gcd": ([0, 1, -1, 3, -7, 1836311903] + _WIDE,) * 2,   # includes gcd(-2**63, -1): C's INT64_MIN % -1
    "popcount": ([0, 1, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**70, 2**100 - 1],),  # x >= 0: ends
    "collatz_steps": ([-5, 0, 1, 2, 27, 2**62 + 1] + _WIDE,),  # 3n + 1 overflows 64 bits at once
    "sum_mul": ([-5, 0, 1, 1000, -(2**70)],                    # the sum overflows for k = 2**62
                [0, -7, 2**31, 2**62] + _WIDE[:4]),
    "modpow": ([3, -3, 2**31 - 2, 2**62, 2**70],
               [-1, 0, 1, 1234567891, 2**63 - 1, 2**70],
               [0, 1, -7, 2**31 - 1, 2**61 - 1]),              # 61-bit modulus: b * b overflows
    "crc32_byte": ([0, 0xFFFFFFFF, -1, 2**63 - 1, 2**64, 2**70], [0, 0x61, 0xFF, -1, 2**63]),
    "isqrt": ([-5, 0, 1, 2, 3, 4, 10**18, 2**62, 2**63 - 1, 2**64, 2**70, 2**126],),  # 2**63-1: x + 1
    "xorshift_rounds": ([0, 1, 88172645463325252, 2**63 - 1, 2**63, 2**64 - 1, -1, 2**70],
                        [-1, 0, 1, 64]),
    "fib": ([-3, 0, 1, 2, 90, 92, 93, 100, 300, -(2**70)],),   # fib(93) > 2**63
    "digit_sum": ([-5, 0, 7, 10, 1234567890123456789, 2**63 - 1, -(2**63), 2**64, 10**30],),
    "nested_pairs": ([-3, 0, 1, 2, 50], [0, -1, 0x5A5A, 2**62] + _WIDE[:4]),  # k = 2**62: the sum overflows
}


def edge_cases(arity: int) -> list[tuple[int, ...]]:
    """Every generic edge value in every position; all pairs when there are two parameters."""
    if arity == 2:
        return [(a, b) for a in EDGES for b in EDGES]
    cases = [(v,) * arity for v in EDGES]
    for pos in range(arity):
        for v in EDGES:
            case = BASE[:pos] + (v,) + BASE[pos + 1:arity]
            if case not in cases:
                cases.append(case)
    return cases


def kernel_cases(name: str, arity: int) -> list[tuple[int, ...]]:
    """The edge cases of one kernel: its own per-parameter values for a loop kernel, else the generic ones."""
    per_param = LOOP_EDGES.get(name)
    if per_param is None:
        return edge_cases(arity)
    if len(per_param) != arity:
        raise ValueError(f"{name}: {len(per_param)} edge lists for {arity} parameters")
    return list(itertools.product(*per_param))


def select_kernels(spec: str) -> list[str]:
    """Kernel names from a comma-separated list of names and set names (``loops``, ``branchy``, ``straight``)."""
    names: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        for name in KERNEL_SETS.get(item, [item] if item else []):
            if name not in names:
                names.append(name)
    unknown = [n for n in names if n not in TIMING_ARGS]
    if unknown:
        raise ValueError(f"unknown kernel(s): {', '.join(unknown)}; known: {', '.join(TIMING_ARGS)} "
                         f"and the sets {', '.join(KERNEL_SETS)}")
    return names


def show_int(value: int) -> str:
    """An argument as people write it: ``2**63-1``, ``-2**70``, ``10**30``, else decimal."""
    if value in EDGE_NAMES:
        return EDGE_NAMES[value]
    magnitude, minus = abs(value), "-" if value < 0 else ""
    if magnitude >= 2**20:
        power = round(math.log2(magnitude))
        rest = magnitude - 2**power
        if abs(rest) <= 64:
            return f"{minus}2**{power}" + (f"{rest:+d}" if rest else "")
        power10 = round(math.log10(magnitude))
        if magnitude == 10**power10:
            return f"{minus}10**{power10}"
    return str(value)


def show_call(name: str, args: tuple[int, ...]) -> str:
    return f"{name}({', '.join(show_int(a) for a in args)})"


def outcome(fn: Callable[..., Any], args: tuple[int, ...]) -> list[str]:
    """What a call did: ``["ok", type, repr]`` or ``["raise", exception type, message]``."""
    try:
        value = fn(*args)
    except Exception as exc:  # any exception is an outcome to compare
        return ["raise", type(exc).__name__, str(exc)]
    return ["ok", type(value).__name__, repr(value)]


def show_outcome(out: list[str]) -> str:
    kind, typ, text = out
    if kind == "ok":
        return text if typ == "int" else f"{text} ({typ})"
    return f"{typ}" + (f": {text}" if text else "")
