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
