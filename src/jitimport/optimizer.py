"""IR -> IR over the control-flow graph: folding, algebra, CSE, branch folding, block-parameter
pruning, block merging and dead-code elimination.

Every rewrite must keep Python's result, type included: ``x * 1`` is ``x``
only when ``x`` cannot be a bool (``True * 1 == 1``, an int), so identities
that would return a possibly-bool operand return ``+x`` (an int) instead.
Values in the machine code are 64-bit and any operation whose exact result
does not fit leaves through the exit, so a rewrite is valid when it holds
for all integers.  Removing an overflow check is fine (the rewritten form
computes the same mathematical value); removing a check that Python would
raise on is not, which is what :func:`jitimport.ir.may_fail_in_python`
guards in dead-code elimination.

The optimizer works in place (the frontend can rebuild the unoptimized IR
on demand).  Passes, repeated until nothing changes (at most a few rounds):

* :class:`Simplifier`: per block in reverse postorder, constant folding,
  algebraic rewrites and common-subexpression elimination within the block;
  branches on constants become jumps, ``branch (x != 0)`` branches on ``x``;
* unreachable blocks are dropped and the rest kept in reverse postorder;
* :func:`prune_params`: a block parameter that receives one value on every
  edge (or itself, around a loop) is that value;
* :func:`merge_blocks`: a block entered only by a jump from one block joins
  it; an empty block that only jumps on is bypassed;
* :func:`eliminate_dead_code`: values (instructions and block parameters)
  nothing live uses, unless Python could fail on them.

Last, :func:`hoist_guards` moves every guard to the entry: the assumptions
(a builtin, a module constant, a native callee) are checked once per call
instead of once per loop iteration.
"""
from __future__ import annotations

from . import ir
from .ir import BlockParam, Branch, Const, Edge, Instr, Jump, Opcode, Param, Value

_NO_FOLD_LIMIT = ir.NO_FOLD_LIMIT
_MAX_ROUNDS = 4


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def value_key(value: Value) -> object:
    """Identity for values, (type, value) for constants (``True`` and ``1`` differ)."""
    return ("c", *value.key) if isinstance(value, Const) else value


def maybe_bool(value: Value) -> bool:
    """Could this value be a bool at run time?  (Parameters never are: a bool argument makes
    the machine code leave to the original.)"""
    if isinstance(value, Const):
        return type(value.value) is bool
    if isinstance(value, Param):
        return False
    if isinstance(value, Instr):
        if value.op.is_compare:
            return True
        if value.op.is_bitwise:
            return all(maybe_bool(a) for a in value.args)
        return False
    return True  # a block parameter: whatever its incoming values are


