"""Encoder tests: every form and register is decoded back with capstone.

Instructions are assembled in batches (one Assembler per form) and the whole
buffer is decoded at once; per instruction we check that capstone's boundaries
and bytes coincide with our listing, that its text equals ours, and that any
immediate has the intended value. A table of hand-written encodings guards
against capstone and the encoder agreeing on something wrong.
"""
from __future__ import annotations

import random
from collections.abc import Callable

import pytest

capstone = pytest.importorskip("capstone")
from capstone import x86 as cs_x86  # noqa: E402

from jitimport.backend.encoder import (  # noqa: E402
    Assembler,
    Cond,
    EncodingError,
    Label,
    Mem,
    Reg,
)

MASK64 = (1 << 64) - 1
REGS = list(Reg)
CONDS = list(Cond)
# disp 0 (mod=00, or forced disp8 for RBP/R13), disp8 edges, disp32 edges, both signs,
# and 9/10 where capstone switches from decimal to hex.
DISPS = [0, 1, 8, -8, 9, 10, -9, -10, 127, -128, 128, -129, 0x7FFFFFFF, -0x80000000]
MEMS = [Mem(b, d) for b in REGS for d in DISPS]
FEW_MEMS = [Mem(Reg.RSP, 0), Mem(Reg.RBP, 0), Mem(Reg.R12, -8), Mem(Reg.R13, 0x1000), Mem(Reg.RAX, 0)]
# simm32 immediates (the last two are unsigned 64-bit spellings of -1 and -2**31)
IMM32 = [0, 1, 9, 10, -1, -9, -10, 127, -128, 128, -129, 0x1234, 0x7FFFFFFF, -0x80000000,
         MASK64, (1 << 64) - (1 << 31)]
ALU = ["add", "sub", "and_", "or_", "xor", "cmp"]
SHIFTS = ["shl", "shr", "sar"]

_MD = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
_MD.detail = True

Emit = Callable[[Assembler], None]


def _signed64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def check_batch(items: list[tuple[Emit, int | None]]) -> list[tuple[int, bytes, str]]:
    """Assemble every item, decode the buffer with capstone and compare instruction by instruction.

    Each item is (emitter, expected immediate or None). Returns the listing.
    """
    asm = Assembler()
    for emit, _ in items:
        emit(asm)
    code = asm.finish()
    listing = asm.listing()
    assert len(listing) == len(items)
    decoded = list(_MD.disasm(code, 0))
    assert sum(i.size for i in decoded) == len(code), "capstone stopped early: undecodable bytes"
    assert len(decoded) == len(listing)
    for (off, raw, text), insn, (_, imm) in zip(listing, decoded, items):
        where = f"at {off}: {raw.hex()} ours={text!r}"
        # (a) exactly this one instruction, consuming exactly our bytes
        assert insn.address == off, where
        assert bytes(insn.bytes) == raw, where
        # (b) the text we generate is capstone's text
        assert f"{insn.mnemonic} {insn.op_str}".strip() == text, where
        # (c) immediates carry the intended value
        if imm is not None:
            imms = [op.imm for op in insn.operands if op.type == cs_x86.X86_OP_IMM]
            assert len(imms) == 1, where
            assert imms[0] & MASK64 == imm & MASK64, where
    return listing


def one(emit: Emit) -> tuple[bytes, str]:
    asm = Assembler()
    emit(asm)
    code = asm.finish()
    [(off, raw, text)] = asm.listing()
    assert off == 0 and raw == code
    return raw, text


# ---------------------------------------------------------------------------
# hand-written expectations (independent of capstone)

