"""Instruction selection and the calling protocol: IR + allocation -> machine code.

The generated function is a CPython *vectorcall* entry point::

    PyObject *entry(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)

1. Entry checks: no keyword arguments, an accepted argument count; otherwise
   tail-call ``PyObject_Vectorcall(original, args, nargsf, kwnames)``.
2. Unboxing: each parameter the source reads must be an exact ``int`` (type
   pointer compare, so ``bool`` and subclasses fall back); its digits are
   decoded inline, per the version's layout, into the representation the
   analysis chose (:mod:`jitimport.analysis`): signed or unsigned 64-bit
   (falling back when the value does not fit), or just its low 64 bits.
3. The blocks, in the optimizer's layout order, with an overflow/exception
   check after every exact operation that can leave 64 bits or raise, and
   wrapping arithmetic for values only needed modulo 2**64.  A comparison
   that feeds the branch right after it becomes ``cmp`` + ``jcc``; edges
   move their arguments into the target's parameters (a parallel move).
4. Each ``return`` boxes its value by tail-calling ``PyLong_FromLong``,
   ``PyLong_FromUnsignedLongLong`` or, for a bool, ``PyBool_FromLong``.

Every check that fails, and every ``Exit`` of the IR, jumps to one *exit*
block that restores the stack and tail-calls the original with the caller's
own arguments, so the outcome (value, exception, message) is CPython's.
Nothing before it has side effects: no allocation, no reference counts
touched.

Loops: every back edge decrements a counter (R11); every ``POLL_INTERVAL``
iterations the code calls the shared poll stub, which calls
``PyErr_CheckSignals`` (a pending Ctrl-C raises ``KeyboardInterrupt`` out of
the call, as Python would; other handlers run) and releases and re-takes the
GIL, so other threads get their turn as with the interpreter's switch
interval.  No machine code calls another native function, so the C stack
never grows with the input.

Guards (``guard builtin range``, ``guard global MASK is ...``) check that the
module's globals and the builtins still have the version tags they had when
the name was last found to mean what the code assumed; when either changed,
the shared guard stub looks the name up again (``PyDict_GetItem``) and records
the new tags, or the code exits.  Each guard has a record (tags, dicts, name,
expected object, mode) in a writable buffer the code keeps alive.

Relocations: every process-specific address the code embeds (a C-API
function, ``int``/``tuple``, a shared stub, the original and its defaults
tuple, the globals and builtins dicts, a guard record, a call counter, a
constant table's words, a module list) is loaded by
:meth:`CodeGen.address`, a fixed 10-byte ``movabs`` whose immediate is listed
in ``MachineCode.relocations`` with a symbol naming what it holds (see
:data:`RELOCATION_SYMBOLS`).  The machine-code cache
(``jitimport.hook.codecache``) stores the code with that list and patches each
immediate with the loading process's address; nothing else in the code
depends on the process.  A new runtime address is one more ``Runtime`` field,
loaded with ``self.address(reg, ("runtime", "field_name"))``.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

from .. import ir
from ..analysis import Kind, PyType, Representation, analyze
from ..ir import Const, Opcode
from ..versions import LongLayout
from .divconst import signed_magic
from .encoder import Assembler, Cond, Label, Mem, Reg
from .regalloc import POLL_COUNTER, Allocation, StackSlot, allocate
from .stubs import (GUARD_BUILTINS_TAG, GUARD_GLOBALS_TAG, GUARD_MODE_BUILTIN, GUARD_MODE_GLOBAL,
                    GUARD_RECORD_SIZE)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any, TypeGuard

RAX, RCX, RDX, RSI, RDI, RSP = Reg.RAX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.RSP

# Frame layout (offsets from RSP after the prologue).
SLOT_ARGS = 0
SLOT_NARGSF = 8
SLOT_NARGS2 = 16
SLOT_SCRATCH = 24
FRAME_FIXED = 32

#: Object layouts the code reads, the same on 3.11-3.13 (tests/core check them with ctypes):
#: ``ob_size`` of a variable-size object, a function's ``func_defaults``, a tuple's inline items, a list's item array, and a
#: bytearray's ``ob_start``.
VAR_SIZE = 16
FUNC_DEFAULTS = 56
TUPLE_ITEMS = 24
LIST_ITEMS = 24
BYTEARRAY_START = 40

#: The call statistics each native keeps, in its counters' order (exits of the IR follow).
COUNTERS = {
    "calls": "calls",
    "call": "keyword arguments or an argument count the code does not take",
    "type": "an argument that is not an exact int (or tuple of them)",
    "range": "an argument that does not fit in 64 bits",
    "default": "a default argument the code cannot use (or __defaults__ reassigned)",
    "guard": "a name rebound since compiling (a builtin, constant, table or callee)",
    "operation": "an overflow past 64 bits, or an operation Python raises on",
}

#: Back edges taken between two polls for signals and the GIL.
POLL_INTERVAL = 1 << 16

Operand = Reg | Mem | int

_SIMPLE_ALU = {
    Opcode.ADD: "add", Opcode.SUB: "sub", Opcode.MUL: "imul",
    Opcode.AND: "and_", Opcode.OR: "or_", Opcode.XOR: "xor",
}
_OVERFLOWING = (Opcode.ADD, Opcode.SUB, Opcode.MUL)
_SIGNED_CC = {Opcode.LT: Cond.L, Opcode.LE: Cond.LE, Opcode.EQ: Cond.E, Opcode.NE: Cond.NE,
              Opcode.GT: Cond.G, Opcode.GE: Cond.GE}
_UNSIGNED_CC = {Opcode.LT: Cond.B, Opcode.LE: Cond.BE, Opcode.EQ: Cond.E, Opcode.NE: Cond.NE,
                Opcode.GT: Cond.A, Opcode.GE: Cond.AE}
_NEGATE_CC = {Cond.L: Cond.GE, Cond.GE: Cond.L, Cond.LE: Cond.G, Cond.G: Cond.LE, Cond.E: Cond.NE,
              Cond.NE: Cond.E, Cond.B: Cond.AE, Cond.AE: Cond.B, Cond.BE: Cond.A, Cond.A: Cond.BE}


def _simm32(value: int) -> bool:
    return -(1 << 31) <= value < (1 << 31)


def is_imm(operand: object) -> TypeGuard[int]:
    """Immediates are plain ints; ``Reg`` is an IntEnum, so isinstance(..., int) would lie."""
    return type(operand) is int


def same(a: object, b: object) -> bool:
    """Operand identity that never confuses ``Reg.RAX`` with the immediate 0."""
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Runtime:
    """Addresses the code calls or compares against."""

    long_type: int
    vectorcall: int
    long_from_long: int
    long_from_unsigned: int
    #: Entry points of the shared int decoders, by mode ("signed", "unsigned", "low64").
    decoders: dict[str, int]
    bool_from_long: int = 0
    check_signals: int = 0
    save_thread: int = 0
    restore_thread: int = 0
    dict_getitem: int = 0
    #: Shared stubs (``backend.stubs``): the back-edge poll and a guard's slow path.
    poll_stub: int = 0
    guard_stub: int = 0
    tuple_new: int = 0
    decref: int = 0
    tuple_type: int = 0


@dataclass(frozen=True)
class GuardTarget:
    """The dicts a guard watches: the function's globals and builtins."""

    globals_dict: dict[str, Any]
    builtins_dict: dict[str, Any]
    #: Where a dict keeps its version tag (``VersionTable.dict_version_offset``).
    version_offset: int = 24


