"""IR -> IR: constant folding, algebraic simplification, CSE and dead-code elimination.

Every rewrite must keep Python's result.  Values in the machine code are
64-bit, and any operation whose exact result does not fit leaves through the
fallback, so a rewrite is valid when it holds for all int64 operands (the
identities used here hold for all integers).  Removing an overflow check is
fine (the rewritten form computes the same mathematical value); removing a
check that Python would raise on is not, which is what
:func:`jitimport.ir.may_fail_in_python` guards in dead-code elimination.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .ir import Const, Instr, Opcode, Value

_NO_FOLD_LIMIT = ir.NO_FOLD_LIMIT


@dataclass
class OptimizerStats:
    before: int
    after: int


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


class Simplifier:
    """One forward pass: folds, rewrites and value-numbers into a new body."""

    def __init__(self) -> None:
        self.body: list[Instr] = []
        self.replaced: dict[int, Value] = {}
        self.table: dict[tuple, Instr] = {}
        self.rank: dict[int, int] = {}
        self.lineno: int | None = None

    def resolve(self, value: Value) -> Value:
        return self.replaced.get(id(value), value)

    def order_key(self, value: Value) -> tuple[int, int]:
        if isinstance(value, ir.Param):
            return (0, value.index)
        if isinstance(value, Const):
            return (2, 0)
        return (1, self.rank[id(value)])

    def run(self, fn: ir.Function) -> ir.Function:
        for instr in fn.body:
            self.lineno = instr.lineno
            args = tuple(self.resolve(a) for a in instr.args)
            self.replaced[id(instr)] = self.add(instr.op, args)
        result = self.resolve(fn.result)
        return ir.Function(fn.name, fn.params, self.body, result, fn.filename, fn.firstlineno,
                           fn.read_params, fn.defaults, list(fn.notes))

    # -- building -------------------------------------------------------------
    def add(self, op: Opcode, args: tuple[Value, ...]) -> Value:
        """The simplest value equal to ``op(*args)``, appending instructions as needed."""
        if all(isinstance(a, Const) for a in args):
            values = [a.value for a in args]  # type: ignore[attr-defined]
            if ir.folding_is_safe(op, values):
                try:
                    result = ir.evaluate(op, values)
                except (ArithmeticError, ValueError, MemoryError):
                    result = None
                if result is not None and ir.fits_register(result):
                    return Const(result)
        if op.commutative and (isinstance(args[0], Const)
                               or (not isinstance(args[1], Const)
                                   and self.order_key(args[0]) > self.order_key(args[1]))):
            args = (args[1], args[0])
        rewritten = self.rewrite(op, args)
        if rewritten is not None:
            return rewritten
        key = (op, *(("c", a.value) if isinstance(a, Const) else ("v", id(a)) for a in args))
        existing = self.table.get(key)
        if existing is not None:
            return existing
        instr = Instr(op, args, self.lineno)
        self.rank[id(instr)] = len(self.body)
        self.body.append(instr)
        self.table[key] = instr
        return instr

    # -- algebra ---------------------------------------------------------------
    def rewrite(self, op: Opcode, args: tuple[Value, ...]) -> Value | None:
        x = args[0]
        if op is Opcode.NEG or op is Opcode.INVERT:
            if isinstance(x, Instr) and x.op is op:
                return x.args[0]  # --x == x, ~~x == x
            return None
        y = args[1]
        c = y.value if isinstance(y, Const) else None
        if c is None:
            if x is y:
                if op in (Opcode.SUB, Opcode.XOR):
                    return Const(0)
                if op in (Opcode.AND, Opcode.OR):
                    return x
            if op is Opcode.SUB and isinstance(x, Const) and x.value == 0:
                return self.add(Opcode.NEG, (y,))
            return None
        if op is Opcode.ADD or op is Opcode.SUB:
            if c == 0:
                return x
            if op is Opcode.SUB:
                # x - c == x + (-c), when -c is a signed 64-bit constant (the checked add needs one).
                return self.add(Opcode.ADD, (x, Const(-c))) if ir.fits_int64(-c) else None
            return self.reassociate(op, x, c)
        if op is Opcode.MUL:
            if c == 0:
                return Const(0)
            if c == 1:
                return x
            if c == -1:
                return self.add(Opcode.NEG, (x,))
            return self.reassociate(op, x, c)
        if op is Opcode.FLOORDIV:
            if c == 1:
                return x
            if c == -1:
                return self.add(Opcode.NEG, (x,))
            if _is_power_of_two(c):
                return self.add(Opcode.RSHIFT, (x, Const(c.bit_length() - 1)))
            return None
        if op is Opcode.MOD:
            if c in (1, -1):
                return Const(0)
            if _is_power_of_two(c):
                return self.add(Opcode.AND, (x, Const(c - 1)))
            return None
        if op is Opcode.POW:
            if c == 0:
                return Const(1)
            if c == 1:
                return x
            if c <= _NO_FOLD_LIMIT:
                return self.expand_pow(x, c)
            return None
        if op is Opcode.LSHIFT or op is Opcode.RSHIFT:
            if c == 0:
                return x
            return None
        if op is Opcode.AND:
            if c == 0:
                return Const(0)
            if c == -1:
                return x
            return self.reassociate(op, x, c)
        if op is Opcode.OR:
            if c == 0:
                return x
            if c == -1:
                return Const(-1)
            return self.reassociate(op, x, c)
        if op is Opcode.XOR:
            if c == 0:
                return x
            if c == -1:
                return self.add(Opcode.INVERT, (x,))
            return self.reassociate(op, x, c)
        return None

    def reassociate(self, op: Opcode, x: Value, c: int) -> Value | None:
        """(y op c1) op c2 -> y op (c1 op c2) for associative ops, when c1 op c2 fits."""
        if isinstance(x, Instr) and x.op is op and isinstance(x.args[1], Const):
            combined = ir.evaluate(op, [x.args[1].value, c])
            if ir.fits_register(combined):
                return self.add(op, (x.args[0], Const(combined)))
        return None

    def expand_pow(self, base: Value, exponent: int) -> Value:
        """Square-and-multiply; every partial power divides the result, so any overflow
        on the way means the result overflows too."""
        result: Value | None = None
        square = base
        while True:
            if exponent & 1:
                result = square if result is None else self.add(Opcode.MUL, (result, square))
            exponent >>= 1
            if not exponent:
                break
            square = self.add(Opcode.MUL, (square, square))
        assert result is not None
        return result


def eliminate_dead_code(fn: ir.Function) -> ir.Function:
    """Drop instructions whose value is unused, unless Python could fail on them."""
    live: set[int] = set()
    work: list[Value] = [fn.result]
    work += [instr for instr in fn.body if ir.may_fail_in_python(instr)]
    while work:
        value = work.pop()
        if not isinstance(value, Instr) or id(value) in live:
            continue
        live.add(id(value))
        work.extend(value.args)
    body = [instr for instr in fn.body if id(instr) in live]
    return ir.Function(fn.name, fn.params, body, fn.result, fn.filename, fn.firstlineno,
                       fn.read_params, fn.defaults, list(fn.notes))


def optimize(fn: ir.Function) -> ir.Function:
    """The full pipeline: simplify (fold, rewrite, CSE), then dead-code elimination."""
    simplified = Simplifier().run(fn)
    return eliminate_dead_code(simplified)
