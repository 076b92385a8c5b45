"""x86-64 instruction encoder: turns assembler calls into machine code bytes.

Only the small subset of the ISA the JIT's instruction selector needs is
covered, always in 64-bit operand size unless a method says otherwise. Every
emitted instruction also carries its Intel-syntax text, spelled exactly as
capstone prints it, so the tests can cross-check our bytes against an
independent decoder and users without capstone still get a disassembly.

Encoding reference: Intel SDM vol. 2, chapter 2 (REX, ModR/M, SIB) and the
per-instruction opcode tables.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover  (annotations only: not loaded on the hook's warm path)
    from collections.abc import Callable
    from typing import TypeGuard
from itertools import accumulate
from enum import IntEnum

__all__ = ["Reg", "Mem", "Cond", "Label", "EncodingError", "Assembler"]

_MASK64 = (1 << 64) - 1


class EncodingError(Exception):
    """The requested operand combination has no x86-64 encoding (or a label is misused)."""


class Reg(IntEnum):
    """64-bit general-purpose registers; the value is the 4-bit hardware number."""

    RAX = 0
    RCX = 1
    RDX = 2
    RBX = 3
    RSP = 4
    RBP = 5
    RSI = 6
    RDI = 7
    R8 = 8
    R9 = 9
    R10 = 10
    R11 = 11
    R12 = 12
    R13 = 13
    R14 = 14
    R15 = 15


class Cond(IntEnum):
    """Condition codes; the value is the 'tttn' nibble added to Jcc/SETcc/CMOVcc opcodes."""

    O = 0
    NO = 1
    B = 2
    AE = 3
    E = 4
    NE = 5
    BE = 6
    A = 7
    S = 8
    NS = 9
    P = 10
    NP = 11
    L = 12
    GE = 13
    LE = 14
    G = 15


_R64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
_R32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
        "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d")
# Low-byte registers as addressable with a REX prefix (never AH/CH/DH/BH).
_R8 = ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
       "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b")


class Mem:
    """Memory operand ``[base + disp]``; disp is a signed 32-bit integer.

    Validated on construction so a bad operand is reported where it is made.  A plain
    immutable class (not a dataclass: the encoder is loaded on the import hook's warm path,
    to build the shared stubs, where ``dataclasses`` would cost more than the encoder).
    """

    __slots__ = ("base", "disp")
    base: Reg
    disp: int

    def __init__(self, base: Reg, disp: int = 0) -> None:
        if not isinstance(base, Reg):
            raise EncodingError(f"Mem base must be a Reg, not {base!r}")
        if not _is_int(disp) or not -(1 << 31) <= disp < (1 << 31):
            raise EncodingError(f"Mem displacement {disp!r} does not fit a signed 32-bit field")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "disp", disp)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Mem is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mem) and self.base == other.base and self.disp == other.disp

    def __hash__(self) -> int:
        return hash((self.base, self.disp))

    def __repr__(self) -> str:
        return f"Mem(base={self.base!r}, disp={self.disp!r})"


class Label:
    """A jump target; created by :meth:`Assembler.label`, bound once by :meth:`Assembler.bind`."""

    __slots__ = ("_owner", "_index", "_offset", "_id")

    def __init__(self, owner: Assembler, ident: int) -> None:
        self._owner = owner
        self._index: int | None = None  # position in the owner's item list once bound
        self._offset: int | None = None  # final byte offset, known after finish()
        self._id = ident

    @property
    def bound(self) -> bool:
        return self._index is not None

    @property
    def offset(self) -> int:
        """Final byte offset of the label; only known once the owner has finished."""
        if self._offset is None:
            raise EncodingError(f"{self!r} has no final offset before finish()")
        return self._offset

    def __repr__(self) -> str:
        return f"<Label L{self._id}{'' if self.bound else ' unbound'}>"


# ---------------------------------------------------------------------------
# operand helpers


def _is_int(x: object) -> TypeGuard[int]:
    # Reg/Cond are ints too, but an enum where a number is expected is a caller bug.
    return isinstance(x, int) and not isinstance(x, (Reg, Cond))


def _imm64(value: object) -> int:
    """Normalise an immediate to signed 64-bit; unsigned 64-bit values keep their bit pattern."""
    if not _is_int(value):
        raise EncodingError(f"expected an integer immediate, got {value!r}")
    v = int(value)
    if not -(1 << 63) <= v < (1 << 64):
        raise EncodingError(f"immediate {v} does not fit 64 bits")
    return v - (1 << 64) if v >= (1 << 63) else v


def _simm32(value: object) -> int:
    v = _imm64(value)
    if not -(1 << 31) <= v < (1 << 31):
        raise EncodingError(f"immediate {value} does not fit a sign-extended 32-bit field")
    return v


def _fits8(v: int) -> bool:
    return -128 <= v <= 127


def _le(v: int, n: int) -> bytes:
    return (v & ((1 << (8 * n)) - 1)).to_bytes(n, "little")


# Text formatting mirrors capstone's Intel printer: numbers above 9 in hex.
def _fmt_u(v: int) -> str:
    return f"0x{v:x}" if v > 9 else str(v)


def _fmt_s(v: int) -> str:
    return "-" + _fmt_u(-v) if v < 0 else _fmt_u(v)


def _fmt_x64(v: int) -> str:
    """Capstone prints mov/and/or/xor immediates as unsigned 64-bit patterns."""
    return _fmt_u(v & _MASK64)


def _fmt_mem(m: Mem, ptr: str | None = "qword") -> str:
    inner = _R64[m.base]
    if m.disp > 0:
        inner += " + " + _fmt_u(m.disp)
    elif m.disp < 0:
        inner += " - " + _fmt_u(-m.disp)
    return f"[{inner}]" if ptr is None else f"{ptr} ptr [{inner}]"


def _fmt_rm64(x: Reg | Mem) -> str:
    return _R64[x] if isinstance(x, Reg) else _fmt_mem(x)


def _check_reg(x: object, what: str) -> Reg:
    if not isinstance(x, Reg):
        raise EncodingError(f"{what} must be a Reg, got {x!r}")
    return x


def _check_rm(x: object, what: str) -> Reg | Mem:
    if not isinstance(x, (Reg, Mem)):
        raise EncodingError(f"{what} must be a Reg or Mem, got {x!r}")
    return x


def _check_cond(x: object) -> Cond:
    if not isinstance(x, Cond):
        raise EncodingError(f"condition must be a Cond, got {x!r}")
    return x


def _encode(opcode: bytes, reg: int, rm: Reg | Mem, *, w: bool = True,
            imm: bytes = b"", force_rex: bool = False) -> bytes:
    """REX + opcode + ModR/M (+ SIB + disp) + imm for a /r or /digit instruction.

    ``reg`` is the ModR/M.reg field: a register number or an opcode extension.
    ``force_rex`` emits a bare 0x40 so byte registers 4..7 mean SPL..DIL, not AH..BH.
    """
    rex = 0x40 | (w << 3) | ((reg >> 3) << 2)
    reg3 = (reg & 7) << 3
    if isinstance(rm, Reg):
        rex |= rm >> 3
        tail = bytes((0xC0 | reg3 | (rm & 7),))
    else:
        base = int(rm.base)
        rex |= base >> 3
        low = base & 7
        disp = rm.disp
        if disp == 0 and low != 5:  # mod=00 with rm=101 would mean RIP-relative
            mod, dbytes = 0x00, b""
        elif _fits8(disp):
            mod, dbytes = 0x40, _le(disp, 1)
        else:
            mod, dbytes = 0x80, _le(disp, 4)
        if low == 4:  # rm=100 means "SIB follows": base=RSP/R12, no index
            tail = bytes((mod | reg3 | 4, 0x24)) + dbytes
        else:
            tail = bytes((mod | reg3 | low,)) + dbytes
    prefix = bytes((rex,)) if rex != 0x40 or force_rex else b""
    return prefix + opcode + tail + imm


# Multi-byte NOPs recommended by the SDM (vol. 2B, NOP), with capstone's text.
_NOPS: dict[int, tuple[bytes, str]] = {
    1: (bytes.fromhex("90"), "nop"),
    2: (bytes.fromhex("6690"), "nop"),
    3: (bytes.fromhex("0f1f00"), "nop dword ptr [rax]"),
    4: (bytes.fromhex("0f1f4000"), "nop dword ptr [rax]"),
    5: (bytes.fromhex("0f1f440000"), "nop dword ptr [rax + rax]"),
    6: (bytes.fromhex("660f1f440000"), "nop word ptr [rax + rax]"),
    7: (bytes.fromhex("0f1f8000000000"), "nop dword ptr [rax]"),
    8: (bytes.fromhex("0f1f840000000000"), "nop dword ptr [rax + rax]"),
    9: (bytes.fromhex("660f1f840000000000"), "nop word ptr [rax + rax]"),
}


def _nop_fill(n: int) -> list[tuple[bytes, str]]:
    out = []
    while n > 0:
        k = min(n, 9)
        out.append(_NOPS[k])
        n -= k
    return out


def _pad(pos: int, n: int) -> int:
    return -pos % n


# ---------------------------------------------------------------------------
# assembler items


class _Fixed:
    """An encoded instruction; its text is rendered only when a listing is asked for."""

    __slots__ = ("code", "text")

    def __init__(self, code: bytes, text: str | Callable[[], str]) -> None:
        self.code = code
        self.text = text


class _Branch:
    __slots__ = ("cond", "label", "long", "is_call")

    def __init__(self, cond: Cond | None, label: Label, is_call: bool = False) -> None:
        self.cond = cond  # None: unconditional jmp (or call)
        self.label = label
        self.is_call = is_call  # call rel32 has no short form
        self.long = is_call  # relaxation starts short and only ever grows

    def size(self) -> int:
        if not self.long:
            return 2
        return 5 if self.cond is None else 6


def _branch_text(branch: _Branch, target: int) -> Callable[[], str]:
    def render() -> str:
        name = ("call" if branch.is_call else "jmp" if branch.cond is None
                else "j" + branch.cond.name.lower())
        return f"{name} {_fmt_u(target)}"
    return render


class _Align:
    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n


_Item = _Fixed | _Branch | _Align

_ALU_EXT = {"add": 0, "or": 1, "and": 4, "sub": 5, "xor": 6, "cmp": 7}
_SHIFT_EXT = {"shl": 4, "shr": 5, "sar": 7}


class Assembler:
    """Collects instructions, then lays them out with branch relaxation in :meth:`finish`."""

    def __init__(self) -> None:
        self._items: list[_Item] = []
        self._has_align = False
        self._labels: list[Label] = []
        self._upper = 0  # size with every branch long: an upper bound on the final size
        self._code: bytes | None = None
        #: (offset, bytes, text or the function that renders it) per instruction
        self._listing: list[tuple[int, bytes, str | Callable[[], str]]] | None = None

    # -- bookkeeping --------------------------------------------------------

    @property
    def offset(self) -> int:
        """Current size in bytes.

        Before :meth:`finish` this is an upper bound on the final offset of the
        next instruction: jumps to labels are counted at their rel32 size
        (relaxation can only shrink them) and alignment padding is computed on
        that layout (rounding up is monotonic, so the bound holds). After
        :meth:`finish` it is the exact code size.
        """
        return len(self._code) if self._code is not None else self._upper

    def _check_open(self) -> None:
        if self._code is not None:
            raise EncodingError("assembler already finished")

    def _emit(self, code: bytes, text: str | Callable[[], str]) -> None:
        self._check_open()
        self._items.append(_Fixed(code, text))
        self._upper += len(code)

    def label(self) -> Label:
        lab = Label(self, len(self._labels))
        self._labels.append(lab)
        return lab

    def bind(self, label: Label) -> None:
        self._check_open()
        if not isinstance(label, Label) or label._owner is not self:
            raise EncodingError(f"{label!r} does not belong to this assembler")
        if label._index is not None:
            raise EncodingError(f"{label!r} is already bound")
        label._index = len(self._items)

    def align(self, n: int) -> None:
        self._check_open()
        if not _is_int(n) or n < 1:
            raise EncodingError(f"alignment must be a positive integer, got {n!r}")
        self._items.append(_Align(n))
        self._has_align = True
        self._upper += _pad(self._upper, n)

    # -- data movement ------------------------------------------------------

    def mov(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        if isinstance(dst, Reg) and isinstance(src, Reg):
            self._emit(_encode(b"\x89", src, dst), lambda: f"mov {_R64[dst]}, {_R64[src]}")
        elif isinstance(dst, Reg) and isinstance(src, Mem):
            self._emit(_encode(b"\x8b", dst, src), lambda: f"mov {_R64[dst]}, {_fmt_mem(src)}")
        elif isinstance(dst, Mem) and isinstance(src, Reg):
            self._emit(_encode(b"\x89", src, dst), lambda: f"mov {_fmt_mem(dst)}, {_R64[src]}")
        elif isinstance(dst, Reg) and _is_int(src):
            v = _imm64(src)
            if 0 <= v < (1 << 32):
                # mov r32, imm32 zero-extends into the full register: shortest exact form.
                rex = b"\x41" if dst >= 8 else b""
                self._emit(rex + bytes((0xB8 + (dst & 7),)) + _le(v, 4), lambda: f"mov {_R32[dst]}, {_fmt_u(v)}")
            elif v >= -(1 << 31) and v < 0:
                self._emit(_encode(b"\xc7", 0, dst, imm=_le(v, 4)), lambda: f"mov {_R64[dst]}, {_fmt_x64(v)}")
            else:
                code = bytes((0x48 | (dst >> 3), 0xB8 + (dst & 7))) + _le(v, 8)
                self._emit(code, lambda: f"movabs {_R64[dst]}, {_fmt_x64(v)}")
        elif isinstance(dst, Mem) and _is_int(src):
            v = _simm32(src)
            self._emit(_encode(b"\xc7", 0, dst, imm=_le(v, 4)), lambda: f"mov {_fmt_mem(dst)}, {_fmt_x64(v)}")
        else:
            raise EncodingError(f"mov {dst!r}, {src!r} is not encodable")

    def movabs(self, dst: Reg, value: int) -> None:
        """``mov r64, imm64`` always in its 10-byte form (the immediate at offset 2), whatever
        the value: code that is patched later (a relocated address) needs a fixed layout."""
        _check_reg(dst, "movabs destination")
        v = _imm64(value)
        code = bytes((0x48 | (dst >> 3), 0xB8 + (dst & 7))) + _le(v, 8)
        self._emit(code, lambda: f"movabs {_R64[dst]}, {_fmt_x64(v)}")

    def mov32(self, dst: Reg, src: Mem) -> None:
        """Zero-extending 32-bit load (writing r32 clears the upper half)."""
        _check_reg(dst, "mov32 destination")
        if not isinstance(src, Mem):
            raise EncodingError(f"mov32 source must be a Mem, got {src!r}")
        self._emit(_encode(b"\x8b", dst, src, w=False), lambda: f"mov {_R32[dst]}, {_fmt_mem(src, 'dword')}")

    def lea(self, dst: Reg, src: Mem) -> None:
        _check_reg(dst, "lea destination")
        if not isinstance(src, Mem):
            raise EncodingError(f"lea source must be a Mem, got {src!r}")
        self._emit(_encode(b"\x8d", dst, src), lambda: f"lea {_R64[dst]}, {_fmt_mem(src, None)}")

    def push(self, reg: Reg) -> None:
        _check_reg(reg, "push operand")
        rex = b"\x41" if reg >= 8 else b""  # 64-bit by default: no REX.W
        self._emit(rex + bytes((0x50 + (reg & 7),)), lambda: f"push {_R64[reg]}")

    def pop(self, reg: Reg) -> None:
        _check_reg(reg, "pop operand")
        rex = b"\x41" if reg >= 8 else b""
        self._emit(rex + bytes((0x58 + (reg & 7),)), lambda: f"pop {_R64[reg]}")

    def cmov(self, cond: Cond, dst: Reg, src: Reg | Mem) -> None:
        _check_cond(cond)
        _check_reg(dst, "cmov destination")
        _check_rm(src, "cmov source")
        self._emit(_encode(bytes((0x0F, 0x40 + cond)), dst, src),
                   lambda: f"cmov{cond.name.lower()} {_R64[dst]}, {_fmt_rm64(src)}")

    def bsr(self, dst: Reg, src: Reg | Mem) -> None:
        """Index of the highest set bit of ``src`` (ZF set, ``dst`` undefined, when it is 0)."""
        _check_reg(dst, "bsr destination")
        _check_rm(src, "bsr source")
        self._emit(_encode(b"\x0f\xbd", dst, src), lambda: f"bsr {_R64[dst]}, {_fmt_rm64(src)}")

    # -- ALU ----------------------------------------------------------------

    def _alu(self, name: str, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        ext = _ALU_EXT[name]
        _check_rm(dst, f"{name} destination")
        if isinstance(src, Reg):
            self._emit(_encode(bytes((ext * 8 + 1,)), src, dst), lambda: f"{name} {_fmt_rm64(dst)}, {_R64[src]}")
        elif isinstance(src, Mem):
            if not isinstance(dst, Reg):
                raise EncodingError(f"{name} mem, mem is not encodable")
            self._emit(_encode(bytes((ext * 8 + 3,)), dst, src), lambda: f"{name} {_R64[dst]}, {_fmt_mem(src)}")
        elif _is_int(src):
            v = _simm32(src)
            if _fits8(v):
                code = _encode(b"\x83", ext, dst, imm=_le(v, 1))
            elif dst is Reg.RAX:  # accumulator short form saves the ModR/M byte
                code = bytes((0x48, ext * 8 + 5)) + _le(v, 4)
            else:
                code = _encode(b"\x81", ext, dst, imm=_le(v, 4))
            shown = _fmt_x64(v) if name in ("and", "or", "xor") else _fmt_s(v)
            self._emit(code, lambda: f"{name} {_fmt_rm64(dst)}, {shown}")
        else:
            raise EncodingError(f"{name} {dst!r}, {src!r} is not encodable")

    def add(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        self._alu("add", dst, src)

    def sub(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        self._alu("sub", dst, src)

    def and_(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        self._alu("and", dst, src)

    def or_(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        self._alu("or", dst, src)

    def xor(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        self._alu("xor", dst, src)

    def cmp(self, dst: Reg | Mem, src: Reg | Mem | int) -> None:
        self._alu("cmp", dst, src)

    def test(self, a: Reg | Mem, b: Reg | int) -> None:
        _check_rm(a, "test operand")
        if isinstance(b, Reg):
            self._emit(_encode(b"\x85", b, a), lambda: f"test {_fmt_rm64(a)}, {_R64[b]}")
        elif _is_int(b):
            v = _simm32(b)
            if a is Reg.RAX:
                code = b"\x48\xa9" + _le(v, 4)
            else:
                code = _encode(b"\xf7", 0, a, imm=_le(v, 4))
            self._emit(code, lambda: f"test {_fmt_rm64(a)}, {_fmt_s(v)}")
        else:
            raise EncodingError(f"test {a!r}, {b!r} is not encodable")

    def imul(self, dst: Reg, src: Reg | Mem, imm: int | None = None) -> None:
        _check_reg(dst, "imul destination")
        _check_rm(src, "imul source")
        if imm is None:
            self._emit(_encode(b"\x0f\xaf", dst, src), lambda: f"imul {_R64[dst]}, {_fmt_rm64(src)}")
            return
        v = _simm32(imm)
        if _fits8(v):
            code = _encode(b"\x6b", dst, src, imm=_le(v, 1))
        else:
            code = _encode(b"\x69", dst, src, imm=_le(v, 4))
        self._emit(code, lambda: f"imul {_R64[dst]}, {_fmt_rm64(src)}, {_fmt_s(v)}")

    def neg(self, dst: Reg) -> None:
        _check_reg(dst, "neg operand")
        self._emit(_encode(b"\xf7", 3, dst), lambda: f"neg {_R64[dst]}")

    def not_(self, dst: Reg) -> None:
        _check_reg(dst, "not operand")
        self._emit(_encode(b"\xf7", 2, dst), lambda: f"not {_R64[dst]}")

    def _shift(self, name: str, dst: Reg, count: int | None) -> None:
        ext = _SHIFT_EXT[name]
        _check_reg(dst, f"{name} operand")
        if count is None:
            self._emit(_encode(b"\xd3", ext, dst), lambda: f"{name} {_R64[dst]}, cl")
            return
        if not _is_int(count) or not 0 <= count <= 63:
            raise EncodingError(f"{name} count must be None (CL) or 0..63, got {count!r}")
        if count == 1:
            self._emit(_encode(b"\xd1", ext, dst), lambda: f"{name} {_R64[dst]}, 1")
        else:
            n = int(count)
            self._emit(_encode(b"\xc1", ext, dst, imm=bytes((n,))), lambda: f"{name} {_R64[dst]}, {_fmt_u(n)}")

    def shl(self, dst: Reg, count: int | None = None) -> None:
        self._shift("shl", dst, count)

    def shr(self, dst: Reg, count: int | None = None) -> None:
        self._shift("shr", dst, count)

    def sar(self, dst: Reg, count: int | None = None) -> None:
        self._shift("sar", dst, count)

    def cqo(self) -> None:
        self._emit(b"\x48\x99", "cqo")

    def imul_wide(self, src: Reg | Mem) -> None:
        """RDX:RAX = RAX * src, signed (one-operand imul, F7 /5): the high half for
        division by a constant through a multiplicative inverse."""
        _check_rm(src, "imul_wide operand")
        self._emit(_encode(b"\xf7", 5, src), lambda: f"imul {_fmt_rm64(src)}")

    def mul(self, src: Reg | Mem) -> None:
        """RDX:RAX = RAX * src, unsigned (F7 /4): 128-bit products for modular arithmetic."""
        _check_rm(src, "mul operand")
        self._emit(_encode(b"\xf7", 4, src), lambda: f"mul {_fmt_rm64(src)}")

    def div(self, src: Reg | Mem) -> None:
        """RAX, RDX = RDX:RAX divmod src, unsigned (F7 /6); RDX must be below src."""
        _check_rm(src, "div operand")
        self._emit(_encode(b"\xf7", 6, src), lambda: f"div {_fmt_rm64(src)}")

    def idiv(self, src: Reg | Mem) -> None:
        _check_rm(src, "idiv operand")
        self._emit(_encode(b"\xf7", 7, src), lambda: f"idiv {_fmt_rm64(src)}")

    def setcc(self, cond: Cond, dst: Reg) -> None:
        _check_cond(cond)
        _check_reg(dst, "setcc destination")
        self._emit(_encode(bytes((0x0F, 0x90 + cond)), 0, dst, w=False, force_rex=4 <= dst <= 7),
                   lambda: f"set{cond.name.lower()} {_R8[dst]}")

    def movzx8(self, dst: Reg, src: Reg | Mem) -> None:
        """Zero-extend a byte register, or a byte in memory (a bytearray's item)."""
        _check_reg(dst, "movzx8 destination")
        if isinstance(src, Mem):
            self._emit(_encode(b"\x0f\xb6", dst, src, w=False),
                       lambda: f"movzx {_R32[dst]}, {_fmt_mem(src, 'byte')}")
            return
        _check_reg(src, "movzx8 source")
        self._emit(_encode(b"\x0f\xb6", dst, src, w=False, force_rex=4 <= src <= 7),
                   lambda: f"movzx {_R32[dst]}, {_R8[src]}")

    # -- control flow -------------------------------------------------------

    def _branch(self, cond: Cond | None, target: Label, is_call: bool = False) -> None:
        self._check_open()
        if target._owner is not self:
            raise EncodingError(f"{target!r} belongs to another assembler")
        b = _Branch(cond, target, is_call)
        self._items.append(b)
        self._upper += 5 if cond is None else 6

    def jcc(self, cond: Cond, target: Label) -> None:
        _check_cond(cond)
        if not isinstance(target, Label):
            raise EncodingError(f"jcc target must be a Label, got {target!r}")
        self._branch(cond, target)

    def jmp(self, target: Label | Reg) -> None:
        if isinstance(target, Label):
            self._branch(None, target)
        elif isinstance(target, Reg):
            self._emit(_encode(b"\xff", 4, target, w=False), lambda: f"jmp {_R64[target]}")
        else:
            raise EncodingError(f"jmp target must be a Label or Reg, got {target!r}")

    def call(self, target: Reg | Label) -> None:
        """call r64 (FF /2), or call rel32 (E8) to a label in this code."""
        if isinstance(target, Label):
            self._branch(None, target, is_call=True)
            return
        _check_reg(target, "call target")
        self._emit(_encode(b"\xff", 2, target, w=False), lambda: f"call {_R64[target]}")

    def rep_movsb(self) -> None:
        """Copy RCX bytes from [RSI] to [RDI] (used by the code installer stub)."""
        self._emit(b"\xf3\xa4", "rep movsb byte ptr [rdi], byte ptr [rsi]")

    def ret(self) -> None:
        self._emit(b"\xc3", "ret")

    def ud2(self) -> None:
        self._emit(b"\x0f\x0b", "ud2")

    # -- results ------------------------------------------------------------

    def _layout(self, sizes: list[int]) -> list[int]:
        """Start offset of every item, plus the end offset as the last entry.

        ``sizes`` holds each item's current size (alignment padding counted as 0 and
        recomputed here, since it depends on the position).
        """
        if not self._has_align:
            return list(accumulate(sizes, initial=0))
        offs = []
        pos = 0
        for it, size in zip(self._items, sizes):
            offs.append(pos)
            pos += _pad(pos, it.n) if type(it) is _Align else size
        offs.append(pos)
        return offs

    def finish(self) -> bytes:
        """Relax branches, resolve labels and return the code.

        Branches start in their 2-byte rel8 form and are grown to rel32 while
        any is out of range; growth is one-way, so this reaches a fixed point.
        Calling it again returns the same bytes.
        """
        if self._code is not None:
            return self._code
        items = self._items
        branches = [i for i, it in enumerate(items) if type(it) is _Branch]
        for i in branches:
            if items[i].label._index is None:  # type: ignore[union-attr]
                raise EncodingError(f"jump to unbound label {items[i].label!r}")  # type: ignore[union-attr]
        sizes = [len(it.code) if type(it) is _Fixed else 0 for it in items]
        for i in branches:
            sizes[i] = items[i].size()  # type: ignore[union-attr]
        while True:
            offs = self._layout(sizes)
            changed = False
            for i in branches:
                it = items[i]
                if not it.long and not -128 <= offs[it.label._index] - (offs[i] + 2) <= 127:  # type: ignore[union-attr,index]
                    it.long = True  # type: ignore[union-attr]
                    sizes[i] = it.size()  # type: ignore[union-attr]
                    changed = True
            if not changed:
                break
        listing: list[tuple[int, bytes, str | Callable[[], str]]] = []
        for i, it in enumerate(items):
            pos = offs[i]
            kind = type(it)
            if kind is _Fixed:
                listing.append((pos, it.code, it.text))  # type: ignore[union-attr]  # rendered in listing()
            elif kind is _Branch:
                assert type(it) is _Branch  # (kind is its type; mypy narrows this, not kind)
                target = offs[it.label._index]  # type: ignore[index]  # bound: checked above
                rel = target - (pos + sizes[i])
                if not it.long:
                    op = b"\xeb" if it.cond is None else bytes((0x70 + it.cond,))
                    code = op + _le(rel, 1)
                else:
                    if not -(1 << 31) <= rel < (1 << 31):
                        raise EncodingError("branch displacement does not fit rel32")
                    op = (b"\xe8" if it.is_call else b"\xe9" if it.cond is None
                          else bytes((0x0F, 0x80 + it.cond)))
                    code = op + _le(rel, 4)
                listing.append((pos, code, _branch_text(it, target)))
            else:
                for code, text in _nop_fill(offs[i + 1] - pos):
                    listing.append((pos, code, text))
                    pos += len(code)
        for lab in self._labels:
            if lab._index is not None:
                lab._offset = offs[lab._index]
        self._listing = listing
        self._code = b"".join(code for _, code, _ in listing)
        return self._code

    def listing(self) -> list[tuple[int, bytes, str]]:
        """(offset, bytes, Intel text as capstone prints it) per instruction; needs finish()."""
        if self._listing is None:
            raise EncodingError("listing() is only available after finish()")
        return [(pos, code, text if isinstance(text, str) else text()) for pos, code, text in self._listing]
