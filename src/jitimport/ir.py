"""The intermediate representation: SSA over Python ints and bools, in basic blocks.

A :class:`Function` is a control-flow graph of :class:`Block` s; ``blocks[0]`` is
the entry.  A block holds

* ``params``: :class:`BlockParam` values.  This IR uses *block parameters*
  instead of phi nodes: every edge into a block passes one argument per
  parameter (``jump b3(%5, %x)``), so a value merged at a join point is the
  parameter, and a block with one predecessor needs none;
* ``body``: :class:`Instr` s in evaluation order, each defining one value from
  values that dominate it (:class:`Param`, :class:`Const`, :class:`BlockParam`
  or another :class:`Instr`);
* one terminator: :class:`Jump`, :class:`Branch` (on a value's truth),
  :class:`Return`, or :class:`Exit`.

``Exit`` is the one way out for everything the machine code does not do
itself: a ``raise``, a construct the compiler does not translate, an unbound
local.  Eligible functions are pure, so leaving means calling the Python
original with the caller's arguments from the start; the outcome is then
CPython's.  Overflow and exceptions of operations exit the same way, but
implicitly (every operation that can leave 64 bits or raise carries its own
check); the IR states Python's semantics on unbounded ints.

Every opcode is declared once, in :class:`Opcode`: its symbol, arity, the
Python function that is its reference semantics, and flags (commutative,
compare, wraps modulo 2**64, can raise).  :func:`evaluate` and
:func:`interpret` are the reference the optimizer folds with and the tests
compare against.
"""
from __future__ import annotations

import enum
import operator
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


# Opcode flags.
COMMUTATIVE = 1
WRAPS = 2        # the result's low 64 bits depend only on the operands' low 64 bits
COMPARE = 4      # a comparison: the result is a bool
BITWISE = 8      # & | ^: bool op bool is a bool, anything else an int
MAY_RAISE = 16   # Python can raise on some operands (see may_fail_in_python)
GUARD = 32       # no value: checks an assumption at run time and exits when it does not hold
READS = 64       # reads the object in ``Instr.expected`` (a table): Python semantics f(obj, *args)


