"""Random eligible functions and argument tuples for the differential fuzzer.

A function is kept as a small tree (:class:`FuncSpec`) rather than as text so
the minimiser can shrink it and so :func:`guard` can predict, before anything
runs, whether CPython itself would need huge memory or time for a call.

Why the guard exists: ``x << n`` with a variable ``n`` around 2**31..2**50
makes CPython allocate (and zero) gigabytes, and ``((x ** 100) ** 100) ...``
grows without bound.  The native code falls back to the original for all of
these, so both sides would do the same enormous work.  Instead of narrowing
what the generator may produce (which would hide the native checks for large
and negative counts) every call is first evaluated here with Python's own
operators on the real argument values, stopping with :class:`TooBig` when an
intermediate int would exceed :data:`BIT_LIMIT` bits.  Such calls are skipped
and counted.  Shifts by a count >= 2**53 are allowed through: CPython fails
them at once (OverflowError or MemoryError, since the digit array cannot fit
in a 47-bit address space), so they cost nothing and exercise the checks.
"""
from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: Constants from the edges of the 32/64-bit ranges, plus "huge" ones that never fit.
EDGE_CONSTANTS = (0, 1, -1, 2**31, 2**32 - 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**100 + 7,
                  -(2**80) + 3)
FIT_EDGE_CONSTANTS = tuple(c for c in EDGE_CONSTANTS if INT64_MIN <= c <= INT64_MAX)
SMALL_CONSTANTS = (2, 3, 5, 7, -2, -3, 10, 30, 31, 63, 64, 255, 1000, 2**30, -(2**30))
POW_EXPONENTS = (0, 1, 2, 3, 4, 5, 6, 7, 8)
RARE_POW_EXPONENTS = (63, 64, 65, 100)
SHIFT_COUNTS = (0, 1, 2, 3, 5, 15, 29, 30, 31, 32, 33, 40, 62, 63, 64, 65, 100, -1, -64)

BINARY_OPS = ("+", "-", "*", "//", "%", "**", "<<", ">>", "&", "|", "^")
UNARY_OPS = ("-", "~", "+")
PARAM_NAMES = ("a", "b", "c", "d")
LOCAL_NAMES = ("t0", "t1", "t2", "t3")
AUGMENTABLE = ("+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^")

BIT_LIMIT = 1 << 16          # largest intermediate int the guard lets CPython build
HOPELESS_SHIFT = 1 << 53     # CPython refuses such shifts immediately


class MyInt(int):
    """An int subclass argument: the native code must fall back (type check is exact)."""

    def __repr__(self) -> str:
        return f"MyInt({int(self)})"


# -- expression trees -------------------------------------------------------------

@dataclass(frozen=True)
class Var:
    name: str

    def render(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: int

    def render(self) -> str:
        return f"({self.value})" if self.value < 0 else str(self.value)


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"

    def render(self) -> str:
        return f"({self.op}{self.operand.render()})"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"

    def render(self) -> str:
        return f"({self.left.render()} {self.op} {self.right.render()})"


Node = Var | Const | Unary | Binary


@dataclass(frozen=True)
class Assign:
    """``target = expr`` or, with ``aug`` set, ``target <aug>= expr``."""

    target: str
    expr: Node
    aug: str | None = None

    def render(self) -> str:
        return f"{self.target} {self.aug or ''}= {self.expr.render()}"


@dataclass(frozen=True)
class FuncSpec:
    """One generated function: parameters (trailing ones may have defaults), body, result."""

    params: tuple[str, ...]
    body: tuple[Assign, ...]
    result: Node
    defaults: tuple[int, ...] = ()
    name: str = "f"

    def source(self) -> str:
        n_plain = len(self.params) - len(self.defaults)
        heads = list(self.params[:n_plain])
        heads += [f"{p}={d!r}" for p, d in zip(self.params[n_plain:], self.defaults)]
        lines = [f"def {self.name}({', '.join(heads)}):"]
        lines += [f"    {stmt.render()}" for stmt in self.body]
        lines.append(f"    return {self.result.render()}")
        return "\n".join(lines) + "\n"

    def constants(self) -> list[int]:
        found = list(self.defaults)
        for node in self.nodes():
            if isinstance(node, Const):
                found.append(node.value)
        return found

    def nodes(self) -> Iterator[Node]:
        for stmt in self.body:
            yield from walk(stmt.expr)
        yield from walk(self.result)

    def constants_fit_int64(self) -> bool:
        return all(INT64_MIN <= v <= INT64_MAX for v in self.constants())


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Unary):
        yield from walk(node.operand)
    elif isinstance(node, Binary):
        yield from walk(node.left)
        yield from walk(node.right)


