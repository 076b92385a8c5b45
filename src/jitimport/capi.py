"""The few CPython C-API facts the generated code relies on, read through ctypes.

Addresses of exported functions and static objects, and the layout of the
structures the glue patches.  Everything here is the stable public layout of
CPython 3.11-3.13 on 64-bit Linux; :func:`jitimport.support.unsupported_reason`
checks it with probes before any machine code runs.
"""
from __future__ import annotations

import ctypes

Py_TPFLAGS_IMMUTABLETYPE = 1 << 8
Py_TPFLAGS_BASETYPE = 1 << 10
Py_TPFLAGS_HAVE_VECTORCALL = 1 << 11
Py_TPFLAGS_METHOD_DESCRIPTOR = 1 << 17

T_PYSSIZET = 19
READONLY = 1


class PyTypeObjectPrefix(ctypes.Structure):
    """The head of ``PyTypeObject`` up to ``tp_descr_get`` (public, unchanged since 3.8)."""

    _fields_ = [
        ("ob_refcnt", ctypes.c_ssize_t),
        ("ob_type", ctypes.c_void_p),
        ("ob_size", ctypes.c_ssize_t),
        ("tp_name", ctypes.c_char_p),
        ("tp_basicsize", ctypes.c_ssize_t),
        ("tp_itemsize", ctypes.c_ssize_t),
        ("tp_dealloc", ctypes.c_void_p),
        ("tp_vectorcall_offset", ctypes.c_ssize_t),
        ("tp_getattr", ctypes.c_void_p),
        ("tp_setattr", ctypes.c_void_p),
        ("tp_as_async", ctypes.c_void_p),
        ("tp_repr", ctypes.c_void_p),
        ("tp_as_number", ctypes.c_void_p),
        ("tp_as_sequence", ctypes.c_void_p),
        ("tp_as_mapping", ctypes.c_void_p),
        ("tp_hash", ctypes.c_void_p),
        ("tp_call", ctypes.c_void_p),
        ("tp_str", ctypes.c_void_p),
        ("tp_getattro", ctypes.c_void_p),
        ("tp_setattro", ctypes.c_void_p),
        ("tp_as_buffer", ctypes.c_void_p),
        ("tp_flags", ctypes.c_ulong),
        ("tp_doc", ctypes.c_char_p),
        ("tp_traverse", ctypes.c_void_p),
        ("tp_clear", ctypes.c_void_p),
        ("tp_richcompare", ctypes.c_void_p),
        ("tp_weaklistoffset", ctypes.c_ssize_t),
        ("tp_iter", ctypes.c_void_p),
        ("tp_iternext", ctypes.c_void_p),
        ("tp_methods", ctypes.c_void_p),
        ("tp_members", ctypes.c_void_p),
        ("tp_getset", ctypes.c_void_p),
        ("tp_base", ctypes.c_void_p),
        ("tp_dict", ctypes.c_void_p),
        ("tp_descr_get", ctypes.c_void_p),
    ]


class PyMemberDef(ctypes.Structure):
    """``PyMemberDef``: how a ``__slots__`` entry is stored and cleared."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("type", ctypes.c_int),
        ("offset", ctypes.c_ssize_t),
        ("flags", ctypes.c_int),
        ("doc", ctypes.c_char_p),
    ]


class PyMemberDescrObject(ctypes.Structure):
    """``PyMemberDescrObject``: a slot descriptor, pointing at its ``PyMemberDef``."""

    _fields_ = [
        ("ob_refcnt", ctypes.c_ssize_t),
        ("ob_type", ctypes.c_void_p),
        ("d_type", ctypes.c_void_p),
        ("d_name", ctypes.c_void_p),
        ("d_qualname", ctypes.c_void_p),
        ("d_member", ctypes.POINTER(PyMemberDef)),
    ]


def function_address(name: str) -> int:
    """Address of an exported C-API function."""
    address = ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value
    assert address is not None  # an exported function is never at NULL
    return address


def type_struct(tp: type) -> PyTypeObjectPrefix:
    """A writable view of a type object's C struct."""
    return PyTypeObjectPrefix.from_address(id(tp))


def member_def(descriptor: object) -> PyMemberDef:
    """The ``PyMemberDef`` behind a slot descriptor."""
    # a ctypes pointer's contents are Any to mypy
    return PyMemberDescrObject.from_address(id(descriptor)).d_member.contents  # type: ignore[no-any-return]


def write_pointer(address: int, value: int) -> None:
    ctypes.c_void_p.from_address(address).value = value


class CApi:
    """Addresses the code generator embeds: resolved once per process."""

    def __init__(self) -> None:
        self.PyObject_Vectorcall = function_address("PyObject_Vectorcall")
        self.PyVectorcall_Call = function_address("PyVectorcall_Call")
        self.PyMethod_New = function_address("PyMethod_New")
        self.Py_IncRef = function_address("Py_IncRef")
        self.PyLong_FromLong = function_address("PyLong_FromLong")
        self.PyLong_FromUnsignedLongLong = function_address("PyLong_FromUnsignedLongLong")
        self.PyType_Modified = function_address("PyType_Modified")
        self.PyLong_Type = id(int)
        self.Py_None = id(None)


_capi: CApi | None = None


def capi() -> CApi:
    global _capi
    if _capi is None:
        _capi = CApi()
    return _capi
