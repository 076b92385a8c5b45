"""Random functions and argument tuples for the differential fuzzer.

Two kinds of function are generated (``Generator.function(mode)``):

* ``straight``: branchless integer arithmetic, 1-4 parameters, up to 4
  assignments, one ``return``; every operator, constants from the 64-bit
  edges.  (The generator of issue 4, unchanged: the same seed gives the same
  functions.)
* ``flow``: the control-flow language of issue 10: ``if``/``elif``/``else``,
  ``for`` over ``range`` with one to three arguments (negative and zero steps,
  bounds at the 64-bit edges), ``while`` loops (also ``while True:``),
  ``break``/``continue``, loop ``else:`` clauses, nested loops, early
  returns, comparisons (also chained), ``and``/``or``/``not``, conditional
  expressions, bools in arithmetic, the loop variable read after its loop, and
  -- on a branch only -- a ``raise`` or a construct the compiler does not know
  (``len(str(x))``, ``abs``, ``/``), which the native code must leave to the
  original for.

A function is kept as a small tree (:class:`FuncSpec`) rather than as text so
the minimiser can shrink it, and so :func:`check` can run an instrumented copy
of it before anything is compared.

**Loops terminate by construction.**  A ``for`` loop's range spans at most a
few dozen values (``range(e & 15)``, ``range(x, x + (e % 10))``, any step), or
its body starts with ``if i >= <small>: break``.  A ``while`` loop's first
body statement moves a counter the body never assigns otherwise towards the
end of its test (``k += 1`` under ``k < 12``, ``k //= 2`` or ``k &= k - 1``
under ``k > 0``, ``while True:`` with ``k += 1`` and ``if k > 9: break``).

**The guard** (:func:`check`).  ``x << n`` with ``n`` around 2**31..2**50 makes
CPython allocate gigabytes, ``x ** 100`` in a loop grows without bound, and a
shrunk function may no longer terminate.  The native code falls back to the
original for all of these, so both sides would do the same enormous work.
Instead of narrowing what is generated (which would hide the native checks for
large and negative counts), every call is first run on a copy of the function
whose arithmetic goes through :func:`_charged` and :func:`_apply` (which stop with
:class:`TooBig` before an int would exceed :data:`BIT_LIMIT` bits) and whose
loops count their iterations (:class:`TooLong` past :data:`STEP_LIMIT`, or
past :data:`WORK_LIMIT` word operations, products and quotients of big ints
counting as the product of their sizes).  Such calls are skipped and counted.
Shifts by a count >= 2**53 are let through: CPython fails them at once
(OverflowError or MemoryError), so they cost nothing and exercise the checks.

**Warnings** are not compared: ``~`` on a bool (``~(a < b)``) is generated and
CPython 3.12+ emits a DeprecationWarning for it, so the child runs every call
with warnings ignored, on both sides (see ``child.child_main``).
"""
from __future__ import annotations

import collections
import operator
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Union

from .child import MyInt

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: Constants from the edges of the 32/64-bit ranges, plus "huge" ones that never fit.
EDGE_CONSTANTS = (0, 1, -1, 2**31, 2**32 - 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**100 + 7,
                  -(2**80) + 3)
FIT_EDGE_CONSTANTS = tuple(c for c in EDGE_CONSTANTS if INT64_MIN <= c <= INT64_MAX)
SMALL_CONSTANTS = (2, 3, 5, 7, -2, -3, 10, 30, 31, 63, 64, 255, 1000, 2**30, -(2**30))
POW_EXPONENTS = (0, 1, 2, 3, 4, 5, 6, 7, 8)
RARE_POW_EXPONENTS = (63, 64, 65, 100)
SHIFT_COUNTS = (0, 1, 2, 3, 5, 15, 29, 30, 31, 32, 33, 40, 62, 63, 64, 65, 100, -1, -64)  # negatives last

BINARY_OPS = ("+", "-", "*", "//", "%", "**", "<<", ">>", "&", "|", "^")
UNARY_OPS = ("-", "~", "+")
COMPARE_OPS = ("<", "<=", "==", "!=", ">", ">=")
PARAM_NAMES = ("a", "b", "c", "d")
LOCAL_NAMES = ("t0", "t1", "t2", "t3")
AUGMENTABLE = ("+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^")
MODES = ("straight", "flow")

#: Loop variables by loop nesting depth: ``for`` targets, ``while`` counters.
FOR_NAMES = ("i", "j")
WHILE_NAMES = ("k", "m")
MAX_LOOP_DEPTH = 2
MAX_BLOCK_DEPTH = 3
#: Range lengths and counter bounds stay below this (nested: its square).
RANGE_MASKS = (1, 3, 7, 15)
RANGE_MODULI = (3, 5, 10, 16, -3)     # a negative modulus gives a bound <= 0: zero iterations
RANGE_STEPS = (1, 2, 3, -1, -2, -3, 7, 2**62, -(2**63), 2**63 - 1)
RAISE_MESSAGES = ("negative", "out of range", "bad input", "too large")

BIT_LIMIT = 1 << 16          # largest intermediate int the guard lets CPython build
HOPELESS_SHIFT = 1 << 53     # CPython refuses such shifts immediately
STEP_LIMIT = 4000            # loop iterations per call the guard lets CPython run
WORK_LIMIT = 20_000_000      # 32-bit word operations per call (some tens of ms in CPython)
CALL_LIMIT = 12_000          # helper calls per call (module functions: recursion in loops)

#: Share of functions (in mode "flow") allowed one constant that never fits 64 bits,
#: and one exit (a raise or an unsupported construct on a branch).
HUGE_CONSTANT_SHARE = 0.04
EXIT_SHARE = 0.15
#: Share of flow-mode expression nodes that call a builtin the compiler translates (min, max, abs,
#: pow with a constant exponent): each runs natively under a builtin guard.
BUILTIN_SHARE = 0.06


# -- expression trees -------------------------------------------------------------
#
# ``render()`` gives readable source: no parentheses at the top of a statement, arithmetic
# operands always parenthesised when they are not atoms (``(a + b) * c``, ``x & (-1)``), and
# comparison / boolean operands only where Python's precedence needs them
# (``a + 1 < b and not (c > 0)``).  ``render(True)`` is the guard's instrumented copy.

IFEXP_P, OR_P, AND_P, NOT_P, COMPARE_P, UNARY_P, ATOM = 1, 2, 3, 4, 5, 12, 14
BINARY_PREC = {"|": 6, "^": 7, "&": 8, "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "//": 11,
               "%": 11, "/": 11, "**": 13}


def _paren(node: "Node", need: int, guarded: bool) -> str:
    text, prec = node.text(guarded)
    return f"({text})" if prec < need else text