# -- generation ---------------------------------------------------------------------

class Generator:
    """Draws :class:`FuncSpec` s and argument tuples from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def constant(self) -> int:
        r = self.rng.random()
        if r < 0.04:
            return self.rng.choice(EDGE_CONSTANTS)   # includes the ones that never fit int64
        if r < 0.45:
            return self.rng.choice(FIT_EDGE_CONSTANTS)
        if r < 0.85:
            return self.rng.choice(SMALL_CONSTANTS)
        return self.rng.randint(-(2**63), 2**63 - 1) >> self.rng.randrange(64)

    def leaf(self, names: list[str]) -> Node:
        if self.rng.random() < 0.65:
            return Var(self.rng.choice(names))
        return Const(self.constant())

    def expr(self, names: list[str], depth: int) -> Node:
        if depth == 0 or self.rng.random() < 0.25:
            return self.leaf(names)
        if self.rng.random() < 0.15:
            return Unary(self.rng.choice(UNARY_OPS), self.expr(names, depth - 1))
        op = self.rng.choice(BINARY_OPS)
        left = self.expr(names, depth - 1)
        if op == "**":
            pool = RARE_POW_EXPONENTS if self.rng.random() < 0.08 else POW_EXPONENTS
            return Binary(op, left, Const(self.rng.choice(pool)))
        if op in ("<<", ">>") and self.rng.random() < 0.5:
            return Binary(op, left, Const(self.rng.choice(SHIFT_COUNTS)))
        right = self.expr(names, depth - 1)
        if isinstance(left, Const) and isinstance(right, Const) and self.rng.random() < 0.7:
            right = Var(self.rng.choice(names))  # CPython would fold it: keep most trees live
        return Binary(op, left, right)

    def function(self) -> FuncSpec:
        rng = self.rng
        params = PARAM_NAMES[:rng.randint(1, 4)]
        names = list(params)
        body: list[Assign] = []
        for index in range(rng.randint(0, 4)):
            depth = rng.randint(0, 5)
            existing = [n for n in names]
            if rng.random() < 0.35:
                target = rng.choice(existing)
                aug = rng.choice(AUGMENTABLE)
                body.append(Assign(target, self.expr(names, depth), aug))
            else:
                target = LOCAL_NAMES[index] if rng.random() < 0.7 else rng.choice(existing)
                body.append(Assign(target, self.expr(names, depth)))
                if target not in names:
                    names.append(target)
        result = self.expr(names, rng.randint(1, 5))
        defaults: tuple[int, ...] = ()
        if rng.random() < 0.15:
            defaults = tuple(self.constant() for _ in range(rng.randint(1, len(params))))
        return FuncSpec(tuple(params), tuple(body), result, defaults)

    # -- arguments ------------------------------------------------------------------
    def int_arg(self) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return rng.choice(EDGE_CONSTANTS[:8]) + rng.choice((0, 0, 0, 1, -1))
        if r < 0.6:
            return rng.choice(ARG_SMALL)
        if r < 0.9:
            bits = rng.randrange(0, 66)
            value = rng.getrandbits(bits) if bits else 0
            return -value if rng.random() < 0.5 else value
        return rng.choice(EDGE_CONSTANTS)

    def exotic_arg(self) -> Any:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return rng.choice((True, False))
        if r < 0.7:
            return rng.choice(FLOAT_ARGS)
        return MyInt(self.int_arg())

    def call(self, spec: FuncSpec) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Positional arguments (and rarely keywords or a wrong count) for one call."""
        rng = self.rng
        n = len(spec.params)
        count = n
        if spec.defaults and rng.random() < 0.4:
            count = n - rng.randint(1, len(spec.defaults))
        if rng.random() < 0.02:
            count = max(0, n + rng.choice((-1, 1)))
        args = [self.int_arg() for _ in range(count)]
        if args and rng.random() < 0.2:
            args[rng.randrange(len(args))] = self.exotic_arg()
        kwargs: dict[str, Any] = {}
        if args and rng.random() < 0.02:
            kwargs[spec.params[len(args) - 1]] = args.pop()
        return tuple(args), kwargs


