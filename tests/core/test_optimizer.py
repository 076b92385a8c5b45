"""The optimizer keeps Python's result: random IR, dead code that raises, kept type checks."""
from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitimport
from jitimport import ir
from jitimport.ir import Const, Opcode, Param
from jitimport.optimizer import optimize

from ._util import EDGES, INT64_MAX, INT64_MIN, define, fell_back, fits, outcome

BINOPS = [Opcode.ADD, Opcode.SUB, Opcode.MUL, Opcode.FLOORDIV, Opcode.MOD, Opcode.AND, Opcode.OR,
          Opcode.XOR, Opcode.LSHIFT, Opcode.RSHIFT, Opcode.POW]
INTERESTING_CONSTS = [0, 1, -1, 2, -2, 3, 4, 8, 16, 63, 64, 65, 1 << 31, -(1 << 31), INT64_MAX,
                      INT64_MIN, 7, -8]
SHIFT_CONSTS = [-1, 0, 1, 2, 31, 62, 63, 64, 65, 100]


def random_function(rng: random.Random, nparams: int = 3, length: int = 12) -> ir.Function:
    """Straight-line IR the way the frontend builds it; shift counts and exponents stay small
    so that Python's reference result stays cheap."""
    params = [Param(i, f"p{i}") for i in range(nparams)]
    builder = ir.Builder()
    values: list[ir.Value] = list(params)

    def operand() -> ir.Value:
        if rng.random() < 0.3:
            return Const(rng.choice(INTERESTING_CONSTS + [rng.randint(INT64_MIN, INT64_MAX)]))
        return rng.choice(values[-6:] + params)

    for _ in range(length):
        kind = rng.random()
        if kind < 0.1:
            values.append(builder.unop(rng.choice([Opcode.NEG, Opcode.INVERT]), operand()))
            continue
        op = rng.choice(BINOPS)
        left = operand()
        if op is Opcode.POW:
            right: ir.Value = Const(rng.choice([0, 1, 2, 3]))
        elif op in (Opcode.LSHIFT, Opcode.RSHIFT):
            right = Const(rng.choice(SHIFT_CONSTS))
        elif rng.random() < 0.1:
            right = left  # x op x (x - x, x ^ x, x & x ...)
        else:
            right = operand()
        values.append(builder.binop(op, left, right))
    result = values[-1] if rng.random() < 0.9 else rng.choice(values)
    return ir.straight_line("f", params, builder.body, result,
                       read_params=frozenset(range(nparams)))


class Fallback(Exception):
    """An intermediate left 64 bits: the machine code would hand over to Python."""


def step64(op: Opcode, operands: list[int]) -> int:
    """One instruction as the machine code computes it: the value must fit in 64 bits."""
    if op is Opcode.LSHIFT and operands[0] != 0 and operands[1] > 64:
        raise Fallback  # never build a huge int
    try:
        value = ir.evaluate(op, operands)
    except (ZeroDivisionError, ValueError):
        raise Fallback from None  # the machine code's checks leave before Python would raise
    if not fits(value):
        raise Fallback
    return value


def interpret64(fn: ir.Function, args: list[int]) -> int:
    """What the machine code computes: IR semantics, but every value must fit in 64 bits."""
    return ir.interpret(fn, args, step=step64)


def reference(fn: ir.Function, args: list[int]) -> tuple[str, object]:
    try:
        return ("ok", ir.interpret(fn, args))
    except (ZeroDivisionError, ValueError) as exc:
        return ("raise", type(exc))


def arguments(rng: random.Random, n: int) -> list[int]:
    pool = [e for e in EDGES if fits(e)]
    return [rng.choice([rng.choice(pool), rng.randint(-100, 100), rng.randint(INT64_MIN, INT64_MAX)])
            for _ in range(n)]


def check_equivalent(fn: ir.Function, rng: random.Random, trials: int = 25) -> None:
    text = str(fn)
    optimized = optimize(copy.deepcopy(fn))  # the optimizer works in place
    for _ in range(trials):
        args = arguments(rng, len(fn.params))
        want = reference(fn, args)
        # The brief's property: the reference interpreter agrees where neither raises.
        try:
            plain = ("ok", ir.interpret(optimized, args))
        except (ZeroDivisionError, ValueError) as exc:
            plain = ("raise", type(exc))
        if want[0] == "ok" and plain[0] == "ok" and all_fit(fn, args):
            assert plain == want, (text, str(optimized), args)
        # The machine code's property: whenever it finishes without falling back,
        # its value is Python's; where Python raises it must always fall back.
        try:
            got = interpret64(optimized, args)
        except Fallback:
            continue
        assert want == ("ok", got), (text, str(optimized), args, want, got)


