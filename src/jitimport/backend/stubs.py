"""Small fixed machine-code routines the C-API glue needs (not per function)."""
from __future__ import annotations

from ..versions import LongLayout
from .encoder import Assembler, Cond, Mem, Reg

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from ..capi import CApi

RAX, RCX, RDX = Reg.RAX, Reg.RCX, Reg.RDX
DECODER_MODES = ("signed", "unsigned", "low64")


def descr_get_stub(api: CApi) -> bytes:
    """``tp_descr_get`` binding like a Python function::

        descr_get(self, obj, type): obj is NULL or None -> new reference to self,
                                    else PyMethod_New(self, obj)
    """
    a = Assembler()
    unbound = a.label()
    a.test(Reg.RSI, Reg.RSI)
    a.jcc(Cond.E, unbound)
    a.mov(Reg.RAX, api.Py_None)
    a.cmp(Reg.RSI, Reg.RAX)
    a.jcc(Cond.E, unbound)
    a.mov(Reg.RAX, api.PyMethod_New)
    a.jmp(Reg.RAX)                    # tail call: PyMethod_New(self, obj)
    a.bind(unbound)
    a.push(Reg.RDI)                   # also aligns the stack for the call
    a.mov(Reg.RAX, api.Py_IncRef)
    a.call(Reg.RAX)
    a.pop(Reg.RAX)                    # return self
    a.ret()
    return a.finish()


def installer_stub(mprotect: int, prot_rw: int, prot_rx: int, not_restored: int) -> bytes:
    """``int install(chunk, chunk_size, dest, src, n)``: mprotect RW, copy, mprotect RX.

    Returns 0; -1 (errno set, chunk unchanged) when the switch to read-write is
    refused; ``not_restored`` when the switch back to read+exec is refused three
    times (the chunk is then unusable).  One C-level call, so the GIL is never
    released while the chunk is not executable.
    """
    a = Assembler()
    R = Reg
    refused = a.label()
    done = a.label()
    for reg in (R.RBX, R.R12, R.R13, R.R14, R.R15):
        a.push(reg)                    # 5 pushes: RSP is 16-byte aligned for the calls
    a.mov(R.RBX, R.RDI)
    a.mov(R.R12, R.RSI)
    a.mov(R.R13, R.RDX)
    a.mov(R.R14, R.RCX)
    a.mov(R.R15, R.R8)
    a.mov(R.RDX, prot_rw)
    a.mov(R.RAX, mprotect)
    a.call(R.RAX)                      # mprotect(chunk, size, RW)
    a.shl(R.RAX, 32)                   # an int result: only EAX is defined
    a.test(R.RAX, R.RAX)
    a.jcc(Cond.NE, refused)
    a.mov(R.RDI, R.R13)
    a.mov(R.RSI, R.R14)
    a.mov(R.RCX, R.R15)
    a.rep_movsb()                      # copy n bytes (DF is clear per the SysV ABI)
    a.mov(R.R15, 3)                    # attempts left to make the chunk executable again
    again = a.label()
    a.bind(again)
    a.mov(R.RDI, R.RBX)
    a.mov(R.RSI, R.R12)
    a.mov(R.RDX, prot_rx)
    a.mov(R.RAX, mprotect)
    a.call(R.RAX)                      # mprotect(chunk, size, RX)
    a.shl(R.RAX, 32)
    a.test(R.RAX, R.RAX)
    a.jcc(Cond.E, done)                # RAX == 0: success
    a.sub(R.R15, 1)
    a.jcc(Cond.NE, again)
    a.mov(R.RAX, not_restored)
    a.jmp(done)
    a.bind(refused)
    a.mov(R.RAX, -1)
    a.bind(done)
    for reg in (R.R15, R.R14, R.R13, R.R12, R.RBX):
        a.pop(reg)
    a.ret()
    return a.finish()