class Opcode(enum.Enum):
    """Every IR operation, declared once: (symbol, arity, flags, Python semantics)."""

    ADD = ("+", 2, COMMUTATIVE | WRAPS, operator.add)
    SUB = ("-", 2, WRAPS, operator.sub)
    MUL = ("*", 2, COMMUTATIVE | WRAPS, operator.mul)
    FLOORDIV = ("//", 2, MAY_RAISE, operator.floordiv)
    MOD = ("%", 2, MAY_RAISE, operator.mod)
    POW = ("**", 2, MAY_RAISE, operator.pow)          # exponent: a non-negative Const
    LSHIFT = ("<<", 2, MAY_RAISE, operator.lshift)    # wraps for a constant count in [0, 64)
    RSHIFT = (">>", 2, MAY_RAISE, operator.rshift)
    AND = ("&", 2, COMMUTATIVE | WRAPS | BITWISE, operator.and_)
    OR = ("|", 2, COMMUTATIVE | WRAPS | BITWISE, operator.or_)
    XOR = ("^", 2, COMMUTATIVE | WRAPS | BITWISE, operator.xor)
    NEG = ("-", 1, WRAPS, operator.neg)
    INVERT = ("~", 1, WRAPS, operator.invert)          # ~bool is deprecated: never folded
    POS = ("+", 1, 0, operator.pos)                    # +x: an int (+True == 1)
    BIT_LENGTH = (".bit_length()", 1, 0, int.bit_length)  # bits of |x|: an int in [0, 64]
    BIT_COUNT = (".bit_count()", 1, 0, int.bit_count)    # ones in |x|: an int in [0, 64]
    #: ``pow(b, e, m)`` with ``0 <= b < m``, ``e >= 0`` and ``m > 0`` (the frontend reduces
    #: the base and exits on the other cases first): 128-bit products, never overflows.
    POWMOD = ("pow", 3, 0, pow)
    #: ``expected[i]``: an item of a constant table of ints (``expected``, a tuple the code
    #: owns); the index is already known to be in range (the frontend checks it first).
    TABLE = ("table[]", 1, READS, operator.getitem)
    #: ``len(expected)`` of a module-level list or bytearray, read when it runs (it may change
    #: between calls).
    SEQ_LEN = ("len", 0, READS, len)
    #: ``expected[i]`` of such a list (exits unless the item is an exact int that fits) or
    #: bytearray, read when it runs; ``i`` is already known to be in range.
    SEQ_ITEM = ("sequence[]", 1, READS, operator.getitem)
    LT = ("<", 2, COMPARE, operator.lt)
    LE = ("<=", 2, COMPARE, operator.le)
    EQ = ("==", 2, COMPARE | COMMUTATIVE, operator.eq)
    NE = ("!=", 2, COMPARE | COMMUTATIVE, operator.ne)
    GT = (">", 2, COMPARE, operator.gt)
    GE = (">=", 2, COMPARE, operator.ge)
    #: ``attr`` names a builtin (``range``, ``min``...) the code assumes, ``expected`` is it: the
    #: module does not shadow the name and ``builtins`` still holds it.  Checked where Python
    #: would look the name up.
    GUARD_BUILTIN = ("guard", 0, GUARD, None)
    #: ``attr`` names a module global the code read as the constant ``expected``: the module's
    #: globals still bind the name to that very object.
    GUARD_GLOBAL = ("guard global", 0, GUARD, None)

    def __init__(self, symbol: str, arity: int, flags: int, python: Callable[..., int]) -> None:
        self.symbol = symbol
        self.arity = arity
        self.flags = flags
        self.python = python

    @property
    def commutative(self) -> bool:
        return bool(self.flags & COMMUTATIVE)

    @property
    def wraps(self) -> bool:
        return bool(self.flags & WRAPS)

    @property
    def is_compare(self) -> bool:
        return bool(self.flags & COMPARE)

    @property
    def is_bitwise(self) -> bool:
        return bool(self.flags & BITWISE)

    @property
    def is_guard(self) -> bool:
        return bool(self.flags & GUARD)

    @property
    def reads_object(self) -> bool:
        return bool(self.flags & READS)

    @property
    def mnemonic(self) -> str:
        return self.name.lower()


#: a < b  ==  b > a: the comparison with its operands swapped.
SWAPPED = {Opcode.LT: Opcode.GT, Opcode.LE: Opcode.GE, Opcode.GT: Opcode.LT, Opcode.GE: Opcode.LE,
           Opcode.EQ: Opcode.EQ, Opcode.NE: Opcode.NE}
#: not (a < b)  ==  a >= b on ints.
NEGATED = {Opcode.LT: Opcode.GE, Opcode.LE: Opcode.GT, Opcode.GT: Opcode.LE, Opcode.GE: Opcode.LT,
           Opcode.EQ: Opcode.NE, Opcode.NE: Opcode.EQ}

# Back-compatible table of symbols (printing, messages).
SYMBOLS = {op: op.symbol for op in Opcode}


