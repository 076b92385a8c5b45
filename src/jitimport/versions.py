"""Everything that differs between the CPython versions we support, one table each.

The frontend and the backend never test ``sys.version_info``; they read the
:class:`VersionTable` for the running interpreter.  A table says which
bytecode instruction maps to which frontend action, and how an ``int`` is laid
out in memory (the machine code unboxes ints by reading that layout).
"""
from __future__ import annotations

import opcode as _opcode
import sys
from types import MappingProxyType

#: Not ``typing.TYPE_CHECKING``: this module is loaded on the warm path of the import hook (a
#: module whose machine code comes from the cache), where ``typing`` and ``dataclasses`` would
#: cost more than everything else; hence plain classes and opcode *names* (the frontend maps
#: them to :class:`jitimport.ir.Opcode`).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Mapping


class LongLayout:
    """Where ``PyLongObject`` keeps its sign, digit count and digits (64-bit build).

    ``signed_size``: 3.11 stores ``ob_size`` = ±number of digits at ``size_offset``.
    ``tagged``: 3.12+ stores ``lv_tag`` = ndigits << 3 | sign (0 positive, 1 zero,
    2 negative) at ``size_offset``; a value with at most one digit is "compact".
    """

    __slots__ = ("kind", "size_offset", "digits_offset", "digit_bits")

    def __init__(self, kind: str, size_offset: int = 16, digits_offset: int = 24,
                 digit_bits: int = 30) -> None:
        self.kind = kind
        self.size_offset = size_offset
        self.digits_offset = digits_offset
        self.digit_bits = digit_bits

    def _key(self) -> tuple[str, int, int, int]:
        return (self.kind, self.size_offset, self.digits_offset, self.digit_bits)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LongLayout) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "LongLayout(kind={!r}, size_offset={}, digits_offset={}, digit_bits={})".format(*self._key())


#: BINARY_OP's argument (NB_* in CPython's opcode.h) -> the IR opcode's name; 13 and up are the
#: in-place forms.
BINARY_OPS: Mapping[int, str] = MappingProxyType({
    0: "ADD", 1: "AND", 2: "FLOORDIV", 3: "LSHIFT", 5: "MUL",
    6: "MOD", 7: "OR", 8: "POW", 9: "RSHIFT", 10: "SUB", 12: "XOR",
})
BINARY_OP_INPLACE = 13
BINARY_OP_REJECTED: Mapping[int, str] = MappingProxyType({
    4: "matrix multiplication (@) is not supported",
    11: "true division (/) returns a float; use // for integer division",
})

#: COMPARE_OP's comparison index (``dis.cmp_op`` order) -> IR opcode.
COMPARE_OPS: tuple[str, ...] = ("LT", "LE", "EQ", "NE", "GT", "GE")

# Bytecode shared by every supported version -> frontend action.
_COMMON_ACTIONS = {
    "RESUME": "nop", "NOP": "nop", "CACHE": "nop", "EXTENDED_ARG": "nop",
    "COMPARE_OP": "compare_op", "UNARY_NOT": "unary_not", "LOAD_GLOBAL": "load_global",
    "CALL": "call", "GET_ITER": "get_iter", "FOR_ITER": "for_iter", "PUSH_NULL": "push_null",
    "RAISE_VARARGS": "raise_varargs",
    "JUMP_FORWARD": "jump", "JUMP_BACKWARD": "jump", "JUMP_BACKWARD_NO_INTERRUPT": "jump",
    "LOAD_FAST": "load_fast", "STORE_FAST": "store_fast", "LOAD_CONST": "load_const",
    "RETURN_VALUE": "return_value", "BINARY_OP": "binary_op",
    "UNARY_NEGATIVE": "unary_negative", "UNARY_INVERT": "unary_invert",
    "COPY": "copy", "SWAP": "swap", "POP_TOP": "pop_top",
    "BUILD_TUPLE": "build_tuple", "UNPACK_SEQUENCE": "unpack_sequence",
    "BINARY_SUBSCR": "binary_subscr",
}