def decoder_stub(mode: str, lay: LongLayout, long_type: int) -> bytes:
    """Subroutine: RAX = int object with >= 2 digits -> RAX = its value, CF clear.

    Shared by every function (one per mode and process): called from the cold
    path of a parameter's unboxing, with no stack use of its own.

    ``signed``: CF set unless the value fits in int64; ``unsigned``: unless it is in
    [0, 2**64); ``low64``: never fails, RAX = the value modulo 2**64 (two's complement).
    Uses RCX and RDX, restores RCX to the int type."""
    a = Assembler()
    bits = lay.digit_bits
    fail = a.label()
    a.mov(RDX, Mem(RAX, lay.size_offset))
    if lay.kind == "signed_size":        # |ob_size| = number of digits
        a.mov(RCX, RDX)
        a.sar(RCX, 63)
        a.xor(RDX, RCX)
        a.sub(RDX, RCX)
    else:                                 # lv_tag >> 3 = number of digits
        a.shr(RDX, 3)
    two = a.label()
    join = a.label()
    a.cmp(RDX, 2)
    a.jcc(Cond.E, two)
    if mode != "low64":
        a.cmp(RDX, 3)
        a.jcc(Cond.NE, fail)
    a.mov32(RDX, Mem(RAX, lay.digits_offset + 8))
    if mode != "low64":
        a.cmp(RDX, (1 << (64 - 2 * bits)) - 1)
        a.jcc(Cond.A, fail)              # magnitude would reach 2**64
    a.shl(RDX, 2 * bits)                 # (low64: digit bits past 64 fall off)
    a.jmp(join)
    a.bind(two)
    a.mov(RDX, 0)
    a.bind(join)
    a.mov32(RCX, Mem(RAX, lay.digits_offset + 4))
    a.shl(RCX, bits)
    a.or_(RDX, RCX)
    a.mov32(RCX, Mem(RAX, lay.digits_offset))
    a.or_(RDX, RCX)                      # RDX = magnitude, < 2**64
    negative = a.label()
    if lay.kind == "signed_size":
        a.cmp(Mem(RAX, lay.size_offset), 0)
        a.jcc(Cond.L, negative)
    else:
        a.test(Mem(RAX, lay.size_offset), 2)
        a.jcc(Cond.NE, negative)
    a.mov(RAX, RDX)
    if mode == "signed":
        a.test(RAX, RAX)
        a.jcc(Cond.S, fail)              # magnitude >= 2**63
    a.jmp(ok := a.label())
    a.bind(negative)
    if mode == "unsigned":
        a.jmp(fail)
    else:
        a.mov(RAX, RDX)
        a.neg(RAX)
        if mode == "signed":
            a.jcc(Cond.NS, fail)         # magnitude > 2**63
    a.bind(ok)
    a.mov(RCX, long_type)
    a.cmp(RAX, RAX)                      # clears CF
    a.ret()
    a.bind(fail)
    a.mov(RCX, long_type)
    a.cmp(RCX, -1)                       # sets CF (unsigned RCX < 2**64 - 1)
    a.ret()
    return a.finish()


#: Registers a native function may hold values in across a poll or a guard's slow path (every
#: caller-saved register but RAX, which carries the result): the stubs preserve them.
_PRESERVED = (Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.R8, Reg.R9, Reg.R10, Reg.R11)


def _save(a: Assembler) -> None:
    for reg in _PRESERVED:
        a.push(reg)
    a.sub(Reg.RSP, 8)   # entry RSP is 8 mod 16; 8 pushes keep that: realign for the calls


def _restore(a: Assembler) -> None:
    a.add(Reg.RSP, 8)
    for reg in reversed(_PRESERVED):
        a.pop(reg)


