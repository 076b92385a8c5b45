"""Linear-scan register allocation over the control-flow graph.

Blocks are laid out in the optimizer's order (reverse postorder: a loop's
body follows its header), and every point gets a position: a block's
parameters are defined at its first position, each instruction has one, and
the terminator the last.  Liveness is the classic backward dataflow over
blocks (a block parameter is defined at its block's start; a jump's
arguments are used at the jump), iterated to a fixpoint for loops.  A
value's *interval* covers every position where it is live, from its
definition to its last use, stretched over whole loops when it is live
around one (Poletto & Sarkar's linear scan on the hull of Wimmer & Franz's
live ranges: one interval per value, no holes, so a loop-carried value keeps
one register through the loop).

When registers run out, the interval that ends last goes to a stack slot for
its whole life.  RAX, RCX and RDX are never allocated: the code generator
needs them as scratch (``idiv`` uses RAX:RDX, variable shifts use CL).  In a
function with loops, R11 is kept for the interrupt-poll counter.
Caller-saved registers are preferred; callee-saved ones cost a push/pop in
the prologue/epilogue.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir
from .encoder import Reg

CALLER_SAVED = (Reg.RSI, Reg.RDI, Reg.R8, Reg.R9, Reg.R10, Reg.R11)
CALLEE_SAVED = (Reg.RBX, Reg.RBP, Reg.R12, Reg.R13, Reg.R14, Reg.R15)
POLL_COUNTER = Reg.R11


@dataclass(frozen=True)
class StackSlot:
    index: int


Location = Reg | StackSlot


@dataclass
class Allocation:
    """Where each value lives; values without a location are unused."""

    locations: dict[ir.Value, Location] = field(default_factory=dict)
    callee_saved: list[Reg] = field(default_factory=list)
    spill_slots: int = 0
    #: Blocks in layout order, with the position each starts at.
    block_start: dict[ir.Block, int] = field(default_factory=dict)

    def of(self, value: ir.Value) -> Location | None:
        return self.locations.get(value)


def _tracked(value: ir.Value) -> bool:
    return not isinstance(value, ir.Const)


def liveness(fn: ir.Function) -> tuple[dict[ir.Block, set[ir.Value]], dict[ir.Block, set[ir.Value]]]:
    """Live-in and live-out sets per block (parameters of a block are not live into it)."""
    uses: dict[ir.Block, set[ir.Value]] = {}
    defs: dict[ir.Block, set[ir.Value]] = {}
    for block in fn.blocks:
        defined: set[ir.Value] = set(block.params)
        used: set[ir.Value] = set()
        for instr in block.body:
            for arg in instr.args:
                if _tracked(arg) and arg not in defined:
                    used.add(arg)
            defined.add(instr)
        assert block.terminator is not None
        for arg in block.terminator.uses():
            if _tracked(arg) and arg not in defined:
                used.add(arg)
        uses[block] = used
        defs[block] = defined
    live_in: dict[ir.Block, set[ir.Value]] = {b: set(uses[b]) for b in fn.blocks}
    live_out: dict[ir.Block, set[ir.Value]] = {b: set() for b in fn.blocks}
    changed = True
    while changed:
        changed = False
        for block in reversed(fn.blocks):
            out: set[ir.Value] = set()
            for succ in block.successors():
                out |= live_in[succ]
            if out != live_out[block]:
                live_out[block] = out
                new_in = uses[block] | (out - defs[block])
                if new_in != live_in[block]:
                    live_in[block] = new_in
                changed = True
    return live_in, live_out


def intervals(fn: ir.Function) -> tuple[dict[ir.Value, tuple[int, int]], dict[ir.Block, int]]:
    """Each value's [start, end] hull of live positions, and each block's first position."""
    live_in, live_out = liveness(fn)
    start: dict[ir.Value, int] = {}
    end: dict[ir.Value, int] = {}
    param: ir.Value  # a parameter of the function, then of each block
    block_start: dict[ir.Block, int] = {}

    def extend(value: ir.Value, position: int) -> None:
        if position < start.get(value, position + 1):
            start[value] = position
        if position > end.get(value, -1):
            end[value] = position

    for param in fn.params:
        start[param] = 0
        end[param] = 0
    position = 1
    for block in fn.blocks:
        first = position
        block_start[block] = first
        for param in block.params:
            extend(param, first)
        position += 1
        for instr in block.body:
            for arg in instr.args:
                if _tracked(arg):
                    extend(arg, position)
            extend(instr, position)
            position += 1
        assert block.terminator is not None
        for arg in block.terminator.uses():
            if _tracked(arg):
                extend(arg, position)
        last = position
        for value in live_in[block]:
            extend(value, first)
        for value in live_out[block]:
            extend(value, last)
        position += 1
    return {v: (start[v], end[v]) for v in start}, block_start


def allocate(fn: ir.Function, reserve_poll_counter: bool = False) -> Allocation:
    ranges, block_start = intervals(fn)
    alloc = Allocation(block_start=block_start)
    locations = alloc.locations
    pool = tuple(r for r in CALLER_SAVED + CALLEE_SAVED if not (reserve_poll_counter and r is POLL_COUNTER))
    rank = {reg: i for i, reg in enumerate(pool)}
    free: set[Reg] = set(pool)
    active: list[tuple[int, ir.Value]] = []    # (end, value), values in registers

    def spill_slot() -> StackSlot:
        alloc.spill_slots += 1
        return StackSlot(alloc.spill_slots - 1)

    order = sorted(ranges, key=lambda v: ranges[v][0])
    for value in order:
        begin, finish = ranges[value]
        if begin == finish and not isinstance(value, ir.BlockParam):
            continue  # defined and never used after: computed into scratch and dropped
        # Values whose last use is this instruction give their registers back first, so the
        # result can reuse one (preferably its first operand's: no move for two-address code).
        preferred: list[Reg] = []
        keep: list[tuple[int, ir.Value]] = []
        for entry in active:
            if entry[0] < begin or (entry[0] == begin and isinstance(value, ir.Instr)):
                freed = locations[entry[1]]
                assert isinstance(freed, Reg)
                free.add(freed)
            else:
                keep.append(entry)
        active = keep
        if isinstance(value, ir.Instr):
            for arg in value.args[: 2 if value.op.commutative else 1]:
                loc = locations.get(arg)
                if isinstance(loc, Reg) and ranges.get(arg, (0, -1))[1] == begin:
                    preferred.append(loc)
        reg = next((r for r in preferred if r in free), None)
        if reg is None and free:
            reg = min(free, key=rank.__getitem__)
        if reg is None:
            victim_index = max(range(len(active)), key=lambda i: active[i][0])
            victim_end, victim = active[victim_index]
            if victim_end <= finish:
                locations[value] = spill_slot()
                continue
            victim_reg = locations[victim]
            assert isinstance(victim_reg, Reg)  # an active value is in a register
            reg = victim_reg
            del active[victim_index]
            locations[victim] = spill_slot()
        else:
            free.discard(reg)
        locations[value] = reg
        active.append((finish, value))
        if reg in CALLEE_SAVED and reg not in alloc.callee_saved:
            alloc.callee_saved.append(reg)
    alloc.callee_saved.sort(key=rank.__getitem__)
    return alloc
