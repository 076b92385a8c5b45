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
3. The body, with an overflow/exception check after every exact operation
   that can leave 64 bits or raise, and wrapping arithmetic for values only
   needed modulo 2**64; all checks jump to one fallback block.
4. The result is boxed by tail-calling ``PyLong_FromLong`` (or
   ``PyLong_FromUnsignedLongLong`` for an unsigned result).

The fallback block restores the stack and tail-calls the original with the
caller's own arguments, so the outcome (value, exception, message) is
CPython's.  Nothing before it has side effects: no allocation, no reference
counts touched.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..analysis import Kind, Representation, analyze
from ..ir import Const, Opcode
from ..versions import LongLayout
from .divconst import signed_magic
from .encoder import Assembler, Cond, Label, Mem, Reg
from .regalloc import Allocation, StackSlot, allocate

RAX, RCX, RDX, RSI, RDI, RSP = Reg.RAX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.RSP

# Frame layout (offsets from RSP after the prologue).
SLOT_ARGS = 0
SLOT_NARGSF = 8
SLOT_NARGS2 = 16
SLOT_SCRATCH = 24
FRAME_FIXED = 32

Operand = Reg | Mem | int

_SIMPLE_ALU = {
    Opcode.ADD: "add", Opcode.SUB: "sub", Opcode.MUL: "imul",
    Opcode.AND: "and_", Opcode.OR: "or_", Opcode.XOR: "xor",
}
_OVERFLOWING = (Opcode.ADD, Opcode.SUB, Opcode.MUL)


def _simm32(value: int) -> bool:
    return -(1 << 31) <= value < (1 << 31)


def is_imm(operand: object) -> bool:
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


@dataclass
class MachineCode:
    code: bytes
    assembler: Assembler
    allocation: Allocation
    representation: Representation

    def listing(self) -> list[tuple[int, bytes, str]]:
        """(offset, bytes, text) per instruction; text is rendered now, not at compile time."""
        return self.assembler.listing()


