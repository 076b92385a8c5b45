"""Linear-scan register allocation over the straight-line IR.

With no control flow a value's live range is one interval, from its
definition to its last use, so linear scan (Poletto & Sarkar) is the natural
fit.  When registers run out, the interval that ends last goes to a stack
slot for its whole life.  RAX, RCX and RDX are never allocated: the code
generator needs them as scratch (``idiv`` uses RAX:RDX, variable shifts use
CL).  Caller-saved registers are preferred; callee-saved ones cost a
push/pop in the prologue/epilogue.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir
from .encoder import Reg

CALLER_SAVED = (Reg.RSI, Reg.RDI, Reg.R8, Reg.R9, Reg.R10, Reg.R11)
CALLEE_SAVED = (Reg.RBX, Reg.RBP, Reg.R12, Reg.R13, Reg.R14, Reg.R15)


@dataclass(frozen=True)
class StackSlot:
    index: int


Location = Reg | StackSlot


@dataclass
class Allocation:
    """Where each value lives; values without a location are unused."""

    locations: dict[int, Location] = field(default_factory=dict)
    callee_saved: list[Reg] = field(default_factory=list)
    spill_slots: int = 0

    def of(self, value: ir.Value) -> Location | None:
        return self.locations.get(id(value))


def live_ranges(fn: ir.Function) -> tuple[dict[int, int], dict[int, int]]:
    """Definition and last-use positions: params at 0, body[k] at k+1, the result at len+1."""
    defined: dict[int, int] = {}
    last_use: dict[int, int] = {}
    for param in fn.params:
        defined[id(param)] = 0
    for position, instr in enumerate(fn.body, start=1):
        defined[id(instr)] = position
        for arg in instr.args:
            if not isinstance(arg, ir.Const):
                last_use[id(arg)] = position
    if not isinstance(fn.result, ir.Const):
        last_use[id(fn.result)] = len(fn.body) + 1
    return defined, last_use


def allocate(fn: ir.Function, pool: tuple[Reg, ...] = CALLER_SAVED + CALLEE_SAVED) -> Allocation:
    _, last_use = live_ranges(fn)
    alloc = Allocation()
    locations = alloc.locations
    rank = {reg: i for i, reg in enumerate(pool)}
    free: set[Reg] = set(pool)
    active: dict[int, tuple[int, ir.Value]] = {}   # id -> (last use, value), values in registers
    dying: dict[int, list[ir.Value]] = {}          # position -> values last used there
    for value in [*fn.params, *fn.body]:
        end = last_use.get(id(value))
        if end is not None:
            dying.setdefault(end, []).append(value)

    def spill_slot() -> StackSlot:
        alloc.spill_slots += 1
        return StackSlot(alloc.spill_slots - 1)

    def assign(value: ir.Value, preferred: list[Reg]) -> None:
        end = last_use.get(id(value))
        if end is None:
            return  # unused: computed into scratch and dropped
        reg = next((r for r in preferred if r in free), None)
        if reg is None and free:
            reg = min(free, key=rank.__getitem__)
        if reg is None:
            # Out of registers: the interval ending last goes to the stack for its whole life.
            victim_end, victim = max(active.values(), key=lambda entry: entry[0])
            if victim_end <= end:
                locations[id(value)] = spill_slot()
                return
            reg = locations[id(victim)]  # type: ignore[assignment]
            del active[id(victim)]
            locations[id(victim)] = spill_slot()
        else:
            free.discard(reg)
        locations[id(value)] = reg
        active[id(value)] = (end, value)
        if reg in CALLEE_SAVED and reg not in alloc.callee_saved:
            alloc.callee_saved.append(reg)

    for param in fn.params:
        assign(param, [])
    for position, instr in enumerate(fn.body, start=1):
        # Operands dying here give their registers back first, so the result can reuse one
        # (preferably the first operand's: a two-address instruction then needs no move).
        preferred = []
        for value in dying.get(position, ()):
            if active.pop(id(value), None) is not None:
                free.add(locations[id(value)])  # type: ignore[arg-type]
        for arg in instr.args[: 2 if instr.op.commutative else 1]:
            loc = locations.get(id(arg))
            if isinstance(loc, Reg) and last_use.get(id(arg)) == position:
                preferred.append(loc)
        assign(instr, preferred)
    alloc.callee_saved.sort(key=rank.__getitem__)
    return alloc