#: Relocation symbols, the first element of each: ``("runtime", field)`` a ``Runtime`` field
#: (not ``decoders``), ``("decoder", mode)`` a shared int decoder, ``("original",)`` the Python
#: function, ``("globals",)`` / ``("builtins",)`` the dicts a guard watches, ``("guard_record", k)``
#: the k-th guard record (``MachineCode.guards[k]`` says which), ``("table", k)`` the words of
#: the k-th constant table (``MachineCode.tables[k]``), ``("global", name)`` the object the
#: module's globals bind to ``name`` (a list or bytearray read at run time, under a guard),
#: ``("defaults",)`` the original's ``__defaults__`` tuple (the code compares it with the
#: function's current one), ``("counters", slot)`` the call counter ``slot`` (``COUNTERS``, then
#: the IR's exits: ``MachineCode.causes``) in the code's counters buffer.
RELOCATION_SYMBOLS = ("runtime", "decoder", "original", "globals", "builtins", "guard_record", "table",
                      "global", "defaults", "counters")

if TYPE_CHECKING:  # pragma: no cover
    Symbol = tuple[Any, ...]
else:
    Symbol = tuple  # ("runtime", "long_from_long"), ("guard_record", 0), ...


@dataclass
class MachineCode:
    code: bytes
    assembler: Assembler
    allocation: Allocation
    representation: Representation
    #: Objects the code reads through raw addresses: kept alive as long as the code.
    keep: tuple[object, ...] = ()
    #: The writable memory the code embeds (call counters: calls, then exits by cause).
    buffers: CodeBuffers | None = None
    #: The text of each counter's cause.
    causes: list[str] = field(default_factory=list)
    #: (offset of an 8-byte immediate in ``code``, symbol): every process-specific address.
    relocations: tuple[tuple[int, Symbol], ...] = ()
    #: (mode, name) of each guard record, in record order (``stubs.GUARD_MODE_*``).
    guards: tuple[tuple[int, str], ...] = ()
    #: The 64-bit words of each constant table, in ``("table", k)`` order.
    tables: tuple[tuple[int, ...], ...] = ()

    def listing(self) -> list[tuple[int, bytes, str]]:
        """(offset, bytes, text) per instruction; text is rendered now, not at compile time."""
        return self.assembler.listing()


