"""Bytecode -> IR: symbolic execution of a function's bytecode into a control-flow graph.

The frontend decodes the instructions once, finds the *leaders* (the
offsets jumps lead to, and the instruction after each branch), and then
executes the bytecode symbolically: a stack and a map of local variables
whose entries are IR values instead of objects.  At each jump the current
state is *forked* onto the target (as Numba's ``byteflow`` does): every
leader becomes an IR block whose parameters are the stack slots and the
locals live on entry, and each jump passes the current values as arguments.
The optimizer removes the parameters that turn out to be trivial.

A local variable that is bound on some paths into a block and not on others
(the loop variable after a ``for`` that may not have run) gets a second
parameter, a flag; reading it checks the flag and exits when it is unbound,
so Python raises ``UnboundLocalError``.  The entry signature of a block
(which locals are bound, maybe bound) is known only once all edges are seen;
when a later edge disagrees, the signature is widened and the translation
restarts (it converges: signatures only widen).

Which bytecode means what comes from the running version's
:class:`~jitimport.versions.VersionTable`.  A construct the compiler does not
translate ends the path it is on with an :class:`~jitimport.ir.Exit` (the
machine code leaves to the Python original there); the compiler refuses a
function only when every path needs one, or for what concerns the whole
function (its signature, closures, generators).
"""
from __future__ import annotations

import dis
import inspect
import opcode as _opcode
import types
from typing import Any, Callable, NamedTuple

from . import ir
from .errors import NotCompilable
from .versions import (BINARY_OP_INPLACE, BINARY_OP_REJECTED, BINARY_OPS, COMPARE_OPS, VersionTable,
                       cache_entries, refusal)

_CO_VARARGS = inspect.CO_VARARGS
_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS
_CO_NOT_PLAIN = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE
                 | inspect.CO_ASYNC_GENERATOR)

#: Frontend actions that end a block and may jump (to ``jump_target``).
_JUMPS = frozenset({"jump", "pop_jump_if_false", "pop_jump_if_true", "pop_jump_if_none",
                    "pop_jump_if_not_none", "jump_if_false_or_pop", "jump_if_true_or_pop", "for_iter"})
_ENDS_BLOCK = _JUMPS | {"return_value", "return_const", "raise_varargs"}
_RAISE_REASON = "raise statement (the Python original raises)"


class Op(NamedTuple):
    """One bytecode instruction: what the frontend needs of ``dis.Instruction``, cheaper."""

    opname: str
    arg: int
    lineno: int | None
    offset: int
    next_offset: int   # the following instruction, after inline caches


_CACHES = cache_entries()
_EXTENDED_ARG = _opcode.EXTENDED_ARG


