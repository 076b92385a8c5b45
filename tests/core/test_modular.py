"""Masked 64-bit arithmetic (issue 6): native speed on hash/PRNG kernels, still exact.

Every outcome is compared with CPython's; for the kernels, arguments in their
natural range must also be computed by the machine code itself (no fallback),
which is the point of the representation analysis.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitimport
from jitimport import analysis, frontend, optimizer, versions

from ._util import EDGES, define, fell_back, outcome

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

KERNELS = {
    "splitmix64": """
        def f(x):
            z = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
            return z ^ (z >> 31)
    """,
    "xorshift64": """
        def f(x):
            x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
            x ^= x >> 7
            x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
            return x
    """,
    "fmix32": """
        def f(h):
            h ^= h >> 16
            h = (h * 0x85EBCA6B) & 0xFFFFFFFF
            h ^= h >> 13
            h = (h * 0xC2B2AE35) & 0xFFFFFFFF
            h ^= h >> 16
            return h
    """,
    "fnv1a": """
        def f(h, b):
            return ((h ^ (b & 0xFF)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    """,
    "fmix64": """
        def f(k):
            k ^= k >> 33
            k = (k * 0xFF51AFD7ED558CCD) & 0xFFFFFFFFFFFFFFFF
            k ^= k >> 33
            k = (k * 0xC4CEB9FE1A85EC53) & 0xFFFFFFFFFFFFFFFF
            return k ^ (k >> 33)
    """,
    "mask_not_all_ones": """
        def f(a, b):
            return ((a * b) & 0xFF00) >> 8
    """,
    "mixed_shifts": """
        def f(a, b):
            t = ((a << 40) + (b << 3) - a * 7) & 0xFFFFFFFFFFFF
            return (t >> 5) ^ ((t << 9) & 0xFFFFFFFF)
    """,
    "rotl32": """
        def f(x, r):
            return ((x << 7) | (x >> 25)) & 0xFFFFFFFF
    """,
    "lcg32": """
        def f(s):
            return (s * 1664525 + 1013904223) & 0xFFFFFFFF
    """,
}

#: Natural argument ranges per kernel (bits), used for the no-fallback check.
NATURAL_BITS = {"fmix32": 32, "rotl32": 32, "lcg32": 32, "mask_not_all_ones": 62, "mixed_shifts": 62}

ARG_EDGES = EDGES + [M32, M32 + 1, M64, M64 + 1, 2**63 + 12345, 0xDEADBEEFCAFEF00D, -M64, -(2**63) - 5]


def _reference(name: str):
    return define(KERNELS[name], name="f")


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles_and_matches_cpython_on_edges(name: str) -> None:
    fn = _reference(name)
    native = jitimport.compile_native(fn)
    nargs = fn.__code__.co_argcount
    rng = random.Random(name)
    cases = [tuple(rng.choice(ARG_EDGES) for _ in range(nargs)) for _ in range(400)]
    cases += [tuple(rng.getrandbits(rng.choice([8, 32, 63, 64, 65, 90])) * rng.choice([1, -1])
                    for _ in range(nargs)) for _ in range(400)]
    for args in cases:
        assert outcome(native, *args) == outcome(fn, *args), args


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_runs_natively_on_its_natural_range(name: str) -> None:
    fn = _reference(name)
    native = jitimport.compile_native(fn)
    bits = NATURAL_BITS.get(name, 64)
    rng = random.Random(1)
    for _ in range(200):
        args = tuple(rng.getrandbits(bits) for _ in range(fn.__code__.co_argcount))
        result, fallback = fell_back(native, *args)
        assert result == outcome(fn, *args)
        assert not fallback, f"{name}{args} fell back to Python"


def test_modular_parameter_accepts_any_int() -> None:
    """A parameter only used under a mask is unboxed from its low 64 bits, huge or negative."""
    fn = _reference("splitmix64")
    native = jitimport.compile_native(fn)
    for x in (2**64, 2**200 + 7, -1, -(2**64) - 3, -(3**100)):
        result, fallback = fell_back(native, x)
        assert result == outcome(fn, x)
        assert not fallback, x


def test_unsigned_results_above_2_63_are_boxed_unsigned() -> None:
    fn = _reference("xorshift64")
    native = jitimport.compile_native(fn)
    rng = random.Random(3)
    x = next(x for x in (rng.getrandbits(63) for _ in range(1000)) if fn(x) >= 2**63)
    result, fallback = fell_back(native, x)
    assert result == ("ok", int, fn(x)) and not fallback


def test_missing_mask_must_not_wrap() -> None:
    fn = define("def f(x):\n    return x * 0x9E3779B97F4A7C15\n", name="f")
    native = jitimport.compile_native(fn)
    for x in (0, 1, 2, 3, -1, 2**40, 0xDEADBEEF, -(2**63)):
        assert outcome(native, x) == outcome(fn, x), x
    assert native(3) == 3 * 0x9E3779B97F4A7C15  # beyond 64 bits: exact, via the original


def test_wrapping_is_only_used_under_a_mask() -> None:
    fn = define("def f(a, b):\n    t = a * b\n    return (t & 0xFFFF) + t\n", name="f")
    native = jitimport.compile_native(fn)
    for args in [(2**40, 2**40), (-(2**40), 3), (2**31 + 1, 2**31 + 5), (7, 9)]:
        assert outcome(native, *args) == outcome(fn, *args)
    reps = jitimport.info(native).representations
    assert "modular" not in reps.values(), reps  # t is needed exactly by the + t


def test_negative_argument_to_unsigned_parameter_falls_back() -> None:
    fn = _reference("xorshift64")
    native = jitimport.compile_native(fn)
    result, fallback = fell_back(native, -5)
    assert result == outcome(fn, -5) and fallback


def test_info_reports_representations() -> None:
    native = jitimport.compile_native(_reference("splitmix64"))
    reps = jitimport.info(native).representations
    assert reps["%x"] == "modular"
    assert "unsigned" in reps.values()
    foo = jitimport.compile_native(define("def f(a, b):\n    return a*a - b*b\n", name="f"))
    assert jitimport.info(foo).representations == {}


def test_analysis_demand_and_kinds() -> None:
    fn = define(KERNELS["fnv1a"], name="f")
    table = versions.current()
    optimized = optimizer.optimize(frontend.build_ir(fn, table))
    rep = analysis.analyze(optimized)
    h, b = optimized.params
    assert rep.kind(h) is analysis.Kind.MODULAR and rep.kind(b) is analysis.Kind.MODULAR
    assert rep.kind(optimized.returns()[0].value) is analysis.Kind.UNSIGNED


# -- random masked expressions -------------------------------------------------------------

_LEAF = st.sampled_from(["a", "b", "c", "1", "3", "0xFF", "0x9E3779B97F4A7C15", "0xFFFFFFFF",
                         "2147483647", "12345678901234567890"])


def _expr(depth: int):
    if depth == 0:
        return _LEAF
    sub = _expr(depth - 1)
    binary = st.tuples(sub, st.sampled_from(["+", "-", "*", "^", "|", "&"]), sub).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})")
    shifted = st.tuples(sub, st.sampled_from(["<<", ">>"]), st.integers(0, 70)).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})")
    masked = st.tuples(sub, st.sampled_from(["0xFFFFFFFFFFFFFFFF", "0xFFFFFFFF", "0xFF00",
                                             "0x7FFFFFFFFFFFFFFF", "0xFFFF"])).map(
        lambda t: f"({t[0]} & {t[1]})")
    unary = st.tuples(st.sampled_from(["-", "~"]), sub).map(lambda t: f"({t[0]}{t[1]})")
    return st.one_of(sub, binary, shifted, masked, masked, unary)


_ARG = st.one_of(st.sampled_from(ARG_EDGES), st.integers(-(2**70), 2**70), st.integers(0, M64))


@settings(max_examples=150, deadline=None)
@given(body=_expr(3), args=st.lists(st.tuples(_ARG, _ARG, _ARG), min_size=1, max_size=6))
def test_random_masked_expressions(body: str, args: list) -> None:
    fn = define(f"def f(a, b, c):\n    return {body}\n", name="f")
    try:
        native = jitimport.compile_native(fn)
    except jitimport.NotCompilable as exc:  # e.g. a folded constant beyond 64 bits
        assert "does not fit" in str(exc) or "returns" in str(exc), str(exc)
        return
    for a, b, c in args:
        assert outcome(native, a, b, c) == outcome(fn, a, b, c), (body, a, b, c)