class _Expr:
    def render(self, guarded: bool = False) -> str:
        """Source of this expression at the top of a statement (no outer parentheses)."""
        return self.text(guarded)[0]

    def text(self, guarded: bool) -> tuple[str, int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def children(self) -> tuple["Node", ...]:
        return ()


@dataclass(frozen=True)
class Var(_Expr):
    name: str

    def text(self, guarded: bool) -> tuple[str, int]:
        return self.name, ATOM


@dataclass(frozen=True)
class Const(_Expr):
    value: int          # an int, or True/False

    def text(self, guarded: bool) -> tuple[str, int]:
        return repr(self.value), UNARY_P if self.value < 0 else ATOM


@dataclass(frozen=True)
class Unary(_Expr):
    op: str             # "-", "~", "+" or "not"
    operand: "Node"

    def text(self, guarded: bool) -> tuple[str, int]:
        inner = _paren(self.operand, ATOM, guarded)
        if self.op == "not":
            return f"not {inner}", NOT_P
        if guarded:
            return f"_U({self.op!r}, {self.operand.render(True)})", ATOM
        return f"{self.op}{inner}", UNARY_P

    def children(self) -> tuple["Node", ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(_Expr):
    op: str
    left: "Node"
    right: "Node"

    def text(self, guarded: bool) -> tuple[str, int]:
        if guarded:
            return f"_B({self.op!r}, {self.left.render(True)}, {self.right.render(True)})", ATOM
        return (f"{_paren(self.left, ATOM, False)} {self.op} {_paren(self.right, ATOM, False)}",
                BINARY_PREC[self.op])

    def children(self) -> tuple["Node", ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Compare(_Expr):
    """``operands[0] ops[0] operands[1] ops[1] ...``: one comparison or a chain."""

    operands: tuple["Node", ...]
    ops: tuple[str, ...]

    def text(self, guarded: bool) -> tuple[str, int]:
        parts = [_paren(self.operands[0], COMPARE_P + 1, guarded)]
        for op, operand in zip(self.ops, self.operands[1:]):
            parts += [op, _paren(operand, COMPARE_P + 1, guarded)]
        return " ".join(parts), COMPARE_P

    def children(self) -> tuple["Node", ...]:
        return self.operands


@dataclass(frozen=True)
class BoolOp(_Expr):
    """``a and b`` / ``a or b``: the value is one of the operands, not necessarily a bool."""

    op: str
    values: tuple["Node", ...]

    def text(self, guarded: bool) -> tuple[str, int]:
        joined = f" {self.op} ".join(_paren(v, NOT_P, guarded) for v in self.values)
        return joined, AND_P if self.op == "and" else OR_P

    def children(self) -> tuple["Node", ...]:
        return self.values


@dataclass(frozen=True)
class IfExp(_Expr):
    test: "Node"
    body: "Node"
    orelse: "Node"

    def text(self, guarded: bool) -> tuple[str, int]:
        return (f"{_paren(self.body, OR_P, guarded)} if {_paren(self.test, OR_P, guarded)} "
                f"else {_paren(self.orelse, OR_P, guarded)}", IFEXP_P)

    def children(self) -> tuple["Node", ...]:
        return (self.test, self.body, self.orelse)


@dataclass(frozen=True)
class Call(_Expr):
    """A builtin call: one the compiler does not support (``len``, ``str``: an exit) or one it
    translates (``min``, ``max``, ``abs``, ``pow``)."""

    func: str
    args: tuple["Node", ...]

    def text(self, guarded: bool) -> tuple[str, int]:
        if guarded and self.func in ("pow", "divmod") and len(self.args) in (2, 3):
            # Charged: a power inside a loop could grow without bound.  The name is passed
            # along: a module may shadow or patch it (then its own function runs).
            args = ", ".join(a.render(True) for a in self.args)
            return f"_CHARGED({self.func}, {args})", ATOM
        return f"{self.func}({', '.join(a.render(guarded) for a in self.args)})", ATOM

    def children(self) -> tuple["Node", ...]:
        return self.args


@dataclass(frozen=True)
class Method(_Expr):
    """An int method the compiler translates: ``(x).bit_length()``."""

    name: str
    receiver: "Node"

    def text(self, guarded: bool) -> tuple[str, int]:
        return f"({self.receiver.render(guarded)}).{self.name}()", ATOM

    def children(self) -> tuple["Node", ...]:
        return (self.receiver,)


@dataclass(frozen=True)
class Subscript(_Expr):
    """``T[i]``: a module-level table (a tuple or a list) indexed by any expression."""

    table: str
    index: "Node"

    def text(self, guarded: bool) -> tuple[str, int]:
        return f"{self.table}[{self.index.render(guarded)}]", ATOM

    def children(self) -> tuple["Node", ...]:
        return (self.index,)


@dataclass(frozen=True)
class TupleExpr(_Expr):
    """``a, b``: only as what a ``return`` returns (never inside another expression)."""

    items: tuple["Node", ...]

    def text(self, guarded: bool) -> tuple[str, int]:
        return ", ".join(item.render(guarded) for item in self.items), 0

    def children(self) -> tuple["Node", ...]:
        return self.items


Node = Union[Var, Const, Unary, Binary, Compare, BoolOp, IfExp, Call, Method, Subscript, TupleExpr]
FLOW_NODES = (Compare, BoolOp, IfExp, Call, Method, Subscript, TupleExpr)


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children():
        yield from walk(child)


# -- statements -------------------------------------------------------------------

INDENT = "    "


def block_lines(block: tuple["Stmt", ...], indent: str, guarded: bool = False,
                loop_body: bool = False) -> list[str]:
    lines = [f"{indent}_T()"] if guarded and loop_body else []
    for stmt in block:
        lines += stmt.lines(indent, guarded)
    return lines or [f"{indent}pass"]


class _Stmt:
    def lines(self, indent: str, guarded: bool) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def exprs(self) -> tuple[Node, ...]:
        return ()

    def blocks(self) -> tuple[tuple["Stmt", ...], ...]:
        return ()


@dataclass(frozen=True)
class Assign(_Stmt):
    """``target = expr`` or, with ``aug`` set, ``target <aug>= expr``."""

    target: str
    expr: Node
    aug: str | None = None

    def render(self) -> str:
        return f"{self.target} {self.aug or ''}= {self.expr.render()}"

    def lines(self, indent: str, guarded: bool) -> list[str]:
        if guarded and self.aug:   # for ints, floats and bools ``t op= e`` is ``t = t op e``
            expr = Binary(self.aug, Var(self.target), self.expr)
            return [f"{indent}{self.target} = {expr.render(True)}"]
        return [f"{indent}{self.target} {self.aug or ''}= {self.expr.render(guarded)}"]

    def exprs(self) -> tuple[Node, ...]:
        return (self.expr,)


@dataclass(frozen=True)
class Return(_Stmt):
    value: Node

    def lines(self, indent: str, guarded: bool) -> list[str]:
        return [f"{indent}return {self.value.render(guarded)}"]

    def exprs(self) -> tuple[Node, ...]:
        return (self.value,)


@dataclass(frozen=True)
class Unpack(_Stmt):
    """``x, y = value``: a tuple parameter, ``divmod(a, b)`` or a helper returning a tuple."""

    targets: tuple[str, ...]
    value: Node

    def lines(self, indent: str, guarded: bool) -> list[str]:
        return [f"{indent}{', '.join(self.targets)} = {self.value.render(guarded)}"]

    def exprs(self) -> tuple[Node, ...]:
        return (self.value,)


@dataclass(frozen=True)
class Raise(_Stmt):
    message: str

    def lines(self, indent: str, guarded: bool) -> list[str]:
        return [f"{indent}raise ValueError({self.message!r})"]


@dataclass(frozen=True)
class Break(_Stmt):
    def lines(self, indent: str, guarded: bool) -> list[str]:
        return [f"{indent}break"]


@dataclass(frozen=True)
class Continue(_Stmt):
    def lines(self, indent: str, guarded: bool) -> list[str]:
        return [f"{indent}continue"]


@dataclass(frozen=True)
class If(_Stmt):
    """``if``; an ``orelse`` that is a single ``If`` is written as ``elif``."""

    test: Node
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...] = ()

    def lines(self, indent: str, guarded: bool) -> list[str]:
        inner = indent + INDENT
        out = [f"{indent}if {self.test.render(guarded)}:"] + block_lines(self.body, inner, guarded)
        orelse = self.orelse
        while len(orelse) == 1 and isinstance(orelse[0], If):
            elif_ = orelse[0]
            out += [f"{indent}elif {elif_.test.render(guarded)}:"]
            out += block_lines(elif_.body, inner, guarded)
            orelse = elif_.orelse
        if orelse:
            out += [f"{indent}else:"] + block_lines(orelse, inner, guarded)
        return out

    def exprs(self) -> tuple[Node, ...]:
        return (self.test,)

    def blocks(self) -> tuple[tuple["Stmt", ...], ...]:
        return (self.body, self.orelse)


@dataclass(frozen=True)
class While(_Stmt):
    test: Node
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...] = ()

    def lines(self, indent: str, guarded: bool) -> list[str]:
        inner = indent + INDENT
        out = [f"{indent}while {self.test.render(guarded)}:"]
        out += block_lines(self.body, inner, guarded, loop_body=True)
        if self.orelse:
            out += [f"{indent}else:"] + block_lines(self.orelse, inner, guarded)
        return out

    def exprs(self) -> tuple[Node, ...]:
        return (self.test,)

    def blocks(self) -> tuple[tuple["Stmt", ...], ...]:
        return (self.body, self.orelse)


@dataclass(frozen=True)
class For(_Stmt):
    """``for target in range(*args)``."""

    target: str
    args: tuple[Node, ...]
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...] = ()

    def lines(self, indent: str, guarded: bool) -> list[str]:
        inner = indent + INDENT
        bounds = ", ".join(a.render(guarded) for a in self.args)
        out = [f"{indent}for {self.target} in range({bounds}):"]
        out += block_lines(self.body, inner, guarded, loop_body=True)
        if self.orelse:
            out += [f"{indent}else:"] + block_lines(self.orelse, inner, guarded)
        return out

    def exprs(self) -> tuple[Node, ...]:
        return self.args

    def blocks(self) -> tuple[tuple["Stmt", ...], ...]:
        return (self.body, self.orelse)