class CodeGen:
    """Generates the vectorcall entry point for one optimized IR function."""

    def __init__(self, fn: ir.Function, layout: LongLayout, runtime: Runtime, original_address: int) -> None:
        self.fn = fn
        self.layout = layout
        self.runtime = runtime
        self.original = original_address
        self.alloc = allocate(fn)
        self.rep = analyze(fn)
        self.asm = Assembler()
        self.fallback = self.asm.label()
        self.fallback_at_entry = self.asm.label()
        self.cold: list = []  # deferred out-of-line code: callables emitting it
        pushes = len(self.alloc.callee_saved)
        frame = FRAME_FIXED + 8 * self.alloc.spill_slots
        if (8 + 8 * pushes + frame) % 16:   # keep RSP 16-byte aligned inside the body
            frame += 8
        self.frame_size = frame

    # -- locations ---------------------------------------------------------------
    def loc(self, value: ir.Value) -> Reg | Mem | None:
        where = self.alloc.of(value)
        if isinstance(where, StackSlot):
            return Mem(RSP, FRAME_FIXED + 8 * where.index)
        return where

    def operand(self, value: ir.Value) -> Operand:
        if isinstance(value, Const):
            return value.value
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

    # -- driver --------------------------------------------------------------------
    def generate(self) -> MachineCode:
        a = self.asm
        if isinstance(self.fn.result, Const) and not ir.fits_register(self.fn.result.value):
            raise ValueError("result constant does not fit in 64 bits")
        self.entry_checks()
        for reg in self.alloc.callee_saved:
            a.push(reg)
        a.sub(RSP, self.frame_size)
        a.mov(Mem(RSP, SLOT_ARGS), RSI)
        a.mov(Mem(RSP, SLOT_NARGSF), RDX)
        if self.fn.defaults:
            a.mov(Mem(RSP, SLOT_NARGS2), RAX)  # which defaults apply is decided per parameter
        self.unbox_params()
        for instr in self.fn.body:
            self.select(instr)
        result = self.fn.result
        unsigned = self.rep.kind(result) is Kind.UNSIGNED
        a.mov(RDI, self.operand(result))
        self.epilogue()
        a.mov(RAX, self.runtime.long_from_unsigned if unsigned else self.runtime.long_from_long)
        a.jmp(RAX)
        # Fallback from the body: the caller's arguments, unchanged, to the original.  Placed
        # right after the body (before the cold paths) so more of its jumps get the short form.
        a.bind(self.fallback)
        a.mov(RSI, Mem(RSP, SLOT_ARGS))
        a.mov(RDX, Mem(RSP, SLOT_NARGSF))
        self.epilogue()
        a.mov(RCX, 0)  # kwnames was NULL, or the entry check would have left already
        a.bind(self.fallback_at_entry)
        a.mov(RDI, self.original)
        a.mov(RAX, self.runtime.vectorcall)
        a.jmp(RAX)
        for emit in self.cold:
            emit()
        code = a.finish()
        return MachineCode(code, a, self.alloc, self.rep)

    def epilogue(self) -> None:
        self.asm.add(RSP, self.frame_size)
        for reg in reversed(self.alloc.callee_saved):
            self.asm.pop(reg)

    def entry_checks(self) -> None:
        """Keyword arguments or an unusable argument count go straight to the original."""
        a = self.asm
        n = len(self.fn.params)
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
        read = [p for p in self.fn.params if p.index in self.fn.read_params]
        # RSI holds ``args`` until the last parameter is loaded: unbox the one living in RSI last.
        read.sort(key=lambda p: self.loc(p) == RSI)
        if read:
            a.mov(RCX, self.runtime.long_type)
        n = len(self.fn.params)
        first_default = n - len(self.fn.defaults)
        for param in read:
            dst = self.loc(param)
            done = a.label()
            if param.index >= first_default:
                use_default = a.label()
                a.cmp(Mem(RSP, SLOT_NARGS2), 2 * param.index)
                a.jcc(Cond.BE, use_default)
                self.cold.append(self._default_path(use_default, done, dst, self.rep.kind(param),
                                                    self.fn.defaults[param.index - first_default]))
            a.mov(RAX, Mem(RSI, 8 * param.index))
            a.cmp(Mem(RAX, 8), RCX)
            a.jcc(Cond.NE, self.fallback)
            if dst is not None:
                kind = self.rep.kind(param)
                mode = "unsigned" if kind is Kind.UNSIGNED else "low64" if kind is Kind.MODULAR else "signed"
                resume = a.label()
                slow = a.label()
                self.decode_compact(slow)
                if mode == "unsigned":
                    a.test(RAX, RAX)
                    a.jcc(Cond.S, self.fallback)   # a negative int is not unsigned
                a.bind(resume)
                self.store(dst, RAX)
                self.cold.append(self._slow_path(slow, resume, mode))
            a.bind(done)

    def _default_path(self, label: Label, done: Label, dst: Reg | Mem | None, kind: Kind, default: object):
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
                if dst is not None:
                    if isinstance(dst, Reg) or _simm32(default):
                        a.mov(dst, default)
                    else:
                        a.mov(RAX, default)
                        a.mov(dst, RAX)
                a.jmp(done)
            else:
                a.jmp(self.fallback)  # a default the machine code cannot use: Python decides
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

    def _slow_path(self, slow: Label, resume: Label, mode: str):
        """Out of line: an int with two or more digits goes through a shared decoder
        (:func:`jitimport.backend.stubs.decoder_stub`, one per mode and process)."""
        def emit() -> None:
            a = self.asm
            a.bind(slow)
            a.mov(RDX, self.runtime.decoders[mode])  # the decoder clobbers RDX anyway
            a.call(RDX)
            if mode != "low64":
                a.jcc(Cond.B, self.fallback)     # CF set: does not fit
            a.jmp(resume)
        return emit

    # -- instruction selection ---------------------------------------------------------
    def select(self, instr: ir.Instr) -> None:
        op = instr.op
        kind = self.rep.kind(instr)
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
                if not ir.fits_int64(value.value):
                    a.jmp(self.fallback)
                    return False
                continue
            assert kind.exact, "the analysis gave a modular value to an exact operation"
            if kind is Kind.UNSIGNED:
                where = self.operand(value)
                if isinstance(where, Reg):
                    a.test(where, where)
                else:
                    a.cmp(where, 0)
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
            a.imul(t, x, y)
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
                a.imul(t, x, 1 << y)         # x << k == x * 2**k, and imul flags overflow
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
                self.divmod_by_constant(x, y, is_mod, dst)
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


def generate(fn: ir.Function, layout: LongLayout, runtime: Runtime, original_address: int) -> MachineCode:
    """Machine code for ``fn``; the entry point is at offset 0."""
    return CodeGen(fn, layout, runtime, original_address).generate()
