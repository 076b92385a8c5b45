# minijit: native
"""Integer 2-D/3-D geometry on grid coordinates (exact: no floating point)."""


def cross(ax, ay, bx, by):
    """z component of the cross product of (ax, ay) and (bx, by)."""
    return ax * by - ay * bx


def dot3(ax, ay, az, bx, by, bz):
    """Dot product of two 3-D integer vectors."""
    return ax * bx + ay * by + az * bz


def orient(ax, ay, bx, by, cx, cy):
    """Twice the signed area of triangle abc: > 0 counter-clockwise, < 0 clockwise, 0 collinear."""
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def dist2(ax, ay, bx, by):
    """Squared Euclidean distance (compare against r*r, no sqrt needed)."""
    dx = bx - ax
    dy = by - ay
    return dx * dx + dy * dy


def manhattan(ax, ay, bx, by):
    """|dx| + |dy| with the sign-mask trick (coordinates within 64 bits)."""
    dx = ax - bx
    dy = ay - by
    mx = dx >> 63
    my = dy >> 63
    return ((dx ^ mx) - mx) + ((dy ^ my) - my)


def grid_index(x, y, width):
    """Row-major index of cell (x, y)."""
    return y * width + x


class Torus:
    """Wrap-around world of a given size (games with screen wrapping)."""

    @staticmethod
    def wrap(x, size):
        """x folded into [0, size)."""
        return x % size

    @staticmethod
    def delta(a, b, size):
        """Shortest signed step from a to b on a ring of ``size`` cells."""
        d = (b - a) % size
        return d - size * ((2 * d) // size)

    def cells(self, width, height):  # self unused: runs natively when bound
        """Number of cells of a width x height torus."""
        return width * height

    def describe(self):  # minijit: skip
        """Kept in Python on purpose (and it builds a string anyway)."""
        return f"<Torus {id(self):#x}>"


def polygon_area2(xs, ys):
    """Twice the signed area of a polygon (shoelace formula).

    Stays Python: it works on lists (``len``, indexing), which the compiler
    does not translate; the demo shows the reason.
    """
    n = len(xs)
    total = 0
    for i in range(n):
        j = (i + 1) % n
        total += xs[i] * ys[j] - xs[j] * ys[i]
    return total


def isqrt(n):
    """floor(sqrt(n)) by Newton's iteration (a loop: compiled natively too); n < 0 raises."""
    if n < 0:
        raise ValueError("isqrt() argument must be nonnegative")
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def gcd(a, b):
    """Greatest common divisor (Euclid), always non-negative."""
    while b:
        a, b = b, a % b
    return a if a >= 0 else -a