Stmt = Union[Assign, Unpack, Return, Raise, Break, Continue, If, While, For]
TERMINATORS = (Return, Raise, Break, Continue)


def walk_statements(block: tuple[Stmt, ...]) -> Iterator[Stmt]:
    for stmt in block:
        yield stmt
        for inner in stmt.blocks():
            yield from walk_statements(inner)


@dataclass(frozen=True)
class FuncSpec:
    """One generated function: parameters (trailing ones may have defaults), body, result."""

    params: tuple[str, ...]
    body: tuple[Stmt, ...]
    result: Node
    defaults: tuple[int, ...] = ()
    name: str = "f"
    #: Parameters unpacked as tuples in the body (``u0, u1 = b``): name and length; calls
    #: pass tuples for them (sometimes of the wrong length, or holding non-ints).
    tuple_params: tuple[tuple[str, int], ...] = ()

    def source(self, guarded: bool = False) -> str:
        n_plain = len(self.params) - len(self.defaults)
        heads = list(self.params[:n_plain])
        heads += [f"{p}={d!r}" for p, d in zip(self.params[n_plain:], self.defaults)]
        lines = [f"def {self.name}({', '.join(heads)}):"]
        for stmt in self.body:
            lines += stmt.lines(INDENT, guarded)
        lines.append(f"{INDENT}return {self.result.render(guarded)}")
        return "\n".join(lines) + "\n"

    def statements(self) -> Iterator[Stmt]:
        return walk_statements(self.body)

    def nodes(self) -> Iterator[Node]:
        for stmt in self.statements():
            for expr in stmt.exprs():
                yield from walk(expr)
        yield from walk(self.result)

    def constants(self) -> list[int]:
        found = list(self.defaults)
        for node in self.nodes():
            if isinstance(node, Const):
                found.append(node.value)
        return found

    def constants_fit_int64(self) -> bool:
        return all(INT64_MIN <= v <= INT64_MAX for v in self.constants())

    @property
    def mode(self) -> str:
        """"flow" when any statement or expression is beyond straight-line arithmetic."""
        if any(not isinstance(s, Assign) for s in self.statements()):
            return "flow"
        if any(isinstance(n, FLOW_NODES) or (isinstance(n, Unary) and n.op == "not")
               for n in self.nodes()):
            return "flow"
        return "straight"


# -- generation ---------------------------------------------------------------------

#: In a module function (see :mod:`.module`): shares of leaves that read a module constant or
#: index a table, of expression nodes that call a helper, and of statements that unpack a
#: tuple (``q, r = divmod(a, b)``, a helper returning a pair).
MODULE_CONST_SHARE = 0.12
MODULE_TABLE_SHARE = 0.06
HELPER_SHARE = 0.07
UNPACK_SHARE = 0.12
TUPLE_RESULT_SHARE = 0.2
#: Names of the targets of unpacked tuple parameters.
UNPACK_NAMES = ("u0", "u1", "u2")


class ModuleContext:
    """What a function of a generated module may read besides its locals: the module's int
    constants, its tables (name, length), helpers returning an int (name, arity), helpers
    returning a pair (name, arity), and recursive helpers ``r(n, x)``."""

    def __init__(self, constants: list[str], tables: list[tuple[str, int]],
                 helpers: list[tuple[str, int]], pair_helpers: list[tuple[str, int]],
                 recursive: list[str], extended_builtins: bool = True) -> None:
        self.constants = constants
        self.tables = tables
        self.helpers = helpers
        self.pair_helpers = pair_helpers
        self.recursive = recursive
        self.extended_builtins = extended_builtins


class _Scope:
    """What the generator knows at one point of the function it is writing."""

    def __init__(self, params: tuple[str, ...]) -> None:
        self.params = params
        self.defined: set[str] = set(params)   # assigned on every path that reaches here
        self.maybe: set[str] = set()           # assigned on some paths only
        self.counters: set[str] = set()        # while counters: the body never assigns them
        self.loop_depth = 0
        self.small: set[str] = set()           # loop variables known to stay in 0..15

    def copy(self) -> "_Scope":
        other = _Scope(self.params)
        other.defined, other.maybe = set(self.defined), set(self.maybe)
        other.counters, other.small = set(self.counters), set(self.small)
        other.loop_depth = self.loop_depth
        return other

    def merge(self, branches: list[tuple["_Scope", bool]]) -> None:
        """After an ``if``: what every branch that falls through assigned is defined."""
        through = [s for s, falls in branches if falls]
        everything = set().union(*(s.defined | s.maybe for s, _ in branches))
        if through:
            self.defined = set.intersection(*(s.defined for s in through))
        self.maybe = (self.maybe | everything) - self.defined

    def after_loop(self, body: "_Scope") -> None:
        """A loop body may run zero times: what it assigns is only maybe assigned."""
        self.maybe = (self.maybe | body.defined | body.maybe) - self.defined


