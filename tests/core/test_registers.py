"""Register pressure: spills, callee-saved registers, long chains, locals and tuple assignment."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitimport
from jitimport import versions
from jitimport.backend.regalloc import CALLEE_SAVED, allocate
from jitimport.frontend import build_ir
from jitimport.optimizer import optimize

from ._util import EDGES, INT64_MAX, INT64_MIN, define, fell_back, outcome


def allocation(fn):
    return allocate(optimize(build_ir(fn, versions.current())))


def many_live_source(n: int) -> str:
    """n params, n products all alive until one final combination: > 12 live values."""
    params = [f"p{i}" for i in range(n)]
    lines = [f"def f({', '.join(params)}):"]
    for i in range(n):
        lines.append(f"    t{i} = p{i} * {i + 3} + p{(i + 1) % n}")
    terms = " ^ ".join(f"(t{i} - p{i})" if i % 2 else f"t{i}" for i in range(n))
    lines.append(f"    return {terms}")
    return "\n".join(lines) + "\n"


def check_many(native, fn, n: int, rng: random.Random) -> None:
    small = [rng.randint(-1000, 1000) for _ in range(n)]
    got, fallback = fell_back(native, *small)
    assert got == outcome(fn, *small) and not fallback
    for _ in range(30):
        args = [rng.choice([rng.randint(-2**40, 2**40), rng.choice(EDGES)]) for _ in range(n)]
        assert outcome(native, *args) == outcome(fn, *args), args


@pytest.mark.parametrize("n", [13, 16, 24])
def test_spilling_many_live_values(n: int) -> None:
    fn = define(many_live_source(n))
    alloc = allocation(fn)
    assert alloc.spill_slots > 0, "the test must actually spill"
    assert alloc.callee_saved, "and use callee-saved registers"
    native = jitimport.compile_native(fn)
    check_many(native, fn, n, random.Random(n))


def test_callee_saved_registers_are_preserved() -> None:
    """Calling a function that uses every callee-saved register must not disturb the caller."""
    fn = define(many_live_source(14))
    assert set(allocation(fn).callee_saved) == set(CALLEE_SAVED)
    native = jitimport.compile_native(fn)
    # Python's own loop state lives in callee-saved registers of the interpreter.
    total_native = sum(native(*range(i, i + 14)) for i in range(500))
    total_python = sum(fn(*range(i, i + 14)) for i in range(500))
    assert total_native == total_python


def test_spill_with_divisions_and_variable_shifts() -> None:
    """idiv and shifts need RAX/RCX/RDX while many values live elsewhere."""
    n = 14
    params = ", ".join(f"p{i}" for i in range(n))
    body = [f"    q{i} = (p{i} // p{(i + 1) % n}) + (p{i} % p{(i + 2) % n}) + (p{i} >> (p{(i + 3) % n} & 63))"
            for i in range(n)]
    ret = " + ".join(f"q{i} * p{i}" for i in range(n))
    fn = define(f"def f({params}):\n" + "\n".join(body) + f"\n    return {ret}\n")
    assert allocation(fn).spill_slots > 0
    native = jitimport.compile_native(fn)
    rng = random.Random(7)
    for _ in range(200):
        args = [rng.choice([rng.randint(-50, 50), rng.randint(-2**31, 2**31), rng.choice(EDGES[:8])])
                for _ in range(n)]
        assert outcome(native, *args) == outcome(fn, *args), args


def test_long_chain() -> None:
    lines = ["def f(a, b):", "    x = a"]
    ops = ["+", "-", "*", "^", "|", "&", "//", "%", ">>"]
    rng = random.Random(3)
    for i in range(200):
        op = ops[i % len(ops)]
        k = rng.randint(1, 9)
        lines.append(f"    x = (x {op} {k}) + b" if op != "*" else "    x = x * 1 - b")
    lines.append("    return x")
    fn = define("\n".join(lines) + "\n")
    native = jitimport.compile_native(fn)
    for a in EDGES:
        for b in (0, 1, -1, 12345, INT64_MAX, INT64_MIN):
            assert outcome(native, a, b) == outcome(fn, a, b), (a, b)


def test_parameter_reused_many_times() -> None:
    fn = define("def f(a, b):\n    return " + " + ".join(["a*b", "a", "b", "a^b"] * 25) + "\n")
    native = jitimport.compile_native(fn)
    for a in EDGES:
        for b in EDGES:
            assert outcome(native, a, b) == outcome(fn, a, b)


def test_locals_reassigned_and_augmented() -> None:
    def f(a, b):
        x = a + 1
        x = x * b
        x += a
        x -= 7
        x *= 3
        x //= 5
        x %= 1000003
        x <<= 2
        x >>= 1
        x &= 0xFFFF_FFFF
        x |= 1
        x ^= b
        x **= 2
        a = x - a
        return a

    native = jitimport.compile_native(f)
    for a in EDGES:
        for b in (0, 1, -1, 3, 2**31, -(2**40)):
            assert outcome(native, a, b) == outcome(f, a, b), (a, b)
    assert not fell_back(native, 3, 4)[1]


def test_tuple_assignments() -> None:
    def fib(a, b):
        a, b = b, a + b
        a, b = b, a + b
        a, b = b, a + b
        a, b = b, a + b
        return a * 1000 + b

    def three(a, b, c):
        a, b, c = c, a, b
        x, y = 1, 2
        return a * 100 + b * 10 + c + x - y

    def nested_swap(a, b):
        a, b = b, a
        b, a = a - b, b - a
        return a - 2 * b

    for f in (fib, three, nested_swap):
        native = jitimport.compile_native(f)
        args_list = [(1, 2), (0, -1), (2**62, 2**62), (INT64_MIN, 1), (2**70, 1), (5, 7)]
        for args in args_list:
            args = args + (3,) * (f.__code__.co_argcount - 2)
            assert outcome(native, *args) == outcome(f, *args), (f.__name__, args)
        got, fallback = fell_back(native, *((1, 2, 3)[: f.__code__.co_argcount]))
        assert not fallback and got == outcome(f, *((1, 2, 3)[: f.__code__.co_argcount]))


def test_result_is_a_parameter_or_constant() -> None:
    def ident(a):
        return a

    def second(a, b, c):
        return c

    def const(a):
        return -7

    for f, args in [(ident, (5,)), (ident, (INT64_MIN,)), (second, (1, 2, 3)),
                    (second, ("x", None, 2**63)), (const, ("anything",))]:
        native = jitimport.compile_native(f)
        got = outcome(native, *args)
        assert got == outcome(f, *args) and got[1] is outcome(f, *args)[1]
    assert jitimport.compile_native(ident)(True) is True


def random_program(rng: random.Random, nparams: int, length: int) -> str:
    """Straight-line code where many earlier values stay live until the end."""
    names = [f"p{i}" for i in range(nparams)]
    lines = [f"def f({', '.join(names)}):"]
    ops = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]
    for i in range(length):
        op = rng.choice(ops)
        x = rng.choice(names)
        if op in ("<<", ">>"):
            y = rng.choice([str(rng.randint(0, 66)), f"({rng.choice(names)} & 63)"])
        else:
            y = rng.choice(names + [str(rng.choice([3, -7, 2**40, -(2**63)]))])
        if rng.random() < 0.15:
            lines.append(f"    t{i} = {rng.choice(['-', '~'])}{x} {op} {y}")
        else:
            lines.append(f"    t{i} = {x} {op} {y}")
        names.append(f"t{i}")
    keep = rng.sample(names, min(len(names), 18))
    lines.append("    return " + " ^ ".join(keep))
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_random_programs_under_register_pressure(seed: int) -> None:
    rng = random.Random(seed)
    nparams = rng.randint(1, 8)
    source = random_program(rng, nparams, rng.randint(10, 30))
    fn = define(source)
    native = jitimport.compile_native(fn)
    for _ in range(8):
        args = [rng.choice([rng.randint(-100, 100), rng.randint(-2**31, 2**31), rng.choice(EDGES)])
                for _ in range(nparams)]
        got, want = outcome(native, *args), outcome(fn, *args)
        assert got == want and got[1] is want[1], (source, args, got, want)


def test_signatures_without_and_with_many_parameters() -> None:
    def none_():
        return 5

    def only_defaults(a=2**62, b=-1):
        return a * b

    def default_returned(a, b=5):
        return b

    def ten(a, b, c, d, e, f, g, h, i, j):
        return a - b + c - d + e - f + g - h + i - j

    cases = [(none_, [(), (1,)]), (only_defaults, [(), (3,), (3, 4), (2**62, 2), (1, 2, 3)]),
             (default_returned, [(1,), (1, 7), ("x",), ("x", 9), ("x", 2**70)]),
             (ten, [tuple(range(10)), tuple(range(9)) + (2**70,), tuple(range(9))])]
    for fn, arg_lists in cases:
        native = jitimport.compile_native(fn)
        for args in arg_lists:
            got, want = outcome(native, *args), outcome(fn, *args)
            assert got == want and got[1] is want[1], (fn.__name__, args)
    assert jitimport.compile_native(none_)() == 5
