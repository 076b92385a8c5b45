"""The intermediate representation: straight-line SSA over 64-bit-or-fallback integers.

A :class:`Function` is a list of :class:`Instr` in evaluation order, each
defining one value from earlier values (:class:`Param`, :class:`Const` or
another :class:`Instr`).  There is no control flow: eligible functions are
branchless, and every case the machine code cannot compute exactly leaves
through the fallback (re-running the Python original), which the IR leaves
implicit.  The semantics of every opcode are Python's, on unbounded ints;
:func:`evaluate` is the reference the optimizer folds with and the tests
compare against.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


UINT64_MAX = (1 << 64) - 1


def fits_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def fits_register(value: int) -> bool:
    """Representable in a 64-bit register as signed or unsigned: [-2**63, 2**64)."""
    return INT64_MIN <= value <= UINT64_MAX


class Opcode(enum.Enum):
    """Integer operations, named after the Python operator they implement."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    FLOORDIV = "floordiv"
    MOD = "mod"
    POW = "pow"          # exponent is always a non-negative Const
    LSHIFT = "lshift"
    RSHIFT = "rshift"
    AND = "and"
    OR = "or"
    XOR = "xor"
    NEG = "neg"
    INVERT = "invert"

    @property
    def arity(self) -> int:
        return 1 if self in (Opcode.NEG, Opcode.INVERT) else 2

    @property
    def commutative(self) -> bool:
        return self in _COMMUTATIVE


_COMMUTATIVE = frozenset({Opcode.ADD, Opcode.MUL, Opcode.AND, Opcode.OR, Opcode.XOR})

SYMBOLS = {
    Opcode.ADD: "+", Opcode.SUB: "-", Opcode.MUL: "*", Opcode.FLOORDIV: "//", Opcode.MOD: "%",
    Opcode.POW: "**", Opcode.LSHIFT: "<<", Opcode.RSHIFT: ">>", Opcode.AND: "&", Opcode.OR: "|",
    Opcode.XOR: "^", Opcode.NEG: "-", Opcode.INVERT: "~",
}


class Value:
    """Something an instruction can use."""

    __slots__ = ()

    def ref(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class Param(Value):
    index: int
    name: str

    def ref(self) -> str:
        return f"%{self.name}"


@dataclass(eq=False)
class Const(Value):
    value: int

    def ref(self) -> str:
        return str(self.value)


@dataclass(eq=False)
class Instr(Value):
    op: Opcode
    args: tuple[Value, ...]
    lineno: int | None = None
    number: int = -1          # assigned by Function.renumber(), for printing

    def ref(self) -> str:
        return f"%{self.number}"

    def __str__(self) -> str:
        return f"{self.ref()} = {self.op.value} " + ", ".join(a.ref() for a in self.args)


def may_fail_in_python(instr: Instr) -> bool:
    """Whether Python itself could raise (or never finish) on this operation.

    Such an instruction is kept even when its value is unused, so the machine
    code still detects the case and falls back to the original, which raises.
    Overflow does not count: Python computes a big int and carries on, and the
    machine code's fallback reproduces that.
    """
    op, args = instr.op, instr.args
    if op in (Opcode.FLOORDIV, Opcode.MOD):
        divisor = args[1]
        return not (isinstance(divisor, Const) and divisor.value != 0)
    if op in (Opcode.LSHIFT, Opcode.RSHIFT):
        count = args[1]
        if not isinstance(count, Const):
            return True
        return count.value < 0 or (op is Opcode.LSHIFT and count.value > 64)
    if op is Opcode.POW:
        return args[1].value > 64  # type: ignore[attr-defined]
    return False


NO_FOLD_LIMIT = 64


def folding_is_safe(op: Opcode, values: Sequence[int]) -> bool:
    """Whether evaluating ``op`` on these constants at compile time is cheap: a huge
    exponent or shift count could take Python unbounded time or memory."""
    if op is Opcode.POW:
        base, exp = values
        return exp <= NO_FOLD_LIMIT or base in (-1, 0, 1)
    if op is Opcode.LSHIFT:
        base, count = values
        return count <= NO_FOLD_LIMIT or base == 0
    return True


def evaluate(op: Opcode, operands: Sequence[int]) -> int:
    """Python's result for ``op`` on ints (may raise as Python does)."""
    if op is Opcode.NEG:
        return -operands[0]
    if op is Opcode.INVERT:
        return ~operands[0]
    a, b = operands
    if op is Opcode.ADD:
        return a + b
    if op is Opcode.SUB:
        return a - b
    if op is Opcode.MUL:
        return a * b
    if op is Opcode.FLOORDIV:
        return a // b
    if op is Opcode.MOD:
        return a % b
    if op is Opcode.POW:
        return a ** b
    if op is Opcode.LSHIFT:
        return a << b
    if op is Opcode.RSHIFT:
        return a >> b
    if op is Opcode.AND:
        return a & b
    if op is Opcode.OR:
        return a | b
    if op is Opcode.XOR:
        return a ^ b
    raise AssertionError(op)


@dataclass(eq=False)
class Function:
    """One compiled function: parameters, body, result and where it came from."""

    name: str
    params: list[Param]
    body: list[Instr]
    result: Value
    filename: str | None = None
    firstlineno: int | None = None
    #: Indices of parameters the Python source reads: each is checked to be an exact
    #: int at entry even if the optimizer removes its last use.
    read_params: frozenset[int] = frozenset()
    #: Default values of the trailing parameters (``fn.__defaults__``).
    defaults: tuple[object, ...] = ()
    notes: list[str] = field(default_factory=list)

    def renumber(self) -> None:
        for number, instr in enumerate(self.body):
            instr.number = number

    def __str__(self) -> str:
        self.renumber()
        head = ", ".join(p.ref() for p in self.params)
        lines = [f"def {self.name}({head}):"]
        lines += [f"    {instr}" for instr in self.body]
        lines.append(f"    return {self.result.ref()}")
        return "\n".join(lines)

    def instructions(self) -> Iterator[Instr]:
        return iter(self.body)


class Builder:
    """Appends instructions to a function body (the frontend's only way in)."""

    def __init__(self) -> None:
        self.body: list[Instr] = []
        self.lineno: int | None = None

    def emit(self, op: Opcode, *args: Value) -> Instr:
        if len(args) != op.arity:
            raise ValueError(f"{op.value} takes {op.arity} operands")
        instr = Instr(op, tuple(args), self.lineno)
        self.body.append(instr)
        return instr

    def binop(self, op: Opcode, a: Value, b: Value) -> Instr:
        return self.emit(op, a, b)

    def unop(self, op: Opcode, a: Value) -> Instr:
        return self.emit(op, a)


def interpret(fn: Function, args: Sequence[int],
              step: Callable[[Opcode, Sequence[int]], int] = evaluate) -> int:
    """Run the IR with Python semantics (the reference for optimizer tests).

    ``step`` evaluates one instruction; a test can pass one that models the
    machine code (e.g. raising when a value leaves 64 bits).
    """
    env: dict[int, int] = {}

    def value_of(v: Value) -> int:
        if isinstance(v, Const):
            return v.value
        if isinstance(v, Param):
            return args[v.index]
        return env[id(v)]

    for instr in fn.body:
        env[id(instr)] = step(instr.op, [value_of(a) for a in instr.args])
    return value_of(fn.result)
