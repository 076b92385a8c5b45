"""Bytecode -> IR: symbolic execution of a branchless function's bytecode.

The frontend walks the instructions ``dis`` yields for the function, keeping
a stack and a map of local variables whose entries are IR values instead of
objects; each arithmetic instruction appends an :class:`~jitimport.ir.Instr`.
Reassigned locals need no phi nodes since there is no control flow.  Which
bytecode means what comes from the running version's
:class:`~jitimport.versions.VersionTable`; anything it does not know is
refused with the reason and the line, never guessed at.
"""
from __future__ import annotations

import dis
import inspect
import opcode as _opcode
import types
from typing import Callable, Iterator, NamedTuple

from . import ir
from .errors import NotCompilable
from .versions import (BINARY_OP_INPLACE, BINARY_OP_REJECTED, BINARY_OPS, VersionTable,
                       cache_entries, refusal)

_CO_VARARGS = inspect.CO_VARARGS
_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS
_CO_NOT_PLAIN = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE
                 | inspect.CO_ASYNC_GENERATOR)


class Op(NamedTuple):
    """One bytecode instruction: what the frontend needs of ``Op``, cheaper."""

    opname: str
    arg: int
    lineno: int | None
    offset: int


_CACHES = cache_entries()
_EXTENDED_ARG = _opcode.EXTENDED_ARG


