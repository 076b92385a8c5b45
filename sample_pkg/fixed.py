# minijit: native
"""16.16 fixed-point arithmetic: ``x`` represents ``x / 65536``.

Fixed point keeps simulations deterministic across machines; every function
floors like Python's ``>>`` and ``//``.
"""

ONE = 1 << 16


def from_int(n):
    """Integer -> fixed."""
    return n << 16


def to_int(x):
    """Fixed -> integer, rounding towards minus infinity."""
    return x >> 16


def round_int(x):
    """Fixed -> nearest integer (halves round up)."""
    return (x + 32768) >> 16


def fmul(a, b):
    """Fixed-point product."""
    return (a * b) >> 16


def fdiv(a, b):
    """Fixed-point quotient (ZeroDivisionError for b == 0, as in Python)."""
    return (a << 16) // b


def lerp(a, b, t):
    """a + (b - a) * t with t in fixed point (0 -> a, ONE -> b)."""
    return a + (((b - a) * t) >> 16)


def smoothstep(t):
    """3t^2 - 2t^3 for t in [0, ONE]: an ease-in/ease-out curve."""
    t2 = (t * t) >> 16
    return (t2 * (196608 - 2 * t)) >> 16


def poly3(x, c0, c1, c2, c3):
    """c0 + c1 x + c2 x^2 + c3 x^3 in fixed point (Horner)."""
    acc = (c3 * x) >> 16
    acc = ((acc + c2) * x) >> 16
    acc = ((acc + c1) * x) >> 16
    return acc + c0