class Value:
    """Something an instruction or a terminator can use.  Values are compared and
    hashed by identity, so per-value maps are keyed by the value objects."""

    __slots__ = ()

    def ref(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class Param(Value):
    """A parameter of the Python function, or (``item`` set) an item of a tuple parameter
    the body unpacks (``x, y = p``): the argument must then be a tuple of ``length`` ints."""

    index: int
    name: str
    item: int | None = None
    length: int = 0

    def ref(self) -> str:
        return f"%{self.name}" if self.item is None else f"%{self.name}[{self.item}]"


@dataclass(eq=False)
class Const(Value):
    """An int or bool constant (``True`` stays a bool: ``type(value)`` is the Python type)."""

    value: int

    def ref(self) -> str:
        return repr(self.value)

    @property
    def key(self) -> tuple[type, int]:
        """Equal only for the same type and value (``True == 1``, but they are different constants)."""
        return (type(self.value), self.value)


@dataclass(eq=False)
class Instr(Value):
    op: Opcode
    args: tuple[Value, ...]
    lineno: int | None = None
    number: int = -1          # assigned by Function.renumber(), for printing
    #: What a guard checks (the builtin's or the global's name); None for arithmetic.
    attr: str | None = None
    #: The object a global guard expects the name to be bound to.
    expected: object = None

    def ref(self) -> str:
        return f"%{self.number}"

    def __str__(self) -> str:
        if self.op is Opcode.GUARD_GLOBAL:
            shown = self.expected
            if isinstance(shown, (tuple, list, bytearray)):
                return f"guard global {self.attr} is <{type(shown).__name__} of {len(shown)} items>"
            return f"guard global {self.attr} is {shown!r}"
        if self.op.is_guard:
            return f"guard builtin {self.attr}"
        if self.op.reads_object:
            kind = "table" if self.op is Opcode.TABLE else type(self.expected).__name__
            if self.op is Opcode.SEQ_LEN:
                return f"{self.ref()} = len {kind} {self.attr}"
            return f"{self.ref()} = {kind} {self.attr}[{self.args[0].ref()}]"
        return f"{self.ref()} = {self.op.mnemonic} " + ", ".join(a.ref() for a in self.args)


@dataclass(eq=False)
class BlockParam(Value):
    """A value merged at the start of a block: each incoming edge passes one argument."""

    block: Block
    hint: str = ""            # the local variable or stack slot it stands for
    number: int = -1

    def ref(self) -> str:
        return f"%{self.block.name}.{self.hint or self.number}"


# -- terminators ----------------------------------------------------------------------------
@dataclass(eq=False)
class Edge:
    """A transfer of control to ``target``, binding its parameters to ``args``."""

    target: Block
    args: tuple[Value, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.target.name
        return f"{self.target.name}(" + ", ".join(a.ref() for a in self.args) + ")"


@dataclass(eq=False)
class Jump:
    edge: Edge
    lineno: int | None = None

    def uses(self) -> tuple[Value, ...]:
        return self.edge.args

    def edges(self) -> tuple[Edge, ...]:
        return (self.edge,)

    def __str__(self) -> str:
        return f"jump {self.edge}"


@dataclass(eq=False)
class Branch:
    """Go to ``if_true`` when ``cond`` is truthy (a nonzero int, or True), else ``if_false``."""

    cond: Value
    if_true: Edge
    if_false: Edge
    lineno: int | None = None

    def uses(self) -> tuple[Value, ...]:
        return (self.cond, *self.if_true.args, *self.if_false.args)

    def edges(self) -> tuple[Edge, ...]:
        return (self.if_true, self.if_false)

    def __str__(self) -> str:
        return f"branch {self.cond.ref()} ? {self.if_true} : {self.if_false}"


@dataclass(eq=False)
class Return:
    """Return the one value, or (``is_tuple``) a new tuple of the values (``return q, r``)."""

    values: tuple[Value, ...]
    lineno: int | None = None
    is_tuple: bool = False

    @property
    def value(self) -> Value:
        """The returned value of a one-value return."""
        assert not self.is_tuple and len(self.values) == 1
        return self.values[0]

    def uses(self) -> tuple[Value, ...]:
        return self.values

    def edges(self) -> tuple[Edge, ...]:
        return ()

    def __str__(self) -> str:
        if self.is_tuple:
            return "return (" + ", ".join(v.ref() for v in self.values) + ("," if len(self.values) == 1 else "") + ")"
        return f"return {self.values[0].ref()}"


@dataclass(eq=False)
class Exit:
    """Leave to the Python original (it re-runs from the start with the caller's arguments)."""

    reason: str
    lineno: int | None = None

    def uses(self) -> tuple[Value, ...]:
        return ()

    def edges(self) -> tuple[Edge, ...]:
        return ()

    def __str__(self) -> str:
        return f"exit  # {self.reason}"


Terminator = Jump | Branch | Return | Exit


@dataclass(eq=False)
class Block:
    name: str
    params: list[BlockParam] = field(default_factory=list)
    body: list[Instr] = field(default_factory=list)
    terminator: Terminator | None = None
    #: Bytecode offset the block starts at (None for blocks the frontend adds inside one).
    offset: int | None = None

    def add_param(self, hint: str = "") -> BlockParam:
        param = BlockParam(self, hint)
        self.params.append(param)
        return param

    def successors(self) -> list[Block]:
        assert self.terminator is not None, f"block {self.name} has no terminator"
        return [edge.target for edge in self.terminator.edges()]

    def __str__(self) -> str:
        head = self.name
        if self.params:
            head += "(" + ", ".join(p.ref() for p in self.params) + ")"
        lines = [f"  {head}:"]
        lines += [f"    {instr}" for instr in self.body]
        lines.append(f"    {self.terminator}")
        return "\n".join(lines)


@dataclass(eq=False)
class Function:
    """One compiled function: parameters, its blocks, and where it came from."""

    name: str
    params: list[Param]
    blocks: list[Block]
    filename: str | None = None
    firstlineno: int | None = None
    #: Indices of parameters the Python source reads: each is checked to be an exact
    #: int at entry even if the optimizer removes its last use.
    read_params: frozenset[int] = frozenset()
    #: Default values of the trailing parameters (``fn.__defaults__``).
    defaults: tuple[object, ...] = ()
    notes: list[str] = field(default_factory=list)
    #: Global names the source reads that were not bound when it was compiled (their reads
    #: exit to Python): compiling again once they exist may make more of it native.
    unbound_globals: frozenset[str] = frozenset()

    @property
    def entry(self) -> Block:
        return self.blocks[0]

    @property
    def argcount(self) -> int:
        """Positional parameters of the Python function (``params`` may add tuple items)."""
        return sum(1 for p in self.params if p.item is None)

    def is_checked(self, param: Param) -> bool:
        """Whether the entry checks this parameter: one the source reads, or a tuple item."""
        return param.item is not None or param.index in self.read_params

    def renumber(self) -> None:
        number = 0
        for block in self.blocks:
            for param in block.params:
                param.number = number
                number += 1
            for instr in block.body:
                instr.number = number
                number += 1

    def instructions(self) -> Iterator[Instr]:
        for block in self.blocks:
            yield from block.body

    def predecessors(self) -> dict[Block, list[Block]]:
        preds: dict[Block, list[Block]] = {block: [] for block in self.blocks}
        for block in self.blocks:
            for succ in block.successors():
                preds[succ].append(block)
        return preds

    def incoming_edges(self) -> dict[Block, list[Edge]]:
        """The edges into each block (the arguments its parameters receive)."""
        edges: dict[Block, list[Edge]] = {block: [] for block in self.blocks}
        for block in self.blocks:
            assert block.terminator is not None, f"block {block.name} has no terminator"
            for edge in block.terminator.edges():
                edges[edge.target].append(edge)
        return edges

    def reverse_postorder(self) -> list[Block]:
        """Blocks reachable from the entry, each after all its forward predecessors."""
        seen: set[Block] = set()
        order: list[Block] = []
        # Successors are visited last-first, so a block's first successor (a branch's
        # taken side: a loop body) is laid out right after it.
        stack: list[tuple[Block, Iterator[Block]]] = [(self.entry, reversed(self.entry.successors()))]
        seen.add(self.entry)
        while stack:
            block, successors = stack[-1]
            for succ in successors:
                if succ not in seen:
                    seen.add(succ)
                    stack.append((succ, reversed(succ.successors())))
                    break
            else:
                stack.pop()
                order.append(block)
        order.reverse()
        return order

    def has_loops(self) -> bool:
        """Whether some edge goes back to a block laid out no later than its source (a loop,
        in reverse postorder)."""
        order = {block: i for i, block in enumerate(self.blocks)}
        return any(order[succ] <= order[block] for block in self.blocks for succ in block.successors())

    def returns(self) -> list[Return]:
        return [b.terminator for b in self.blocks if isinstance(b.terminator, Return)]

    def __str__(self) -> str:
        self.renumber()
        head = ", ".join(p.ref() for p in self.params)
        lines = [f"def {self.name}({head}):"]
        lines += [str(block) for block in self.blocks]
        return "\n".join(lines)


def straight_line(name: str, params: list[Param], body: list[Instr], result: Value,
                  **kwargs: object) -> Function:
    """A one-block function (``return result`` after ``body``): for tests and tools."""
    block = Block("entry", body=list(body), terminator=Return((result,)))
    return Function(name, params, [block], **kwargs)  # type: ignore[arg-type]


def may_fail_in_python(instr: Instr) -> bool:
    """Whether Python itself could raise (or never finish) on this operation.

    Such an instruction is kept even when its value is unused, so the machine
    code still detects the case and exits to the original, which raises.
    Overflow does not count: Python computes a big int and carries on, and the
    machine code's exit reproduces that.
    """
    op, args = instr.op, instr.args
    if op.is_guard:
        return True           # never removed: it may exit
    if not op.flags & MAY_RAISE:
        return False
    if op in (Opcode.FLOORDIV, Opcode.MOD):
        divisor = args[1]
        return not (isinstance(divisor, Const) and divisor.value != 0)
    if op in (Opcode.LSHIFT, Opcode.RSHIFT):
        count = args[1]
        if not isinstance(count, Const):
            return True
        return count.value < 0 or (op is Opcode.LSHIFT and count.value > 64)
    if op is Opcode.POW:
        # the frontend builds POW with a constant exponent only (a Const: .value)
        return args[1].value > 64  # type: ignore[attr-defined, no-any-return]
    raise AssertionError(f"may_fail_in_python does not know {op}")


NO_FOLD_LIMIT = 64


def folding_is_safe(op: Opcode, values: Sequence[int]) -> bool:
    """Whether evaluating ``op`` on these constants at compile time is cheap and silent: a
    huge exponent or shift count could take unbounded time or memory, and ``~True`` warns."""
    if op is Opcode.POW:
        base, exp = values
        return exp <= NO_FOLD_LIMIT or base in (-1, 0, 1)
    if op is Opcode.LSHIFT:
        base, count = values
        return count <= NO_FOLD_LIMIT or base == 0
    if op is Opcode.INVERT:
        return type(values[0]) is not bool
    return True


def evaluate(op: Opcode, operands: Sequence[int]) -> int:
    """Python's result for ``op`` on ints and bools (may raise as Python does)."""
    return op.python(*operands)


class Builder:
    """Builds a function's blocks, in the spirit of llvmlite's IRBuilder: it is positioned at
    the end of one block, appends instructions there, and a terminator closes the block."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.block: Block | None = None
        self.lineno: int | None = None
        self._count = 0

    # -- blocks ---------------------------------------------------------------------
    def append_block(self, name: str = "", offset: int | None = None) -> Block:
        block = Block(name or f"b{self._count}", offset=offset)
        self._count += 1
        self.blocks.append(block)
        return block

    def position_at_end(self, block: Block) -> None:
        self.block = block

    @property
    def terminated(self) -> bool:
        return self.block is None or self.block.terminator is not None

    # -- instructions -------------------------------------------------------------------
    @property
    def body(self) -> list[Instr]:
        """The first block's instructions (straight-line code built without explicit blocks)."""
        return self.blocks[0].body if self.blocks else []

    def emit(self, op: Opcode, *args: Value) -> Instr:
        if len(args) != op.arity:
            raise ValueError(f"{op.mnemonic} takes {op.arity} operands")
        if self.block is None and not self.blocks:
            self.position_at_end(self.append_block("entry"))  # straight-line use
        assert self.block is not None and self.block.terminator is None, "no open block"
        instr = Instr(op, tuple(args), self.lineno)
        self.block.body.append(instr)
        return instr

    def binop(self, op: Opcode, a: Value, b: Value) -> Instr:
        return self.emit(op, a, b)

    def guard_builtin(self, name: str, expected: object) -> Instr:
        instr = self.emit(Opcode.GUARD_BUILTIN)
        instr.attr = name
        instr.expected = expected
        return instr

    def guard_global(self, name: str, expected: object) -> Instr:
        instr = self.emit(Opcode.GUARD_GLOBAL)
        instr.attr = name
        instr.expected = expected
        return instr

    def read(self, op: Opcode, name: str, obj: object, *args: Value) -> Instr:
        """An operation on the table ``obj`` (module global ``name``): TABLE, SEQ_LEN, SEQ_ITEM."""
        instr = self.emit(op, *args)
        instr.attr = name
        instr.expected = obj
        return instr

    def unop(self, op: Opcode, a: Value) -> Instr:
        return self.emit(op, a)

    # -- terminators ---------------------------------------------------------------------
    def _terminate(self, terminator: Terminator) -> None:
        assert self.block is not None and self.block.terminator is None, "no open block"
        self.block.terminator = terminator
        self.block = None

    def jump(self, target: Block, args: Sequence[Value] = ()) -> None:
        self._terminate(Jump(Edge(target, tuple(args)), self.lineno))

    def branch(self, cond: Value, if_true: Edge, if_false: Edge) -> None:
        self._terminate(Branch(cond, if_true, if_false, self.lineno))

    def ret(self, value: Value) -> None:
        self._terminate(Return((value,), self.lineno))

    def ret_tuple(self, values: Sequence[Value]) -> None:
        self._terminate(Return(tuple(values), self.lineno, is_tuple=True))

    def exit(self, reason: str, lineno: int | None = None) -> None:
        self._terminate(Exit(reason, lineno if lineno is not None else self.lineno))


class ExitReached(Exception):
    """:func:`interpret` reached an :class:`Exit` (the machine code would leave to Python)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def interpret(fn: Function, args: Sequence[int],
              step: Callable[[Opcode, Sequence[int]], int] = evaluate, max_steps: int = 10_000_000) -> int:
    """Run the IR with Python semantics (the reference for optimizer tests).

    ``step`` evaluates one instruction; a test can pass one that models the
    machine code (e.g. raising when a value leaves 64 bits).  An ``Exit``
    raises :class:`ExitReached`.
    """
    env: dict[Value, int] = {}

    def value_of(v: Value) -> int:
        if isinstance(v, Const):
            return v.value
        if isinstance(v, Param):
            return args[v.index] if v.item is None else args[v.index][v.item]  # type: ignore[index]
        return env[v]

    block = fn.entry
    steps = 0
    while True:
        for instr in block.body:
            if instr.op.reads_object:
                env[instr] = instr.op.python(instr.expected, *(value_of(a) for a in instr.args))
            elif not instr.op.is_guard:
                env[instr] = step(instr.op, [value_of(a) for a in instr.args])
        term = block.terminator
        steps += 1
        if steps > max_steps:
            raise RuntimeError("interpret: step limit reached")
        if isinstance(term, Return):
            if term.is_tuple:
                return tuple(value_of(v) for v in term.values)  # type: ignore[return-value]
            return value_of(term.value)
        if isinstance(term, Exit):
            raise ExitReached(term.reason)
        if isinstance(term, Jump):
            edge = term.edge
        else:
            assert isinstance(term, Branch)
            edge = term.if_true if value_of(term.cond) else term.if_false
        incoming = [value_of(a) for a in edge.args]
        for param, value in zip(edge.target.params, incoming):
            env[param] = value
        block = edge.target
