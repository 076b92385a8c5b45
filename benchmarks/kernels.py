"""The benchmark kernels, as plain Python.

This one file is the single source of every contender: CPython runs it as is,
jitimport and Numba compile these functions, Cython compiles this very file in
pure-Python mode, and ``peers/sources.py`` derives the typed Cython and the
annotated mypyc variants from it with ``ast``.  Functions only, no imports or
globals, so every contender sees exactly the same code.

The masked kernels mask with ``& 0xFFFFFFFF`` / ``& 0xFFFFFFFFFFFFFFFF`` as
real hash code does.  The loop kernels (issue 10) are written the way people
write them in pure Python; a constant such as the CRC polynomial is a literal,
since module constants would be globals.  Their arguments (timing and edge
cases) are in ``cases.py``: a loop's trip count is an argument, so not every
int is a reasonable one (``popcount(-1)`` never ends in CPython).
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


# ---------------------------------------------------------------- loop kernels (issue 10)

def gcd(a, b):
    """Euclid's algorithm with ``%`` (Python's floor modulo: the sign follows ``b``)."""
    while b:
        a, b = b, a % b
    return a


def popcount(x):
    """Set bits of a non-negative int, clearing the lowest one per step (Kernighan)."""
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


def collatz_steps(n):
    """Steps of the 3n + 1 map until 1 (0 for n <= 1)."""
    steps = 0
    while n > 1:
        if n % 2:
            n = 3 * n + 1
        else:
            n //= 2
        steps += 1
    return steps


def sum_mul(n, k):
    """Sum of ``i * k`` over ``range(n)``."""
    s = 0
    for i in range(n):
        s += i * k
    return s


def modpow(b, e, m):
    """``b ** e % m`` by square-and-multiply; with a 31-bit modulus every product fits in 62 bits."""
    r = 1
    b %= m
    while e > 0:
        if e & 1:
            r = r * b % m
        b = b * b % m
        e >>= 1
    return r


def crc32_byte(crc, byte):
    """One byte of bitwise CRC-32 (reflected polynomial 0xEDB88320), eight shift-and-xor steps."""
    crc ^= byte
    for _ in range(8):
        crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc


def isqrt(n):
    """Floor of the square root by Newton's method (``n`` itself for n < 2)."""
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def xorshift_rounds(x, n):
    """``n`` rounds of xorshift64 (13, 7, 17), masked to 64 bits."""
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
    return x


def fib(n):
    """The n-th Fibonacci number, iteratively (fits in 63 bits up to n = 92)."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def digit_sum(n):
    """Sum of the decimal digits of n (0 for n <= 0)."""
    s = 0
    while n > 0:
        s += n % 10
        n //= 10
    return s


def nested_pairs(n, k):
    """Sum of ``(i * j) ^ k`` over the pairs i < j < n: two nested range loops."""
    t = 0
    for i in range(n):
        for j in range(i + 1, n):
            t += (i * j) ^ k
    return t


# ---------------------------------------------------------------- branchy one-liners (issue 10)

def clamp(x, lo, hi):
    """``x`` limited to [lo, hi], with ``if`` statements."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def sign(x):
    """-1, 0 or 1: bools in arithmetic."""
    return (x > 0) - (x < 0)


def iabs(x):
    """``abs`` as a conditional expression."""
    return x if x >= 0 else -x


def is_leap(y):
    """Gregorian leap year with ``and``/``or`` (returns a bool)."""
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