HAND = [
    (lambda a: a.mov(Reg.RAX, Mem(Reg.R12, 8)), "498b442408", "mov rax, qword ptr [r12 + 8]"),
    (lambda a: a.mov(Reg.RAX, Mem(Reg.RSI, 8)), "488b4608", "mov rax, qword ptr [rsi + 8]"),
    (lambda a: a.mov(Reg.RAX, Mem(Reg.RSP)), "488b0424", "mov rax, qword ptr [rsp]"),
    (lambda a: a.mov(Reg.RAX, Mem(Reg.RBP)), "488b4500", "mov rax, qword ptr [rbp]"),
    (lambda a: a.mov(Reg.R9, Mem(Reg.R13)), "4d8b4d00", "mov r9, qword ptr [r13]"),
    (lambda a: a.mov(Reg.RCX, Mem(Reg.RDX, -0x80000000)), "488b8a00000080", "mov rcx, qword ptr [rdx - 0x80000000]"),
    (lambda a: a.mov(Reg.RCX, Mem(Reg.RDX, 128)), "488b8a80000000", "mov rcx, qword ptr [rdx + 0x80]"),
    (lambda a: a.mov(Mem(Reg.RSP, -16), Reg.R15), "4c897c24f0", "mov qword ptr [rsp - 0x10], r15"),
    (lambda a: a.mov(Reg.RAX, Reg.R8), "4c89c0", "mov rax, r8"),
    (lambda a: a.mov(Reg.RAX, 0), "b800000000", "mov eax, 0"),
    (lambda a: a.mov(Reg.R8, 0xFFFFFFFF), "41b8ffffffff", "mov r8d, 0xffffffff"),
    (lambda a: a.mov(Reg.RAX, -1), "48c7c0ffffffff", "mov rax, 0xffffffffffffffff"),
    (lambda a: a.mov(Reg.RAX, MASK64), "48c7c0ffffffff", "mov rax, 0xffffffffffffffff"),
    (lambda a: a.mov(Reg.R11, 1 << 32), "49bb0000000001000000", "movabs r11, 0x100000000"),
    (lambda a: a.mov(Reg.RAX, -(1 << 63)), "48b80000000000000080", "movabs rax, 0x8000000000000000"),
    (lambda a: a.mov(Mem(Reg.RAX), 5), "48c70005000000", "mov qword ptr [rax], 5"),
    (lambda a: a.mov32(Reg.RAX, Mem(Reg.RSI, 8)), "8b4608", "mov eax, dword ptr [rsi + 8]"),
    (lambda a: a.mov32(Reg.R8, Mem(Reg.R12)), "458b0424", "mov r8d, dword ptr [r12]"),
    (lambda a: a.lea(Reg.RAX, Mem(Reg.RBP, -8)), "488d45f8", "lea rax, [rbp - 8]"),
    (lambda a: a.push(Reg.RBX), "53", "push rbx"),
    (lambda a: a.push(Reg.R12), "4154", "push r12"),
    (lambda a: a.pop(Reg.R15), "415f", "pop r15"),
    (lambda a: a.cmov(Cond.L, Reg.RAX, Reg.RCX), "480f4cc1", "cmovl rax, rcx"),
    (lambda a: a.bsr(Reg.RAX, Reg.RCX), "480fbdc1", "bsr rax, rcx"),
    (lambda a: a.add(Reg.RAX, Reg.RCX), "4801c8", "add rax, rcx"),
    (lambda a: a.add(Reg.RSP, -0x80), "4883c480", "add rsp, -0x80"),
    (lambda a: a.add(Reg.RAX, 0x1000), "4805" "00100000", "add rax, 0x1000"),
    (lambda a: a.sub(Reg.RCX, 0x1000), "4881e9" "00100000", "sub rcx, 0x1000"),
    (lambda a: a.and_(Reg.RAX, -16), "4883e0f0", "and rax, 0xfffffffffffffff0"),
    (lambda a: a.cmp(Reg.R10, Mem(Reg.RDI, 24)), "4c3b5718", "cmp r10, qword ptr [rdi + 0x18]"),
    (lambda a: a.xor(Mem(Reg.R12, 0), Reg.RDX), "49311424", "xor qword ptr [r12], rdx"),
    (lambda a: a.test(Reg.RCX, Reg.RAX), "4885c1", "test rcx, rax"),
    (lambda a: a.test(Reg.RDX, 1), "48f7c201000000", "test rdx, 1"),
    (lambda a: a.imul(Reg.RCX, Reg.RDX, 16), "486bca10", "imul rcx, rdx, 0x10"),
    (lambda a: a.imul(Reg.RCX, Reg.RDX, 1000), "4869cae8030000", "imul rcx, rdx, 0x3e8"),
    (lambda a: a.imul(Reg.RAX, Reg.R9), "490fafc1", "imul rax, r9"),
    (lambda a: a.neg(Reg.RAX), "48f7d8", "neg rax"),
    (lambda a: a.not_(Reg.R8), "49f7d0", "not r8"),
    (lambda a: a.shl(Reg.RAX), "48d3e0", "shl rax, cl"),
    (lambda a: a.shl(Reg.RAX, 1), "48d1e0", "shl rax, 1"),
    (lambda a: a.sar(Reg.R13, 63), "49c1fd3f", "sar r13, 0x3f"),
    (lambda a: a.shr(Reg.RDX, 3), "48c1ea03", "shr rdx, 3"),
    (lambda a: a.cqo(), "4899", "cqo"),
    (lambda a: a.idiv(Reg.RCX), "48f7f9", "idiv rcx"),
    (lambda a: a.imul_wide(Reg.RCX), "48f7e9", "imul rcx"),
    (lambda a: a.imul_wide(Mem(Reg.R12, 16)), "49f76c2410", "imul qword ptr [r12 + 0x10]"),
    (lambda a: a.idiv(Mem(Reg.RSP, 8)), "48f77c2408", "idiv qword ptr [rsp + 8]"),
    (lambda a: a.setcc(Cond.E, Reg.RAX), "0f94c0", "sete al"),
    (lambda a: a.setcc(Cond.NE, Reg.RSI), "400f95c6", "setne sil"),
    (lambda a: a.setcc(Cond.G, Reg.R9), "410f9fc1", "setg r9b"),
    (lambda a: a.movzx8(Reg.RAX, Reg.RAX), "0fb6c0", "movzx eax, al"),
    (lambda a: a.movzx8(Reg.RAX, Reg.RDI), "400fb6c7", "movzx eax, dil"),
    (lambda a: a.movzx8(Reg.R10, Reg.R11), "450fb6d3", "movzx r10d, r11b"),
    (lambda a: a.movzx8(Reg.RAX, Mem(Reg.RAX)), "0fb600", "movzx eax, byte ptr [rax]"),
    (lambda a: a.movzx8(Reg.R10, Mem(Reg.R12, 5)), "450fb6542405", "movzx r10d, byte ptr [r12 + 5]"),
    (lambda a: a.mul(Reg.RSI), "48f7e6", "mul rsi"),
    (lambda a: a.div(Reg.R8), "49f7f0", "div r8"),
    (lambda a: a.mul(Mem(Reg.RSP, 8)), "48f7642408", "mul qword ptr [rsp + 8]"),
    (lambda a: a.jmp(Reg.RAX), "ffe0", "jmp rax"),
    (lambda a: a.call(Reg.R11), "41ffd3", "call r11"),
    (lambda a: a.ret(), "c3", "ret"),
    (lambda a: a.rep_movsb(), "f3a4", "rep movsb byte ptr [rdi], byte ptr [rsi]"),
    (lambda a: a.ud2(), "0f0b", "ud2"),
]