class Simplifier:
    """One forward pass over the blocks: folds, rewrites and value-numbers each body."""

    def __init__(self, fn: ir.Function) -> None:
        self.fn = fn
        self.replaced: dict[Value, Value] = {}
        self.rank: dict[Value, int] = {}
        self.table: dict[tuple[object, ...], Instr] = {}
        self.body: list[Instr] = []
        self.lineno: int | None = None
        self.changed = False

    def resolve(self, value: Value) -> Value:
        while value in self.replaced:
            value = self.replaced[value]
        return value

    def order_key(self, value: Value) -> tuple[int, int]:
        if isinstance(value, Param):
            return (0, value.index)
        if isinstance(value, Const):
            return (2, 0)
        return (1, self.rank.get(value, 1 << 30))

    def run(self) -> bool:
        for block in self.fn.reverse_postorder():
            for param in block.params:
                self.rank[param] = len(self.rank)
            self.table = {}
            self.body = []
            for instr in block.body:
                self.lineno = instr.lineno
                if instr.op.is_guard:
                    # Nothing runs between two guards of one block (no polls inside a block):
                    # the second of two identical checks cannot fail.
                    key = (instr.op, instr.attr, id(instr.expected))
                    if key not in self.table:
                        self.table[key] = instr
                        self.body.append(instr)
                    continue
                if instr.op.reads_object:
                    self.table_read(instr)
                    continue
                args = tuple(self.resolve(a) for a in instr.args)
                result = self.add(instr.op, args, instr)
                if result is not instr:
                    self.replaced[instr] = result
                    self.changed = True
            block.body = self.body
        for block in self.fn.blocks:
            for instr in block.body:
                instr.args = tuple(self.resolve(a) for a in instr.args)
            self.simplify_terminator(block)
        return self.changed

    def table_read(self, instr: Instr) -> None:
        """``T[i]`` of a constant tuple with a constant index is the item; other reads are
        CSE'd by (table, index) within the block (a list can only change at a poll, on a back
        edge, between blocks)."""
        instr.args = tuple(self.resolve(a) for a in instr.args)
        items = instr.expected
        if instr.op is Opcode.TABLE and isinstance(instr.args[0], Const):
            assert isinstance(items, tuple)
            index = instr.args[0].value
            if 0 <= index < len(items):
                self.replaced[instr] = Const(items[index])
                self.changed = True
                return
        key = (instr.op, id(items), *(value_key(a) for a in instr.args))
        existing = self.table.get(key)
        if existing is not None:
            self.replaced[instr] = existing
            self.changed = True
            return
        self.table[key] = instr
        self.body.append(instr)

    # -- building -------------------------------------------------------------------------
    def add(self, op: Opcode, args: tuple[Value, ...], reuse: Instr | None = None) -> Value:
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
        elif op.is_compare and isinstance(args[0], Const) and not isinstance(args[1], Const):
            op, args = ir.SWAPPED[op], (args[1], args[0])
        rewritten = self.rewrite(op, args)
        if rewritten is not None:
            return rewritten
        key = (op, *(value_key(a) for a in args))
        existing = self.table.get(key)
        if existing is not None:
            return existing
        if reuse is not None and reuse.op is op:
            instr = reuse
            if instr.args != args:
                instr.args = args
                self.changed = True
        else:
            instr = Instr(op, args, self.lineno)
            self.changed = True
        self.rank[instr] = len(self.rank)
        self.body.append(instr)
        self.table[key] = instr
        return instr

    def as_int(self, value: Value) -> Value:
        """``value`` where Python's result is an int equal to it (``+x`` if ``x`` may be a bool)."""
        return self.add(Opcode.POS, (value,)) if maybe_bool(value) else value

    # -- terminators ---------------------------------------------------------------------------
    def simplify_terminator(self, block: ir.Block) -> None:
        term = block.terminator
        assert term is not None
        if isinstance(term, Jump):
            term.edge.args = tuple(self.resolve(a) for a in term.edge.args)
            return
        if isinstance(term, ir.Return):
            term.values = tuple(self.resolve(v) for v in term.values)
            return
        if not isinstance(term, Branch):
            return
        for edge in (term.if_true, term.if_false):
            edge.args = tuple(self.resolve(a) for a in edge.args)
        cond = self.resolve(term.cond)
        while isinstance(cond, Instr) and cond.op in (Opcode.NE, Opcode.EQ) \
                and isinstance(cond.args[1], Const) and cond.args[1].value == 0:
            if cond.op is Opcode.EQ:
                term.if_true, term.if_false = term.if_false, term.if_true
            cond = cond.args[0]
        term.cond = cond
        if isinstance(cond, Const):
            block.terminator = Jump(term.if_true if cond.value else term.if_false, term.lineno)
            self.changed = True
        elif term.if_true.target is term.if_false.target and \
                [value_key(a) for a in term.if_true.args] == [value_key(a) for a in term.if_false.args]:
            block.terminator = Jump(term.if_true, term.lineno)
            self.changed = True

    # -- algebra ----------------------------------------------------------------------------------
    def rewrite(self, op: Opcode, args: tuple[Value, ...]) -> Value | None:
        x = args[0]
        if op is Opcode.POS:
            return None if maybe_bool(x) else x
        if op is Opcode.NEG or op is Opcode.INVERT:
            if isinstance(x, Instr) and x.op is op and not maybe_bool(x.args[0]):
                return x.args[0]  # --x == x, ~~x == x
            return None
        if op.arity == 1:
            return None
        y = args[1]
        if op.is_compare:
            return self.rewrite_compare(op, x, y)
        c = y.value if isinstance(y, Const) else None
        if c is None:
            if x is y:
                if op is Opcode.SUB:
                    return Const(0)
                if op is Opcode.XOR and not maybe_bool(x):
                    return Const(0)
                if op in (Opcode.AND, Opcode.OR):
                    return x
            if op is Opcode.SUB and isinstance(x, Const) and x.value == 0 and type(x.value) is int:
                return self.add(Opcode.NEG, (y,))
            return None
        if type(c) is bool:
            return None  # keep bool arithmetic as written: its result type depends on both sides
        if op is Opcode.ADD or op is Opcode.SUB:
            if c == 0:
                return self.as_int(x)
            if op is Opcode.SUB:
                # x - c == x + (-c), when -c is a signed 64-bit constant (the checked add needs one).
                return self.add(Opcode.ADD, (x, Const(-c))) if ir.fits_int64(-c) else None
            return self.reassociate(op, x, c)
        if op is Opcode.MUL:
            if c == 0:
                return Const(0)
            if c == 1:
                return self.as_int(x)
            if c == -1:
                return self.add(Opcode.NEG, (x,))
            return self.reassociate(op, x, c)
        if op is Opcode.FLOORDIV:
            if c == 1:
                return self.as_int(x)
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
                return self.as_int(x)
            if c <= _NO_FOLD_LIMIT:
                return self.expand_pow(x, c)
            return None
        if op is Opcode.LSHIFT or op is Opcode.RSHIFT:
            if c == 0:
                return self.as_int(x)
            return None
        if op is Opcode.AND:
            if c == 0:
                return Const(0)
            if c == -1:
                return self.as_int(x)
            return self.reassociate(op, x, c)
        if op is Opcode.OR:
            if c == 0:
                return self.as_int(x)
            if c == -1:
                return Const(-1)
            return self.reassociate(op, x, c)
        if op is Opcode.XOR:
            if c == 0:
                return self.as_int(x)
            if c == -1 and not maybe_bool(x):
                return self.add(Opcode.INVERT, (x,))
            return self.reassociate(op, x, c)
        return None

    def rewrite_compare(self, op: Opcode, x: Value, y: Value) -> Value | None:
        if x is y:
            return Const(op in (Opcode.EQ, Opcode.LE, Opcode.GE))
        if isinstance(y, Const) and y.value == 0 and isinstance(x, Instr) and x.op.is_compare:
            if op is Opcode.NE:
                return x                                  # (a < b) != 0  is  a < b
            if op is Opcode.EQ:
                return self.add(ir.NEGATED[x.op], x.args)  # (a < b) == 0  is  a >= b
        return None

    def reassociate(self, op: Opcode, x: Value, c: int) -> Value | None:
        """(y op c1) op c2 -> y op (c1 op c2) for associative ops, when c1 op c2 fits."""
        if isinstance(x, Instr) and x.op is op and isinstance(x.args[1], Const) \
                and type(x.args[1].value) is int:
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
        return self.as_int(result)