# Why a construct is not compiled, by bytecode; the frontend adds the line number.  Inside a
# function it ends the path it is on with an exit to the original; a function whose every path
# needs one is refused with the first such reason.
_REFUSED = {
    "IS_OP": "'is' comparison is not supported", "CONTAINS_OP": "'in' test is not supported",
    "LOAD_NAME": "name lookup is not supported", "STORE_NAME": "name binding is not supported",
    "STORE_GLOBAL": "global variable assignment is not supported",
    "LOAD_ATTR": "attribute access is not supported", "STORE_ATTR": "attribute assignment is not supported",
    "LOAD_METHOD": "method call is not supported", "LOAD_SUPER_ATTR": "super() is not supported",
    "BINARY_SUBSCR": "subscript is not supported", "STORE_SUBSCR": "subscript assignment is not supported",
    "BINARY_SLICE": "slicing is not supported", "DELETE_SUBSCR": "del of a subscript is not supported",
    "LOAD_DEREF": "closure variable is not supported", "STORE_DEREF": "closure variable is not supported",
    "LOAD_CLOSURE": "closure variable is not supported", "MAKE_CELL": "closure variable is not supported",
    "COPY_FREE_VARS": "closure variable is not supported",
    "LOAD_FROM_DICT_OR_DEREF": "closure variable is not supported",
    "MAKE_FUNCTION": "nested function or lambda is not supported",
    "DELETE_FAST": "del of a local variable is not supported",
    "RETURN_GENERATOR": "generators and coroutines are not supported",
    "YIELD_VALUE": "yield is not supported", "GET_AWAITABLE": "await is not supported",
    "IMPORT_NAME": "import is not supported",
    "BUILD_LIST": "lists are not supported", "BUILD_MAP": "dicts are not supported",
    "BUILD_SET": "sets are not supported", "BUILD_STRING": "strings are not supported",
    "FORMAT_VALUE": "f-strings are not supported", "FORMAT_SIMPLE": "f-strings are not supported",
    "PUSH_EXC_INFO": "try/except is not supported", "BEFORE_WITH": "with is not supported",
    "CALL_FUNCTION_EX": "call is not supported", "CALL_KW": "call is not supported",
    "KW_NAMES": "call with keyword arguments is not supported",
    "BINARY_OP_INPLACE_ADD_UNICODE": "strings are not supported",
    "ASSERT": "assert is not supported", "LOAD_ASSERTION_ERROR": "assert is not supported",
}


def refusal(opname: str) -> str:
    """Why a bytecode instruction without an action is not compiled."""
    if opname in _REFUSED:
        return _REFUSED[opname]
    return f"bytecode {opname} is not supported"


class VersionTable:
    """One interpreter version's facts.

    ``version``              (major, minor);
    ``actions``              bytecode name -> frontend action;
    ``long_layout``          how an int is laid out;
    ``intrinsics``           CALL_INTRINSIC_1 arguments the frontend understands (3.12+ moved
                             unary + there);
    ``compare_shift``        COMPARE_OP's argument >> compare_shift is the comparison index (3.12
                             keeps cache hints in the low 4 bits, 3.13 in the low 5, with bit 4
                             "convert to bool");
    ``for_iter_skip``        code units FOR_ITER skips past its target when the iterator is
                             exhausted (3.12 skips END_FOR, 3.13 END_FOR and POP_TOP);
    ``dict_version_offset``  where a dict keeps its version tag (changed by every mutation):
                             guards on module globals and builtins compare it (the field is
                             deprecated but present in 3.11-3.13).
    """

    __slots__ = ("version", "actions", "long_layout", "intrinsics", "compare_shift", "for_iter_skip",
                 "dict_version_offset")

    def __init__(self, version: tuple[int, int], actions: Mapping[str, str], long_layout: LongLayout,
                 intrinsics: Mapping[int, str] | None = None, compare_shift: int = 0,
                 for_iter_skip: int = 0, dict_version_offset: int = 24) -> None:
        self.version = version
        self.actions = actions
        self.long_layout = long_layout
        self.intrinsics: Mapping[int, str] = intrinsics if intrinsics is not None else {}
        self.compare_shift = compare_shift
        self.for_iter_skip = for_iter_skip
        self.dict_version_offset = dict_version_offset

    def __repr__(self) -> str:
        return f"VersionTable(version={self.version!r})"