def poll_stub(check_signals: int, save_thread: int, restore_thread: int) -> bytes:
    """Subroutine called from a loop's back edge every so many iterations.

    Runs pending signal handlers (``PyErr_CheckSignals``) and then releases and
    re-takes the GIL (``PyEval_SaveThread``/``PyEval_RestoreThread``), so other
    threads get their turn.  Returns RAX = 0, or nonzero when a handler raised
    (the exception is set: the caller returns NULL).  Preserves every register
    but RAX and the flags."""
    a = Assembler()
    done = a.label()
    _save(a)
    a.mov(RAX, check_signals)
    a.call(RAX)
    a.shl(RAX, 32)              # the int result: nonzero when a handler raised
    a.jcc(Cond.NE, done)
    a.mov(RAX, save_thread)
    a.call(RAX)
    a.mov(Reg.RDI, RAX)
    a.mov(RAX, restore_thread)
    a.call(RAX)
    a.xor(RAX, RAX)
    a.bind(done)
    _restore(a)
    a.ret()
    return a.finish()


#: Layout of a guard record (qwords): the two version tags last seen, then what is checked, and
#: the mode: GUARD_MODE_BUILTIN (absent from the globals, the builtins hold ``expected``) or
#: GUARD_MODE_GLOBAL (the globals bind the name to ``expected``).
GUARD_GLOBALS_TAG, GUARD_BUILTINS_TAG, GUARD_GLOBALS, GUARD_BUILTINS, GUARD_NAME, GUARD_EXPECTED, \
    GUARD_MODE = range(0, 56, 8)
GUARD_RECORD_SIZE = 56
GUARD_MODE_BUILTIN = 0
GUARD_MODE_GLOBAL = 1


def guard_stub(dict_getitem: int, version_offset: int) -> bytes:
    """Subroutine for a builtin guard whose version tags changed: RAX = guard record.

    Looks the name up again: absent from the module's globals and still the
    expected object in the builtins, it records the dicts' current version tags
    and returns RAX = 0; otherwise RAX != 0 (the caller exits).  Preserves every
    register but RAX and the flags."""
    a = Assembler()
    failed = a.label()
    builtin = a.label()
    record = a.label()
    _save(a)
    a.push(Reg.RBX)                     # callee-saved: holds the record across the calls
    a.sub(Reg.RSP, 8)
    a.mov(Reg.RBX, RAX)
    a.mov(Reg.RDI, Mem(Reg.RBX, GUARD_GLOBALS))
    a.mov(Reg.RSI, Mem(Reg.RBX, GUARD_NAME))
    a.mov(RAX, dict_getitem)
    a.call(RAX)
    a.cmp(Mem(Reg.RBX, GUARD_MODE), GUARD_MODE_GLOBAL)
    a.jcc(Cond.NE, builtin)
    a.cmp(RAX, Mem(Reg.RBX, GUARD_EXPECTED))
    a.jcc(Cond.E, record)               # the global still binds the same object
    a.mov(RAX, 1)
    a.jmp(failed)                       # rebound or deleted
    a.bind(builtin)
    a.test(RAX, RAX)
    a.jcc(Cond.NE, failed)              # the module binds the name itself
    a.mov(Reg.RDI, Mem(Reg.RBX, GUARD_BUILTINS))
    a.mov(Reg.RSI, Mem(Reg.RBX, GUARD_NAME))
    a.mov(RAX, dict_getitem)
    a.call(RAX)
    a.cmp(RAX, Mem(Reg.RBX, GUARD_EXPECTED))
    a.jcc(Cond.NE, failed)              # builtins.<name> was replaced or deleted
    a.bind(record)
    a.mov(RAX, Mem(Reg.RBX, GUARD_GLOBALS))
    a.mov(RAX, Mem(RAX, version_offset))
    a.mov(Mem(Reg.RBX, GUARD_GLOBALS_TAG), RAX)
    a.mov(RAX, Mem(Reg.RBX, GUARD_BUILTINS))
    a.mov(RAX, Mem(RAX, version_offset))
    a.mov(Mem(Reg.RBX, GUARD_BUILTINS_TAG), RAX)
    a.xor(RAX, RAX)
    a.bind(failed)
    a.add(Reg.RSP, 8)
    a.pop(Reg.RBX)
    _restore(a)
    a.ret()
    return a.finish()