class _GuardCells:
    """The guard records of one function, in one writable buffer (allocated up front, large
    enough for every guard the IR holds: the code embeds its address)."""

    def __init__(self, count: int, buffer: ctypes.Array[ctypes.c_uint64] | None = None) -> None:
        self.keys: list[tuple[int, str, int]] = []
        self.names: list[str] = []
        self.objects: list[object] = []
        self.words: list[int] = []
        self.buffer = buffer if buffer is not None else (
            ctypes.c_uint64 * max(1, count * GUARD_RECORD_SIZE // 8))()
        self.base = ctypes.addressof(self.buffer)

    def fill(self) -> None:
        for index, word in enumerate(self.words):
            self.buffer[index] = word


@dataclass
class CodeBuffers:
    """The writable memory a function's code embeds the address of: its call counters, its
    guard records, its tables.  Generating the code again with the same buffers (to show its
    listing) gives the same bytes."""

    counters: ctypes.Array[ctypes.c_uint64]
    guards: ctypes.Array[ctypes.c_uint64]
    tables: dict[int, ctypes.Array[ctypes.c_uint64]]


class CodeGen:
    """Generates the vectorcall entry point for one optimized IR function.

    State:

    ``alloc``      register allocation (value -> register or stack slot);
    ``rep``        the representation and type of every value;
    ``asm``        the assembler the code is written to;
    ``labels``     block -> its label;
    ``fallback``   the exit block (restores the frame, calls the original);
    ``cold``       out-of-line code emitted after everything else (callables);
    ``fused``      comparisons emitted as ``cmp`` + ``jcc`` by their block's branch;
    ``guards``     the writable version-tag cells of the builtin guards;
    ``tables``     the words of the constant tables (``T[i]``) the code reads.
    """

    def __init__(self, fn: ir.Function, layout: LongLayout, runtime: Runtime, original_address: int,
                 guard_target: GuardTarget | None = None, rep: Representation | None = None,
                 alloc: Allocation | None = None, reuse: CodeBuffers | None = None) -> None:
        self.fn = fn
        self.layout = layout
        self.runtime = runtime
        self.original = original_address
        self.guard_target = guard_target
        self.order = {block: i for i, block in enumerate(fn.blocks)}
        self.has_loops = fn.has_loops()
        self.alloc = alloc if alloc is not None else allocate(fn, reserve_poll_counter=self.has_loops)
        self.rep = rep if rep is not None else analyze(fn)
        self.asm = Assembler()
        self.labels = {block: self.asm.label() for block in fn.blocks}
        self.cold: list[Callable[[], None]] = []  # deferred out-of-line code: callables emitting it
        #: The exits themselves: from the body (frame restored first), and from the entry.
        self.leave = self.asm.label()
        self.leave_at_entry = self.asm.label()
        #: Call statistics: one counter per cause (``COUNTERS``), then one per IR exit.
        self.exits = [b.terminator for b in fn.blocks if isinstance(b.terminator, ir.Exit)]
        self.counters = reuse.counters if reuse is not None else (
            ctypes.c_uint64 * (len(COUNTERS) + len(self.exits)))()
        self.cause_labels: dict[int, Label] = {}
        self.fallback = self.cause("operation")
        self.fallback_at_entry = self.cause("call")
        self.raise_exit = self.asm.label()
        self.fused: set[ir.Instr] = self._fusable()
        self.guards = _GuardCells(sum(1 for i in fn.instructions() if i.op.is_guard),
                                  reuse.guards if reuse is not None else None)
        #: The words of each constant table the code reads, by id of its tuple.
        self.tables: dict[int, ctypes.Array[ctypes.c_uint64]] = dict(reuse.tables) if reuse is not None else {}
        self.relocations: list[tuple[Label, Symbol]] = []
        pushes = len(self.alloc.callee_saved)
        frame = FRAME_FIXED + 8 * self.alloc.spill_slots
        #: Where a tuple return keeps its items while it boxes them (calls clobber registers).
        self.tuple_slots = frame
        frame += 8 * max((len(r.values) for r in fn.returns() if r.is_tuple), default=0)
        if (8 + 8 * pushes + frame) % 16:   # keep RSP 16-byte aligned inside the body
            frame += 8
        self.frame_size = frame

    def is_back_edge(self, source: ir.Block, target: ir.Block) -> bool:
        return self.order[target] <= self.order[source]

    def _fusable(self) -> set[ir.Instr]:
        """Comparisons used only by the branch that ends their block, right before it."""
        uses: dict[ir.Value, int] = {}
        for block in self.fn.blocks:
            for instr in block.body:
                for arg in instr.args:
                    uses[arg] = uses.get(arg, 0) + 1
            assert block.terminator is not None
            for arg in block.terminator.uses():
                uses[arg] = uses.get(arg, 0) + 1
        fused = set()
        for block in self.fn.blocks:
            term = block.terminator
            if isinstance(term, ir.Branch) and block.body and block.body[-1] is term.cond \
                    and term.cond.op.is_compare and uses.get(term.cond) == 1:
                fused.add(term.cond)
        return fused

    # -- locations ---------------------------------------------------------------
    def loc(self, value: ir.Value) -> Reg | Mem | None:
        where = self.alloc.of(value)
        if isinstance(where, StackSlot):
            return Mem(RSP, FRAME_FIXED + 8 * where.index)
        return where

    def operand(self, value: ir.Value) -> Operand:
        if isinstance(value, Const):
            return int(value.value)
        where = self.loc(value)
        assert where is not None, f"value {value.ref()} has no location"
        return where

    def load(self, reg: Reg, src: Operand) -> None:
        if not same(src, reg):
            self.asm.mov(reg, src)

    def store(self, dst: Reg | Mem | None, reg: Reg) -> None:
        if dst is not None and not same(dst, reg):
            self.asm.mov(dst, reg)

    def small(self, src: Operand, scratch: Reg) -> Reg | Mem | int:
        """``src`` as an instruction operand: immediates beyond simm32 go through ``scratch``."""
        if is_imm(src) and not _simm32(src):
            self.asm.mov(scratch, src)
            return scratch
        return src

    # -- relocations -----------------------------------------------------------------
    def address(self, reg: Reg, symbol: Symbol, value: int | None = None) -> None:
        """``reg`` = this process's address of ``symbol``, as a relocation (see the module
        docstring): the only way generated code may embed an address.  ``value`` is given
        for a ``("global", name)`` symbol (the object the code was compiled against)."""
        at = self.asm.label()
        self.asm.bind(at)
        self.asm.movabs(reg, self.resolve(symbol) if value is None else value)
        self.relocations.append((at, symbol))

    def resolve(self, symbol: Symbol) -> int:
        kind = symbol[0]
        if kind == "runtime":
            return getattr(self.runtime, symbol[1])  # type: ignore[no-any-return]  # a runtime field (Any)
        if kind == "decoder":
            return self.runtime.decoders[symbol[1]]
        if kind == "original":
            return self.original
        if kind == "defaults":
            return id(self.fn.defaults)
        if kind == "counters":
            return ctypes.addressof(self.counters) + 8 * symbol[1]  # type: ignore[no-any-return]  # symbol[1]: Any
        if kind == "guard_record":
            return self.guards.base + GUARD_RECORD_SIZE * symbol[1]  # type: ignore[no-any-return]  # symbol[1]: Any
        if kind == "table":
            return ctypes.addressof(list(self.tables.values())[symbol[1]])
        assert self.guard_target is not None
        if kind == "globals":
            return id(self.guard_target.globals_dict)
        if kind == "builtins":
            return id(self.guard_target.builtins_dict)
        raise ValueError(f"unknown relocation symbol {symbol!r}")

    # -- driver --------------------------------------------------------------------
    def generate(self) -> MachineCode:
        a = self.asm
        self.address(RAX, ("counters", 0))
        a.add(Mem(RAX, 0), 1)                   # one more call (the native ones: minus the exits)
        self.entry_checks()
        for reg in self.alloc.callee_saved:
            a.push(reg)
        a.sub(RSP, self.frame_size)
        a.mov(Mem(RSP, SLOT_ARGS), RSI)
        a.mov(Mem(RSP, SLOT_NARGSF), RDX)
        if self.fn.defaults:
            a.mov(Mem(RSP, SLOT_NARGS2), RAX)  # which defaults apply is decided per parameter
        self.unbox_params()
        if self.has_loops:
            a.mov(POLL_COUNTER, POLL_INTERVAL)
        for index, block in enumerate(self.fn.blocks):
            a.bind(self.labels[block])
            guards = [instr for instr in block.body if instr.op.is_guard]
            if guards:
                self.guard_group(guards)
            for instr in block.body:
                if not instr.op.is_guard and instr not in self.fused:
                    self.select(instr)
            following = self.fn.blocks[index + 1] if index + 1 < len(self.fn.blocks) else None
            self.terminator(block, following)
        # Exit from the body: the caller's arguments, unchanged, to the original.  Placed
        # right after the body (before the cold paths) so more of its jumps get the short form.
        a.bind(self.leave)
        a.mov(RSI, Mem(RSP, SLOT_ARGS))
        a.mov(RDX, Mem(RSP, SLOT_NARGSF))
        self.epilogue()
        a.mov(RCX, 0)  # kwnames was NULL, or the entry check would have left already
        a.bind(self.leave_at_entry)
        self.address(RDI, ("original",))
        self.address(RAX, ("runtime", "vectorcall"))
        a.jmp(RAX)
        if self.has_loops:
            a.bind(self.raise_exit)   # an exception is set (KeyboardInterrupt): return NULL
            self.epilogue()
            a.xor(RAX, RAX)
            a.ret()
        index = 0
        while index < len(self.cold):   # cold paths may add more cold paths
            self.cold[index]()
            index += 1
        code = a.finish()
        keep: tuple[object, ...] = (*self.tables.values(), self.fn.defaults, self.counters)
        if self.guards.keys:
            assert self.guard_target is not None
            self.guards.fill()
            # Not the globals or builtins dicts: the original function (which the native holds)
            # keeps those alive, and a module's globals refer back to the native: keeping them
            # here would make a cycle through the code's untracked owner that is never freed.
            keep += (self.guards.buffer, *self.guards.names, *self.guards.objects)
        causes = [*COUNTERS.values()] + [
            (f"line {e.lineno}: " if e.lineno is not None else "") + e.reason for e in self.exits]
        buffers = CodeBuffers(self.counters, self.guards.buffer, self.tables)
        relocations = tuple((at.offset + 2, symbol) for at, symbol in self.relocations)
        guard_keys = tuple((mode, name) for mode, name, _ in self.guards.keys)
        tables = tuple(tuple(words) for words in self.tables.values())
        return MachineCode(code, a, self.alloc, self.rep, keep, buffers, causes, relocations, guard_keys, tables)

    def cause(self, what: str | ir.Exit) -> Label:
        """The label an exit for this cause jumps to: it counts the exit, then leaves (from the
        entry for ``"call"``, whose registers still hold the caller's arguments: only RAX is
        touched)."""
        slot = (len(COUNTERS) + self.exits.index(what) if isinstance(what, ir.Exit)
                else list(COUNTERS).index(what))
        label = self.cause_labels.get(slot)
        if label is None:
            label = self.cause_labels[slot] = self.asm.label()

            def emit() -> None:
                a = self.asm
                a.bind(label)
                self.address(RAX, ("counters", slot))
                a.add(Mem(RAX, 0), 1)
                a.jmp(self.leave_at_entry if what == "call" else self.leave)
            self.cold.append(emit)
        return label

    def epilogue(self) -> None:
        self.asm.add(RSP, self.frame_size)
        for reg in reversed(self.alloc.callee_saved):
            self.asm.pop(reg)

    # -- terminators -----------------------------------------------------------------
    def terminator(self, block: ir.Block, following: ir.Block | None) -> None:
        a = self.asm
        term = block.terminator
        if isinstance(term, ir.Return):
            self.ret(term)
        elif isinstance(term, ir.Exit):
            a.jmp(self.cause(term))
        elif isinstance(term, ir.Jump):
            self.take_edge(block, term.edge, following)
        else:
            assert isinstance(term, ir.Branch)
            cond = self.condition(term.cond)
            true_edge, false_edge = term.if_true, term.if_false
            if self.edge_is_plain(block, true_edge):
                if true_edge.target is following and self.edge_is_plain(block, false_edge):
                    a.jcc(_NEGATE_CC[cond], self.labels[false_edge.target])
                    return
                a.jcc(cond, self.labels[true_edge.target])
                self.take_edge(block, false_edge, following)
                return
            if self.edge_is_plain(block, false_edge):
                a.jcc(_NEGATE_CC[cond], self.labels[false_edge.target])
                self.take_edge(block, true_edge, following)
                return
            taken = a.label()
            a.jcc(cond, taken)
            self.take_edge(block, false_edge, None)   # the taken side's code comes next
            a.bind(taken)
            self.take_edge(block, true_edge, following)

    def box_function(self, value: ir.Value) -> str | None:
        """The ``Runtime`` field of the C function that boxes ``value`` (None: its type differs
        between paths)."""
        typ = self.rep.type_of(value)
        if typ is PyType.MIXED:
            return None
        if isinstance(value, Const) and not ir.fits_register(int(value.value)):
            raise ValueError("result constant does not fit in 64 bits")
        if typ is PyType.BOOL:
            return "bool_from_long"
        if self.rep.kind(value) is Kind.UNSIGNED:
            return "long_from_unsigned"
        return "long_from_long"

    def ret(self, term: ir.Return) -> None:
        if term.is_tuple:
            self.ret_tuple(term.values)
            return
        a = self.asm
        value = term.value
        box = self.box_function(value)
        if box is None:
            a.jmp(self.fallback)  # a bool on some paths, an int on others: Python boxes it
            return
        a.mov(RDI, self.operand(value))
        self.epilogue()
        self.address(RAX, ("runtime", box))
        a.jmp(RAX)

    def ret_tuple(self, values: tuple[ir.Value, ...]) -> None:
        """``return a, b``: a new tuple of boxed ints.  The items are parked in the frame
        first (the calls clobber registers); a failed allocation returns NULL with
        CPython's MemoryError set, after releasing the half-built tuple."""
        a = self.asm
        boxes = [self.box_function(v) for v in values]
        if None in boxes:
            a.jmp(self.fallback)
            return
        for i, value in enumerate(values):
            a.mov(RAX, self.operand(value))
            a.mov(Mem(RSP, self.tuple_slots + 8 * i), RAX)
        failed = a.label()
        a.mov(RDI, len(values))
        self.address(RAX, ("runtime", "tuple_new"))
        a.call(RAX)
        a.test(RAX, RAX)
        a.jcc(Cond.E, failed)
        a.mov(Mem(RSP, SLOT_SCRATCH), RAX)
        release = a.label()
        for i, box in enumerate(boxes):
            a.mov(RDI, Mem(RSP, self.tuple_slots + 8 * i))
            self.address(RAX, ("runtime", box))
            a.call(RAX)
            a.test(RAX, RAX)
            a.jcc(Cond.E, release)
            a.mov(RCX, Mem(RSP, SLOT_SCRATCH))
            a.mov(Mem(RCX, TUPLE_ITEMS + 8 * i), RAX)  # the tuple steals the reference
        a.mov(RAX, Mem(RSP, SLOT_SCRATCH))
        self.epilogue()
        a.ret()

        def emit() -> None:
            a.bind(release)
            a.mov(RDI, Mem(RSP, SLOT_SCRATCH))
            self.address(RAX, ("runtime", "decref"))
            a.call(RAX)
            a.bind(failed)
            self.epilogue()
            a.xor(RAX, RAX)
            a.ret()
        self.cold.append(emit)

    def edge_is_plain(self, source: ir.Block, edge: ir.Edge) -> bool:
        """No moves, no conversion, no poll: a bare jump."""
        if self.is_back_edge(source, edge.target):
            return False
        return not self.edge_moves(edge) and not self.edge_checks(edge)

    def edge_checks(self, edge: ir.Edge) -> list[ir.Value]:
        """Unsigned arguments entering signed parameters: their top bit must be clear."""
        checks = []
        for param, arg in zip(edge.target.params, edge.args):
            if self.alloc.of(param) is None:
                continue
            if self.rep.kind(param) is Kind.SIGNED and self.rep.kind(arg) is Kind.UNSIGNED:
                checks.append(arg)
        return checks

    def edge_moves(self, edge: ir.Edge) -> list[tuple[Reg | Mem, Operand]]:
        moves = []
        for param, arg in zip(edge.target.params, edge.args):
            dst = self.loc(param)
            if dst is None:
                continue
            src = self.operand(arg)
            if not same(src, dst):
                moves.append((dst, src))
        return moves

    def take_edge(self, source: ir.Block, edge: ir.Edge, following: ir.Block | None) -> None:
        a = self.asm
        self.ensure_signed(tuple(self.edge_checks(edge)))
        if self.is_back_edge(source, edge.target):
            self.poll()
        self.parallel_move(self.edge_moves(edge))
        if edge.target is not following:
            a.jmp(self.labels[edge.target])

    def poll(self) -> None:
        """Count a back edge; every POLL_INTERVAL of them, call the shared poll stub (signals,
        then the GIL), which preserves every register but RAX."""
        a = self.asm
        slow = a.label()
        resume = a.label()
        a.sub(POLL_COUNTER, 1)
        a.jcc(Cond.E, slow)
        a.bind(resume)

        def emit() -> None:
            a.bind(slow)
            self.address(RAX, ("runtime", "poll_stub"))
            a.call(RAX)
            a.mov(POLL_COUNTER, POLL_INTERVAL)
            a.test(RAX, RAX)
            a.jcc(Cond.NE, self.raise_exit)
            # A signal handler may have rebound a name the code assumes: check again (the
            # optimizer hoisted every guard to the entry).
            guards = [instr for instr in self.fn.entry.body if instr.op.is_guard]
            if guards:
                self.guard_group(guards)
            a.jmp(resume)
        self.cold.append(emit)

    def parallel_move(self, moves: list[tuple[Reg | Mem, Operand]]) -> None:
        """Perform all moves as if at once (sources read before any destination is written)."""
        a = self.asm
        pending = list(moves)
        while pending:
            progress = False
            for i, (dst, src) in enumerate(pending):
                if any(same(dst, other_src) for j, (_, other_src) in enumerate(pending) if j != i):
                    continue   # someone still needs dst's old value
                self.move(dst, src)
                del pending[i]
                progress = True
                break
            if not progress:
                # A cycle: park one destination's value in RAX and read it from there.
                dst, src = pending[0]
                a.mov(RAX, dst)
                pending = [(d, RAX if same(s, dst) else s) for d, s in pending]

    def move(self, dst: Reg | Mem, src: Operand) -> None:
        a = self.asm
        if isinstance(dst, Mem) and (isinstance(src, Mem) or (is_imm(src) and not _simm32(src))):
            a.mov(RCX, src)
            a.mov(dst, RCX)
        else:
            a.mov(dst, src)

    # -- comparisons and conditions ---------------------------------------------------
    def condition(self, cond: ir.Value) -> Cond:
        """Set the flags for a branch on ``cond``'s truth; returns the condition meaning true."""
        a = self.asm
        if isinstance(cond, ir.Instr) and cond in self.fused:
            return self.compare(cond)
        where = self.operand(cond)
        if is_imm(where):          # a constant the optimizer's last round left unfolded
            a.mov(RAX, where)
            where = RAX
        if isinstance(where, Reg):
            a.test(where, where)
        else:
            a.cmp(where, 0)  # type: ignore[arg-type]  # an immediate went to RAX above: a Mem
        return Cond.NE

    def compare(self, instr: ir.Instr) -> Cond:
        """``cmp`` for a comparison; returns the condition that means it holds."""
        a = self.asm
        x, y = instr.args
        kx, ky = self.rep.kind(x), self.rep.kind(y)
        unsigned = kx in (Kind.UNSIGNED, Kind.SMALL) and ky in (Kind.UNSIGNED, Kind.SMALL) \
            and Kind.UNSIGNED in (kx, ky)
        if not unsigned:
            self.ensure_signed((x, y))
        op = instr.op
        left, right = self.operand(x), self.operand(y)
        if is_imm(left):
            left, right, op = right, left, ir.SWAPPED[op]
        if is_imm(right) and not _simm32(right):
            a.mov(RCX, right)
            right = RCX
        if isinstance(left, Mem) and isinstance(right, Mem):
            a.mov(RAX, left)
            left = RAX
        if is_imm(left):  # both constants: the optimizer folds these, but stay correct
            a.mov(RAX, left)
            left = RAX
        a.cmp(left, right)  # type: ignore[arg-type]  # immediates went to RAX/RCX above (is_imm narrows only when true)
        return (_UNSIGNED_CC if unsigned else _SIGNED_CC)[op]

    def materialize_compare(self, instr: ir.Instr) -> None:
        a = self.asm
        cond = self.compare(instr)
        dst = self.loc(instr)
        a.setcc(cond, RAX)
        a.movzx8(RAX, RAX)
        self.store(dst, RAX)

    # -- guards ------------------------------------------------------------------------
    def guard_group(self, instrs: list[ir.Instr]) -> None:
        """The names still mean what the code assumed (the builtins, the globals' values at
        compile time).  Every guard record holds the version tags of the module's globals
        and of the builtins at its last successful check; the first record is the *gate*:
        when both dicts still carry its tags, nothing changed and every name holds.  Else
        the shared guard stub looks each name up again, the gate last (so a failed check
        leaves it stale and the next call checks again), or the code exits."""
        target = self.guard_target
        if target is None:
            self.asm.jmp(self.cause("guard"))
            return
        a = self.asm
        records = []
        for instr in instrs:
            assert instr.attr is not None
            mode = GUARD_MODE_GLOBAL if instr.op is Opcode.GUARD_GLOBAL else GUARD_MODE_BUILTIN
            records.append(self._guard_record(instr.attr, mode, instr.expected, target))
        tag = target.version_offset
        slow = a.label()
        resume = a.label()
        self.address(RCX, ("guard_record", records[0]))
        self.address(RAX, ("globals",))
        a.mov(RAX, Mem(RAX, tag))
        a.cmp(RAX, Mem(RCX, GUARD_GLOBALS_TAG))
        a.jcc(Cond.NE, slow)
        self.address(RAX, ("builtins",))
        a.mov(RAX, Mem(RAX, tag))
        a.cmp(RAX, Mem(RCX, GUARD_BUILTINS_TAG))
        a.jcc(Cond.NE, slow)
        a.bind(resume)

        def emit() -> None:
            a.bind(slow)
            for record in reversed(records):
                self.address(RAX, ("guard_record", record))
                self.address(RCX, ("runtime", "guard_stub"))
                a.call(RCX)
                a.test(RAX, RAX)
                a.jcc(Cond.NE, self.cause("guard"))
            a.jmp(resume)
        self.cold.append(emit)

    def _guard_record(self, name: str, mode: int, expected: object, target: GuardTarget) -> int:
        """The index of the guard record for ``name`` (see ``stubs.GUARD_*``), in a writable
        buffer the code keeps alive, with the objects it points to; the tags start at a value
        no dict has, so the first call checks.  The buffer is laid out once, when the code is
        final (:meth:`generate` reads ``guards``), so its address never changes."""
        key = (mode, name, id(expected))
        if key not in self.guards.keys:
            self.guards.keys.append(key)
            self.guards.names.append(name)
            self.guards.objects.append(expected)
            self.guards.words += [ir.UINT64_MAX, ir.UINT64_MAX, id(target.globals_dict),
                                  id(target.builtins_dict), id(name), id(expected), mode]
        return self.guards.keys.index(key)

    def entry_checks(self) -> None:
        """Keyword arguments or an unusable argument count go straight to the original."""
        a = self.asm
        n = self.fn.argcount
        lowest = n - len(self.fn.defaults)
        a.test(RCX, RCX)
        a.jcc(Cond.NE, self.fallback_at_entry)
        a.mov(RAX, RDX)
        a.add(RAX, RAX)  # 2 * nargs: drops PY_VECTORCALL_ARGUMENTS_OFFSET (bit 63)
        if lowest == n:
            a.cmp(RAX, 2 * n)
            a.jcc(Cond.NE, self.fallback_at_entry)
        else:
            a.cmp(RAX, 2 * lowest)
            a.jcc(Cond.B, self.fallback_at_entry)
            a.cmp(RAX, 2 * n)
            a.jcc(Cond.A, self.fallback_at_entry)

    # -- unboxing --------------------------------------------------------------------
    def unbox_params(self) -> None:
        a = self.asm
        read = [p for p in self.fn.params if self.fn.is_checked(p)]
        # RSI holds ``args`` until the last parameter is loaded: unbox the one living in RSI last.
        read.sort(key=lambda p: self.loc(p) == RSI)
        if read:
            self.address(RCX, ("runtime", "long_type"))
        first_default = self.fn.argcount - len(self.fn.defaults)
        for param in read:
            dst = self.loc(param)
            done = a.label()
            if param.item is not None:   # an item of a tuple argument of the right length
                a.mov(RAX, Mem(RSI, 8 * param.index))
                self.address(RDX, ("runtime", "tuple_type"))
                a.cmp(Mem(RAX, 8), RDX)
                a.jcc(Cond.NE, self.cause("type"))
                a.cmp(Mem(RAX, VAR_SIZE), param.length)
                a.jcc(Cond.NE, self.cause("type"))
                a.mov(RAX, Mem(RAX, TUPLE_ITEMS + 8 * param.item))
                self.unbox_int(param, dst)
                a.bind(done)
                continue
            if param.index >= first_default:
                use_default = a.label()
                a.cmp(Mem(RSP, SLOT_NARGS2), 2 * param.index)
                a.jcc(Cond.BE, use_default)
                self.cold.append(self._default_path(use_default, done, dst, self.rep.kind(param),
                                                    self.fn.defaults[param.index - first_default]))
            a.mov(RAX, Mem(RSI, 8 * param.index))
            self.unbox_int(param, dst)
            a.bind(done)

    def unbox_int(self, param: ir.Param, dst: Reg | Mem | None) -> None:
        """RAX = an argument object (RCX = the int type): exits unless it is an exact int,
        decodes it into ``dst`` in the parameter's representation."""
        a = self.asm
        a.cmp(Mem(RAX, 8), RCX)
        a.jcc(Cond.NE, self.cause("type"))
        if dst is None:
            return
        kind = self.rep.kind(param)
        mode = "unsigned" if kind is Kind.UNSIGNED else "low64" if kind is Kind.MODULAR else "signed"
        resume = a.label()
        slow = a.label()
        self.decode_compact(slow)
        if mode == "unsigned":
            a.test(RAX, RAX)
            a.jcc(Cond.S, self.cause("range"))   # a negative int is not unsigned
        a.bind(resume)
        self.store(dst, RAX)
        self.cold.append(self._slow_path(slow, resume, mode, self.cause("range")))

    def _default_path(self, label: Label, done: Label, dst: Reg | Mem | None, kind: Kind,
                      default: object) -> Callable[[], None]:
        usable = type(default) is int and (
            kind is Kind.MODULAR
            or (kind is Kind.UNSIGNED and 0 <= default <= ir.UINT64_MAX)
            or (kind is not Kind.UNSIGNED and ir.fits_int64(default)))
        if usable and kind is Kind.MODULAR:
            default = default & ir.UINT64_MAX  # type: ignore[operator]
            if default > ir.INT64_MAX:
                default -= 1 << 64

        def emit() -> None:
            a = self.asm
            a.bind(label)
            if usable:
                assert isinstance(default, int)
                # The original's defaults must still be the tuple compiled in (the code keeps
                # it alive): assigning ``__defaults__`` makes calls that use one exit, so
                # both paths always use the defaults the function has now.
                self.address(RAX, ("original",))
                a.mov(RAX, Mem(RAX, FUNC_DEFAULTS))
                self.address(RDX, ("defaults",))
                a.cmp(RAX, RDX)
                a.jcc(Cond.NE, self.cause("default"))
                if dst is not None:
                    if isinstance(dst, Reg) or _simm32(default):
                        a.mov(dst, default)
                    else:
                        a.mov(RAX, default)
                        a.mov(dst, RAX)
                a.jmp(done)
            else:
                a.jmp(self.cause("default"))  # a default the machine code cannot use: Python decides
        return emit

    def decode_compact(self, slow: Label) -> None:
        """RAX = int object -> RAX = its value, when it has at most one digit."""
        a, lay = self.asm, self.layout
        a.mov(RDX, Mem(RAX, lay.size_offset))
        if lay.kind == "signed_size":       # ob_size in {-1, 0, 1}: value = ob_size * digit0
            a.add(RDX, 1)
            a.cmp(RDX, 2)
            a.jcc(Cond.A, slow)
            a.sub(RDX, 1)
        else:                                # lv_tag < 16: value = (1 - (tag & 3)) * digit0
            a.cmp(RDX, 16)
            a.jcc(Cond.AE, slow)
            a.and_(RDX, 3)
            a.neg(RDX)
            a.add(RDX, 1)
        a.mov32(RAX, Mem(RAX, lay.digits_offset))
        a.imul(RAX, RDX)

    def _slow_path(self, slow: Label, resume: Label, mode: str, too_big: Label) -> Callable[[], None]:
        """Out of line: an int with two or more digits goes through a shared decoder
        (:func:`jitimport.backend.stubs.decoder_stub`, one per mode and process)."""
        def emit() -> None:
            a = self.asm
            a.bind(slow)
            self.address(RDX, ("decoder", mode))  # the decoder clobbers RDX anyway
            a.call(RDX)
            if mode != "low64":
                a.jcc(Cond.B, too_big)           # CF set: does not fit
            a.jmp(resume)
        return emit

    # -- instruction selection ---------------------------------------------------------
    def select(self, instr: ir.Instr) -> None:
        op = instr.op
        kind = self.rep.kind(instr)
        if op.is_compare:
            self.materialize_compare(instr)
            return
        if op is Opcode.INVERT and self.rep.type_of(instr.args[0]) is not PyType.INT:
            self.asm.jmp(self.fallback)       # ~bool is deprecated (3.12+ warns): Python decides
            return
        if op is Opcode.TABLE:
            self.table_item(instr)
            return
        if op is Opcode.SEQ_LEN or op is Opcode.SEQ_ITEM:
            self.sequence_read(instr)
            return
        if all(isinstance(arg, Const) for arg in instr.args):
            self.unfolded_constant(instr, kind)
            return
        if kind is Kind.MODULAR:              # only the low 64 bits are needed: wrap freely
            if op is Opcode.LSHIFT:
                self.wrapping_shl(instr)
            elif op is Opcode.NEG or op is Opcode.INVERT:
                self.unary(instr, checked=False)
            else:
                self.alu(instr, checked=False)
            return
        if op is Opcode.AND or (op in (Opcode.OR, Opcode.XOR) and kind is not Kind.SIGNED):
            # Exact on two's complement bit patterns, whatever the operands' kinds
            # (the analysis only makes | and ^ unsigned for unsigned operands).
            self.bitwise(instr)
            return
        if op is Opcode.RSHIFT:
            if not self.ensure_signed(instr.args[1:]):
                return
            self.rshift(instr, unsigned=self.rep.kind(instr.args[0]) is Kind.UNSIGNED)
            return
        if op is Opcode.BIT_LENGTH:
            self.bit_length(instr)
            return
        if op is Opcode.BIT_COUNT:
            self.bit_count(instr)
            return
        if op is Opcode.POWMOD:
            self.pow_mod(instr)
            return
        if op is Opcode.POS:               # +x: the same machine value (an int even for a bool)
            dst = self.loc(instr)
            t = self.target(dst)
            self.load(t, self.operand(instr.args[0]))
            self.store(dst, t)
            return
        if op is Opcode.LSHIFT and kind is not Kind.SIGNED:
            # Proven by the analysis to fit in [0, 2**64) (``bit_bound``): a plain shift.
            count = instr.args[1]
            assert isinstance(count, Const) and 0 <= count.value < 64
            dst = self.loc(instr)
            self.load(RAX, self.operand(instr.args[0]))
            self.asm.shl(RAX, int(count.value))
            self.store(dst, RAX)
            return
        if not self.ensure_signed(instr.args):
            return
        if op in _SIMPLE_ALU:
            self.alu(instr, checked=True)
        elif op is Opcode.NEG or op is Opcode.INVERT:
            self.unary(instr, checked=True)
        elif op is Opcode.LSHIFT:
            self.lshift(instr)
        elif op is Opcode.FLOORDIV or op is Opcode.MOD:
            self.divmod(instr)
        elif op is Opcode.POW:
            self.big_pow(instr)
        else:  # pragma: no cover - every Opcode is handled above
            raise AssertionError(op)

    def table_item(self, instr: ir.Instr) -> None:
        """``T[i]`` with ``i`` already in range: a load from the table's words, which the code
        keeps alive (one buffer per table)."""
        dst = self.loc(instr)
        if dst is None:
            return
        a = self.asm
        items = instr.expected
        assert isinstance(items, tuple)
        words = self.tables.get(id(items))
        if words is None:
            words = (ctypes.c_uint64 * max(1, len(items)))(*(v & ir.UINT64_MAX for v in items))
            self.tables[id(items)] = words
        a.mov(RAX, self.operand(instr.args[0]))
        a.shl(RAX, 3)
        self.address(RCX, ("table", list(self.tables).index(id(items))))
        a.add(RAX, RCX)
        t = self.target(dst)
        a.mov(t, Mem(RAX, 0))
        self.store(dst, t)

    def sequence_read(self, instr: ir.Instr) -> None:
        """``len(L)`` or ``L[i]`` (``i`` in range) of a module-level list or bytearray, read now.
        A list item must be an exact int that fits in 64 bits, else the code exits.  The
        object is kept alive by the guard on its name (its record holds it)."""
        dst = self.loc(instr)
        if dst is None:
            return
        a = self.asm
        seq = instr.expected
        assert instr.attr is not None
        self.address(RAX, ("global", instr.attr), id(seq))
        if instr.op is Opcode.SEQ_LEN:
            a.mov(RAX, Mem(RAX, VAR_SIZE))
            self.store(dst, RAX)
            return
        a.mov(RCX, self.operand(instr.args[0]))
        if type(seq) is bytearray:
            a.mov(RAX, Mem(RAX, BYTEARRAY_START))
            a.add(RAX, RCX)
            a.movzx8(RAX, Mem(RAX, 0))
            self.store(dst, RAX)
            return
        a.mov(RAX, Mem(RAX, LIST_ITEMS))
        a.shl(RCX, 3)
        a.add(RAX, RCX)
        a.mov(RAX, Mem(RAX, 0))                     # the item: an object of any type
        self.address(RCX, ("runtime", "long_type"))
        a.cmp(Mem(RAX, 8), RCX)
        a.jcc(Cond.NE, self.fallback)
        resume, slow = a.label(), a.label()
        self.decode_compact(slow)
        a.bind(resume)
        self.store(dst, RAX)
        self.cold.append(self._slow_path(slow, resume, "signed", self.fallback))

    def load_magnitude(self, x: ir.Value) -> None:
        """RAX = |x| as an unsigned word (|-2**63| = 2**63); clobbers RDX."""
        a = self.asm
        self.load(RAX, self.operand(x))
        if self.rep.kind(x) is Kind.SIGNED:
            a.mov(RDX, RAX)
            a.sar(RDX, 63)
            a.xor(RAX, RDX)
            a.sub(RAX, RDX)

    def bit_length(self, instr: ir.Instr) -> None:
        """``x.bit_length()``: bits of |x| (|-2**63| = 2**63 as an unsigned word), 0 for 0."""
        a = self.asm
        dst = self.loc(instr)
        x = instr.args[0]
        self.load_magnitude(x)
        a.mov(RDX, -1)
        a.bsr(RAX, RAX)                      # index of the top bit; ZF when x == 0
        a.cmov(Cond.E, RAX, RDX)
        a.add(RAX, 1)
        self.store(dst, RAX)

    def bit_count(self, instr: ir.Instr) -> None:
        """``x.bit_count()``: ones in |x|, by the SWAR reduction (no CPU feature needed)."""
        a = self.asm
        dst = self.loc(instr)
        x = instr.args[0]
        self.load_magnitude(x)
        a.mov(RDX, RAX)
        a.shr(RDX, 1)
        a.mov(RCX, 0x5555555555555555)
        a.and_(RDX, RCX)
        a.sub(RAX, RDX)                      # 2-bit sums
        a.mov(RCX, 0x3333333333333333)
        a.mov(RDX, RAX)
        a.and_(RAX, RCX)
        a.shr(RDX, 2)
        a.and_(RDX, RCX)
        a.add(RAX, RDX)                      # 4-bit sums
        a.mov(RDX, RAX)
        a.shr(RDX, 4)
        a.add(RAX, RDX)
        a.mov(RCX, 0x0F0F0F0F0F0F0F0F)
        a.and_(RAX, RCX)                     # byte sums
        a.mov(RCX, 0x0101010101010101)
        a.imul(RAX, RCX)
        a.shr(RAX, 56)                       # their total, in the top byte
        self.store(dst, RAX)

    def pow_mod(self, instr: ir.Instr) -> None:
        """``pow(b, e, m)`` by square-and-multiply on 128-bit products (``mul``, ``div``:
        b, r < m, so the high half stays below m and ``div`` cannot fault).  Needs three
        more registers than the scratch ones: RSI, RDI and R8 are saved around it."""
        dst = self.loc(instr)
        if dst is None:
            return
        a = self.asm
        saved = (RSI, RDI, Reg.R8)
        depth = 0
        for reg in saved:
            a.push(reg)
            depth += 8
        for value in instr.args:                      # b, e, m through the stack
            src = self.operand(value)
            if isinstance(src, Mem) and src.base is RSP:
                src = Mem(RSP, src.disp + depth)
            a.mov(RAX, src)
            a.push(RAX)
            depth += 8
        a.pop(Reg.R8)
        a.pop(RDI)
        a.pop(RSI)
        top, skip, done = a.label(), a.label(), a.label()
        a.mov(RAX, 1)
        a.xor(RDX, RDX)
        a.div(Reg.R8)
        a.mov(RCX, RDX)                               # r = 1 % m
        a.bind(top)
        a.test(RDI, RDI)
        a.jcc(Cond.E, done)
        a.test(RDI, 1)
        a.jcc(Cond.E, skip)
        a.mov(RAX, RCX)
        a.mul(RSI)
        a.div(Reg.R8)
        a.mov(RCX, RDX)                               # r = r * b % m
        a.bind(skip)
        a.mov(RAX, RSI)
        a.mul(RSI)
        a.div(Reg.R8)
        a.mov(RSI, RDX)                               # b = b * b % m
        a.shr(RDI, 1)
        a.jmp(top)
        a.bind(done)
        a.mov(RAX, RCX)
        for reg in reversed(saved):
            a.pop(reg)
        self.store(dst, RAX)

    def unfolded_constant(self, instr: ir.Instr, kind: Kind) -> None:
        """An operation on constants the optimizer could not fold: its exact result does not
        fit in a register, or Python raises on it.  Modulo 2**64 it may still be computable;
        otherwise only the original can produce the outcome."""
        value: int | None = None
        if kind is Kind.MODULAR and ir.folding_is_safe(instr.op, [a.value for a in instr.args]):  # type: ignore[attr-defined]
            try:
                value = ir.evaluate(instr.op, [a.value for a in instr.args]) & ir.UINT64_MAX  # type: ignore[attr-defined]
            except (ArithmeticError, ValueError):
                value = None
        if value is None:
            self.asm.jmp(self.fallback)
            return
        dst = self.loc(instr)
        if dst is not None:
            t = self.target(dst)
            self.asm.mov(t, value)
            self.store(dst, t)

    def ensure_signed(self, values: tuple[ir.Value, ...]) -> bool:
        """Operands of signed arithmetic: an unsigned value must be below 2**63 (checked
        here, else fall back); a constant at or above 2**63 means this operation can only
        fall back.  Returns False when nothing more should be emitted for the operation."""
        a = self.asm
        for value in values:
            kind = self.rep.kind(value)
            if isinstance(value, Const):
                if not ir.fits_int64(int(value.value)):
                    a.jmp(self.fallback)
                    return False
                continue
            assert kind.exact, "the analysis gave a modular value to an exact operation"
            if kind is Kind.UNSIGNED:
                where = self.operand(value)
                if isinstance(where, Reg):
                    a.test(where, where)
                else:
                    a.cmp(where, 0)  # type: ignore[arg-type]  # not a Const (handled above): a Mem
                a.jcc(Cond.S, self.fallback)
        return True

    def target(self, dst: Reg | Mem | None, avoid: Operand | None = None) -> Reg:
        if isinstance(dst, Reg) and not same(dst, avoid):
            return dst
        return RAX

    def alu(self, instr: ir.Instr, checked: bool) -> None:
        """add/sub/imul/and/or/xor; ``checked`` adds the overflow check (exact signed results)."""
        a = self.asm
        op = instr.op
        dst = self.loc(instr)
        x, y = self.operand(instr.args[0]), self.operand(instr.args[1])
        if op.commutative and (is_imm(x) or (same(y, dst) and not same(x, dst))):
            x, y = y, x
        if op is Opcode.MUL and is_imm(y) and _simm32(y) and not is_imm(x):
            t = self.target(dst)
            a.imul(t, x, y)  # type: ignore[arg-type]  # not is_imm(x): a Reg or Mem
        else:
            t = self.target(dst, avoid=None if same(x, y) else y)
            self.load(t, x)
            src = self.small(y, RCX)
            getattr(a, _SIMPLE_ALU[op])(t, src)
        if checked and op in _OVERFLOWING:
            a.jcc(Cond.O, self.fallback)
        self.store(dst, t)

    def bitwise(self, instr: ir.Instr) -> None:
        """``&``, ``|``, ``^`` on exact or masked values; ``x & (2**64-1)`` is just ``x``."""
        y = instr.args[1]
        if instr.op is Opcode.AND and isinstance(y, Const) and y.value == ir.UINT64_MAX:
            dst = self.loc(instr)
            t = self.target(dst)
            self.load(t, self.operand(instr.args[0]))
            self.store(dst, t)
            return
        self.alu(instr, checked=False)

    def wrapping_shl(self, instr: ir.Instr) -> None:
        """``x << c`` when only the low 64 bits are needed."""
        dst = self.loc(instr)
        t = self.target(dst)
        self.load(t, self.operand(instr.args[0]))
        self.asm.shl(t, instr.args[1].value)  # type: ignore[attr-defined]
        self.store(dst, t)

    def unary(self, instr: ir.Instr, checked: bool) -> None:
        a = self.asm
        dst = self.loc(instr)
        t = self.target(dst)
        self.load(t, self.operand(instr.args[0]))
        if instr.op is Opcode.NEG:
            a.neg(t)
            if checked:
                a.jcc(Cond.O, self.fallback)   # -(-2**63)
        else:
            a.not_(t)
        self.store(dst, t)

    def lshift(self, instr: ir.Instr) -> None:
        a = self.asm
        dst = self.loc(instr)
        x, y = self.operand(instr.args[0]), self.operand(instr.args[1])
        if is_imm(y) and y < 0:
            a.jmp(self.fallback)              # negative shift count: Python raises ValueError
            return
        if is_imm(y):
            if y <= 30 and not is_imm(x):
                t = self.target(dst)
                # x << k == x * 2**k, and imul flags overflow (x: not is_imm, a Reg or Mem)
                a.imul(t, x, 1 << y)  # type: ignore[arg-type]
                a.jcc(Cond.O, self.fallback)
                self.store(dst, t)
                return
            self.load(RAX, x)
            if y >= 64:                      # only 0 << y fits
                a.test(RAX, RAX)
                a.jcc(Cond.NE, self.fallback)
            else:
                self.shift_checked(x, count=y)
            self.store(dst, RAX)
            return
        done = a.label()
        a.mov(RCX, y)
        a.test(RCX, RCX)
        a.jcc(Cond.S, self.fallback)          # negative shift count: Python raises
        self.load(RAX, x)
        big = a.label()
        a.cmp(RCX, 63)
        a.jcc(Cond.A, big)
        self.shift_checked(x, count=None)
        a.jmp(done)
        a.bind(big)
        a.test(RAX, RAX)
        a.jcc(Cond.NE, self.fallback)
        a.bind(done)
        self.store(dst, RAX)

    def shift_checked(self, x: Operand, count: int | None) -> None:
        """RAX <<= count, falling back unless shifting back restores x."""
        a = self.asm
        a.shl(RAX, count)
        a.mov(RDX, RAX)
        a.sar(RDX, count)
        if is_imm(x) and not _simm32(x):
            a.mov(Mem(RSP, SLOT_SCRATCH), RCX)
            a.mov(RCX, x)
            a.cmp(RDX, RCX)
            a.mov(RCX, Mem(RSP, SLOT_SCRATCH))
        else:
            a.cmp(RDX, x)
        a.jcc(Cond.NE, self.fallback)

    def rshift(self, instr: ir.Instr, unsigned: bool) -> None:
        """Arithmetic shift of a signed value (counts >= 64 act as 63), logical shift of an
        unsigned one (counts >= 64 give 0)."""
        a = self.asm
        dst = self.loc(instr)
        x, y = self.operand(instr.args[0]), self.operand(instr.args[1])
        if is_imm(y) and y < 0:
            a.jmp(self.fallback)              # negative shift count: Python raises ValueError
            return
        if is_imm(y):
            t = self.target(dst)
            if unsigned and y >= 64:
                a.mov(t, 0)
            else:
                self.load(t, x)
                if unsigned:
                    a.shr(t, y)
                else:
                    a.sar(t, min(y, 63))
            self.store(dst, t)
            return
        a.mov(RCX, y)
        a.test(RCX, RCX)
        a.jcc(Cond.S, self.fallback)
        self.load(RAX, x)
        if unsigned:
            done = a.label()
            zero = a.label()
            a.cmp(RCX, 63)
            a.jcc(Cond.A, zero)
            a.shr(RAX)
            a.jmp(done)
            a.bind(zero)
            a.mov(RAX, 0)
            a.bind(done)
        else:
            a.mov(RDX, 63)
            a.cmp(RCX, RDX)
            a.cmov(Cond.A, RCX, RDX)         # x >> n == x >> 63 for n >= 64
            a.sar(RAX)
        self.store(dst, RAX)

    def divmod(self, instr: ir.Instr) -> None:
        """Floor division and modulo with Python's sign rules, via idiv (truncating)."""
        a = self.asm
        dst = self.loc(instr)
        x, y = self.operand(instr.args[0]), self.operand(instr.args[1])
        is_mod = instr.op is Opcode.MOD
        if is_imm(y):
            # The optimizer removed 0 (kept as a fallback below), -1, 1 and powers of two.
            if y == 0:
                a.jmp(self.fallback)
                return
            if abs(y) >= 2 and _simm32(y) and not is_imm(x):
                self.divmod_by_constant(x, y, is_mod, dst)  # type: ignore[arg-type]  # not is_imm(x): a Reg or Mem
                return
            self.load(RAX, x)
            a.mov(RCX, y)
            a.cqo()
            a.idiv(RCX)                      # RAX = trunc(x / y), RDX = the truncated remainder
            self.floor_fix_constant(RAX, RDX, RCX, y < 0, is_mod, dst)
            return
        done = a.label()
        minus_one = a.label()
        a.mov(RCX, y)
        a.test(RCX, RCX)
        a.jcc(Cond.E, self.fallback)          # ZeroDivisionError: Python raises it
        a.cmp(RCX, -1)
        a.jcc(Cond.E, minus_one)              # idiv would trap on -2**63 / -1
        self.load(RAX, x)
        a.cqo()
        a.idiv(RCX)
        if is_mod:
            a.mov(RAX, RDX)
            a.test(RDX, RDX)
            a.jcc(Cond.E, done)
            a.xor(RDX, RCX)
            a.jcc(Cond.NS, done)
            a.add(RAX, RCX)
        else:
            a.test(RDX, RDX)
            a.jcc(Cond.E, done)
            a.xor(RDX, RCX)
            a.jcc(Cond.NS, done)
            a.sub(RAX, 1)
        a.jmp(done)
        a.bind(minus_one)
        if is_mod:
            a.mov(RAX, 0)                     # x % -1 == 0
        else:
            self.load(RAX, x)
            a.neg(RAX)
            a.jcc(Cond.O, self.fallback)
        a.bind(done)
        self.store(dst, RAX)

    def divmod_by_constant(self, x: Reg | Mem, d: int, is_mod: bool, dst: Reg | Mem | None) -> None:
        """``x // d`` or ``x % d`` by a multiply with the inverse of ``d`` (see ``divconst``);
        no check is needed: neither can overflow for |d| >= 2."""
        a = self.asm
        magic = signed_magic(d)
        a.mov(RAX, magic.multiplier)
        a.imul_wide(x)                       # RDX = high 64 bits of multiplier * x
        if d > 0 and magic.multiplier < 0:
            a.add(RDX, x)
        elif d < 0 and magic.multiplier > 0:
            a.sub(RDX, x)
        if magic.shift:
            a.sar(RDX, magic.shift)
        a.mov(RAX, RDX)
        a.shr(RAX, 63)
        a.add(RDX, RAX)                      # RDX = trunc(x / d)
        a.imul(RCX, RDX, d)
        a.mov(RAX, x)
        a.sub(RAX, RCX)                      # RAX = x - trunc(x / d) * d, the truncated remainder
        self.floor_fix_constant(RDX, RAX, d, d < 0, is_mod, dst)

    def floor_fix_constant(self, q: Reg, r: Reg, divisor: Reg | int, negative: bool, is_mod: bool,
                           dst: Reg | Mem | None) -> None:
        """From the truncated quotient ``q`` and remainder ``r`` of a division by a constant of
        known sign, Python's floor result: when ``r`` and the divisor have opposite signs,
        ``q -= 1`` (``//``) or ``r += divisor`` (``%``).  Branch-free; ``q`` is clobbered for ``%``."""
        a = self.asm
        if is_mod:
            a.mov(q, r)
            if negative:
                a.neg(q)
            a.sar(q, 63)                     # -1 exactly when a fix is needed
            a.and_(q, divisor)
            a.add(r, q)
            self.store(dst, r)
        else:
            if negative:
                a.neg(r)
            a.sar(r, 63)
            a.add(q, r)
            self.store(dst, q)

    def big_pow(self, instr: ir.Instr) -> None:
        """x ** e for a constant e > 64: only -1, 0 and 1 give a 64-bit result."""
        a = self.asm
        dst = self.loc(instr)
        exponent = instr.args[1].value  # type: ignore[attr-defined]
        self.load(RAX, self.operand(instr.args[0]))
        a.mov(RDX, RAX)
        a.add(RDX, 1)
        a.cmp(RDX, 2)
        a.jcc(Cond.A, self.fallback)
        if exponent % 2 == 0:
            a.imul(RAX, RAX)
        self.store(dst, RAX)


def generate(fn: ir.Function, layout: LongLayout, runtime: Runtime, original_address: int,
             guard_target: GuardTarget | None = None, rep: Representation | None = None,
             alloc: Allocation | None = None, reuse: CodeBuffers | None = None) -> MachineCode:
    """Machine code for ``fn``; the entry point is at offset 0.  The representation and the
    allocation are computed here when the caller has not; ``reuse`` gives the buffers of a
    previous generation (the same bytes again)."""
    return CodeGen(fn, layout, runtime, original_address, guard_target, rep, alloc, reuse).generate()