PY311 = VersionTable(
    version=(3, 11),
    actions=MappingProxyType({
        **_COMMON_ACTIONS, "UNARY_POSITIVE": "unary_positive", "PRECALL": "nop",
        "POP_JUMP_FORWARD_IF_FALSE": "pop_jump_if_false", "POP_JUMP_BACKWARD_IF_FALSE": "pop_jump_if_false",
        "POP_JUMP_FORWARD_IF_TRUE": "pop_jump_if_true", "POP_JUMP_BACKWARD_IF_TRUE": "pop_jump_if_true",
        "POP_JUMP_FORWARD_IF_NONE": "pop_jump_if_none", "POP_JUMP_BACKWARD_IF_NONE": "pop_jump_if_none",
        "POP_JUMP_FORWARD_IF_NOT_NONE": "pop_jump_if_not_none",
        "POP_JUMP_BACKWARD_IF_NOT_NONE": "pop_jump_if_not_none",
        "JUMP_IF_FALSE_OR_POP": "jump_if_false_or_pop", "JUMP_IF_TRUE_OR_POP": "jump_if_true_or_pop",
        "LOAD_METHOD": "load_method",
    }),
    long_layout=LongLayout("signed_size"),
)

# 3.12 and 3.13 jump only forward conditionally; both name the jumps alike.
_JUMPS_312 = {
    "POP_JUMP_IF_FALSE": "pop_jump_if_false", "POP_JUMP_IF_TRUE": "pop_jump_if_true",
    "POP_JUMP_IF_NONE": "pop_jump_if_none", "POP_JUMP_IF_NOT_NONE": "pop_jump_if_not_none",
    "END_FOR": "end_for", "LOAD_ATTR": "load_attr",
}

PY312 = VersionTable(
    version=(3, 12),
    actions=MappingProxyType({
        **_COMMON_ACTIONS, **_JUMPS_312, "UNARY_POSITIVE": "unary_positive", "RETURN_CONST": "return_const",
        "LOAD_FAST_CHECK": "load_fast", "CALL_INTRINSIC_1": "intrinsic_1",
    }),
    long_layout=LongLayout("tagged"),
    intrinsics=MappingProxyType({5: "unary_positive"}),
    compare_shift=4,
    for_iter_skip=1,
)

PY313 = VersionTable(
    version=(3, 13),
    actions=MappingProxyType({
        **_COMMON_ACTIONS, **_JUMPS_312, "RETURN_CONST": "return_const", "LOAD_FAST_CHECK": "load_fast",
        "CALL_INTRINSIC_1": "intrinsic_1", "LOAD_FAST_LOAD_FAST": "load_fast_pair",
        "STORE_FAST_STORE_FAST": "store_fast_pair", "STORE_FAST_LOAD_FAST": "store_fast_load_fast",
        "TO_BOOL": "to_bool",
    }),
    long_layout=LongLayout("tagged"),
    intrinsics=MappingProxyType({5: "unary_positive"}),
    compare_shift=5,
    for_iter_skip=2,
)

TABLES: Mapping[tuple[int, int], VersionTable] = MappingProxyType(
    {t.version: t for t in (PY311, PY312, PY313)})


def cache_entries() -> tuple[int, ...]:
    """Inline cache code units after each opcode of *this* interpreter, indexed by opcode.

    CPython exposes this as a list by opcode (3.11, 3.12) or a dict by name (3.13).
    """
    raw = getattr(_opcode, "_inline_cache_entries", None)
    counts = [0] * 256
    if isinstance(raw, dict):
        for name, n in raw.items():
            if name in _opcode.opmap:
                counts[_opcode.opmap[name]] = n
    elif raw is not None:
        for op, n in enumerate(raw):
            counts[op] = n
    return tuple(counts)


def current() -> VersionTable | None:
    """The table for this interpreter, or None when the version is not supported."""
    return TABLES.get(sys.version_info[:2])