class Generator:
    """Draws :class:`FuncSpec` s and argument tuples from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._allow_huge = True       # constants that never fit 64 bits
        self._flow_leaves = False     # comparisons as arithmetic operands
        self._shift_const_share = 0.5  # shifts by a constant count
        self._statements_left = 0
        self._exits_left = 0
        self._module: ModuleContext | None = None   # set while writing a module's function

    def function(self, mode: str = "straight") -> FuncSpec:
        if mode == "flow":
            return self.flow_function()
        return self.straight_function()

    def constant(self) -> int:
        r = self.rng.random()
        if r < 0.04:
            if self._allow_huge:
                return self.rng.choice(EDGE_CONSTANTS)   # includes the ones that never fit int64
            return self.rng.choice(FIT_EDGE_CONSTANTS + (2**64 - 1,))
        if r < 0.45:
            return self.rng.choice(FIT_EDGE_CONSTANTS)
        if r < 0.85:
            return self.rng.choice(SMALL_CONSTANTS)
        return self.rng.randint(-(2**63), 2**63 - 1) >> self.rng.randrange(64)

    def leaf(self, names: list[str]) -> Node:
        if self._module is not None:
            found = self.module_leaf(names)
            if found is not None:
                return found
        if self._flow_leaves and self.rng.random() < 0.06:
            return self.comparison(names, 0)
        if self.rng.random() < 0.65:
            return Var(self.rng.choice(names))
        return Const(self.constant())

    def expr(self, names: list[str], depth: int) -> Node:
        if depth == 0 or self.rng.random() < 0.25:
            return self.leaf(names)
        if self.rng.random() < 0.15:
            return Unary(self.rng.choice(UNARY_OPS), self.expr(names, depth - 1))
        if self._module is not None and self.rng.random() < HELPER_SHARE:
            call = self.helper_call(names, depth - 1)
            if call is not None:
                return call
        if self._flow_leaves and self.rng.random() < BUILTIN_SHARE:
            return self.builtin_call(names, depth - 1)
        op = self.rng.choice(BINARY_OPS)
        left = self.expr(names, depth - 1)
        if op == "**":
            pool = RARE_POW_EXPONENTS if self.rng.random() < 0.08 else POW_EXPONENTS
            return Binary(op, left, Const(self.rng.choice(pool)))
        if op in ("<<", ">>") and self.rng.random() < self._shift_const_share:
            counts = SHIFT_COUNTS
            if self._flow_leaves and self.rng.random() < 0.9:
                counts = SHIFT_COUNTS[:-2]   # a negative constant count raises on every call
            return Binary(op, left, Const(self.rng.choice(counts)))
        right = self.expr(names, depth - 1)
        if op in ("<<", ">>") and self._flow_leaves and self.rng.random() < 0.7:
            right = Binary("&", right, Const(63))  # fewer negative counts: let the flow go on
        if isinstance(left, Const) and isinstance(right, Const) and self.rng.random() < 0.7:
            right = Var(self.rng.choice(names))  # CPython would fold it: keep most trees live
        return Binary(op, left, right)

    def builtin_call(self, names: list[str], depth: int) -> Node:
        """``min``/``max`` of 2-3 operands, ``abs``, ``pow`` with a small constant exponent, or
        ``(x).bit_length()``."""
        rng = self.rng
        if self._module is not None and self._module.extended_builtins and rng.random() < 0.5:
            return self.extended_builtin_call(names, depth)
        func = rng.choice(("min", "max", "abs", "pow", "bit_length"))
        if func == "bit_length":
            return Method(func, self.expr(names, depth))
        if func == "abs":
            return Call(func, (self.expr(names, depth),))
        if func == "pow":
            return Call(func, (self.expr(names, depth), Const(rng.choice(POW_EXPONENTS))))
        return Call(func, tuple(self.expr(names, depth) for _ in range(rng.randint(2, 3))))

    # -- module functions (see :mod:`.module`) ------------------------------------------
    def module_leaf(self, names: list[str]) -> Node | None:
        """A module constant, or a table indexed in or out of range (None: a local leaf)."""
        rng = self.rng
        context = self._module
        assert context is not None
        r = rng.random()
        if context.constants and r < MODULE_CONST_SHARE:
            return Var(rng.choice(context.constants))
        if context.tables and r < MODULE_CONST_SHARE + MODULE_TABLE_SHARE:
            table, length = rng.choice(context.tables)
            return Subscript(table, self.table_index(names, length))
        return None

    def table_index(self, names: list[str], length: int) -> Node:
        """Mostly in range (``x & 7``, ``x % n``), also negative, just past either end, or any
        int (an argument: out of range, or too big for an index)."""
        rng = self.rng
        r = rng.random()
        name = Var(rng.choice(names))
        if r < 0.3:
            return Binary("&", name, Const(rng.choice((1, 3, 7, max(length - 1, 0)))))
        if r < 0.5:
            return Binary("%", name, Const(rng.choice((max(length, 1), -max(length, 1)))))
        if r < 0.68:
            return Const(rng.choice((0, 1, -1, length - 1, length, -length, -length - 1)))
        if r < 0.85:
            return name
        return Binary(rng.choice(("-", "+")), name, Const(rng.choice((1, 2, length))))

    def helper_call(self, names: list[str], depth: int) -> Node | None:
        """A call of a helper of the module: ``h0(a, t1 + 1)``, or a recursive one with a
        depth that is either small (<= 255) or far past the recursion limit (>= 2000), never
        near it (where the frames the caller already uses decide)."""
        rng = self.rng
        context = self._module
        assert context is not None
        depth = min(depth, 1)
        if context.recursive and rng.random() < 0.3:
            name = rng.choice(context.recursive)
            return Call(name, (self.recursion_depth(names), self.expr(names, depth)))
        if not context.helpers:
            return None
        name, arity = rng.choice(context.helpers)
        if rng.random() < 0.02:
            arity += rng.choice((-1, 1))     # a TypeError, as Python words it
        return Call(name, tuple(self.expr(names, depth) for _ in range(max(arity, 0))))

    def recursion_depth(self, names: list[str]) -> Node:
        rng = self.rng
        operand = Var(rng.choice(names))
        r = rng.random()
        if r < 0.35:
            return Binary("&", operand, Const(rng.choice((7, 63, 255))))
        if r < 0.55:
            return Binary("%", operand, Const(rng.choice((200, -5))))
        if r < 0.75:
            return Binary("*", Binary("&", operand, Const(3)), Const(2000))
        if r < 0.9:
            return IfExp(self.comparison(names, 0), Const(rng.choice((3000, 10**6))),
                         Binary("&", operand, Const(15)))
        return Const(rng.choice((0, 5, 2500)))

    def extended_builtin_call(self, names: list[str], depth: int) -> Node:
        """What module functions call besides :meth:`builtin_call`'s: ``pow(b, e, m)``,
        ``pow(b, e)`` with any exponent, ``x.bit_count()``, ``min``/``max`` of 4 operands."""
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            modulus: Node = self.expr(names, depth) if rng.random() < 0.5 else Const(rng.choice(
                (2**61 - 1, 1000000007, 2**64 - 1, 2**63 - 1, 97, 1, -7, 0, 2**32 + 15)))
            exponent: Node = self.expr(names, depth) if rng.random() < 0.5 else Const(
                rng.choice((0, 1, 2, 3, 65537, 2**63 - 1, -1)))
            return Call("pow", (self.expr(names, depth), exponent, modulus))
        if r < 0.5:
            return Call("pow", (self.expr(names, depth), Binary("&", self.expr(names, depth),
                                                                   Const(rng.choice((7, 15))))))
        if r < 0.8:
            return Method("bit_count", self.expr(names, depth))
        return Call(rng.choice(("min", "max")), tuple(self.expr(names, depth) for _ in range(4)))

    def unpack_statement(self, scope: _Scope) -> Unpack | None:
        """``t0, t1 = divmod(x, y)`` or ``t0, t1 = h2(x, y)`` (a helper returning a pair)."""
        rng = self.rng
        context = self._module
        assert context is not None
        names = self.readable(scope)
        value: Node
        if context.pair_helpers and rng.random() < 0.5:
            name, arity = rng.choice(context.pair_helpers)
            value = Call(name, tuple(self.expr(names, 1) for _ in range(arity)))
        else:
            value = Call("divmod", (self.expr(names, rng.randint(0, 2)),
                                    self.expr(names, rng.randint(0, 1))))
        targets = tuple(rng.sample(LOCAL_NAMES, 2))
        for target in targets:
            scope.defined.add(target)
            scope.maybe.discard(target)
        return Unpack(targets, value)

    def module_function(self, context: ModuleContext, tuple_param_share: float = 0.3) -> FuncSpec:
        """A control-flow function that also reads the module around it (``context``): its
        constants, tables and helpers; it may take a tuple parameter and return a tuple."""
        rng = self.rng
        self._module = context
        try:
            self._allow_huge = rng.random() < HUGE_CONSTANT_SHARE
            self._flow_leaves, self._shift_const_share = True, 0.7
            self._statements_left = rng.randint(3, 10)
            self._exits_left = 1 if rng.random() < EXIT_SHARE else 0
            params = PARAM_NAMES[:rng.randint(1, 4)]
            scope = _Scope(params)
            prologue: list[Stmt] = []
            tuple_params: tuple[tuple[str, int], ...] = ()
            if rng.random() < tuple_param_share:
                params = PARAM_NAMES[:max(len(params), 2)]
                scope = _Scope(params)
                param = params[-1]
                length = rng.choice((2, 2, 3))
                targets = UNPACK_NAMES[:length]
                tuple_params = ((param, length),)
                prologue.append(Unpack(targets, Var(param)))
                scope.defined.discard(param)   # read as a tuple only
                scope.defined.update(targets)
            body, _ = self.block(scope, 0, rng.randint(2, 5))
            names = self.readable(scope, maybe_share=0.2)
            if rng.random() < TUPLE_RESULT_SHARE:
                result: Node = TupleExpr(tuple(self.value(names) for _ in range(rng.choice((2, 2, 3)))))
            else:
                result = self.value(names)
            defaults: tuple[int, ...] = ()
            if rng.random() < 0.1:
                defaults = tuple(self.constant() for _ in range(rng.randint(1, len(params))))
            return FuncSpec(tuple(params), tuple(prologue + body), result, defaults,
                            tuple_params=tuple_params)
        finally:
            self._module = None

    def straight_function(self) -> FuncSpec:
        rng = self.rng
        self._allow_huge, self._flow_leaves, self._shift_const_share = True, False, 0.5
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

    # -- control flow ---------------------------------------------------------------
    def flow_function(self) -> FuncSpec:
        """A function with branches and loops; see the module docstring for the shapes."""
        rng = self.rng
        self._allow_huge = rng.random() < HUGE_CONSTANT_SHARE
        self._flow_leaves, self._shift_const_share = True, 0.7
        self._statements_left = rng.randint(3, 12)
        self._exits_left = 1 if rng.random() < EXIT_SHARE else 0
        params = PARAM_NAMES[:rng.randint(1, 4)]
        scope = _Scope(params)
        body, _ = self.block(scope, 0, rng.randint(2, 5))
        result = self.value(self.readable(scope, maybe_share=0.2))
        defaults: tuple[int, ...] = ()
        if rng.random() < 0.1:
            defaults = tuple(self.constant() for _ in range(rng.randint(1, len(params))))
        return FuncSpec(tuple(params), tuple(body), result, defaults)

    def readable(self, scope: _Scope, maybe_share: float = 0.05) -> list[str]:
        """Names an expression may read: the defined ones, rarely one that may be unbound."""
        names = sorted(scope.defined)
        if scope.maybe and self.rng.random() < maybe_share:
            names.append(self.rng.choice(sorted(scope.maybe)))
        return names

    def block(self, scope: _Scope, depth: int, length: int) -> tuple[list[Stmt], bool]:
        """Statements for one block; also whether control can fall off its end."""
        out: list[Stmt] = []
        for _ in range(length):
            if self._statements_left <= 0 and out:
                break
            self._statements_left -= 1
            stmts = self.statement(scope, depth)
            out += stmts
            if isinstance(stmts[-1], TERMINATORS):
                return out, False
        return out, True

    def statement(self, scope: _Scope, depth: int) -> list[Stmt]:
        if self._module is not None and self.rng.random() < UNPACK_SHARE:
            unpack = self.unpack_statement(scope)
            if unpack is not None:
                return [unpack]
        r = self.rng.random()
        nested = depth < MAX_BLOCK_DEPTH and self._statements_left > 0
        loops = nested and scope.loop_depth < MAX_LOOP_DEPTH
        if nested and r < 0.25:
            return [self.if_statement(scope, depth)]
        if loops and r < 0.45:
            return self.for_statement(scope, depth)
        if loops and r < 0.6:
            return self.while_statement(scope, depth)
        if scope.loop_depth and r < 0.7:
            return [self.loop_exit(scope, depth)]
        return [self.assignment(scope)]

    def assignment(self, scope: _Scope, prefer: str | None = None) -> Assign:
        rng = self.rng
        names = self.readable(scope)
        value = self.value(names) if rng.random() < 0.7 else self.expr(names, rng.randint(1, 3))
        assignable = sorted(n for n in scope.defined
                            if n not in scope.counters and n not in FOR_NAMES)
        fresh = [n for n in LOCAL_NAMES if n not in scope.defined and n not in scope.maybe]
        loop_vars = sorted(n for n in scope.defined if n in FOR_NAMES)
        if prefer is not None and prefer in assignable and rng.random() < 0.5:
            target = prefer
        elif loop_vars and rng.random() < 0.04:   # reassigning a for target must not change the loop
            target = rng.choice(loop_vars)
        elif fresh and (rng.random() < 0.35 or not assignable):
            target = fresh[0]
        else:
            target = rng.choice(assignable)
        if target in scope.defined and rng.random() < 0.45:
            return Assign(target, self.expr(names, rng.randint(0, 3)), rng.choice(AUGMENTABLE))
        scope.defined.add(target)
        scope.maybe.discard(target)
        return Assign(target, value)

    def value(self, names: list[str]) -> Node:
        """An expression for a value: mostly arithmetic, sometimes bools, and/or, if-else."""
        rng = self.rng
        r = rng.random()
        if r < 0.66:
            return self.expr(names, rng.randint(1, 4))
        if r < 0.74:
            return IfExp(self.condition(names), self.expr(names, 2), self.expr(names, 2))
        if r < 0.8:
            return BoolOp(rng.choice(("and", "or")),
                          (self.condition(names) if rng.random() < 0.5 else self.expr(names, 1),
                           self.expr(names, 2)))
        if r < 0.88:
            return self.comparison(names, 2)
        # bools in arithmetic: the sign idiom, a bool masked or negated, counted, inverted
        a, b = self.comparison(names, 1), self.comparison(names, 1)
        shapes = (Binary("-", a, b), Binary("&", a, self.expr(names, 1)),
                  Binary("+", a, b), Binary("*", self.expr(names, 1), a),
                  Unary("-", a), Unary("~", a), Binary("^", a, b))
        return rng.choice(shapes)

    def comparison(self, names: list[str], depth: int) -> Compare:
        rng = self.rng
        saved, self._flow_leaves = self._flow_leaves, False
        try:
            left = self.expr(names, depth)
            if isinstance(left, Const):
                left = Var(rng.choice(names))     # a comparison of two constants says little
            right = Const(self.constant()) if rng.random() < 0.5 else self.expr(names, depth)
            if rng.random() < 0.15:   # chained: lo <= x < hi, or a mixed chain
                low = Const(rng.choice((0, -1, 1, -(2**63), 10)))
                ops = (rng.choice(("<", "<=")), rng.choice(("<", "<="))) if rng.random() < 0.7 \
                    else (rng.choice(COMPARE_OPS), rng.choice(COMPARE_OPS))
                return Compare((low, left, right), ops)
            return Compare((left, right), (rng.choice(COMPARE_OPS),))
        finally:
            self._flow_leaves = saved

    def condition(self, names: list[str]) -> Node:
        """A test for ``if``/``while``/``x if c else y``."""
        rng = self.rng
        r = rng.random()
        if r < 0.62:
            return self.comparison(names, rng.randint(0, 2))
        if r < 0.75:
            return self.expr(names, rng.randint(0, 2))        # truth of an int: `if t0:`
        if r < 0.83:
            return Unary("not", self.comparison(names, 1) if rng.random() < 0.5
                         else self.expr(names, 1))
        parts = tuple(self.comparison(names, 1) if rng.random() < 0.75 else self.expr(names, 1)
                      for _ in range(rng.choice((2, 2, 3))))
        return BoolOp(rng.choice(("and", "or")), parts)

    def if_statement(self, scope: _Scope, depth: int) -> If:
        rng = self.rng
        test = self.condition(self.readable(scope))
        then_scope = scope.copy()
        body, then_falls = self.branch(then_scope, depth + 1)
        branches = [(then_scope, then_falls)]
        r = rng.random()
        orelse: list[Stmt] = []
        else_scope = scope.copy()
        if r < 0.2 and self._statements_left > 0:
            orelse = [self.if_statement(else_scope, depth)]    # elif
            else_falls = True
        elif r < 0.55:
            orelse, else_falls = self.branch(else_scope, depth + 1)
        else:
            else_falls = True
        branches.append((else_scope, else_falls))
        scope.merge(branches)
        return If(test, tuple(body), tuple(orelse))

    def branch(self, scope: _Scope, depth: int) -> tuple[list[Stmt], bool]:
        """The body of an ``if``/``else``: a few statements, often ending the path early."""
        rng = self.rng
        body, falls = self.block(scope, depth, rng.randint(1, 2))
        if not falls:
            return body, False
        if self._exits_left and rng.random() < 0.4:
            self._exits_left -= 1
            exit_stmt = self.exit_statement(scope)
            body.append(exit_stmt)
            return body, not isinstance(exit_stmt, TERMINATORS)
        r = rng.random()
        if r < 0.22:
            body.append(Return(self.value(self.readable(scope))))
            return body, False
        if scope.loop_depth and r < 0.42:
            body.append(Break() if rng.random() < 0.55 else Continue())
            return body, False
        return body, True

    def exit_statement(self, scope: _Scope) -> Stmt:
        """A raise or a construct the compiler refuses: the native code must leave here."""
        rng = self.rng
        names = self.readable(scope)
        operand = self.expr(names, rng.randint(0, 2))
        r = rng.random()
        if r < 0.45:
            return Raise(rng.choice(RAISE_MESSAGES))
        if r < 0.65:
            return Return(Call("len", (Call("str", (operand,)),)))
        if r < 0.8:
            target = next((n for n in LOCAL_NAMES if n not in scope.defined), "t3")
            scope.defined.add(target)
            scope.maybe.discard(target)
            return Assign(target, Call("abs", (operand,)))
        if r < 0.9:
            return Return(Binary("/", operand, Const(rng.choice((2, 3, -7)))))
        return Return(Call("str", (operand,)))

    def loop_exit(self, scope: _Scope, depth: int) -> If:
        """``if <cond>: break`` / ``continue`` / ``return ...`` inside a loop body."""
        rng = self.rng
        names = self.readable(scope)
        r = rng.random()
        stmt: Stmt = Break() if r < 0.45 else Continue() if r < 0.75 else Return(self.value(names))
        return If(self.condition(names), (stmt,))

    def bound(self, names: list[str], small: list[str]) -> Node:
        """A small int from any values: ``e & 15``, ``e % 10`` (<= 0 for a negative modulus)."""
        rng = self.rng
        r = rng.random()
        if small and r < 0.15:
            return Var(rng.choice(small))
        if r < 0.3:
            return Const(rng.randint(0, 12))
        operand = self.expr(names, rng.randint(0, 2))
        if isinstance(operand, Const):
            operand = Var(rng.choice(names))
        if r < 0.7:
            return Binary("&", operand, Const(rng.choice(RANGE_MASKS)))
        return Binary("%", operand, Const(rng.choice(RANGE_MODULI)))

    def start(self, names: list[str]) -> Node:
        """A range start: anything, including the 64-bit edges (the span stays small)."""
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return Var(rng.choice(names))
        if r < 0.65:
            return Const(rng.choice(FIT_EDGE_CONSTANTS + (2**63 - 3, -(2**63) + 2, 2**62)))
        return self.expr(names, 1)

    def for_statement(self, scope: _Scope, depth: int) -> list[Stmt]:
        rng = self.rng
        target = FOR_NAMES[scope.loop_depth]
        names = self.readable(scope)
        small = sorted(scope.small)
        prefix: list[Stmt] = []
        head: list[Stmt] = []
        is_small = False
        r = rng.random()
        if r < 0.4:                                   # range(bound)
            args: tuple[Node, ...] = (self.bound(names, small),)
            is_small = True
        elif r < 0.55:                                # range(bound, bound)
            args = (self.bound(names, small), self.bound(names, small))
            is_small = True
        elif r < 0.7:                                 # range(x, x + bound): x may be huge
            first = self.start(names)
            args = (first, Binary("+", first, self.bound(names, small)))
        elif r < 0.87:                                # any step: the span bounds the length
            first = self.start(names)
            op = rng.choice(("+", "-"))
            step: Node = Const(rng.choice(RANGE_STEPS))
            if rng.random() < 0.3:
                step = Binary("-", Binary("%", self.expr(names, 1), Const(5)), Const(2))  # maybe 0
            elif rng.random() < 0.15:
                step = Var(rng.choice(names))
            args = (first, Binary(op, first, self.bound(names, small)), step)
        else:                                         # range(anything) cut short by a break
            args = (self.start(names) if rng.random() < 0.5 else Const(2**63 - 1),)
            head = [If(Compare((Var(target), self.bound(names, small)), (">=",)), (Break(),))]
        if rng.random() < 0.5:
            prefix.append(self.accumulator(scope))
        inner = scope.copy()
        inner.loop_depth += 1
        inner.defined.add(target)
        inner.maybe.discard(target)
        if is_small:
            inner.small.add(target)
        else:
            inner.small.discard(target)
        body, _ = self.loop_body(inner, depth, prefix)
        orelse = self.loop_else(scope, depth)
        scope.after_loop(inner)
        scope.maybe.add(target)
        scope.maybe -= scope.defined
        return prefix + [For(target, args, tuple(head + body), tuple(orelse))]

    def while_statement(self, scope: _Scope, depth: int) -> list[Stmt]:
        rng = self.rng
        counter = WHILE_NAMES[scope.loop_depth]
        names = self.readable(scope)
        small = sorted(scope.small)
        r = rng.random()
        if r < 0.3:              # counting up
            init: Node = Const(rng.randint(0, 3)) if rng.random() < 0.5 else self.bound(names, small)
            test: Node = Compare((Var(counter), self.bound(names, small) if rng.random() < 0.5
                                  else Const(rng.randint(1, 12))), (rng.choice(("<", "<=")),))
            step: Stmt = Assign(counter, Const(rng.choice((1, 1, 2, 3))), "+")
        elif r < 0.5:            # counting down to zero
            mask = Const(rng.choice(RANGE_MASKS))
            init = Binary("&", self.expr(names, rng.randint(0, 2)), mask)
            test = Var(counter) if rng.random() < 0.4 else Compare((Var(counter), Const(0)), (">",))
            step = Assign(counter, Const(1), "-")
        elif r < 0.8:            # a value that shrinks: halving, dropping a bit
            init = self.expr(names, rng.randint(0, 2))
            if rng.random() < 0.3:
                init = Binary("&", init, Const(rng.choice((0xFF, 0xFFFF, 2**32 - 1, 2**64 - 1))))
                test = Var(counter) if rng.random() < 0.5 else Compare((Var(counter), Const(0)),
                                                                       ("!=",))
            else:
                test = Compare((Var(counter), Const(0)), (">",))
            step = rng.choice((Assign(counter, Const(2), "//"), Assign(counter, Const(1), ">>"),
                               Assign(counter, Binary("-", Var(counter), Const(1)), "&"),
                               Assign(counter, Binary("//", Var(counter), Const(3)))))
        else:                    # while True: with a counted way out
            init = Const(0)
            test = Const(True)
            step = Assign(counter, Const(1), "+")
        if not (isinstance(test, Const)) and rng.random() < 0.25:
            test = BoolOp("and", (test, self.condition(names)) if rng.random() < 0.5
                          else (self.condition(names), test))
        prefix: list[Stmt] = [Assign(counter, init)]
        if rng.random() < 0.4:
            prefix.insert(0, self.accumulator(scope))
        scope.defined.add(counter)
        scope.maybe.discard(counter)
        inner = scope.copy()
        inner.loop_depth += 1
        inner.counters.add(counter)
        head: list[Stmt] = [step]
        if isinstance(test, Const):
            way_out: Stmt = Break() if rng.random() < 0.6 else Return(self.value(self.readable(inner)))
            limit = self.bound(names, small) if rng.random() < 0.5 else Const(rng.randint(0, 10))
            head.append(If(Compare((Var(counter), limit), (">",)), (way_out,)))
        body, _ = self.loop_body(inner, depth, prefix)
        orelse = self.loop_else(scope, depth)
        scope.after_loop(inner)
        return prefix + [While(test, tuple(head + body), tuple(orelse))]

    def accumulator(self, scope: _Scope) -> Assign:
        """``t1 = 0`` (or 1, or a parameter) before a loop that will update it."""
        target = next((n for n in LOCAL_NAMES if n not in scope.defined), None)
        if target is None:
            target = self.rng.choice(LOCAL_NAMES)
        value: Node = Const(self.rng.choice((0, 1, 1, -1, 2**62))) if self.rng.random() < 0.7 \
            else Var(self.rng.choice(scope.params))
        scope.defined.add(target)
        scope.maybe.discard(target)
        return Assign(target, value)

    def loop_body(self, scope: _Scope, depth: int, prefix: list[Stmt]) -> tuple[list[Stmt], bool]:
        rng = self.rng
        prefer = prefix[0].target if prefix and isinstance(prefix[0], Assign) else None
        body: list[Stmt] = []
        if prefer is not None and prefer in LOCAL_NAMES:
            body.append(self.update(scope, prefer))
        more, falls = self.block(scope, depth + 1, rng.randint(1, 3))
        body += more
        if falls and rng.random() < 0.25:
            body.insert(rng.randrange(len(body) + 1), self.loop_exit(scope, depth + 1))
        return body, falls

    def update(self, scope: _Scope, target: str) -> Assign:
        """An accumulator step: ``t1 += i * a``, ``t1 = t1 * b % 1000``, ``t1 ^= t1 << 3``."""
        rng = self.rng
        names = self.readable(scope)
        r = rng.random()
        if r < 0.5:
            return Assign(target, self.expr(names, rng.randint(0, 2)),
                          rng.choice(("+", "+", "-", "*", "^", "|", "&")))
        if r < 0.75:
            product = Binary("*", Var(target), self.expr(names, rng.randint(0, 1)))
            return Assign(target, product if rng.random() < 0.6
                          else Binary("%", product, Const(rng.choice((1000, 2**31 - 1, 2**61 - 1)))))
        return Assign(target, Binary("&", Binary("^", Var(target), Binary(
            rng.choice(("<<", ">>")), Var(target), Const(rng.choice((1, 3, 7, 13))))),
            Const(rng.choice((2**32 - 1, 2**64 - 1)))))

    def loop_else(self, scope: _Scope, depth: int) -> list[Stmt]:
        if self.rng.random() >= 0.15 or self._statements_left <= 0:
            return []
        else_scope = scope.copy()
        body, _ = self.block(else_scope, depth + 1, 1)
        scope.maybe |= (else_scope.defined | else_scope.maybe) - scope.defined
        return body

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
        for name, length in spec.tuple_params:
            index = spec.params.index(name)
            if index < len(args):
                args[index] = self.tuple_arg(length)
        kwargs: dict[str, Any] = {}
        if args and rng.random() < 0.02:
            kwargs[spec.params[len(args) - 1]] = args.pop()
        return tuple(args), kwargs

    def tuple_arg(self, length: int) -> Any:
        """A tuple of ``length`` ints, mostly; else of another length, holding a non-int, a
        list, or an int (TypeError: cannot unpack)."""
        rng = self.rng
        r = rng.random()
        if r < 0.72:
            return tuple(self.int_arg() for _ in range(length))
        if r < 0.82:
            return tuple(self.int_arg() for _ in range(rng.choice((0, 1, length + 1))))
        if r < 0.9:
            items = [self.int_arg() for _ in range(length)]
            items[rng.randrange(length)] = self.exotic_arg()
            return tuple(items)
        if r < 0.95:
            return [self.int_arg() for _ in range(length)]
        return self.int_arg()


ARG_SMALL = (0, 1, -1, 2, -2, 3, 7, -7, 30, 31, 32, 63, 64, 65, 2**30 - 1, 2**30, -(2**30),
             2**31 - 1, -(2**31), 3037000499, 3037000500, 2**62, -(2**62), 2**60 + 1)
FLOAT_ARGS = (0.0, -0.0, 1.0, -1.5, 2.5, 1e308, float("inf"), float("-inf"), float("nan"))


# -- the guard ------------------------------------------------------------------------

class TooBig(Exception):
    """CPython would build an int larger than :data:`BIT_LIMIT` bits for this call."""


class TooLong(Exception):
    """The call's loops would run more than :data:`STEP_LIMIT` iterations, or its arithmetic
    would cost more than :data:`WORK_LIMIT`."""


class _Stop(Exception):
    """CPython raises at this point; nothing after it runs."""


def _bits(value: Any) -> int:
    return int.bit_length(value) if isinstance(value, int) else 0   # of |value|, bools too


def _apply(op: str, x: Any, y: Any) -> Any:
    if op == "<<":
        if isinstance(x, int) and isinstance(y, int) and x and y > 0:
            if y >= HOPELESS_SHIFT:
                raise _Stop
            if _bits(x) + y > BIT_LIMIT:
                raise TooBig
        return x << y
    if op == "**":
        if isinstance(x, int) and isinstance(y, int) and _bits(x) * y > BIT_LIMIT:
            raise TooBig
        return x ** y
    if op == "*":
        if _bits(x) + _bits(y) > BIT_LIMIT:
            raise TooBig
        # A module constant rebound to a str, or a tuple parameter: ``'7' * n`` repeats it.
        for sequence, count in ((x, y), (y, x)):
            if isinstance(sequence, (str, tuple, list)) and isinstance(count, int) \
                    and len(sequence) * count > BIT_LIMIT:
                raise TooBig
    return _OPS[op](x, y)


def _words(value: Any) -> int:
    return (int.bit_length(value) >> 5) + 1 if isinstance(value, int) else 1


def _charged(op: str, x: Any, y: Any) -> Any:
    """``_apply``, with the operation's cost in 32-bit word operations added to the call's
    work: ints under :data:`BIT_LIMIT` bits, but multiplied or divided thousands of times in
    loops, would still keep CPython busy for seconds.  (Charged once ``_apply`` has let the
    operation run: operands and result are then known to be of a bounded size.)"""
    result = _apply(op, x, y)
    if isinstance(x, int) and isinstance(y, int):
        if op in ("*", "//", "%"):
            cost = _words(x) * _words(y)
        elif op == "**" and isinstance(result, int):
            cost = _words(result) ** 2
        else:   # linear in the sizes (for a shift, in the result's)
            cost = _words(x) + _words(y) + _words(result)
        _STEPS.work += cost
        if _STEPS.work > WORK_LIMIT:
            raise TooLong
    return result


def _charged_call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` for ``pow``/``divmod`` as the guarded code finds them: the builtins (and
    ``operator.pow``) are checked and charged like ``**``, ``pow(b, e, m)`` by the squarings
    of modulus-sized ints, ``divmod`` as a quotient; anything else a module put under the name
    runs as it is (the generator only puts cheap functions there)."""
    if fn in (pow, operator.pow) and len(args) == 2:
        return _charged("**", *args)
    if fn is pow and len(args) == 3 and all(type(v) is int for v in args) and args[2]:
        base, exponent, modulus = args
        _STEPS.work += _words(modulus) ** 2 * max(1, _bits(exponent)) + _words(base)
    elif fn is divmod and len(args) == 2 and all(isinstance(v, int) for v in args):
        _STEPS.work += _words(args[0]) * _words(args[1])
    if _STEPS.work > WORK_LIMIT:
        raise TooLong
    return fn(*args)