ARG_SMALL = (0, 1, -1, 2, -2, 3, 7, -7, 30, 31, 32, 63, 64, 65, 2**30 - 1, 2**30, -(2**30),
             2**31 - 1, -(2**31), 3037000499, 3037000500, 2**62, -(2**62), 2**60 + 1)
FLOAT_ARGS = (0.0, -0.0, 1.0, -1.5, 2.5, 1e308, float("inf"), float("-inf"), float("nan"))


# -- the guard ------------------------------------------------------------------------

class TooBig(Exception):
    """CPython would build an int larger than :data:`BIT_LIMIT` bits for this call."""


class _Stop(Exception):
    """CPython raises at this point; nothing after it runs."""


def _bits(value: Any) -> int:
    return abs(int(value)).bit_length() if isinstance(value, int) else 0


def _apply(op: str, x: Any, y: Any) -> Any:
    if op == "<<":
        if isinstance(x, int) and isinstance(y, int) and x and y > 0:
            if y >= HOPELESS_SHIFT:
                raise _Stop
            if _bits(x) + y > BIT_LIMIT:
                raise TooBig
        return x << y
    if op == "**":
        if isinstance(x, int) and _bits(x) * y > BIT_LIMIT:
            raise TooBig
        return x ** y
    if op == "*" and _bits(x) + _bits(y) > BIT_LIMIT:
        raise TooBig
    return _OPS[op](x, y)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
    "//": lambda x, y: x // y, "%": lambda x, y: x % y, ">>": lambda x, y: x >> y,
    "&": lambda x, y: x & y, "|": lambda x, y: x | y, "^": lambda x, y: x ^ y,
}
_UNARY: dict[str, Callable[[Any], Any]] = {"-": lambda x: -x, "~": lambda x: ~x, "+": lambda x: +x}


def _eval(node: Node, env: dict[str, Any]) -> Any:
    if isinstance(node, Var):
        return env[node.name]
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Unary):
        return _UNARY[node.op](_eval(node.operand, env))
    left = _eval(node.left, env)
    right = _eval(node.right, env)
    return _apply(node.op, left, right)


def bind(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Parameter values for a call, or None when Python would raise TypeError."""
    if len(args) > len(spec.params):
        return None
    env = dict(zip(spec.params, args))
    for key, value in kwargs.items():
        if key not in spec.params or key in env:
            return None
        env[key] = value
    first_default = len(spec.params) - len(spec.defaults)
    for index, name in enumerate(spec.params):
        if name not in env:
            if index < first_default:
                return None
            env[name] = spec.defaults[index - first_default]
    return env


def guard(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when running the call costs CPython little; False for :class:`TooBig` calls."""
    env = bind(spec, args, kwargs)
    if env is None:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ~True is deprecated: noise here, CPython's own concern
        return _guarded_run(spec, env)


def _guarded_run(spec: FuncSpec, env: dict[str, Any]) -> bool:
    try:
        for stmt in spec.body:
            value = _eval(stmt.expr, env)
            env[stmt.target] = _apply(stmt.aug, env[stmt.target], value) if stmt.aug else value
        _eval(spec.result, env)
    except TooBig:
        return False
    except Exception:  # _Stop, or the call raises early: cheap either way
        return True
    return True


@dataclass
class Job:
    """A function's source and the calls to compare on it (what a child process runs)."""

    source: str
    name: str
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    fits_int64: bool = True
    spec: FuncSpec | None = None