def read_bytecode(code: types.CodeType) -> Iterator[Op]:
    """Decode ``co_code`` directly (``dis.get_instructions`` costs several times more),
    folding EXTENDED_ARG and skipping inline caches."""
    raw = code.co_code
    positions = list(code.co_positions())
    names = dis.opname
    extended = 0
    i = 0
    while i < len(raw):
        op = raw[i]
        arg = raw[i + 1] | extended
        if op == _EXTENDED_ARG:
            extended = arg << 8
            i += 2
            continue
        extended = 0
        yield Op(names[op], arg, positions[i // 2][0], i)
        i += 2 + 2 * _CACHES[op]


class _Tuple:
    """A tuple that only lives on the stack (``a, b = b, a``, ``x, y = 1, 2``)."""

    __slots__ = ("items",)

    def __init__(self, items: list[ir.Value]) -> None:
        self.items = items


StackItem = ir.Value | _Tuple


class Frontend:
    """Builds the IR of one function; create one per function."""

    def __init__(self, fn: types.FunctionType, table: VersionTable) -> None:
        self.fn = fn
        self.code = fn.__code__
        self.table = table
        self.builder = ir.Builder()
        self.stack: list[StackItem] = []
        self.locals: dict[str, ir.Value] = {}
        self.params: list[ir.Param] = []
        self.read_params: set[int] = set()
        self.result: ir.Value | None = None
        self.lineno: int | None = self.code.co_firstlineno

    # -- errors -------------------------------------------------------------
    def refuse(self, reason: str, lineno: int | None = None) -> NotCompilable:
        return NotCompilable(reason, self.code.co_filename, lineno if lineno is not None else self.lineno)

    # -- driver -------------------------------------------------------------
    def build(self) -> ir.Function:
        self._check_signature()
        for instr in read_bytecode(self.code):
            if instr.lineno is not None:
                self.lineno = instr.lineno
                self.builder.lineno = self.lineno
            if self.result is not None:
                break  # unreachable tail (CPython normally removes it)
            action = self.table.actions.get(instr.opname)
            if action is None:
                raise self.refuse(self._refusal(instr))
            handler: Callable[[Op], None] = getattr(self, "op_" + action)
            handler(instr)
        if self.result is None:
            raise self.refuse("the function never returns a value")
        return ir.Function(
            name=self.fn.__name__, params=self.params, body=self.builder.body, result=self.result,
            filename=self.code.co_filename, firstlineno=self.code.co_firstlineno,
            read_params=frozenset(self.read_params), defaults=tuple(self.fn.__defaults__ or ()),
        )

    def _check_signature(self) -> None:
        code = self.code
        first = code.co_firstlineno
        if code.co_flags & _CO_NOT_PLAIN:
            raise self.refuse("generators and coroutines are not supported", first)
        if code.co_flags & (_CO_VARARGS | _CO_VARKEYWORDS):
            raise self.refuse("*args and **kwargs are not supported", first)
        if code.co_kwonlyargcount:
            raise self.refuse("keyword-only parameters are not supported", first)
        if code.co_freevars:
            raise self.refuse(f"closure variable {code.co_freevars[0]!r} is not supported", first)
        if code.co_cellvars:
            raise self.refuse(f"variable {code.co_cellvars[0]!r} is captured by an inner function", first)
        for index, name in enumerate(code.co_varnames[:code.co_argcount]):
            param = ir.Param(index, name)
            self.params.append(param)
            self.locals[name] = param

    def _refusal(self, op: Op) -> str:
        # The error path can afford dis, which knows how each version encodes names.
        listing = list(dis.get_instructions(self.code))
        index = next((k for k, i in enumerate(listing) if i.offset == op.offset), None)
        if index is None:
            return refusal(op.opname)
        instr = listing[index]
        if instr.opname == "TO_BOOL" and index + 1 < len(listing):
            # 3.13: name what the truth test is for (if/while/and/or, or `not`).
            following = listing[index + 1].opname
            if "JUMP" in following or following == "UNARY_NOT":
                return refusal(following)
        if instr.opname == "LOAD_GLOBAL":
            name = instr.argval
            if instr.arg is not None and instr.arg & 1:  # 3.11+: a NULL is pushed for a call
                return f"call to {name}() is not supported"
            return f"global variable {name!r} is not supported"
        if instr.opname in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR"):
            return f"{refusal(instr.opname)} (.{instr.argval})"
        return refusal(instr.opname)

    # -- stack helpers -------------------------------------------------------
    def push(self, item: StackItem) -> None:
        self.stack.append(item)

    def pop(self) -> StackItem:
        if not self.stack:
            raise self.refuse("unexpected bytecode (stack underflow)")
        return self.stack.pop()

    def pop_int(self) -> ir.Value:
        item = self.pop()
        if isinstance(item, _Tuple):
            raise self.refuse("tuples are not supported")
        return item

    def constant(self, value: object) -> StackItem:
        if type(value) is int:
            if not ir.fits_register(value):
                raise self.refuse(f"constant {value} does not fit in 64 bits (-2**63 .. 2**64-1)")
            return ir.Const(value)
        if type(value) is tuple and all(type(v) is int for v in value):
            return _Tuple([self.constant(v) for v in value])  # type: ignore[misc]
        if value is None:
            raise self.refuse("the function returns None (the result must be an int)")
        if type(value) is bool:
            raise self.refuse(f"bool constant {value} is not supported (use 0 or 1)")
        if isinstance(value, types.CodeType):
            raise self.refuse(refusal("MAKE_FUNCTION"))  # the body of a lambda or nested def
        raise self.refuse(f"{type(value).__name__} constant {value!r} is not supported")

    def load(self, name: str) -> None:
        value = self.locals.get(name)
        if value is None:
            raise self.refuse(f"local variable {name!r} is used before it is assigned")
        if isinstance(value, ir.Param):
            self.read_params.add(value.index)
        self.push(value)

    def store(self, name: str) -> None:
        self.locals[name] = self.pop_int()

    # -- actions (named in the version tables) -------------------------------
    def op_nop(self, instr: Op) -> None:
        pass

    def varname(self, index: int) -> str:
        # Cell and free variables were refused up front, so fast locals are co_varnames.
        return self.code.co_varnames[index]

    def op_load_fast(self, instr: Op) -> None:
        self.load(self.varname(instr.arg))

    def op_load_fast_pair(self, instr: Op) -> None:
        self.load(self.varname(instr.arg >> 4))
        self.load(self.varname(instr.arg & 15))

    def op_store_fast(self, instr: Op) -> None:
        self.store(self.varname(instr.arg))

    def op_store_fast_pair(self, instr: Op) -> None:
        self.store(self.varname(instr.arg >> 4))
        self.store(self.varname(instr.arg & 15))

    def op_store_fast_load_fast(self, instr: Op) -> None:
        self.store(self.varname(instr.arg >> 4))
        self.load(self.varname(instr.arg & 15))

    def op_load_const(self, instr: Op) -> None:
        self.push(self.constant(self.code.co_consts[instr.arg]))

    def op_return_value(self, instr: Op) -> None:
        self.result = self.pop_int()

    def op_return_const(self, instr: Op) -> None:
        self.push(self.constant(self.code.co_consts[instr.arg]))
        self.result = self.pop_int()

    def op_binary_op(self, instr: Op) -> None:
        arg = instr.arg
        if arg >= BINARY_OP_INPLACE:
            arg -= BINARY_OP_INPLACE
        if arg in BINARY_OP_REJECTED:
            raise self.refuse(BINARY_OP_REJECTED[arg])
        op = BINARY_OPS.get(arg)
        if op is None:
            raise self.refuse(f"binary operator #{arg} is not supported")
        right = self.pop_int()
        left = self.pop_int()
        if op is ir.Opcode.POW and not (isinstance(right, ir.Const) and right.value >= 0):
            raise self.refuse("** needs a constant, non-negative exponent")
        self.push(self.builder.binop(op, left, right))

    def op_unary_negative(self, instr: Op) -> None:
        self.push(self.builder.unop(ir.Opcode.NEG, self.pop_int()))

    def op_unary_invert(self, instr: Op) -> None:
        self.push(self.builder.unop(ir.Opcode.INVERT, self.pop_int()))

    def op_unary_positive(self, instr: Op) -> None:
        self.push(self.pop_int())  # +x is x for an exact int

    def op_intrinsic_1(self, instr: Op) -> None:
        action = self.table.intrinsics.get(instr.arg)
        if action is None:
            raise self.refuse(f"intrinsic #{instr.arg} is not supported")
        getattr(self, "op_" + action)(instr)

    def op_copy(self, instr: Op) -> None:
        n = instr.arg or 0
        if not 1 <= n <= len(self.stack):
            raise self.refuse("unexpected bytecode (COPY)")
        self.push(self.stack[-n])

    def op_swap(self, instr: Op) -> None:
        n = instr.arg or 0
        if not 2 <= n <= len(self.stack):
            raise self.refuse("unexpected bytecode (SWAP)")
        self.stack[-1], self.stack[-n] = self.stack[-n], self.stack[-1]

    def op_pop_top(self, instr: Op) -> None:
        self.pop()

    def op_build_tuple(self, instr: Op) -> None:
        n = instr.arg or 0
        items = [self.pop_int() for _ in range(n)][::-1]
        self.push(_Tuple(items))

    def op_unpack_sequence(self, instr: Op) -> None:
        item = self.pop()
        if not isinstance(item, _Tuple) or len(item.items) != instr.arg:
            raise self.refuse("unpacking is only supported for tuples of the same length")
        for value in reversed(item.items):
            self.push(value)


def build_ir(fn: types.FunctionType, table: VersionTable) -> ir.Function:
    """The IR of ``fn`` (raises :class:`NotCompilable` with reason and line)."""
    return Frontend(fn, table).build()