# -- CFG clean-up ------------------------------------------------------------------------------
def substitute(fn: ir.Function, mapping: dict[Value, Value]) -> None:
    """Replace every use of a key of ``mapping`` (transitively) by its value."""
    if not mapping:
        return

    def resolve(value: Value) -> Value:
        while value in mapping:
            value = mapping[value]
        return value

    for block in fn.blocks:
        for instr in block.body:
            instr.args = tuple(resolve(a) for a in instr.args)
        term = block.terminator
        if isinstance(term, ir.Return):
            term.values = tuple(resolve(v) for v in term.values)
        elif isinstance(term, Branch):
            term.cond = resolve(term.cond)
        if term is not None:
            for edge in term.edges():
                edge.args = tuple(resolve(a) for a in edge.args)


def drop_unreachable(fn: ir.Function) -> None:
    """Keep the blocks reachable from the entry, in reverse postorder."""
    fn.blocks = fn.reverse_postorder()


def _remove_param(block: ir.Block, index: int, edges: list[Edge]) -> None:
    del block.params[index]
    for edge in edges:
        edge.args = edge.args[:index] + edge.args[index + 1:]


def prune_params(fn: ir.Function) -> bool:
    """Block parameters that receive a single value (besides themselves) become that value."""
    changed_any = False
    changed = True
    while changed:
        changed = False
        edges = fn.incoming_edges()
        mapping: dict[Value, Value] = {}
        for block in fn.blocks[1:]:
            incoming = edges[block]
            for index in range(len(block.params) - 1, -1, -1):
                param = block.params[index]
                seen: dict[object, Value] = {}
                for edge in incoming:
                    arg = edge.args[index]
                    while arg in mapping:
                        arg = mapping[arg]
                    if arg is not param:
                        seen.setdefault(value_key(arg), arg)
                if len(seen) <= 1:
                    replacement = next(iter(seen.values())) if seen else Const(0)
                    mapping[param] = replacement
                    _remove_param(block, index, incoming)
                    changed = True
        substitute(fn, mapping)
        changed_any |= changed
    return changed_any