@pytest.mark.parametrize("emit,hexbytes,text", HAND, ids=[t for _, _, t in HAND])
def test_hand_written(emit: Emit, hexbytes: str, text: str) -> None:
    raw, ours = one(emit)
    assert raw.hex() == hexbytes
    assert ours == text
    check_batch([(emit, None)])  # and capstone agrees


# ---------------------------------------------------------------------------
# every form x every register, cross-checked with capstone


def _forms() -> dict[str, list[tuple[Emit, int | None]]]:
    f: dict[str, list[tuple[Emit, int | None]]] = {}
    rr = [(d, s) for d in REGS for s in REGS]
    rm = [(r, m) for r in REGS for m in MEMS]

    f["mov r,r"] = [(lambda a, d=d, s=s: a.mov(d, s), None) for d, s in rr]
    f["mov r,m"] = [(lambda a, r=r, m=m: a.mov(r, m), None) for r, m in rm]
    f["mov m,r"] = [(lambda a, r=r, m=m: a.mov(m, r), None) for r, m in rm]
    mov_imms = [0, 1, 9, 10, 0x7F, 0x80, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, -1, -10, -0x80,
                -0x80000000, -0x80000001, (1 << 63) - 1, 1 << 63, MASK64, -(1 << 63), 0x123456789ABCDEF0]
    f["mov r,imm"] = [(lambda a, r=r, v=v: a.mov(r, v), _signed64(v)) for r in REGS for v in mov_imms]
    f["mov m,imm"] = [(lambda a, m=m, v=v: a.mov(m, v), v) for i, m in enumerate(MEMS)
                      for v in (IMM32[i % len(IMM32)], IMM32[(i + 7) % len(IMM32)])]
    f["mov32 r,m"] = [(lambda a, r=r, m=m: a.mov32(r, m), None) for r, m in rm]
    f["lea r,m"] = [(lambda a, r=r, m=m: a.lea(r, m), None) for r, m in rm]
    f["push/pop"] = [(lambda a, r=r: (a.push(r), a.pop(r)), None) for r in REGS]
    f["cmov r,r"] = [(lambda a, c=c, d=d, s=s: a.cmov(c, d, s), None) for c in CONDS for d, s in rr]
    f["cmov r,m"] = [(lambda a, c=c, r=r, m=m: a.cmov(c, r, m), None)
                     for c in CONDS for r in REGS for m in FEW_MEMS]
    f["cmov r,m all bases"] = [(lambda a, r=r, m=m: a.cmov(Cond.GE, r, m), None) for r, m in rm]
    for op in ALU:
        f[f"{op} r,r"] = [(lambda a, op=op, d=d, s=s: getattr(a, op)(d, s), None) for d, s in rr]
        f[f"{op} r,m"] = [(lambda a, op=op, r=r, m=m: getattr(a, op)(r, m), None) for r, m in rm]
        f[f"{op} m,r"] = [(lambda a, op=op, r=r, m=m: getattr(a, op)(m, r), None) for r, m in rm]
        f[f"{op} r,imm"] = [(lambda a, op=op, r=r, v=v: getattr(a, op)(r, v), v) for r in REGS for v in IMM32]
        f[f"{op} m,imm"] = [(lambda a, op=op, m=m, v=v: getattr(a, op)(m, v), v)
                            for i, m in enumerate(MEMS) for v in (IMM32[i % len(IMM32)], IMM32[(i + 5) % len(IMM32)])]
    f["test r,r"] = [(lambda a, d=d, s=s: a.test(d, s), None) for d, s in rr]
    f["test m,r"] = [(lambda a, r=r, m=m: a.test(m, r), None) for r, m in rm]
    f["test r,imm"] = [(lambda a, r=r, v=v: a.test(r, v), v) for r in REGS for v in IMM32]
    f["test m,imm"] = [(lambda a, m=m, v=v: a.test(m, v), v) for i, m in enumerate(MEMS)
                       for v in (IMM32[i % len(IMM32)],)]
    f["imul r,r"] = [(lambda a, d=d, s=s: a.imul(d, s), None) for d, s in rr]
    f["imul r,m"] = [(lambda a, r=r, m=m: a.imul(r, m), None) for r, m in rm]
    f["imul r,r,imm"] = [(lambda a, d=d, s=s, v=v: a.imul(d, s, v), v)
                         for d, s in rr for v in (IMM32[(d * 16 + s) % len(IMM32)],)]
    f["imul r,r,imm all imms"] = [(lambda a, v=v: a.imul(Reg.R12, Reg.RBP, v), v) for v in IMM32]
    f["imul r,m,imm"] = [(lambda a, r=r, m=m, v=v: a.imul(r, m, v), v)
                         for i, (r, m) in enumerate(rm) for v in (IMM32[i % len(IMM32)],)]
    f["neg/not"] = [(lambda a, r=r: (a.neg(r), a.not_(r)), None) for r in REGS]
    for op in SHIFTS:
        f[f"{op} r,cl"] = [(lambda a, op=op, r=r: getattr(a, op)(r), None) for r in REGS]
        f[f"{op} r,imm"] = [(lambda a, op=op, r=r, n=n: getattr(a, op)(r, n), n)
                            for r in REGS for n in (0, 1, 2, 9, 10, 31, 32, 63)]
    f["cqo/ret/ud2"] = [(lambda a: a.cqo(), None), (lambda a: a.ret(), None), (lambda a: a.ud2(), None)]
    f["idiv r"] = [(lambda a, r=r: a.idiv(r), None) for r in REGS]
    f["idiv m"] = [(lambda a, m=m: a.idiv(m), None) for m in MEMS]
    f["bsr r,r"] = [(lambda a, d=d, s=s: a.bsr(d, s), None) for d, s in rr]
    f["bsr r,m"] = [(lambda a, r=r, m=m: a.bsr(r, m), None) for r in REGS for m in MEMS[:4]]
    f["imul_wide r"] = [(lambda a, r=r: a.imul_wide(r), None) for r in REGS]
    f["imul_wide m"] = [(lambda a, m=m: a.imul_wide(m), None) for m in MEMS]
    f["setcc"] = [(lambda a, c=c, r=r: a.setcc(c, r), None) for c in CONDS for r in REGS]
    f["movzx8"] = [(lambda a, d=d, s=s: a.movzx8(d, s), None) for d, s in rr]
    f["jmp/call r"] = [(lambda a, r=r: (a.jmp(r), a.call(r)), None) for r in REGS]
    return f