def _count_call() -> None:
    """Opens every guarded helper: a recursion inside a loop costs calls, not iterations."""
    _STEPS.calls += 1
    if _STEPS.calls > CALL_LIMIT:
        raise TooLong


#: The guarded copy's helpers, by the names its source uses.
GUARD_NAMESPACE: dict[str, Callable[..., Any]] = {}


def _unary(op: str, x: Any) -> Any:
    return _UNARY[op](x)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
    "//": lambda x, y: x // y, "%": lambda x, y: x % y, ">>": lambda x, y: x >> y,
    "&": lambda x, y: x & y, "|": lambda x, y: x | y, "^": lambda x, y: x ^ y,
    "/": lambda x, y: x / y,
}
_UNARY: dict[str, Callable[[Any], Any]] = {"-": lambda x: -x, "~": lambda x: ~x, "+": lambda x: +x}


class _Steps:
    """Loop iterations (``_T()`` opens every loop body) and arithmetic work of the current
    guarded call."""

    def __init__(self) -> None:
        self.count = 0
        self.work = 0
        self.calls = 0

    def tick(self) -> None:
        self.count += 1
        if self.count > STEP_LIMIT:
            raise TooLong


_STEPS = _Steps()
GUARD_NAMESPACE.update({"_B": _charged, "_U": _unary, "_T": _STEPS.tick,
                        "_CHARGED": _charged_call, "_C": _count_call})
