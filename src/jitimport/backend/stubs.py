"""Small fixed machine-code routines the C-API glue needs (not per function)."""
from __future__ import annotations

from .encoder import Assembler, Cond, Reg


def descr_get_stub(api) -> bytes:
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


def installer_stub(mprotect: int, prot_rw: int, prot_rx: int) -> bytes:
    """``int install(chunk, chunk_size, dest, src, n)``: mprotect RW, copy, mprotect RX.

    Returns 0, or mprotect's -1 (errno set) with the chunk unchanged when the
    first switch is refused.  One C-level call, so the GIL is never released
    while the chunk is not executable.
    """
    a = Assembler()
    R = Reg
    failed = a.label()
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
    a.jcc(Cond.NE, failed)
    a.mov(R.RDI, R.R13)
    a.mov(R.RSI, R.R14)
    a.mov(R.RCX, R.R15)
    a.rep_movsb()                      # copy n bytes (DF is clear per the SysV ABI)
    a.mov(R.RDI, R.RBX)
    a.mov(R.RSI, R.R12)
    a.mov(R.RDX, prot_rx)
    a.mov(R.RAX, mprotect)
    a.call(R.RAX)                      # mprotect(chunk, size, RX)
    done = a.label()
    a.jmp(done)
    a.bind(failed)
    a.mov(R.RAX, -1)
    a.bind(done)
    for reg in (R.R15, R.R14, R.R13, R.R12, R.RBX):
        a.pop(reg)
    a.ret()
    return a.finish()