def all_fit(fn: ir.Function, args: list[int]) -> bool:
    try:
        interpret64(fn, args)
    except Fallback:
        return False
    return True


@pytest.mark.parametrize("seed", range(40))
def test_random_ir_structured(seed: int) -> None:
    rng = random.Random(seed)
    check_equivalent(random_function(rng, nparams=1 + seed % 4, length=4 + seed % 20), rng)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_random_ir_hypothesis(seed: int) -> None:
    rng = random.Random(seed)
    check_equivalent(random_function(rng, nparams=rng.randint(1, 3), length=rng.randint(1, 16)), rng,
                     trials=10)


def test_folding_cse_and_dce_do_their_job() -> None:
    p = Param(0, "a")
    b = ir.Builder()
    x = b.binop(Opcode.ADD, Const(2), Const(3))          # folds to 5
    y = b.binop(Opcode.MUL, p, x)
    z = b.binop(Opcode.MUL, x, p)                        # same as y (commutative CSE)
    b.binop(Opcode.SUB, p, Const(1))                     # dead, cannot fail
    r = b.binop(Opcode.SUB, y, z)                        # y - y == 0
    fn = ir.straight_line("f", [p], b.body, b.binop(Opcode.ADD, r, p), read_params=frozenset({0}))
    opt = optimize(fn)
    assert opt.entry.body == [] and opt.returns()[0].value is p


def test_dead_code_that_may_raise_is_kept() -> None:
    p, q = Param(0, "a"), Param(1, "b")
    for op, right in [(Opcode.FLOORDIV, q), (Opcode.MOD, q), (Opcode.FLOORDIV, Const(0)),
                      (Opcode.LSHIFT, q), (Opcode.RSHIFT, q), (Opcode.LSHIFT, Const(-1)),
                      (Opcode.RSHIFT, Const(-5))]:
        b = ir.Builder()
        b.binop(op, p, right)
        opt = optimize(ir.straight_line("f", [p, q], b.body, p, read_params=frozenset({0, 1})))
        assert [i.op for i in opt.entry.body] == [op], op


def test_dead_division_by_zero_raises_natively() -> None:
    def f(a, b):
        c = a // b  # noqa: F841
        return a

    def g(a, b):
        c = a % b  # noqa: F841
        return a + 1

    for fn in (f, g):
        native = jitimport.compile_native(fn)
        assert outcome(native, 7, 0) == outcome(fn, 7, 0)
        assert outcome(native, 7, 0)[1] is ZeroDivisionError
        got, fallback = fell_back(native, 7, 2)
        assert got == outcome(fn, 7, 2) and not fallback


def test_dead_shift_with_negative_count_raises() -> None:
    def f(a, b):
        c = a << b  # noqa: F841
        d = a >> b  # noqa: F841
        return b

    native = jitimport.compile_native(f)
    assert outcome(native, 1, -1) == ("raise", ValueError, "negative shift count")
    assert native(1, 3) == 3
    assert outcome(native, 1, 2**62) == outcome(f, 1, 2**62)  # 1 << 2**62: MemoryError in Python


def test_times_zero_keeps_the_type_check() -> None:
    def f(x):
        return x * 0

    native = jitimport.compile_native(f)
    assert jitimport.info(native).optimized_ir.endswith("return 0")
    for arg in ("abc", [1, 2], 1.5, True, 2**80, -3):
        got, want = outcome(native, arg), outcome(f, arg)
        assert got == want and got[1] is want[1], arg
    assert native("abc") == ""
    assert outcome(native, None)[1] is TypeError


def test_identities_keep_python_results() -> None:
    sources = [
        "a - a", "a ^ a", "a & a", "a | a", "0 - a", "a * 1", "a * -1", "a // 1", "a // -1",
        "a % 1", "a % -1", "a // 8", "a % 8", "a // -8", "a % -8", "a ** 0", "a ** 1", "a << 0",
        "a >> 0", "a >> 64", "a >> 1000", "a & 0", "a & -1", "a | 0", "a | -1", "a ^ -1", "-(-a)",
        "~~a", "(a + 5) + 7", "(a * 3) * 5", "(a - 9) - 1", "a - (-9223372036854775807 - 1)",
        "(a + 9223372036854775807) + 1", "(a * 4611686018427387904) * 2", "a ** 64", "a ** 65",
        "a * 2 ** 30 // 3",
    ]
    for body in sources:
        fn = define(f"def f(a):\n    return {body}\n")
        native = jitimport.compile_native(fn)
        for a in EDGES:
            got, want = outcome(native, a), outcome(fn, a)
            assert got == want and got[1] is want[1], (body, a, got, want)