def merge_blocks(fn: ir.Function) -> bool:
    """Join a block to its only predecessor when that one just jumps to it; bypass empty
    blocks without parameters that only jump on."""
    changed = False
    edges = fn.incoming_edges()
    mapping: dict[Value, Value] = {}
    for block in fn.blocks[1:]:
        term = block.terminator
        if not block.params and not block.body and isinstance(term, Jump) and term.edge.target is not block:
            target = term.edge.target
            edges[target] = [e for e in edges[target] if e is not term.edge]
            for edge in edges[block]:
                edge.target = target
                edge.args = term.edge.args
                edges[target].append(edge)
            edges[block] = []
            changed = True
    alive = {fn.entry}
    for block in fn.blocks[1:]:
        if edges[block]:
            alive.add(block)
    for block in list(fn.blocks):
        if block not in alive:
            continue
        while True:
            term = block.terminator
            if not isinstance(term, Jump):
                break
            succ = term.edge.target
            if succ is block or succ is fn.entry or len(edges[succ]) != 1:
                break
            for param, arg in zip(succ.params, term.edge.args):
                mapping[param] = arg
            block.body.extend(succ.body)
            block.terminator = succ.terminator
            succ.params = []
            succ.body = []
            edges[succ] = []
            alive.discard(succ)
            changed = True
    fn.blocks = [b for b in fn.blocks if b in alive]
    substitute(fn, mapping)
    if changed:
        drop_unreachable(fn)
    return changed


def eliminate_dead_code(fn: ir.Function) -> bool:
    """Drop instructions and block parameters that nothing live uses, unless Python could fail."""
    edges = fn.incoming_edges()
    index_of = {param: i for block in fn.blocks for i, param in enumerate(block.params)}
    live: set[Value] = set()
    work: list[Value] = []
    for block in fn.blocks:
        work += [instr for instr in block.body if ir.may_fail_in_python(instr)]
        term = block.terminator
        if isinstance(term, ir.Return):
            work.extend(term.values)
        elif isinstance(term, Branch):
            work.append(term.cond)
    while work:
        value = work.pop()
        if value in live or isinstance(value, (Const, Param)):
            continue
        live.add(value)
        if isinstance(value, Instr):
            work.extend(value.args)
        elif isinstance(value, BlockParam):
            i = index_of[value]
            work.extend(edge.args[i] for edge in edges[value.block])
    changed = False
    for block in fn.blocks:
        body = [instr for instr in block.body if instr in live]
        if len(body) != len(block.body):
            block.body = body
            changed = True
        for index in range(len(block.params) - 1, -1, -1):
            if block.params[index] not in live:
                _remove_param(block, index, edges[block])
                changed = True
    return changed


def hoist_guards(fn: ir.Function) -> None:
    """Every guard, once, at the start of the entry block.

    Checking an assumption earlier than Python would look the name up is safe: a
    failed guard only exits, and the original (pure) then runs the whole call
    itself.  Between the entry and any use, only the interrupt poll on a back edge
    can run Python code (a signal handler that rebinds a name): the code
    generator checks every guard again after each poll.
    """
    seen: dict[tuple[object, ...], ir.Instr] = {}
    for block in fn.blocks:
        kept = []
        for instr in block.body:
            if instr.op.is_guard:
                seen.setdefault((instr.op, instr.attr, id(instr.expected)), instr)
            else:
                kept.append(instr)
        block.body = kept
    fn.entry.body[:0] = list(seen.values())


def optimize(fn: ir.Function) -> ir.Function:
    """The full pipeline, in place (see the module docstring); returns ``fn``."""
    drop_unreachable(fn)
    for _ in range(_MAX_ROUNDS):
        changed = Simplifier(fn).run()
        drop_unreachable(fn)
        changed |= prune_params(fn)
        changed |= merge_blocks(fn)
        changed |= eliminate_dead_code(fn)
        if not changed:
            break
    hoist_guards(fn)
    return fn
