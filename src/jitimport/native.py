"""The native callable: a C-level object CPython calls through vectorcall.

``NativeFunction`` is an ordinary class whose C struct is then finished by
hand: its instances carry a vectorcall slot (``tp_vectorcall_offset`` points
at the hidden ``_entry`` slot, which holds the machine code's address), its
``tp_call`` is ``PyVectorcall_Call``, and its ``tp_descr_get`` is a few bytes
of generated code that bind like a Python function.  With
``Py_TPFLAGS_METHOD_DESCRIPTOR`` a method call ``obj.m(x)`` skips binding and
calls the machine code with ``obj`` as first argument, as for functions.

So a call goes caller -> CPython's vectorcall -> machine code, with no ctypes
foreign call and no Python frame in between.  Everything Python-level here
(``__repr__``, ``__reduce__``, the explicit ``__get__``/``__call__``) is only
for introspection and never on the call path.

The slot holding the Python original (``_fallback``, used by the machine code
for every case it does not handle) and the slot holding the code's memory
(``_code``) are hidden from Python so they cannot be deleted under the
machine code's feet; the class is made immutable once finished.
"""
from __future__ import annotations

import functools
import threading
import types
from typing import Any, Callable

from . import capi as _capi
from .execmem import CodeBlock, default_arena


class NativeFunction:
    """A Python function replaced by machine code; ``__wrapped__`` is the original."""

    __slots__ = ("_entry", "_fallback", "_code", "__dict__", "__weakref__")

    def __new__(cls, *args: Any, **kwargs: Any) -> NativeFunction:
        raise TypeError("NativeFunction objects are created by jitimport.compile_native()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Only reached through an explicit ``f.__call__(...)``: the type's C-level
        # tp_call is PyVectorcall_Call, so this re-enters the machine code.
        return self(*args, **kwargs)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # Explicit ``f.__get__`` only; attribute lookups use the generated tp_descr_get.
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __repr__(self) -> str:
        name = self.__dict__.get("__qualname__", "?")
        return f"<native function {name} at {id(self):#x}>"

    def __reduce__(self) -> str:
        # Pickle by reference, like a function: module + qualname must lead back here.
        return self.__qualname__


_ENTRY = NativeFunction.__dict__["_entry"]
_FALLBACK = NativeFunction.__dict__["_fallback"]
_CODE = NativeFunction.__dict__["_code"]
ENTRY_OFFSET: int = _capi.member_def(_ENTRY).offset
FALLBACK_OFFSET: int = _capi.member_def(_FALLBACK).offset

_finished = False
_descr_get_block: CodeBlock | None = None


def _finish_type(descr_get_code: bytes) -> None:
    """Turn ``NativeFunction`` into a vectorcall type (once per process)."""
    global _finished, _descr_get_block
    if _finished:
        return
    entry_def = _capi.member_def(_ENTRY)
    if entry_def.name != b"_entry" or _capi.member_def(_FALLBACK).name != b"_fallback":
        raise RuntimeError("unexpected slot descriptor layout")
    # The entry slot holds a raw code address: make CPython treat it as an integer
    # (never decref'd or traversed), read-only from Python.
    entry_def.type = _capi.T_PYSSIZET
    entry_def.flags |= _capi.READONLY
    # The object slots stay T_OBJECT_EX so dealloc/GC handle them; hide them from Python.
    del NativeFunction._fallback
    del NativeFunction._code
    _descr_get_block = default_arena().install(descr_get_code)
    api = _capi.capi()
    ts = _capi.type_struct(NativeFunction)
    ts.tp_vectorcall_offset = ENTRY_OFFSET
    ts.tp_call = api.PyVectorcall_Call
    ts.tp_descr_get = _descr_get_block.address
    ts.tp_flags |= (_capi.Py_TPFLAGS_HAVE_VECTORCALL | _capi.Py_TPFLAGS_METHOD_DESCRIPTOR
                    | _capi.Py_TPFLAGS_IMMUTABLETYPE)
    ts.tp_flags &= ~_capi.Py_TPFLAGS_BASETYPE  # no subclasses: they could not be native
    import ctypes
    modified = ctypes.pythonapi.PyType_Modified
    modified.argtypes = [ctypes.py_object]
    modified.restype = None
    modified(NativeFunction)
    _finished = True


#: What functools.wraps copies (3.12+ adds __type_params__), so typing.get_type_hints,
#: pydoc and friends see the original's metadata.
_COPIED = functools.WRAPPER_ASSIGNMENTS


def make_native(original: Callable[..., Any], code: CodeBlock, entry: int,
                metadata: dict[str, Any] | None = None) -> NativeFunction:
    """Wrap installed machine code (entry address ``entry`` inside ``code``)."""
    if not _finished:
        raise RuntimeError("NativeFunction type not finished")
    obj = object.__new__(NativeFunction)
    _FALLBACK.__set__(obj, original)
    _CODE.__set__(obj, code)
    d = obj.__dict__
    for name in _COPIED:
        if hasattr(original, name):
            d[name] = getattr(original, name)
    d.update(getattr(original, "__dict__", {}))
    d["__wrapped__"] = original
    if metadata:
        d["__jitimport__"] = metadata
    # Last: from here on calls run the machine code.
    _capi.write_pointer(id(obj) + ENTRY_OFFSET, entry)
    return obj


def is_native(obj: object) -> bool:
    """True for an object made by jitimport (also through a staticmethod)."""
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    return type(obj) is NativeFunction


def original(obj: object) -> Any:
    """The Python function a native object falls back to (``obj`` itself if not native)."""
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    if type(obj) is NativeFunction:
        return _FALLBACK.__get__(obj, NativeFunction)
    return obj


def code_block(obj: NativeFunction) -> CodeBlock:
    return _CODE.__get__(obj, NativeFunction)


_finish_lock = threading.Lock()


def ensure_type_ready() -> None:
    """Generate the descriptor stub and finish ``NativeFunction`` (idempotent, thread-safe:
    finishing twice would fail half-way and disable native code for the process)."""
    if _finished:
        return
    with _finish_lock:
        if not _finished:
            from .backend.stubs import descr_get_stub
            _finish_type(descr_get_stub(_capi.capi()))