def read_bytecode(code: types.CodeType) -> list[Op]:
    """Decode ``co_code`` directly (``dis.get_instructions`` costs several times more),
    folding EXTENDED_ARG and skipping inline caches."""
    raw = code.co_code
    positions = list(code.co_positions())
    names = dis.opname
    extended = 0
    ops = []
    i = 0
    start = 0   # where the instruction begins: its first EXTENDED_ARG, which is where jumps land
    prefixed = False
    while i < len(raw):
        op = raw[i]
        arg = raw[i + 1] | extended
        if op == _EXTENDED_ARG:
            if not prefixed:
                start = i
            prefixed = True
            extended = arg << 8
            i += 2
            continue
        if not prefixed:
            start = i
        prefixed = False
        extended = 0
        following = i + 2 + 2 * _CACHES[op]
        ops.append(Op(names[op], arg, positions[i // 2][0], start, following))
        i = following
    return ops


def jump_target(op: Op) -> int:
    """Where a relative jump leads (3.11+ jumps are relative to the next instruction)."""
    delta = 2 * op.arg
    return op.next_offset - delta if "BACKWARD" in op.opname else op.next_offset + delta


# -- abstract stack items ----------------------------------------------------------------------
class _Tuple:
    """A tuple that only lives on the stack (``a, b = b, a``, ``x, y = 1, 2``)."""

    __slots__ = ("items",)

    def __init__(self, items: list[ir.Value]) -> None:
        self.items = items


class _Marker:
    """A stack item without a runtime value: NULL, None, a callable global."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


_NULL = _Marker("null")
_NONE = _Marker("none")
_MISSING = object()

#: Builtins the frontend translates (while the name still means the builtin: guarded), with the
#: argument counts it accepts.
_BUILTIN_CALLS = {"range": range, "min": min, "max": max, "abs": abs, "divmod": divmod, "pow": pow}
_BUILTIN_ARITY = {"range": (1, 3), "min": (2, 8), "max": (2, 8), "abs": (1, 1), "divmod": (2, 2),
                  "pow": (2, 3)}

#: The version tables name IR opcodes (so loading them needs no IR): resolved once here.
_BINARY_OPS = {arg: ir.Opcode[name] for arg, name in BINARY_OPS.items()}
_COMPARE_OPS = tuple(ir.Opcode[name] for name in COMPARE_OPS)

#: Given what a global name holds, the Python function to inline for a call of it (None: the
#: call is not inlined).
CalleeResolver = Callable[[object], "types.FunctionType | None"]
#: Bytecode instructions a function may inline in all (each callee counted per call site).
INLINE_BUDGET = 2000
#: Inlined calls nested at most this deep.
INLINE_DEPTH = 8

#: ``int`` methods the frontend translates (no arguments), by name.
_INT_METHODS = {"bit_length": ir.Opcode.BIT_LENGTH, "bit_count": ir.Opcode.BIT_COUNT}


def builtins_of(fn: types.FunctionType) -> dict[str, Any]:
    """The builtins dict a function's global lookups fall back to (``__builtins__`` may be the
    module or its dict)."""
    # FunctionType.__builtins__ is in typeshed, but mypy loses it when it reads the types module from its cache
    # (an error only then, hence unused-ignore)
    builtins = fn.__builtins__  # type: ignore[attr-defined, unused-ignore]
    return builtins if isinstance(builtins, dict) else builtins.__dict__


class _Table:
    """A module-level table read by subscript (``GF_EXP[i]``), guarded by identity: a tuple of
    ints (constant: it never changes), or a list or bytearray (read when the code runs)."""

    __slots__ = ("name", "items")

    def __init__(self, name: str, items: tuple[int, ...] | list[int] | bytearray) -> None:
        self.name, self.items = name, items


def _table_items(value: object) -> tuple[int, ...] | None:
    """``value`` as a constant table: a tuple of exact ints sharing one machine representation
    (all signed 64-bit, or all in [0, 2**64))."""
    if type(value) is not tuple or not all(type(v) is int for v in value):
        return None
    if all(ir.fits_int64(v) for v in value) or all(0 <= v <= ir.UINT64_MAX for v in value):
        return value
    return None


class _Range:
    """``range(start, stop, step)`` before ``GET_ITER``."""

    __slots__ = ("start", "stop", "step")

    def __init__(self, start: ir.Value, stop: ir.Value, step: ir.Value) -> None:
        self.start, self.stop, self.step = start, stop, step


class _RangeIter:
    """A range iterator: the next value ``cur``; ``stop`` and ``step`` never change, so they are
    part of the iterator's shape rather than block parameters (the loop test then sees a
    constant step)."""

    __slots__ = ("cur", "stop", "step")

    def __init__(self, cur: ir.Value, stop: ir.Value, step: ir.Value) -> None:
        self.cur, self.stop, self.step = cur, stop, step


StackItem = ir.Value | _Tuple | _Marker | _Range | _RangeIter | _Table


class _Maybe:
    """A local bound on some paths only: its value, and a bool flag that says whether it is bound."""

    __slots__ = ("value", "flag")

    def __init__(self, value: ir.Value, flag: ir.Value) -> None:
        self.value, self.flag = value, flag


Local = ir.Value | _Maybe | _Tuple


class _Unsupported(Exception):
    """Raised by an action for a construct the machine code does not do: the path exits there."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _shape(item: StackItem) -> object:
    if isinstance(item, ir.Value):
        return "v"
    if isinstance(item, _Tuple):
        return ("tuple", len(item.items))
    if isinstance(item, _Marker):
        return item.what
    if isinstance(item, _RangeIter):
        return ("iter", item.stop, item.step)
    if isinstance(item, _Table):
        return ("table", item.name, id(item.items))
    return ("range",)


def _flatten(item: StackItem) -> list[ir.Value]:
    if isinstance(item, ir.Value):
        return [item]
    if isinstance(item, _Tuple):
        return list(item.items)
    if isinstance(item, _RangeIter):
        return [item.cur]
    if isinstance(item, _Range):
        return [item.start, item.stop, item.step]
    return []


class _State:
    """The symbolic state at one point: the stack and the bound locals."""

    __slots__ = ("stack", "locals")

    def __init__(self, stack: list[StackItem], locals_: dict[str, Local]) -> None:
        self.stack = stack
        self.locals = locals_

    def copy(self) -> _State:
        return _State(list(self.stack), dict(self.locals))


class _Entry:
    """A leader's IR block and the signature its parameters follow."""

    __slots__ = ("block", "shapes", "kinds", "tuples", "state")

    def __init__(self, block: ir.Block, shapes: tuple[object, ...], kinds: dict[str, bool],
                 tuples: dict[str, int], state: _State) -> None:
        self.block = block
        self.shapes = shapes
        #: local name -> True when it may be unbound here (a flag parameter follows its value).
        self.kinds = kinds
        #: local name -> length, for locals holding a tuple here (one parameter per item).
        self.tuples = tuples
        self.state = state


class Frontend:
    """Builds the IR of one function; create one per function.

    State, reset for each translation attempt:

    ``builder``      the IR builder, positioned in the block being translated;
    ``state``        the symbolic stack and locals at the current instruction;
    ``entries``      leader offset -> its block and entry signature;
    ``pending``      leader offsets whose block is created but not yet translated;
    ``read_params``  indices of the parameters the translated code reads;
    ``lineno``       the source line of the current instruction;
    ``restart``      a signature was widened: this attempt's IR is discarded.

    Kept across attempts: ``widen`` (leader offset -> locals that may be unbound there) and
    ``unbound_globals`` (global names read that were not bound at compile time).

    Calls to native functions of the same module are inlined (:meth:`inline`):
    ``resolve_callee`` says which objects are such functions, ``inlining`` holds the
    code objects being inlined around this one (a recursive call exits instead), and
    ``budget`` the bytecode instructions all levels may still inline.
    """

    def __init__(self, fn: types.FunctionType, table: VersionTable,
                 resolve_callee: CalleeResolver | None = None, inlining: tuple[types.CodeType, ...] = (),
                 budget: list[int] | None = None) -> None:
        self.fn = fn
        self.resolve_callee = resolve_callee
        #: Code objects of the functions being inlined around this one (outermost first).
        self.inlining = inlining + (fn.__code__,)
        #: Bytecode instructions still allowed to be inlined, shared by every level.
        self.budget = budget if budget is not None else [INLINE_BUDGET]
        self.code = fn.__code__
        self.table = table
        self.ops = read_bytecode(self.code)
        self.index_of = {op.offset: i for i, op in enumerate(self.ops)}
        self.leaders = self._find_leaders()
        self.params: list[ir.Param] = []
        self.param_index: dict[str, int] = {}
        self.widen: dict[int, set[str]] = {}
        self.unbound_globals: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self.builder = ir.Builder()
        self.state = _State([], {})
        self.entries: dict[int, _Entry] = {}
        self.pending: list[int] = []
        self.read_params: set[int] = set()
        self.lineno: int | None = self.code.co_firstlineno
        #: A block's signature was widened during this attempt: translate again.
        self.restart = False

    # -- errors -------------------------------------------------------------------------
    def refuse(self, reason: str, lineno: int | None = None) -> NotCompilable:
        return NotCompilable(reason, self.code.co_filename, lineno if lineno is not None else self.lineno)

    # -- driver -------------------------------------------------------------------------
    def build(self) -> ir.Function:
        self._check_signature()
        attempts = 2 + len(self.leaders) * max(1, len(self.code.co_varnames))
        for _ in range(attempts):
            self._translate()
            if not self.restart:
                break
            self._reset()
        else:  # pragma: no cover - signatures only widen, so this converges
            raise self.refuse("the control flow is too complex")
        return ir.Function(
            name=self.fn.__name__,
            params=self.params + [p for t in self.tuple_locals.values() for p in t.items],  # type: ignore[misc]
            blocks=self.builder.blocks,
            filename=self.code.co_filename, firstlineno=self.code.co_firstlineno,
            read_params=frozenset(self.read_params), defaults=tuple(self.fn.__defaults__ or ()),
            unbound_globals=frozenset(self.unbound_globals),
        )

    def _translate(self) -> None:
        entry = self.builder.append_block("entry")
        self.builder.position_at_end(entry)
        self.state = _State([], {p.name: p for p in self.params if p.name not in self.tuple_locals})
        self.builder.jump(*self._edge_parts(0))
        while self.pending:
            offset = self.pending.pop()
            leader = self.entries[offset]
            self.state = leader.state.copy()
            self.builder.position_at_end(leader.block)
            self._run(self.index_of[offset])

    def _run(self, index: int) -> None:
        """Translate from instruction ``index`` until the block ends."""
        first = True
        while True:
            if index >= len(self.ops):
                raise self.refuse("unexpected bytecode (execution runs off the end)")
            instr = self.ops[index]
            if not first and instr.offset in self.leaders:
                self.builder.jump(*self._edge_parts(instr.offset))
                return
            first = False
            if instr.lineno is not None:
                self.lineno = instr.lineno
                self.builder.lineno = instr.lineno
            action = self.table.actions.get(instr.opname)
            try:
                if action is None:
                    raise _Unsupported(self._refusal(instr))
                handler: Callable[[Op], None] = getattr(self, "op_" + action)
                handler(instr)
            except _Unsupported as exc:
                self.builder.exit(self._raises_ahead(index) or exc.reason, self.lineno)
                return
            if self.builder.terminated:
                return
            index += 1

    def _raises_ahead(self, index: int) -> str | None:
        """When the path ends in a ``raise`` (``raise ValueError(n)``: the call comes first),
        name the raise: that is what keeps the path in Python."""
        for op in self.ops[index:]:
            if op.offset in self.leaders and op is not self.ops[index]:
                return None
            if op.opname == "RAISE_VARARGS":
                return _RAISE_REASON
        return None

    def _find_leaders(self) -> set[int]:
        leaders = {0}
        actions = self.table.actions
        for op in self.ops:
            action = actions.get(op.opname)
            if action in _JUMPS:
                target = jump_target(op)
                if action == "for_iter":
                    target += 2 * self.table.for_iter_skip
                leaders.add(target)
            if action in _ENDS_BLOCK:
                leaders.add(op.next_offset)
        return leaders

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
        if code.co_exceptiontable:
            raise self.refuse("try/except and with are not supported", self._first_handler_line())
        for index, name in enumerate(code.co_varnames[:code.co_argcount]):
            self.params.append(ir.Param(index, name))
            self.param_index[name] = index
        self.tuple_locals = self._tuple_params()

    def _tuple_params(self) -> dict[str, _Tuple]:
        """Parameters the body only unpacks (``x, y = p``, always to the same length, never
        assigned, no default): each is a tuple of item parameters, checked at entry (the
        argument must be a tuple of that many exact ints, else the original runs)."""
        lengths: dict[str, set[int]] = {}
        stored: set[str] = set()
        actions = self.table.actions
        first_default = self.code.co_argcount - len(self.fn.__defaults__ or ())
        for op, following in zip(self.ops, self.ops[1:] + [None]):
            action = actions.get(op.opname)
            if action == "load_fast" and following is not None and following.opname == "UNPACK_SEQUENCE":
                lengths.setdefault(self.varname(op.arg), set()).add(following.arg)
            elif action == "store_fast":
                stored.add(self.varname(op.arg))
            elif action in ("store_fast_pair", "store_fast_load_fast"):
                stored.add(self.varname(op.arg >> 4))
                if action == "store_fast_pair":
                    stored.add(self.varname(op.arg & 15))
        found: dict[str, _Tuple] = {}
        for name, sizes in lengths.items():
            index = self.param_index.get(name)
            if index is None or name in stored or len(sizes) != 1 or index >= first_default:
                continue
            length = sizes.pop()
            found[name] = _Tuple([ir.Param(index, name, item, length) for item in range(length)])
        return found

    def _first_handler_line(self) -> int | None:
        for op in self.ops:
            if op.opname in ("PUSH_EXC_INFO", "BEFORE_WITH", "SETUP_FINALLY"):
                return op.lineno
        return self.code.co_firstlineno

    def _refusal(self, op: Op) -> str:
        # The exit path can afford dis, which knows how each version encodes names.
        listing = list(dis.get_instructions(self.code))
        instr = next((i for i in listing if i.offset == op.offset), None)
        if instr is None:
            return refusal(op.opname)
        if instr.opname in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR"):
            return f"{refusal(instr.opname)} (.{instr.argval})"
        return refusal(instr.opname)

    # -- edges and blocks ---------------------------------------------------------------------
    def _edge_parts(self, target: int) -> tuple[ir.Block, list[ir.Value]]:
        edge = self.edge(target, self.state)
        return edge.target, list(edge.args)

    def edge(self, target: int, state: _State) -> ir.Edge:
        """An edge carrying ``state`` into the block at bytecode offset ``target``."""
        if target not in self.index_of:
            raise self.refuse(f"unexpected bytecode (jump to offset {target})")
        shapes = tuple(_shape(item) for item in state.stack)
        entry = self.entries.get(target)
        widened = self.widen.setdefault(target, set())
        local: Local | None  # a loop variable below, then a lookup (None: unbound on this path)
        tuples = {name: len(local.items) for name, local in state.locals.items() if isinstance(local, _Tuple)}
        if entry is None:
            kinds = {name: isinstance(local, _Maybe) or name in widened
                     for name, local in state.locals.items()}
            kinds.update({name: True for name in widened if name not in kinds})
            if any(kinds[name] for name in tuples):
                raise self.refuse(f"local variable {next(iter(tuples))!r} holds a tuple on some paths"
                                  " only")
            entry = self._new_entry(target, state, shapes, kinds, tuples)
        else:
            if shapes != entry.shapes:
                raise self.refuse("unexpected bytecode (the stack differs between paths)")
            if tuples != {name: n for name, n in entry.tuples.items() if name in state.locals}:
                raise self.refuse("a local variable holds a tuple on some paths only")
            # A disagreement widens the signature; the translation goes on (collecting every
            # widening in one pass) and is then redone, its IR discarded.
            for name, local in state.locals.items():
                if name not in entry.kinds or (not entry.kinds[name] and isinstance(local, _Maybe)):
                    widened.add(name)
                    self.restart = True
            for name, maybe in entry.kinds.items():
                if not maybe and name not in state.locals:
                    widened.add(name)
                    self.restart = True
        args: list[ir.Value] = []
        for item in state.stack:
            args += _flatten(item)
        for name, maybe in entry.kinds.items():
            local = state.locals.get(name)
            if name in entry.tuples:
                if isinstance(local, _Tuple):
                    args += local.items
                else:  # (restarting: the signature is being widened)
                    args += [ir.Const(0)] * entry.tuples[name]
                continue
            if not maybe:
                args.append(local if isinstance(local, ir.Value) else ir.Const(0))  # (restarting)
            elif local is None:
                args += [ir.Const(0), ir.Const(False)]
            elif isinstance(local, _Maybe):
                args += [local.value, local.flag]
            else:  # not a _Tuple: a tuple local is in entry.tuples (checked above)
                args += [local, ir.Const(True)]  # type: ignore[list-item]
        return ir.Edge(entry.block, tuple(args))

    def _new_entry(self, target: int, state: _State, shapes: tuple[object, ...],
                   kinds: dict[str, bool], tuples: dict[str, int]) -> _Entry:
        block = self.builder.append_block(f"L{target}", offset=target)
        stack: list[StackItem] = []
        for item in state.stack:
            if isinstance(item, ir.Value):
                stack.append(block.add_param("t"))
            elif isinstance(item, _Tuple):
                stack.append(_Tuple([block.add_param("t") for _ in item.items]))
            elif isinstance(item, _RangeIter):
                stack.append(_RangeIter(block.add_param("it"), item.stop, item.step))
            elif isinstance(item, _Range):
                stack.append(_Range(block.add_param("t"), block.add_param("t"), block.add_param("t")))
            else:
                stack.append(item)
        locals_: dict[str, Local] = {}
        for name, maybe in kinds.items():
            if name in tuples:
                locals_[name] = _Tuple([block.add_param(name) for _ in range(tuples[name])])
                continue
            value = block.add_param(name)
            locals_[name] = _Maybe(value, block.add_param(f"{name}?")) if maybe else value
        entry = _Entry(block, shapes, kinds, tuples, _State(stack, locals_))
        self.entries[target] = entry
        self.pending.append(target)
        return entry

    def _split(self, cond: ir.Value, reason: str, exit_when: bool) -> None:
        """Exit (with ``reason``) when ``cond``'s truth is ``exit_when``; continue in a new block."""
        b = self.builder
        cont = b.append_block()
        leave = b.append_block()
        if exit_when:
            b.branch(cond, ir.Edge(leave), ir.Edge(cont))
        else:
            b.branch(cond, ir.Edge(cont), ir.Edge(leave))
        b.position_at_end(leave)
        b.exit(reason, self.lineno)
        b.position_at_end(cont)

    # -- stack helpers -------------------------------------------------------------------------
    def push(self, item: StackItem) -> None:
        self.state.stack.append(item)

    def pop(self) -> StackItem:
        if not self.state.stack:
            raise self.refuse("unexpected bytecode (stack underflow)")
        return self.state.stack.pop()

    def pop_int(self) -> ir.Value:
        item = self.pop()
        if isinstance(item, ir.Value):
            return item
        if isinstance(item, _Tuple):
            raise _Unsupported("tuples are not supported")
        if item is _NONE:
            raise _Unsupported("None is not supported (values must be ints)")
        raise _Unsupported("this use of range() is not supported")

    def constant(self, value: object) -> StackItem:
        if type(value) is int or type(value) is bool:
            if not ir.fits_register(value):
                raise _Unsupported(f"constant {value} does not fit in 64 bits (-2**63 .. 2**64-1)")
            return ir.Const(value)
        if type(value) is tuple and all(type(v) in (int, bool) for v in value):
            return _Tuple([self.constant(v) for v in value])  # type: ignore[misc]
        if value is None:
            return _NONE
        if isinstance(value, types.CodeType) or callable(value):
            # The body of a lambda or nested def, or the import hook's marker for one (the only
            # callable constants there are).
            raise _Unsupported(refusal("MAKE_FUNCTION"))
        raise _Unsupported(f"{type(value).__name__} constant {value!r} is not supported")

    def load(self, name: str) -> None:
        local = self.state.locals.get(name)
        if local is None and name in self.tuple_locals:
            self.push(self.tuple_locals[name])  # never assigned: the same items everywhere
            return
        if local is None:
            raise _Unsupported(f"local variable {name!r} is used before it is assigned")
        if isinstance(local, _Maybe):
            self._split(local.flag, f"local variable {name!r} may be used before it is assigned",
                        exit_when=False)
            local = local.value
            self.state.locals[name] = local
        index = self.param_index.get(name)
        if index is not None:
            # Conservatively read: the local may still hold the argument (through block
            # parameters); checking an argument that was reassigned first only costs speed.
            self.read_params.add(index)
        self.push(local)

    def store(self, name: str) -> None:
        item = self.pop()
        if isinstance(item, _Tuple):
            self.state.locals[name] = item   # its items travel as block parameters
            return
        self.push(item)
        self.state.locals[name] = self.pop_int()

    # -- actions (named in the version tables) ---------------------------------------------------
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

    def _return(self, item: StackItem) -> None:
        if item is _NONE:
            raise _Unsupported("the function returns None (the result must be an int or a bool)")
        if isinstance(item, _Tuple):
            self.builder.ret_tuple(item.items)
            return
        if not isinstance(item, ir.Value):
            raise _Unsupported("returning a range is not supported")
        self.builder.ret(item)

    def op_return_value(self, instr: Op) -> None:
        self._return(self.pop())

    def op_return_const(self, instr: Op) -> None:
        self._return(self.constant(self.code.co_consts[instr.arg]))

    def op_raise_varargs(self, instr: Op) -> None:
        raise _Unsupported(_RAISE_REASON)

    def op_binary_op(self, instr: Op) -> None:
        arg = instr.arg
        if arg >= BINARY_OP_INPLACE:
            arg -= BINARY_OP_INPLACE
        if arg in BINARY_OP_REJECTED:
            raise _Unsupported(BINARY_OP_REJECTED[arg])
        op = _BINARY_OPS.get(arg)
        if op is None:
            raise _Unsupported(f"binary operator #{arg} is not supported")
        right = self.pop_int()
        left = self.pop_int()
        if op is ir.Opcode.POW and not (isinstance(right, ir.Const) and right.value >= 0):
            raise _Unsupported("** needs a constant, non-negative exponent")
        self.push(self.builder.binop(op, left, right))

    def op_compare_op(self, instr: Op) -> None:
        index = instr.arg >> self.table.compare_shift
        if index >= len(COMPARE_OPS):
            raise _Unsupported(f"comparison #{index} is not supported")
        right = self.pop_int()
        left = self.pop_int()
        self.push(self.builder.binop(_COMPARE_OPS[index], left, right))

    def op_unary_negative(self, instr: Op) -> None:
        self.push(self.builder.unop(ir.Opcode.NEG, self.pop_int()))

    def op_unary_invert(self, instr: Op) -> None:
        self.push(self.builder.unop(ir.Opcode.INVERT, self.pop_int()))

    def op_unary_positive(self, instr: Op) -> None:
        self.push(self.builder.unop(ir.Opcode.POS, self.pop_int()))

    def _truth(self, item: StackItem) -> ir.Value:
        if isinstance(item, ir.Value):
            return item
        if item is _NONE:
            return ir.Const(False)
        if isinstance(item, _Tuple):
            return ir.Const(bool(item.items))
        raise _Unsupported("this truth test is not supported")

    def op_unary_not(self, instr: Op) -> None:
        self.push(self.builder.binop(ir.Opcode.EQ, self._truth(self.pop()), ir.Const(0)))

    def op_to_bool(self, instr: Op) -> None:
        self.push(self.builder.binop(ir.Opcode.NE, self._truth(self.pop()), ir.Const(0)))

    def op_intrinsic_1(self, instr: Op) -> None:
        action = self.table.intrinsics.get(instr.arg)
        if action is None:
            raise _Unsupported(f"intrinsic #{instr.arg} is not supported")
        getattr(self, "op_" + action)(instr)

    def op_copy(self, instr: Op) -> None:
        n = instr.arg or 0
        if not 1 <= n <= len(self.state.stack):
            raise self.refuse("unexpected bytecode (COPY)")
        self.push(self.state.stack[-n])

    def op_swap(self, instr: Op) -> None:
        n = instr.arg or 0
        stack = self.state.stack
        if not 2 <= n <= len(stack):
            raise self.refuse("unexpected bytecode (SWAP)")
        stack[-1], stack[-n] = stack[-n], stack[-1]

    def op_pop_top(self, instr: Op) -> None:
        self.pop()

    def op_push_null(self, instr: Op) -> None:
        self.push(_NULL)

    def op_build_tuple(self, instr: Op) -> None:
        n = instr.arg or 0
        items = [self.pop_int() for _ in range(n)][::-1]
        self.push(_Tuple(items))

    def op_binary_subscr(self, instr: Op) -> None:
        index = self.pop()
        container = self.pop()
        if isinstance(container, _Tuple) and isinstance(index, ir.Const) \
                and -len(container.items) <= index.value < len(container.items):
            self.push(container.items[index.value])
            return
        if isinstance(container, _Tuple) and all(isinstance(v, ir.Const) for v in container.items):
            items = _table_items(tuple(int(v.value) for v in container.items))  # type: ignore[attr-defined]
            if items is not None and all(type(v.value) is int for v in container.items):  # type: ignore[attr-defined]
                container = _Table("()", items)
        if not isinstance(container, _Table) or not isinstance(index, ir.Value):
            raise _Unsupported("subscript is only supported on a module-level tuple, list or"
                               " bytearray of ints")
        self.push(self._table_item(container, index))

    def _table_item(self, table: _Table, index: ir.Value) -> ir.Value:
        """``table[index]`` with Python's negative indices; out of range exits (the original
        raises IndexError).  A tuple's length and items are constants; a list's or
        bytearray's are read when the code runs."""
        b, Opc = self.builder, ir.Opcode
        items = table.items
        kind = type(items).__name__
        reason = f"{kind} index out of range (the Python original raises IndexError)"
        if isinstance(items, tuple):
            if isinstance(index, ir.Const):
                if not -len(items) <= index.value < len(items):
                    raise _Unsupported(reason)
                return ir.Const(items[index.value])
            size: ir.Value = ir.Const(len(items))
        else:
            size = b.read(Opc.SEQ_LEN, table.name, items)
        position = self._select(b.binop(Opc.LT, index, ir.Const(0)), b.binop(Opc.ADD, index, size),
                                b.unop(Opc.POS, index))
        inside = b.binop(Opc.AND, b.binop(Opc.GE, position, ir.Const(0)), b.binop(Opc.LT, position, size))
        self._split(inside, reason, exit_when=False)
        op = Opc.TABLE if isinstance(items, tuple) else Opc.SEQ_ITEM
        return b.read(op, table.name, items, position)

    def op_unpack_sequence(self, instr: Op) -> None:
        item = self.pop()
        if isinstance(item, _Table) and isinstance(item.items, tuple):
            item = _Tuple([ir.Const(v) for v in item.items])
        if not isinstance(item, _Tuple) or len(item.items) != instr.arg:
            raise _Unsupported("unpacking is only supported for tuples of the same length")
        for value in reversed(item.items):
            self.push(value)

    # -- globals, calls, range loops ------------------------------------------------------------
    def op_load_global(self, instr: Op) -> None:
        name = self.code.co_names[instr.arg >> 1]
        if not instr.arg & 1:
            value = self.fn.__globals__.get(name, _MISSING)
            if value is _MISSING and name not in builtins_of(self.fn):
                self.unbound_globals.add(name)
            if type(value) in (int, bool) and ir.fits_register(value):
                # A module constant: read as the value it has now, guarded where Python reads it
                # (rebinding or deleting the name makes the code exit to the original).
                self.builder.guard_global(name, value)
                self.push(ir.Const(value))
                return
            items = _table_items(value)
            if items is not None:
                self.builder.guard_global(name, value)
                self.push(_Table(name, items))
                return
            if type(value) in (list, bytearray):
                self.builder.guard_global(name, value)
                self.push(_Table(name, value))
                return
            raise _Unsupported(f"global variable {name!r} is not supported"
                               + ("" if value is _MISSING else f" (it is a {type(value).__name__})"))
        self.push(_NULL)
        self.push(_Marker("call:" + name))

    def op_call(self, instr: Op) -> None:
        n = instr.arg
        if len(self.state.stack) < n + 2:
            raise self.refuse("unexpected bytecode (CALL)")
        args = [self.pop() for _ in range(n)][::-1]
        pair = [self.pop(), self.pop()]
        method = next((p for p in pair if isinstance(p, _Marker) and p.what.startswith("method:")), None)
        if method is not None:
            receiver = next(p for p in pair if p is not method)
            if n or not isinstance(receiver, ir.Value):
                raise _Unsupported(f"method call is not supported (.{method.what[7:]})")
            self.push(self.builder.unop(_INT_METHODS[method.what[7:]], receiver))
            return
        callee = next((p for p in pair if isinstance(p, _Marker) and p.what.startswith("call:")), None)
        if callee is None or _NULL not in pair:
            raise _Unsupported("call is not supported")
        name = callee.what[5:]
        if name not in self.fn.__globals__ and name not in builtins_of(self.fn):
            self.unbound_globals.add(name)
        target = self.fn.__globals__.get(name, _MISSING)
        source = self.resolve_callee(target) if self.resolve_callee is not None else None
        if source is not None and source.__globals__ is self.fn.__globals__:
            self.inline(name, target, source, args)
            return
        builtin = _BUILTIN_CALLS.get(name)
        arity = _BUILTIN_ARITY.get(name, (0, 0))
        if builtin is None or not arity[0] <= n <= arity[1] \
                or not all(isinstance(a, ir.Value) for a in args):
            raise _Unsupported(f"call to {name}() is not supported")
        if name in self.fn.__globals__ or builtins_of(self.fn).get(name) is not builtin:
            raise _Unsupported(f"{name!r} is not the builtin {name} here")
        self.builder.guard_builtin(name, builtin)
        getattr(self, "call_" + name)(args)

    def inline(self, name: str, target: object, source: types.FunctionType,
               args: list[StackItem]) -> None:
        """``name(*args)`` where the module binds ``name`` to a native function: its body is
        built from its bytecode and spliced in here, its parameters replaced by the arguments,
        each ``return`` a jump to the block after the call.  Guarded: rebinding the name makes
        the code exit, and the original then calls whatever the name holds.  An exit inside
        the callee exits the whole function (pure: the original computes the same)."""
        code = source.__code__
        if code in self.inlining:
            raise _Unsupported(f"recursive call of {name}() (runs in Python)")
        if len(self.inlining) > INLINE_DEPTH:
            raise _Unsupported(f"calls nested too deep to inline ({name}())")
        if len(args) != code.co_argcount:
            raise _Unsupported(f"call to {name}() with {len(args)} of its {code.co_argcount} arguments"
                               " is not supported")
        size = len(read_bytecode(code))
        if size > self.budget[0]:
            raise _Unsupported(f"call to {name}() is too large to inline (runs in Python)")
        self.budget[0] -= size
        try:
            body = Frontend(source, self.table, self.resolve_callee, self.inlining, self.budget).build()
        except NotCompilable as exc:
            raise _Unsupported(f"call to {name}(), which is not compilable: {exc.reason}") from None
        unpacked = {p.index for p in body.params if p.item is not None}
        for param in body.params:
            if param.item is None and param.index in unpacked:
                continue   # the tuple itself: its items are checked
            arg = args[param.index]
            fits = (isinstance(arg, ir.Value) if param.item is None else
                    isinstance(arg, _Tuple) and len(arg.items) == param.length)
            if not fits:
                raise _Unsupported(f"call to {name}() with an argument of another shape than its"
                                   f" parameter {param.name!r} is not supported")
        self.unbound_globals |= body.unbound_globals
        self.builder.guard_global(name, target)
        returns = body.returns()
        shapes = {(r.is_tuple, len(r.values)) for r in returns}
        if len(shapes) > 1:
            raise _Unsupported(f"{name}() returns values of different shapes")
        is_tuple, width = shapes.pop() if shapes else (False, 1)
        join = self.builder.append_block(f"{name}.ret")
        results: list[ir.Value] = [join.add_param(f"{name}.r") for _ in range(width)]
        _splice(body, args, join, f"{name}.", self.builder)
        self.builder.jump(body.entry)
        self.builder.position_at_end(join)
        self.push(_Tuple(results) if is_tuple else results[0])

    def call_range(self, values: list[ir.Value]) -> None:
        n = len(values)
        start: ir.Value
        step: ir.Value
        if n == 1:
            start, stop, step = ir.Const(0), values[0], ir.Const(1)
        elif n == 2:
            start, stop, step = values[0], values[1], ir.Const(1)
        else:
            start, stop, step = values
            if isinstance(step, ir.Const):
                if step.value == 0:
                    raise _Unsupported("range() step is zero (the Python original raises ValueError)")
            else:
                self._split(self.builder.binop(ir.Opcode.EQ, step, ir.Const(0)),
                            "range() step is zero (the Python original raises ValueError)", exit_when=True)
        self.push(_Range(start, stop, step))

    def _select(self, cond: ir.Value, if_true: ir.Value, if_false: ir.Value) -> ir.Value:
        """``if_true if cond else if_false`` as a diamond joined by a block parameter."""
        b = self.builder
        join = b.append_block()
        result = join.add_param("sel")
        b.branch(cond, ir.Edge(join, (if_true,)), ir.Edge(join, (if_false,)))
        b.position_at_end(join)
        return result

    def call_min(self, values: list[ir.Value]) -> None:
        # Python keeps the first smallest item: the running minimum changes on a strict `<`.
        current = values[0]
        for item in values[1:]:
            current = self._select(self.builder.binop(ir.Opcode.LT, item, current), item, current)
        self.push(current)

    def call_max(self, values: list[ir.Value]) -> None:
        current = values[0]
        for item in values[1:]:
            current = self._select(self.builder.binop(ir.Opcode.GT, item, current), item, current)
        self.push(current)

    def call_abs(self, values: list[ir.Value]) -> None:
        x = values[0]
        b = self.builder
        negative = b.binop(ir.Opcode.LT, x, ir.Const(0))
        # abs() of a bool is an int: +x keeps the value and makes it one.
        self.push(self._select(negative, b.unop(ir.Opcode.NEG, x), b.unop(ir.Opcode.POS, x)))

    def call_divmod(self, values: list[ir.Value]) -> None:
        a, d = values
        b = self.builder
        self.push(_Tuple([b.binop(ir.Opcode.FLOORDIV, a, d), b.binop(ir.Opcode.MOD, a, d)]))

    def call_pow(self, values: list[ir.Value]) -> None:
        if len(values) == 3:
            self.pow_mod(*values)
            return
        base, exponent = values
        if not (isinstance(exponent, ir.Const) and type(exponent.value) is int and exponent.value >= 0):
            raise _Unsupported("pow() needs a constant, non-negative exponent (and no modulus)")
        self.push(self.builder.binop(ir.Opcode.POW, base, exponent))

    def pow_mod(self, base: ir.Value, exponent: ir.Value, modulus: ir.Value) -> None:
        """``pow(b, e, m)`` for ``e >= 0`` and ``m > 0`` (a negative exponent is a modular
        inverse, a zero modulus raises, a negative one gives results <= 0: Python's)."""
        b, Opc = self.builder, ir.Opcode
        if isinstance(exponent, ir.Const) and exponent.value < 0:
            raise _Unsupported("pow() with a negative exponent (a modular inverse) runs in Python")
        self._split(b.binop(Opc.LE, modulus, ir.Const(0)),
                    "pow() with a modulus <= 0 runs in Python", exit_when=True)
        self._split(b.binop(Opc.LT, exponent, ir.Const(0)),
                    "pow() with a negative exponent (a modular inverse) runs in Python", exit_when=True)
        reduced = b.binop(Opc.MOD, base, modulus)
        self.push(b.emit(Opc.POWMOD, reduced, exponent, modulus))

    # -- int methods ---------------------------------------------------------------------------
    def _method(self, name: str) -> None:
        """``x.name`` for a call: only int methods the IR has (the receiver is an int or a bool,
        whose methods no one can replace)."""
        if name not in _INT_METHODS:
            raise _Unsupported(f"method call is not supported (.{name})")
        receiver = self.pop()
        if not isinstance(receiver, ir.Value):
            raise _Unsupported(f"method call is not supported (.{name})")
        self.push(_Marker("method:" + name))
        self.push(receiver)

    def op_load_method(self, instr: Op) -> None:           # 3.11
        self._method(self.code.co_names[instr.arg])

    def op_load_attr(self, instr: Op) -> None:             # 3.12+: bit 0 = load a method
        name = self.code.co_names[instr.arg >> 1]
        if not instr.arg & 1:
            raise _Unsupported(f"attribute access is not supported (.{name})")
        self._method(name)

    def op_get_iter(self, instr: Op) -> None:
        item = self.pop()
        if not isinstance(item, _Range):
            raise _Unsupported("iteration over anything but range() is not supported")
        self.push(_RangeIter(item.start, item.stop, item.step))

    def op_for_iter(self, instr: Op) -> None:
        it = self.state.stack[-1] if self.state.stack else None
        if not isinstance(it, _RangeIter):
            raise _Unsupported("iteration over anything but range() is not supported")
        b, Opc = self.builder, ir.Opcode
        step = it.step
        if isinstance(step, ir.Const):
            more = b.binop(Opc.LT if step.value > 0 else Opc.GT, it.cur, it.stop)
        else:
            up = b.binop(Opc.GT, step, ir.Const(0))
            going_up = b.binop(Opc.AND, up, b.binop(Opc.LT, it.cur, it.stop))
            going_down = b.binop(Opc.AND, b.binop(Opc.EQ, up, ir.Const(0)), b.binop(Opc.GT, it.cur, it.stop))
            more = b.binop(Opc.OR, going_up, going_down)
        done = self.state.copy()
        done.stack.pop()
        exhausted = self.edge(jump_target(instr) + 2 * self.table.for_iter_skip, done)
        body = b.append_block()
        b.branch(more, ir.Edge(body), exhausted)
        b.position_at_end(body)
        self.state.stack[-1] = _RangeIter(b.binop(Opc.ADD, it.cur, step), it.stop, step)
        self.push(it.cur)
        b.jump(*self._edge_parts(instr.next_offset))

    def op_end_for(self, instr: Op) -> None:
        raise _Unsupported("unexpected END_FOR")

    # -- jumps -------------------------------------------------------------------------------
    def op_jump(self, instr: Op) -> None:
        self.builder.jump(*self._edge_parts(jump_target(instr)))

    def _branch_on(self, cond: ir.Value, jump_when: bool, instr: Op,
                   taken: _State, fallthrough: _State) -> None:
        jumped = self.edge(jump_target(instr), taken)
        following = self.edge(instr.next_offset, fallthrough)
        if jump_when:
            self.builder.branch(cond, jumped, following)
        else:
            self.builder.branch(cond, following, jumped)

    def op_pop_jump_if_false(self, instr: Op) -> None:
        cond = self._truth(self.pop())
        self._branch_on(cond, False, instr, self.state, self.state)

    def op_pop_jump_if_true(self, instr: Op) -> None:
        cond = self._truth(self.pop())
        self._branch_on(cond, True, instr, self.state, self.state)

    def _jump_if_none(self, instr: Op, when_none: bool) -> None:
        is_none = self.pop() is _NONE  # every other stack item is an int, a bool or a marker
        target = jump_target(instr) if is_none == when_none else instr.next_offset
        self.builder.jump(*self._edge_parts(target))

    def op_pop_jump_if_none(self, instr: Op) -> None:
        self._jump_if_none(instr, True)

    def op_pop_jump_if_not_none(self, instr: Op) -> None:
        self._jump_if_none(instr, False)

    def _jump_or_pop(self, instr: Op, jump_when: bool) -> None:
        item = self.state.stack[-1] if self.state.stack else None
        if item is None:
            raise self.refuse("unexpected bytecode (stack underflow)")
        cond = self._truth(item)
        taken = self.state.copy()
        self.state.stack.pop()
        self._branch_on(cond, jump_when, instr, taken, self.state)

    def op_jump_if_false_or_pop(self, instr: Op) -> None:
        self._jump_or_pop(instr, False)

    def op_jump_if_true_or_pop(self, instr: Op) -> None:
        self._jump_or_pop(instr, True)


def _splice(body: ir.Function, args: list[StackItem], join: ir.Block, prefix: str,
            builder: ir.Builder) -> None:
    """Move ``body``'s blocks into ``builder``'s function: its parameters become ``args`` (an
    item of a tuple parameter, the item of the tuple passed), its returns jumps to ``join``,
    its exits name the callee."""
    def arg(value: ir.Value) -> ir.Value:
        if not isinstance(value, ir.Param):
            return value
        passed = args[value.index]
        if value.item is not None:
            assert isinstance(passed, _Tuple)
            return passed.items[value.item]
        assert isinstance(passed, ir.Value)
        return passed

    callee = prefix.rstrip(".")
    for block in body.blocks:
        block.name = prefix + block.name
        for instr in block.body:
            instr.args = tuple(arg(a) for a in instr.args)
        term = block.terminator
        if isinstance(term, ir.Return):
            block.terminator = ir.Jump(ir.Edge(join, tuple(arg(v) for v in term.values)), term.lineno)
        elif isinstance(term, ir.Exit):
            term.reason = f"in {callee}(): {term.reason}"
        else:
            if isinstance(term, ir.Branch):
                term.cond = arg(term.cond)
            assert term is not None
            for edge in term.edges():
                edge.args = tuple(arg(a) for a in edge.args)
        builder.blocks.append(block)


def build_ir(fn: types.FunctionType, table: VersionTable,
             resolve_callee: CalleeResolver | None = None) -> ir.Function:
    """The IR of ``fn`` (raises :class:`NotCompilable` with reason and line).  Calls to the
    functions ``resolve_callee`` recognises (a native's Python source) are inlined."""
    return Frontend(fn, table, resolve_callee).build()
