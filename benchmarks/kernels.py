"""The benchmark kernels, as plain Python.

This one file is the single source of every contender: CPython runs it as is,
jitimport and Numba compile these functions, Cython compiles this very file in
pure-Python mode, and ``peers/sources.py`` derives the typed Cython and the
annotated mypyc variants from it with ``ast``.  Functions only, no imports or
globals, so every contender sees exactly the same code.

The masked kernels mask with ``& 0xFFFFFFFF`` / ``& 0xFFFFFFFFFFFFFFFF`` as
real hash code does.
"""


def foo(a, b):
    """The seed kernel."""
    return a * a - b * b


def poly2(x, y):
    """A two-variable cubic: about 20 operations before CSE."""
    return (3 * x * x * x + 2 * x * x * y - 5 * x * y * y + 7 * y * y * y
            - 11 * x * y + 13 * x - 17 * y + 19)


def dot3(ax, ay, az, bx, by, bz):
    """3-D dot product."""
    return ax * bx + ay * by + az * bz


def horner5(x):
    """Degree-5 polynomial by Horner's rule."""
    return ((((2 * x - 3) * x + 5) * x - 7) * x + 11) * x - 13


def fixmul(a, b):
    """16.16 fixed-point multiply."""
    return (a * b) >> 16


def divmod_mix(a, b):
    """Floor division and modulo, Python's floor semantics for negative operands."""
    return (a // b) * 3 + (a % b) * 5 - (a // 7) % 11


def fmix32(h):
    """MurmurHash3 32-bit finalizer."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def splitmix64(x):
    """SplitMix64 output function (state already advanced to ``x``)."""
    z = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def xorshift64(x):
    """Marsaglia xorshift64 step (13, 7, 17)."""
    x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 7
    x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
    return x


def fnv1a(h, byte):
    """One FNV-1a 64-bit step: fold in a byte, multiply by the FNV prime."""
    return ((h ^ (byte & 0xFF)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