_GUARDED: "collections.OrderedDict[str, Callable[..., Any]]" = collections.OrderedDict()
_LAST_GUARDED: list[Any] = [None, None]


def guarded_function(spec: FuncSpec) -> Callable[..., Any]:
    """The instrumented copy of ``spec`` that :func:`check` runs (cached by source)."""
    if _LAST_GUARDED[0] is spec:     # the calls of one function are checked one after another
        return _LAST_GUARDED[1]
    source = spec.source(guarded=True)
    fn = _GUARDED.get(source)
    if fn is None:
        namespace: dict[str, Any] = dict(GUARD_NAMESPACE)
        exec(compile(source, "<guarded>", "exec"), namespace)
        fn = namespace[spec.name]
        _GUARDED[source] = fn
        if len(_GUARDED) > 256:
            _GUARDED.popitem(last=False)
    else:
        _GUARDED.move_to_end(source)
    _LAST_GUARDED[:] = [spec, fn]
    return fn


def check(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """"ok" when running the call costs CPython little; "big" (:class:`TooBig`) or
    "long" (:class:`TooLong`) for calls to skip."""
    fn = guarded_function(spec)
    _STEPS.count = _STEPS.work = _STEPS.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ~True is deprecated: noise here, CPython's own concern
        try:
            fn(*args, **kwargs)
        except (TooBig, MemoryError):   # MemoryError here may be an allocation that succeeds there
            return "big"
        except TooLong:
            return "long"
        except Exception:  # noqa: BLE001 - _Stop, or the call raises early: cheap either way
            return "ok"
    return "ok"


def guard(spec: FuncSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when running the call costs CPython little; False for calls to skip."""
    return check(spec, args, kwargs) == "ok"


@dataclass
class Job:
    """A function's source and the calls to compare on it (what a child process runs)."""

    source: str
    name: str
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    fits_int64: bool = True
    spec: FuncSpec | None = None
    mode: str = "straight"
    #: A module job (:class:`.module.ModuleJob`): the module, its compile order and the calls
    #: and rebindings to replay (``calls`` is then empty).
    module: Any = None

    def payload(self) -> Any:
        """What the child is sent for this job (see :func:`.child.run_jobs`)."""
        if self.module is not None:
            return self.module.payload()
        return (self.source, self.name, self.calls)