FORMS = _forms()


def _n_insns(name: str, items: list) -> list[tuple[Emit, int | None]]:
    # a few emitters produce two instructions; split them so the batch check lines up
    if name == "push/pop":
        return [e for r in REGS for e in ((lambda a, r=r: a.push(r), None), (lambda a, r=r: a.pop(r), None))]
    if name == "neg/not":
        return [e for r in REGS for e in ((lambda a, r=r: a.neg(r), None), (lambda a, r=r: a.not_(r), None))]
    if name == "jmp/call r":
        return [e for r in REGS for e in ((lambda a, r=r: a.jmp(r), None), (lambda a, r=r: a.call(r), None))]
    return items


@pytest.mark.parametrize("name", list(FORMS))
def test_form_against_capstone(name: str) -> None:
    check_batch(_n_insns(name, FORMS[name]))


def test_jcc_all_conditions_text() -> None:
    asm = Assembler()
    end = asm.label()
    for c in CONDS:
        asm.jcc(c, end)
    asm.bind(end)
    code = asm.finish()
    listing = asm.listing()
    assert [t for _, _, t in listing] == [f"j{c.name.lower()} 0x20" for c in CONDS]
    assert code == b"".join(bytes((0x70 + c, 0x20 - 2 * (i + 1))) for i, c in enumerate(CONDS))
    decoded = list(_MD.disasm(code, 0))
    assert [f"{i.mnemonic} {i.op_str}" for i in decoded] == [t for _, _, t in listing]


