"""What the compiler can prove about each value: its machine representation.

Python ints are unbounded; a register holds 64 bits.  For every IR value this
analysis picks how its register is read:

``SIGNED``    the exact value, as a signed 64-bit integer;
``UNSIGNED``  the exact value, in [0, 2**64);
``SMALL``     the exact value, in [0, 2**63): both of the above at once, free to use either way;
``MODULAR``   only the value modulo 2**64 is known, which is all its uses need.

It runs as two dataflow passes over the control-flow graph, each to a fixpoint
(values flow around loops through block parameters).

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

Block parameters always hold exact values (every edge argument is demanded
exactly); a parameter's kind is the join of its incoming kinds, and where an
``UNSIGNED`` value enters a ``SIGNED`` parameter the code generator checks its
top bit on that edge.

The same module infers each value's Python *type*: ``INT``, ``BOOL`` (a
comparison, a bool constant, ``&``/``|``/``^`` of two bools) or ``MIXED`` (a
block parameter that is a bool on one path and an int on another).  Values are
the same machine words either way; the type decides how a result is boxed
(``True``, not ``1``), and a ``MIXED`` result leaves to the original.
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


_WRAPPING = frozenset(op for op in Opcode if op.wraps)
_BITWISE_USES = frozenset({Opcode.XOR, Opcode.OR, Opcode.AND})


class PyType(enum.Enum):
    INT = "int"
    BOOL = "bool"
    MIXED = "int or bool"


def join_type(a: PyType | None, b: PyType | None) -> PyType | None:
    if a is None or a is b:
        return b
    if b is None:
        return a
    return PyType.MIXED


_KIND_ORDER = {Kind.SMALL: 0, Kind.UNSIGNED: 1, Kind.SIGNED: 2}


def join_kind(a: Kind | None, b: Kind) -> Kind:
    """The kind a merge of exact values needs: SMALL fits both; UNSIGNED and SIGNED meet in
    SIGNED (the unsigned side is checked on its edge)."""
    if a is None or a is b:
        return b
    return a if _KIND_ORDER[a] >= _KIND_ORDER[b] else b


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
    """The analysis result: a :class:`Kind` and a :class:`PyType` per value."""

    kinds: dict[Value, Kind] = field(default_factory=dict)
    types: dict[Value, PyType] = field(default_factory=dict)
    #: Values proven to lie in [0, 2**bits), by bits (see :func:`bit_bound`); a memo.
    bounds: dict[Value, int | None] = field(default_factory=dict)

    def kind(self, value: Value) -> Kind:
        if isinstance(value, Const):
            return const_kind(int(value.value))
        return self.kinds[value]

    def type_of(self, value: Value) -> PyType:
        if isinstance(value, Const):
            return PyType.BOOL if type(value.value) is bool else PyType.INT
        if isinstance(value, Param):
            return PyType.INT
        return self.types.get(value, PyType.INT)

    def describe(self, fn: ir.Function) -> dict[str, str]:
        """``{"%x": "modular", "%3": "unsigned", ...}`` for values not plain signed."""
        fn.renumber()
        out = {}
        read = [p for p in fn.params if fn.is_checked(p)]  # unread ones are never looked at
        values: list[Value] = [*read]
        for block in fn.blocks:
            values += block.params
            values += [i for i in block.body if not i.op.is_guard]
        for value in values:
            kind = self.kinds.get(value)
            if kind is not None and kind is not Kind.SIGNED:
                out[value.ref()] = kind.value
        return out


def _wrapping_use(instr: Instr, position: int) -> bool:
    """Whether this use of an operand needs only its low 64 bits when the result does."""
    return instr.op in _WRAPPING or (instr.op is Opcode.LSHIFT and position == 0 and _small_const_count(instr))


def table_kind(items: tuple[int, ...]) -> Kind:
    """The one representation every item of a constant table has (the frontend only accepts
    tables whose items share one)."""
    if all(0 <= v < (1 << 63) for v in items):
        return Kind.SMALL
    if all(ir.fits_int64(v) for v in items):
        return Kind.SIGNED
    return Kind.UNSIGNED


def needs_exact(fn: ir.Function) -> set[Value]:
    """The values whose exact value is needed (the rest need only their low 64 bits)."""
    full: set[Value] = set()
    work: list[Value] = []

    def mark(value: Value) -> None:
        if not isinstance(value, Const) and value not in full:
            full.add(value)
            work.append(value)

    for block in fn.blocks:
        for param in block.params:
            mark(param)
        for instr in block.body:
            if ir.may_fail_in_python(instr) and not instr.op.is_guard:
                mark(instr)
            if mask_of(instr) is not None:
                continue  # x & M needs only x's low bits, whatever the use of the result
            for position, arg in enumerate(instr.args):
                if not _wrapping_use(instr, position):
                    mark(arg)
        assert block.terminator is not None
        for value in block.terminator.uses():
            mark(value)
    while work:
        value = work.pop()
        if isinstance(value, Instr) and mask_of(value) is None:
            for arg in value.args:
                mark(arg)
    return full


def _small_const_count(instr: Instr) -> bool:
    count = instr.args[1]
    return isinstance(count, Const) and 0 <= count.value < 64


def _hash_like(fn: ir.Function) -> bool:
    if any(type(d) is int and d > ir.INT64_MAX for d in fn.defaults):
        return True   # a default such as seed=2**64 - 1 only fits unsigned, like such a constant
    for instr in fn.instructions():
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
    first_default = fn.argcount - len(fn.defaults)
    for param in fn.params:
        default = (fn.defaults[param.index - first_default]
                   if param.item is None and param.index >= first_default else None)
        if param not in full:
            rep.kinds[param] = Kind.MODULAR
        elif type(default) is int and ir.INT64_MAX < default <= ir.UINT64_MAX:
            # A default in [2**63, 2**64) only fits unsigned: calls using it stay native (a
            # negative argument then falls back instead).
            rep.kinds[param] = Kind.UNSIGNED
        elif hash_like and param in bitwise_only:
            rep.kinds[param] = Kind.UNSIGNED
        else:
            rep.kinds[param] = Kind.SIGNED
    _infer(fn, full, rep)
    return rep


def _infer(fn: ir.Function, full: set[Value], rep: Representation) -> None:
    """Kinds and types of block parameters and instructions, iterated to a fixpoint: a block
    parameter starts at the bottom (SMALL, no type) and rises with what its edges bring."""
    incoming = fn.incoming_edges()
    for block in fn.blocks:
        for param in block.params:
            rep.kinds[param] = Kind.SMALL
    changed = True
    while changed:
        changed = False
        for block in fn.blocks:
            for index, param in enumerate(block.params):
                kind: Kind | None = None
                typ: PyType | None = None
                for edge in incoming[block]:
                    arg = edge.args[index]
                    kind = join_kind(kind, rep.kind(arg) if (isinstance(arg, Const) or arg in rep.kinds)
                                     else Kind.SMALL)
                    typ = join_type(typ, rep.type_of(arg) if (isinstance(arg, (Const, Param))
                                                             or arg in rep.types) else None)
                kind = kind or Kind.SMALL
                if rep.kinds.get(param) is not kind:
                    rep.kinds[param] = kind
                    changed = True
                if typ is not None and rep.types.get(param) is not typ:
                    rep.types[param] = typ
                    changed = True
            for instr in block.body:
                if instr.op.is_guard:
                    continue
                kind = _kind_of(instr, instr in full, rep)
                typ = _type_of(instr, rep)
                if rep.kinds.get(instr) is not kind or rep.types.get(instr) is not typ:
                    rep.kinds[instr] = kind
                    rep.types[instr] = typ
                    changed = True


def _type_of(instr: Instr, rep: Representation) -> PyType:
    op = instr.op
    if op.is_compare:
        return PyType.BOOL
    if op.is_bitwise:
        types = [rep.type_of(a) for a in instr.args]
        if PyType.INT in types:
            return PyType.INT
        if PyType.MIXED in types:
            return PyType.MIXED
        return PyType.BOOL
    return PyType.INT


def _bitwise_only_params(fn: ir.Function, full: set[Value]) -> set[Param]:
    """Parameters whose every exact use is ``^ | &`` or the shifted operand of ``>>``
    (uses that only need the low 64 bits do not constrain the exact representation)."""
    ok = set(fn.params)
    for instr in fn.instructions():
        for position, arg in enumerate(instr.args):
            if not isinstance(arg, Param):
                continue
            if instr.op in _BITWISE_USES or (instr.op is Opcode.RSHIFT and position == 0):
                continue
            if instr not in full and _wrapping_use(instr, position):
                continue
            ok.discard(arg)
    return ok


def bit_bound(value: Value, rep: Representation, depth: int = 0) -> int | None:
    """``b`` when ``value`` is proven to lie in [0, 2**b) whatever the arguments: a
    non-negative constant, ``x & M``, a right shift of a bounded value or of an unsigned
    parameter, ``|``/``^`` of bounded values, a left shift of a bounded value by a constant, a
    comparison.  Structural only (no kind that the fixpoint may still raise), so memoized."""
    if isinstance(value, Const):
        return int(value.value).bit_length() if value.value >= 0 else None
    if not isinstance(value, Instr) or depth > 50:
        return None
    if value in rep.bounds:
        return rep.bounds[value]
    op, args = value.op, value.args
    count = args[1].value if len(args) == 2 and isinstance(args[1], Const) else None
    bound: int | None = None
    if op.is_compare:
        bound = 1
    elif op in (Opcode.BIT_LENGTH, Opcode.BIT_COUNT):
        bound = 7
    elif op is Opcode.AND:
        known = [b for b in (bit_bound(a, rep, depth + 1) for a in args) if b is not None]
        bound = min(known) if known else None
    elif op in (Opcode.OR, Opcode.XOR):
        both = [bit_bound(a, rep, depth + 1) for a in args]
        bound = None if None in both else max(both)  # type: ignore[type-var]
    elif op is Opcode.RSHIFT and count is not None and count >= 0:
        inner = bit_bound(args[0], rep, depth + 1)
        if inner is None and isinstance(args[0], Param) and rep.kinds.get(args[0]) in (Kind.UNSIGNED, Kind.SMALL):
            inner = 64   # a parameter's kind is fixed before the fixpoint (others may still rise)
        bound = None if inner is None else max(0, inner - count)
    elif op is Opcode.LSHIFT and count is not None and 0 <= count < 64:
        inner = bit_bound(args[0], rep, depth + 1)
        bound = None if inner is None else inner + count
    rep.bounds[value] = bound
    return bound


def _kind_of(instr: Instr, exact: bool, rep: Representation) -> Kind:
    op = instr.op
    mask = mask_of(instr)
    if mask is not None:
        return Kind.SMALL if mask < (1 << 63) else Kind.UNSIGNED
    if not exact and (op in _WRAPPING or (op is Opcode.LSHIFT and _small_const_count(instr))):
        return Kind.MODULAR
    if op.is_compare or op is Opcode.BIT_LENGTH or op is Opcode.BIT_COUNT:
        return Kind.SMALL
    if op is Opcode.POWMOD:   # in [0, m) for a positive m
        return Kind.UNSIGNED if rep.kind(instr.args[2]) is Kind.UNSIGNED else Kind.SMALL
    if op is Opcode.TABLE:
        return table_kind(instr.expected)  # type: ignore[arg-type]
    if op is Opcode.SEQ_LEN or (op is Opcode.SEQ_ITEM and type(instr.expected) is bytearray):
        return Kind.SMALL
    if op is Opcode.SEQ_ITEM:
        return Kind.SIGNED
    kinds = [rep.kind(a) if (isinstance(a, Const) or a in rep.kinds) else Kind.SMALL for a in instr.args]
    if op is Opcode.POS:
        return kinds[0]
    if op is Opcode.LSHIFT:
        # ``(x & 0xFFFFFFFF) << 32``: proven to fit unsigned, so no overflow check is needed.
        bound = bit_bound(instr, rep)
        if bound is not None and bound <= 64:
            return Kind.SMALL if bound <= 63 else Kind.UNSIGNED
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
