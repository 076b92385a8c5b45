"""Division by a constant through a multiplicative inverse: the model, then the machine code."""
from __future__ import annotations

import random

import pytest

import jitimport
from jitimport.backend.divconst import floor_divide, floor_modulo, signed_magic

from ._util import INT64_MAX, INT64_MIN, define, fell_back, outcome

RNG = random.Random(20261130)
DIVISORS = (list(range(2, 80)) + [-d for d in range(2, 80)]
            + [641, -641, 6700417, 1000003, 2**31 - 1, -(2**31 - 1), -(2**31), 2**30 + 1, 2**62, -(2**62),
               2**63 - 1, -(2**63 - 1), 3**39]
            + [RNG.randint(2, 2**63 - 1) * RNG.choice([1, -1]) for _ in range(60)])


def _numerators(d: int) -> list[int]:
    near = [k * d + o for k in (0, 1, -1, RNG.randint(-2**20, 2**20)) for o in (-1, 0, 1)]
    pool = [0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1, *near]
    pool += [RNG.randint(INT64_MIN, INT64_MAX) for _ in range(200)]
    return [n for n in pool if INT64_MIN <= n <= INT64_MAX]


@pytest.mark.parametrize("d", DIVISORS)
def test_model_of_the_sequence_is_floor_division(d: int) -> None:
    for n in _numerators(d):
        assert floor_divide(n, d) == n // d, (n, d)
        assert floor_modulo(n, d) == n % d, (n, d)


def test_known_magic_numbers() -> None:
    # The values compilers emit for 64-bit signed division (Hacker's Delight, table 10-2 extended).
    assert signed_magic(3) == signed_magic(3) and signed_magic(3).multiplier == 0x5555555555555556
    assert (signed_magic(7).multiplier, signed_magic(7).shift) == (0x4924924924924925, 1)
    assert signed_magic(5).shift == 1 and signed_magic(-5).multiplier == -signed_magic(5).multiplier
    with pytest.raises(ValueError):
        signed_magic(1)


@pytest.mark.parametrize("op", ["//", "%"])
@pytest.mark.parametrize("d", [3, -3, 7, -7, 10, 11, -12, 641, 2**31 - 1, -(2**31)])
def test_native_division_by_constant(op: str, d: int) -> None:
    fn = define(f"def f(x):\n    return x {op} ({d})\n", name="f")
    native = jitimport.compile_native(fn)
    for x in [0, 1, -1, INT64_MIN, INT64_MAX, d - 1, d + 1, -d, 2**63, -(2**63) - 1, 2**70]:
        assert outcome(native, x) == outcome(fn, x), x
    for _ in range(300):
        x = RNG.randint(INT64_MIN, INT64_MAX)
        result, fallback = fell_back(native, x)
        assert result == outcome(fn, x) and not fallback, x
    assert "idiv" not in jitimport.disassemble(native)  # a multiply, not a division
