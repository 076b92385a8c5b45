"""What the compiler can prove about each value: its machine representation.

Python ints are unbounded; a register holds 64 bits.  For every IR value this
analysis picks how its register is read:

``SIGNED``    the exact value, as a signed 64-bit integer;
``UNSIGNED``  the exact value, in [0, 2**64);
``SMALL``     the exact value, in [0, 2**63): both of the above at once, free to use either way;
``MODULAR``   only the value modulo 2**64 is known, which is all its uses need.

It runs in two passes over the straight-line IR.

*Demand* (backward): a value needs only its low 64 bits when every use is
``v & M`` with a constant ``0 <= M < 2**64``, or is an operation that commutes
with truncation (``+ - * ^ | & ~``, unary ``-``, ``<< c``) whose own result needs
only its low 64 bits.  Everything else (the result, ``>>``, ``//``, ``%``, a
variable shift, an operation kept only because Python could raise on it)
needs the exact value.

*Representation* (forward): a value needing only its low bits is computed
with wrapping machine arithmetic (``MODULAR``, no overflow check); ``x & M``
is exact whatever ``x`` is (``UNSIGNED``, or ``SMALL`` when ``M < 2**63``); the
other exact operations follow their operands (``UNSIGNED >> c`` stays exact and
unsigned, ``^``/``|`` of unsigned values too); arithmetic that can overflow is
``SIGNED`` and checked.  Where an exact operation needs a ``SIGNED`` operand that
is ``UNSIGNED``, the code generator checks the top bit and falls back if it is
set.  A parameter needing only its low bits is unboxed from any int, however
large or negative; an exact parameter is unboxed as ``UNSIGNED`` when the
function is hash-like (it has a mask of 32 bits or more, or a constant of
2**63 or more) and the parameter only meets bitwise operations, else ``SIGNED``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from . import ir
from .ir import Const, Instr, Opcode, Param, Value

UINT64_LIMIT = 1 << 64


class Kind(enum.Enum):
    SIGNED = "signed"
    UNSIGNED = "unsigned"
    SMALL = "small"          # exact, in [0, 2**63)
    MODULAR = "modular"      # value mod 2**64

    @property
    def exact(self) -> bool:
        return self is not Kind.MODULAR


_WRAPPING = frozenset({Opcode.ADD, Opcode.SUB, Opcode.MUL, Opcode.XOR, Opcode.OR, Opcode.AND,
                       Opcode.NEG, Opcode.INVERT})
_BITWISE_USES = frozenset({Opcode.XOR, Opcode.OR, Opcode.AND})


def const_kind(value: int) -> Kind:
    if 0 <= value < (1 << 63):
        return Kind.SMALL
    if value < 0:
        return Kind.SIGNED
    return Kind.UNSIGNED


def mask_of(instr: Instr) -> int | None:
    """The constant of ``x & M`` with ``0 <= M < 2**64``, else None."""
    if instr.op is Opcode.AND:
        for arg in instr.args:
            if isinstance(arg, Const) and 0 <= arg.value < UINT64_LIMIT:
                return arg.value
    return None


@dataclass
class Representation:
    """The analysis result: a :class:`Kind` per parameter and instruction."""

    kinds: dict[int, Kind] = field(default_factory=dict)

    def kind(self, value: Value) -> Kind:
        if isinstance(value, Const):
            return const_kind(value.value)
        return self.kinds[id(value)]

    def describe(self, fn: ir.Function) -> dict[str, str]:
        """``{"%x": "modular", "%3": "unsigned", ...}`` for values not plain signed."""
        fn.renumber()
        out = {}
        read = [p for p in fn.params if p.index in fn.read_params]  # unread ones are never looked at
        for value in [*read, *fn.body]:
            kind = self.kinds.get(id(value))
            if kind is not None and kind is not Kind.SIGNED:
                out[value.ref()] = kind.value
        return out


def needs_exact(fn: ir.Function) -> set[int]:
    """Ids of the values whose exact value is needed (the rest need their low 64 bits)."""
    full: set[int] = set()
    if not isinstance(fn.result, Const):
        full.add(id(fn.result))
    for instr in reversed(fn.body):
        exact = id(instr) in full or ir.may_fail_in_python(instr)
        if exact:
            full.add(id(instr))
        mask = mask_of(instr)
        for position, arg in enumerate(instr.args):
            if isinstance(arg, Const):
                continue
            if mask is not None:
                continue  # x & M needs only x's low bits, whatever the use of the result
            if not exact:
                if instr.op in _WRAPPING:
                    continue
                if instr.op is Opcode.LSHIFT and position == 0 and _small_const_count(instr):
                    continue
            full.add(id(arg))
    return full


def _small_const_count(instr: Instr) -> bool:
    count = instr.args[1]
    return isinstance(count, Const) and 0 <= count.value < 64


def _hash_like(fn: ir.Function) -> bool:
    for instr in fn.body:
        mask = mask_of(instr)
        if mask is not None and mask >= (1 << 31) - 1:
            return True
        if any(isinstance(a, Const) and a.value >= (1 << 63) for a in instr.args):
            return True
    return False


def analyze(fn: ir.Function) -> Representation:
    full = needs_exact(fn)
    rep = Representation()
    hash_like = _hash_like(fn)
    bitwise_only = _bitwise_only_params(fn, full)
    for param in fn.params:
        if id(param) not in full:
            rep.kinds[id(param)] = Kind.MODULAR
        elif hash_like and param.index in bitwise_only:
            rep.kinds[id(param)] = Kind.UNSIGNED
        else:
            rep.kinds[id(param)] = Kind.SIGNED
    for instr in fn.body:
        rep.kinds[id(instr)] = _kind_of(instr, id(instr) in full, rep)
    return rep


def _bitwise_only_params(fn: ir.Function, full: set[int]) -> set[int]:
    """Parameters whose every exact use is ``^ | &`` or the shifted operand of ``>>``
    (uses that only need the low 64 bits do not constrain the exact representation)."""
    ok = {p.index for p in fn.params}
    for instr in fn.body:
        for position, arg in enumerate(instr.args):
            if not isinstance(arg, Param):
                continue
            if instr.op in _BITWISE_USES or (instr.op is Opcode.RSHIFT and position == 0):
                continue
            if id(instr) not in full and (instr.op in _WRAPPING or instr.op is Opcode.LSHIFT):
                continue
            ok.discard(arg.index)
    return ok


def _kind_of(instr: Instr, exact: bool, rep: Representation) -> Kind:
    op = instr.op
    mask = mask_of(instr)
    if mask is not None:
        return Kind.SMALL if mask < (1 << 63) else Kind.UNSIGNED
    if not exact and (op in _WRAPPING or (op is Opcode.LSHIFT and _small_const_count(instr))):
        return Kind.MODULAR
    kinds = [rep.kind(a) for a in instr.args]
    if op is Opcode.AND:
        if any(k is Kind.SMALL for k in kinds):
            return Kind.SMALL
        if any(k is Kind.UNSIGNED for k in kinds):
            return Kind.UNSIGNED
        return Kind.SIGNED
    if op in (Opcode.OR, Opcode.XOR):
        if all(k is Kind.SMALL for k in kinds):
            return Kind.SMALL
        if all(k in (Kind.SMALL, Kind.UNSIGNED) for k in kinds):
            return Kind.UNSIGNED
        return Kind.SIGNED
    if op is Opcode.RSHIFT:
        count = instr.args[1]
        if kinds[0] is Kind.SMALL:
            return Kind.SMALL
        if kinds[0] is Kind.UNSIGNED:
            if isinstance(count, Const) and count.value >= 1:
                return Kind.SMALL
            return Kind.UNSIGNED
        return Kind.SIGNED
    if op is Opcode.MOD:
        divisor = instr.args[1]
        if isinstance(divisor, Const) and divisor.value > 0:
            return Kind.SMALL
        return Kind.SIGNED
    return Kind.SIGNED
