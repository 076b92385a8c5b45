# minijit: native
"""Branchless bit tricks (hashing, spatial indexing, min/max without jumps).

The sign-mask tricks assume values that fit in 64 bits, as in the C code
they come from; every function is still exact Python for any int.
"""


def lowest_set_bit(x):
    """The lowest set bit of x (0 for 0)."""
    return x & -x


def clear_lowest_bit(x):
    """x with its lowest set bit cleared."""
    return x & (x - 1)


def popcount32(x):
    """Number of set bits of a 32-bit value (SWAR)."""
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return ((x * 0x01010101) & 0xFFFFFFFF) >> 24


def next_pow2_32(x):
    """Smallest power of two >= x, for 1 <= x <= 2**31."""
    x = x - 1
    x = x | (x >> 1)
    x = x | (x >> 2)
    x = x | (x >> 4)
    x = x | (x >> 8)
    x = x | (x >> 16)
    return x + 1


def spread16(x):
    """Insert a zero bit between the low 16 bits of x (Morton-code helper)."""
    x = x & 0xFFFF
    x = (x | (x << 8)) & 0x00FF00FF
    x = (x | (x << 4)) & 0x0F0F0F0F
    x = (x | (x << 2)) & 0x33333333
    return (x | (x << 1)) & 0x55555555


def morton2(x, y):
    """Z-order index of (x, y), 16 bits each: nearby cells get nearby indices."""
    x = x & 0xFFFF
    x = (x | (x << 8)) & 0x00FF00FF
    x = (x | (x << 4)) & 0x0F0F0F0F
    x = (x | (x << 2)) & 0x33333333
    x = (x | (x << 1)) & 0x55555555
    y = y & 0xFFFF
    y = (y | (y << 8)) & 0x00FF00FF
    y = (y | (y << 4)) & 0x0F0F0F0F
    y = (y | (y << 2)) & 0x33333333
    y = (y | (y << 1)) & 0x55555555
    return x | (y << 1)


def xorshift32(x):
    """One step of Marsaglia's xorshift32 generator (x != 0, 32-bit state)."""
    x = x ^ ((x << 13) & 0xFFFFFFFF)
    x = x ^ (x >> 17)
    return x ^ ((x << 5) & 0xFFFFFFFF)


def abs64(x):
    """|x| without a branch."""
    m = x >> 63
    return (x ^ m) - m


def min64(a, b):
    """min(a, b) without a branch."""
    d = a - b
    return b + (d & (d >> 63))


def max64(a, b):
    """max(a, b) without a branch."""
    d = a - b
    return a - (d & (d >> 63))


def clamp64(x, lo, hi):
    """x limited to [lo, hi] without a branch."""
    d = x - lo
    x = lo + (d & ~(d >> 63))
    d = x - hi
    return hi + (d & (d >> 63))


def sign64(x):
    """-1, 0 or 1."""
    return (x >> 63) | ((-x >> 63) & 1)