def test_mov_imm_picks_shortest_exact_form() -> None:
    cases = {
        0: 5, 1: 5, 0xFFFFFFFF: 5,  # mov r32, imm32 (zero-extends)
        -1: 7, -0x80000000: 7, MASK64: 7,  # C7 /0 simm32
        1 << 32: 10, -0x80000001: 10, 1 << 63: 10, (1 << 63) - 1: 10,  # movabs
    }
    for v, size in cases.items():
        raw, _ = one(lambda a: a.mov(Reg.RAX, v))
        assert len(raw) == size, hex(v)
        raw, _ = one(lambda a: a.mov(Reg.R9, v))
        assert len(raw) == size + (1 if size == 5 else 0), hex(v)


def test_imm8_forms_used_when_they_fit() -> None:
    for v, size in ((127, 4), (-128, 4), (128, 7), (-129, 7)):
        assert len(one(lambda a: a.add(Reg.RCX, v))[0]) == size
        assert len(one(lambda a: a.imul(Reg.RCX, Reg.RDX, v))[0]) == size
        assert len(one(lambda a: a.cmp(Mem(Reg.RSI), v))[0]) == size
    assert one(lambda a: a.add(Reg.RCX, 127))[0][1] == 0x83
    assert one(lambda a: a.imul(Reg.RCX, Reg.RDX, 127))[0][1] == 0x6B
    assert one(lambda a: a.imul(Reg.RCX, Reg.RDX, 128))[0][1] == 0x69


def test_memory_displacement_sizes() -> None:
    # [base] costs nothing except for RBP/R13 (disp8 0); RSP/R12 always add a SIB byte.
    for base in REGS:
        extra_sib = 1 if base & 7 == 4 else 0
        forced_disp8 = 1 if base & 7 == 5 else 0
        assert len(one(lambda a: a.mov(Reg.RAX, Mem(base)))[0]) == 3 + extra_sib + forced_disp8
        assert len(one(lambda a: a.mov(Reg.RAX, Mem(base, -128)))[0]) == 4 + extra_sib
        assert len(one(lambda a: a.mov(Reg.RAX, Mem(base, 128)))[0]) == 7 + extra_sib


def test_rex_only_when_needed_for_32_and_8_bit_forms() -> None:
    for r in REGS:
        raw, _ = one(lambda a: a.mov32(r, Mem(Reg.RSI, 4)))
        assert (raw[0] & 0xF0 == 0x40) == (r >= 8)
        raw, _ = one(lambda a: a.setcc(Cond.E, r))
        assert (raw[0] == 0x0F) == (r < 4)
        if 4 <= r < 8:
            assert raw[0] == 0x40
        raw, _ = one(lambda a: a.movzx8(Reg.RAX, r))
        assert (raw[0] == 0x0F) == (r < 4)


# ---------------------------------------------------------------------------
# labels and branch relaxation


def _decode_all(code: bytes) -> list:
    decoded = list(_MD.disasm(code, 0))
    assert sum(i.size for i in decoded) == len(code)
    return decoded


def _check_listing(asm: Assembler, code: bytes) -> None:
    listing = asm.listing()
    decoded = _decode_all(code)
    assert [(i.address, bytes(i.bytes), f"{i.mnemonic} {i.op_str}".strip()) for i in decoded] == listing


def test_short_forward_jump() -> None:
    asm = Assembler()
    lab = asm.label()
    asm.jcc(Cond.NE, lab)
    for _ in range(5):
        asm.ret()
    asm.bind(lab)
    asm.ud2()
    code = asm.finish()
    assert code[:2] == bytes.fromhex("7505")
    assert asm.listing()[0] == (0, bytes.fromhex("7505"), "jne 7")
    assert lab.offset == 7
    _check_listing(asm, code)


