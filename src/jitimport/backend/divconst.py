"""Division by a constant through a multiplicative inverse.

``idiv`` costs tens of cycles; a multiply, a few shifts and adds cost a handful.
For a constant ``d`` with ``2 <= |d| < 2**63`` there is a 64-bit ``multiplier``
and a ``shift`` such that, for every signed 64-bit ``n``::

    q = high64(multiplier * n)          # one-operand imul: RDX of RDX:RAX
    q += n  if d > 0 and multiplier < 0
    q -= n  if d < 0 and multiplier > 0
    q >>= shift                         # arithmetic
    q += 1  if q < 0                    # truncation toward zero

gives ``trunc(n / d)`` (Granlund & Montgomery, "Division by invariant integers
using multiplication", 1994; the construction follows Warren, *Hacker's
Delight*, 2nd ed., section 10-4).  Python's floor division and modulo are then
one multiply-back and a sign fix away.  :func:`floor_divide` and
:func:`floor_modulo` model the exact machine sequence in Python, with every
intermediate checked to fit in 64 bits, so the tests can check it against
``//`` and ``%`` directly.
"""
from __future__ import annotations

from dataclasses import dataclass

_TWO63 = 1 << 63
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Magic:
    multiplier: int  # signed 64-bit
    shift: int


def _signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= _TWO63 else value


def signed_magic(d: int) -> Magic:
    """The multiplier and shift for truncating division by ``d`` (2 <= |d| < 2**63)."""
    if not 2 <= abs(d) < _TWO63:
        raise ValueError(f"no 64-bit magic number for divisor {d}")
    ad = abs(d)
    t = _TWO63 + (1 if d < 0 else 0)
    anc = t - 1 - t % ad               # |nc|: the largest n with n mod |d| == |d| - 1
    p = 63
    q1, r1 = divmod(_TWO63, anc)
    q2, r2 = divmod(_TWO63, ad)
    while True:
        p += 1
        q1, r1 = 2 * q1, 2 * r1
        if r1 >= anc:
            q1, r1 = q1 + 1, r1 - anc
        q2, r2 = 2 * q2, 2 * r2
        if r2 >= ad:
            q2, r2 = q2 + 1, r2 - ad
        delta = ad - r2
        if not (q1 < delta or (q1 == delta and r1 == 0)):
            break
    multiplier = q2 + 1
    if d < 0:
        multiplier = -multiplier
    return Magic(_signed64(multiplier), p - 64)


def _checked(value: int) -> int:
    if not -_TWO63 <= value < _TWO63:
        raise OverflowError("intermediate left 64 bits")  # the sequence would be wrong
    return value


def truncating_quotient(n: int, d: int) -> int:
    """The machine sequence's ``trunc(n / d)``, step by step, in 64-bit arithmetic."""
    magic = signed_magic(d)
    m = magic.multiplier
    q = (m * n) >> 64                  # high half of the signed 128-bit product
    if d > 0 and m < 0:
        q = _checked(q + n)
    elif d < 0 and m > 0:
        q = _checked(q - n)
    q >>= magic.shift
    return q + (1 if q < 0 else 0)


def floor_divide(n: int, d: int) -> int:
    """Python's ``n // d`` the way the generated code computes it."""
    q = truncating_quotient(n, d)
    r = _checked(n - _checked(q * d))
    if r and (r < 0) != (d < 0):
        q -= 1
    return q


def floor_modulo(n: int, d: int) -> int:
    """Python's ``n % d`` the way the generated code computes it."""
    q = truncating_quotient(n, d)
    r = _checked(n - _checked(q * d))
    if r and (r < 0) != (d < 0):
        r += d
    return r
