# minijit: native
"""Kernels that lean on their module (issue 11): named constants, a helper called from the
same module, tables, divmod and three-argument pow; each hash kernel also in a literal-only
version, so ``bench_module.py`` can show what the module costs.  Imported through the hook."""

MASK64 = 0xFFFFFFFFFFFFFFFF
GOLDEN = 0x9E3779B97F4A7C15
SM1 = 0xBF58476D1CE4E5B9
SM2 = 0x94D049BB133111EB
C1 = 0xFF51AFD7ED558CCD
C2 = 0xC4CEB9FE1A85EC53
K1 = 0x87C37B91114253D5
K2 = 0x4CF5AD432745937F
P61 = (1 << 61) - 1
CRC_TABLE = tuple((0xEDB88320 * (i & 1)) ^ (i >> 1) for i in range(256))


def splitmix64(x):
    z = (x + GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * SM1) & MASK64
    z = ((z ^ (z >> 27)) * SM2) & MASK64
    return z ^ (z >> 31)


def splitmix64_literal(x):
    z = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def fmix64(k):
    k ^= k >> 33
    k = (k * C1) & MASK64
    k ^= k >> 33
    k = (k * C2) & MASK64
    k ^= k >> 33
    return k


def fmix64_literal(k):
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & 0xFFFFFFFFFFFFFFFF
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & 0xFFFFFFFFFFFFFFFF
    k ^= k >> 33
    return k


def rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK64


def murmur3_block(h, k):
    """One 64-bit block of MurmurHash3 x64: the helper rotl64 is called twice."""
    k = (k * K1) & MASK64
    k = rotl64(k, 31)
    k = (k * K2) & MASK64
    h ^= k
    h = rotl64(h, 27)
    return (h * 5 + 0x52DCE729) & MASK64


def murmur3_block_literal(h, k):
    k = (k * 0x87C37B91114253D5) & 0xFFFFFFFFFFFFFFFF
    k = ((k << 31) | (k >> 33)) & 0xFFFFFFFFFFFFFFFF
    k = (k * 0x4CF5AD432745937F) & 0xFFFFFFFFFFFFFFFF
    h ^= k
    h = ((h << 27) | (h >> 37)) & 0xFFFFFFFFFFFFFFFF
    return (h * 5 + 0x52DCE729) & 0xFFFFFFFFFFFFFFFF


def hash_pair(a, b):
    """Two levels: calls fmix64 (itself a module function) twice."""
    return fmix64(a) ^ fmix64((b + GOLDEN) & MASK64)


def hash_pair_inlined(a, b):
    """hash_pair with fmix64 written out by hand: the two-level call's yardstick."""
    a ^= a >> 33
    a = (a * C1) & MASK64
    a ^= a >> 33
    a = (a * C2) & MASK64
    a ^= a >> 33
    b = (b + GOLDEN) & MASK64
    b ^= b >> 33
    b = (b * C1) & MASK64
    b ^= b >> 33
    b = (b * C2) & MASK64
    b ^= b >> 33
    return a ^ b


def to_base(n, base):
    """Digits of n in base as (count, digit sum): divmod in a loop, a tuple result."""
    count = total = 0
    while n:
        n, digit = divmod(n, base)
        count += 1
        total += digit
    return count, total


def mod_inverse(a):
    """Fermat inverse modulo the Mersenne prime 2**61 - 1."""
    return pow(a, P61 - 2, P61)


def crc32_bytes(crc, data, n):
    """CRC-32 of the low bytes of data, n bytes, by table."""
    crc ^= 0xFFFFFFFF
    for _ in range(n):
        crc = CRC_TABLE[(crc ^ data) & 0xFF] ^ (crc >> 8)
        data >>= 8
    return crc ^ 0xFFFFFFFF