@pytest.mark.parametrize("cond", [None, Cond.E])
@pytest.mark.parametrize("body,long", [(127, False), (128, True)])
def test_forward_jump_relaxation_boundary(cond: Cond | None, body: int, long: bool) -> None:
    asm = Assembler()
    lab = asm.label()
    if cond is None:
        asm.jmp(lab)
    else:
        asm.jcc(cond, lab)
    for _ in range(body):
        asm.ret()
    asm.bind(lab)
    asm.ret()
    code = asm.finish()
    jsize = 2 if not long else (5 if cond is None else 6)
    assert lab.offset == jsize + body
    if cond is None:
        expect = "eb7f" if not long else "e980000000"
    else:
        expect = "747f" if not long else "0f8480000000"
    assert code[:jsize].hex() == expect
    _check_listing(asm, code)
    assert asm.listing()[0][2] == f"{'jmp' if cond is None else 'je'} {hex(jsize + body)}"


@pytest.mark.parametrize("cond", [None, Cond.L])
@pytest.mark.parametrize("body,long", [(0, False), (126, False), (127, True), (1000, True)])
def test_backward_jump(cond: Cond | None, body: int, long: bool) -> None:
    asm = Assembler()
    top = asm.label()
    asm.bind(top)
    for _ in range(body):
        asm.ret()
    if cond is None:
        asm.jmp(top)
    else:
        asm.jcc(cond, top)
    code = asm.finish()
    jump = code[body:]
    if not long:
        assert len(jump) == 2
        assert jump[1] == (-(body + 2)) & 0xFF
    else:
        assert len(jump) == (5 if cond is None else 6)
        assert int.from_bytes(jump[-4:], "little", signed=True) == -len(code)
    assert asm.listing()[-1][2].endswith(" 0")
    _check_listing(asm, code)


def test_label_bound_at_end() -> None:
    asm = Assembler()
    end = asm.label()
    asm.jmp(end)
    asm.cqo()
    asm.bind(end)
    code = asm.finish()
    assert code == bytes.fromhex("eb024899")
    assert end.offset == len(code) == asm.offset
    _check_listing(asm, code)


def test_relaxation_cascade() -> None:
    # j1 fits rel8 only while j2 is short; j2 cannot be short, so j1 must grow too.
    asm = Assembler()
    l1, l2 = asm.label(), asm.label()
    asm.jmp(l1)
    for _ in range(123):
        asm.ret()
    asm.jcc(Cond.E, l2)
    asm.bind(l1)
    for _ in range(200):
        asm.ret()
    asm.bind(l2)
    code = asm.finish()
    assert code[0] == 0xE9
    assert l1.offset == 5 + 123 + 6
    assert l2.offset == l1.offset + 200
    _check_listing(asm, code)
    decoded = _decode_all(code)
    assert decoded[0].operands[0].imm == l1.offset
    assert decoded[124].operands[0].imm == l2.offset


def test_random_programs_resolve_every_branch() -> None:
    rng = random.Random(1234)
    sizes: set[int] = set()
    for _ in range(25):
        asm = Assembler()
        labels = [asm.label() for _ in range(6)]
        bounds: list[tuple[Label, int]] = []
        expected_targets: list[Label] = []
        for lab in labels:
            for _ in range(rng.randrange(1, 6)):
                kind = rng.random()
                if kind < 0.3:
                    t = rng.choice(labels)
                    if rng.random() < 0.5:
                        asm.jmp(t)
                    else:
                        asm.jcc(rng.choice(CONDS), t)
                    expected_targets.append(t)
                elif kind < 0.4:
                    asm.align(rng.choice([1, 2, 4, 8, 16, 32]))
                else:
                    for _ in range(rng.randrange(1, 90)):
                        asm.ret()
            bounds.append((lab, asm.offset))
            asm.bind(lab)
        upper = asm.offset
        code = asm.finish()
        assert len(code) <= upper
        for lab, bound in bounds:
            assert lab.offset <= bound  # offset before finish() is an upper bound
        _check_listing(asm, code)
        branches = [i for i in _decode_all(code) if i.mnemonic.startswith("j")]
        assert [b.operands[0].imm for b in branches] == [t.offset for t in expected_targets]
        sizes.update(b.size for b in branches)
    assert sizes == {2, 5, 6}  # the programs exercise both rel8 and rel32 forms


# ---------------------------------------------------------------------------
# alignment


@pytest.mark.parametrize("pre", range(0, 18))
def test_align_pads_with_nops(pre: int) -> None:
    asm = Assembler()
    for _ in range(pre):
        asm.ret()
    asm.align(16)
    asm.ud2()
    code = asm.finish()
    pad = -pre % 16
    assert len(code) == pre + pad + 2
    assert code[-2:] == b"\x0f\x0b"
    listing = asm.listing()
    nops = listing[pre:-1]
    assert sum(len(b) for _, b, _ in nops) == pad
    assert all(t.startswith("nop") for _, _, t in nops)
    assert len(nops) == (0 if pad == 0 else 1 if pad <= 9 else 2)
    _check_listing(asm, code)


def test_align_large_and_trivial() -> None:
    asm = Assembler()
    asm.ret()
    asm.align(1)
    asm.align(64)
    asm.ret()
    code = asm.finish()
    assert len(code) == 65
    assert [len(b) for _, b, _ in asm.listing()[1:-1]] == [9] * 7
    _check_listing(asm, code)


def test_align_interacts_with_relaxation() -> None:
    asm = Assembler()
    lab = asm.label()
    asm.jmp(lab)
    for _ in range(100):
        asm.ret()
    asm.align(256)  # without the padding the target would be 100 bytes away
    asm.bind(lab)
    asm.ret()
    code = asm.finish()
    assert code[0] == 0xE9 and lab.offset == 256
    _check_listing(asm, code)


def test_offset_is_upper_bound_then_exact() -> None:
    asm = Assembler()
    lab = asm.label()
    asm.jcc(Cond.E, lab)
    assert asm.offset == 6
    asm.ret()
    asm.bind(lab)
    assert asm.offset == 7
    code = asm.finish()
    assert asm.offset == len(code) == 3
    assert asm.finish() is code  # finishing again is harmless


# ---------------------------------------------------------------------------
# errors


def _raises(emit: Emit) -> None:
    asm = Assembler()
    with pytest.raises(EncodingError):
        emit(asm)


ERRORS: list[tuple[str, Emit]] = [
    ("mov mem,mem", lambda a: a.mov(Mem(Reg.RAX), Mem(Reg.RCX))),
    ("mov imm too large", lambda a: a.mov(Reg.RAX, 1 << 64)),
    ("mov imm too small", lambda a: a.mov(Reg.RAX, -(1 << 63) - 1)),
    ("mov mem,imm > simm32", lambda a: a.mov(Mem(Reg.RAX), 1 << 31)),
    ("mov mem,imm < simm32", lambda a: a.mov(Mem(Reg.RAX), -(1 << 31) - 1)),
    ("mov mem,imm 0xffffffff", lambda a: a.mov(Mem(Reg.RAX), 0xFFFFFFFF)),
    ("mov imm,reg", lambda a: a.mov(5, Reg.RAX)),  # type: ignore[arg-type]
    ("mov str", lambda a: a.mov(Reg.RAX, "1")),  # type: ignore[arg-type]
    ("mov cond as imm", lambda a: a.mov(Reg.RAX, Cond.E)),
    ("mov32 from reg", lambda a: a.mov32(Reg.RAX, Reg.RCX)),  # type: ignore[arg-type]
    ("mov32 to mem", lambda a: a.mov32(Mem(Reg.RAX), Mem(Reg.RCX))),  # type: ignore[arg-type]
    ("lea from reg", lambda a: a.lea(Reg.RAX, Reg.RCX)),  # type: ignore[arg-type]
    ("lea to mem", lambda a: a.lea(Mem(Reg.RAX), Mem(Reg.RCX))),  # type: ignore[arg-type]
    ("push mem", lambda a: a.push(Mem(Reg.RAX))),  # type: ignore[arg-type]
    ("pop int", lambda a: a.pop(3)),  # type: ignore[arg-type]
    ("cmov to mem", lambda a: a.cmov(Cond.E, Mem(Reg.RAX), Reg.RCX)),  # type: ignore[arg-type]
    ("cmov imm", lambda a: a.cmov(Cond.E, Reg.RAX, 1)),  # type: ignore[arg-type]
    ("cmov bad cond", lambda a: a.cmov(4, Reg.RAX, Reg.RCX)),  # type: ignore[arg-type]
    ("test mem,mem", lambda a: a.test(Mem(Reg.RAX), Mem(Reg.RCX))),  # type: ignore[arg-type]
    ("test imm too large", lambda a: a.test(Reg.RAX, 1 << 31)),
    ("test imm,reg", lambda a: a.test(1, Reg.RAX)),  # type: ignore[arg-type]
    ("imul to mem", lambda a: a.imul(Mem(Reg.RAX), Reg.RCX)),  # type: ignore[arg-type]
    ("imul imm too large", lambda a: a.imul(Reg.RAX, Reg.RCX, 1 << 31)),
    ("imul imm too small", lambda a: a.imul(Reg.RAX, Reg.RCX, -(1 << 31) - 1)),
    ("imul src imm", lambda a: a.imul(Reg.RAX, 5)),  # type: ignore[arg-type]
    ("neg mem", lambda a: a.neg(Mem(Reg.RAX))),  # type: ignore[arg-type]
    ("not mem", lambda a: a.not_(Mem(Reg.RAX))),  # type: ignore[arg-type]
    ("shl 64", lambda a: a.shl(Reg.RAX, 64)),
    ("shr -1", lambda a: a.shr(Reg.RAX, -1)),
    ("sar mem", lambda a: a.sar(Mem(Reg.RAX), 1)),  # type: ignore[arg-type]
    ("sar reg count", lambda a: a.sar(Reg.RAX, Reg.RCX)),
    ("idiv imm", lambda a: a.idiv(5)),  # type: ignore[arg-type]
    ("imul_wide imm", lambda a: a.imul_wide(5)),  # type: ignore[arg-type]
    ("setcc mem", lambda a: a.setcc(Cond.E, Mem(Reg.RAX))),  # type: ignore[arg-type]
    ("setcc bad cond", lambda a: a.setcc("e", Reg.RAX)),  # type: ignore[arg-type]
    ("movzx8 from imm", lambda a: a.movzx8(Reg.RAX, 5)),  # type: ignore[arg-type]
    ("mul imm", lambda a: a.mul(5)),  # type: ignore[arg-type]
    ("div imm", lambda a: a.div(5)),  # type: ignore[arg-type]
    ("jcc to reg", lambda a: a.jcc(Cond.E, Reg.RAX)),  # type: ignore[arg-type]
    ("jmp to mem", lambda a: a.jmp(Mem(Reg.RAX))),  # type: ignore[arg-type]
    ("call mem", lambda a: a.call(Mem(Reg.RAX))),  # type: ignore[arg-type]
    ("align 0", lambda a: a.align(0)),
    ("align -4", lambda a: a.align(-4)),
]
for _op in ALU:
    ERRORS += [
        (f"{_op} mem,mem", lambda a, op=_op: getattr(a, op)(Mem(Reg.RAX), Mem(Reg.RCX))),
        (f"{_op} imm too large", lambda a, op=_op: getattr(a, op)(Reg.RAX, 1 << 31)),
        (f"{_op} imm too small", lambda a, op=_op: getattr(a, op)(Mem(Reg.RAX), -(1 << 31) - 1)),
        (f"{_op} imm 65 bits", lambda a, op=_op: getattr(a, op)(Reg.RAX, 1 << 64)),
        (f"{_op} imm as dst", lambda a, op=_op: getattr(a, op)(1, Reg.RAX)),
    ]


@pytest.mark.parametrize("name,emit", ERRORS, ids=[n for n, _ in ERRORS])
def test_encoding_errors(name: str, emit: Emit) -> None:
    _raises(emit)


@pytest.mark.parametrize("disp", [1 << 31, -(1 << 31) - 1, 1.5])
def test_mem_displacement_out_of_range(disp: object) -> None:
    with pytest.raises(EncodingError):
        Mem(Reg.RAX, disp)  # type: ignore[arg-type]


def test_mem_base_must_be_reg() -> None:
    with pytest.raises(EncodingError):
        Mem(0)  # type: ignore[arg-type]


def test_bind_twice() -> None:
    asm = Assembler()
    lab = asm.label()
    asm.bind(lab)
    with pytest.raises(EncodingError):
        asm.bind(lab)


def test_call_label_is_rel32_in_both_directions() -> None:
    asm = Assembler()
    sub = asm.label()
    asm.call(sub)                 # forward: E8 + rel32, never relaxed to a short form
    asm.ret()
    asm.bind(sub)
    asm.ret()
    asm.call(sub)                 # backward
    code = asm.finish()
    assert code.hex() == "e801000000" + "c3" + "c3" + "e8faffffff"
    assert [text for _, _, text in asm.listing()] == ["call 6", "ret", "ret", "call 6"]
    check_batch([(lambda a: (a.call(lab := a.label()), a.bind(lab)), None)])


def test_jump_to_unbound_label() -> None:
    asm = Assembler()
    asm.jmp(asm.label())
    with pytest.raises(EncodingError):
        asm.finish()


def test_label_of_another_assembler() -> None:
    a, b = Assembler(), Assembler()
    lab = b.label()
    with pytest.raises(EncodingError):
        a.jmp(lab)
    with pytest.raises(EncodingError):
        a.jcc(Cond.E, lab)
    with pytest.raises(EncodingError):
        a.bind(lab)


def test_use_after_finish_and_listing_before() -> None:
    asm = Assembler()
    with pytest.raises(EncodingError):
        asm.listing()
    lab = asm.label()
    with pytest.raises(EncodingError):
        _ = lab.offset
    asm.ret()
    asm.finish()
    with pytest.raises(EncodingError):
        asm.ret()
    with pytest.raises(EncodingError):
        asm.bind(lab)
    with pytest.raises(EncodingError):
        asm.align(8)
