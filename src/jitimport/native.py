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
for every case it does not handle), the slot holding the code's memory
(``_code``) and the compile metadata (``_meta``) are hidden from Python so they
cannot be deleted under the machine code's feet (nor lost with ``__dict__``);
the class is made immutable once finished.

Introspection sees the original where that is what a user means: ``__code__``,
``__globals__``, ``__defaults__``, ``__kwdefaults__``, ``__closure__`` and
``__builtins__`` are the original's, and ``__class__`` is
:class:`types.FunctionType`, so ``inspect.isfunction``, ``inspect.getfile``,
doctest's line numbers and ``dis.dis`` treat a native as the function it
replaces.  ``type(native)`` stays :class:`NativeFunction`: pickle, copy and
C-level type checks go by the real type.

Code every native shares (the descriptor stub, the int decoders of
:func:`runtime`) is installed as permanent: it must outlive every native,
including the ones ``__main__`` finalizers call at interpreter exit.
"""
from __future__ import annotations

import functools
import sys
import threading
import types
#: Not ``typing.TYPE_CHECKING``: this module is on the import hook's warm path (machine code loaded
#: from the cache), where importing ``typing`` (and ``re`` with it) would cost more than the rest.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, ParamSpec, TypeVar, overload

from . import capi as _capi
from .execmem import CodeBlock, default_arena

if TYPE_CHECKING:
    from .backend.codegen import Runtime


def _forwarded(name: str) -> property:
    """A read-only attribute read from the original (what introspection tools expect)."""
    def get(self: NativeFunction) -> Any:
        return getattr(_FALLBACK.__get__(self, NativeFunction), name)
    return property(get, doc=f"The original's {name} (read-only).")


class NativeFunction:
    """A Python function replaced by machine code; ``__wrapped__`` is the original."""

    __slots__ = ("_entry", "_fallback", "_code", "_meta", "__dict__", "__weakref__")

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
        return f"<native function {_name(self, '__qualname__') or '?'} at {id(self):#x}>"

    def __reduce__(self) -> str | tuple[Callable[..., Any], tuple[Any, ...]]:
        # By reference, like a function, when module + qualname lead back here (a module
        # function swapped by the hook or assigned over its original).  Otherwise (``bar =
        # compile_native(foo)``) by reference to the original, compiled again on loading.
        qualname = _name(self, "__qualname__")
        if qualname and _lookup(_name(self, "__module__"), qualname) is self:
            return qualname
        return (_rebuild, (_FALLBACK.__get__(self, NativeFunction),))

    def __copy__(self) -> NativeFunction:
        return self  # immutable, like a function

    def __deepcopy__(self, memo: dict[int, Any]) -> NativeFunction:
        return self

    # What inspect, doctest, dis and friends read from a function.  ``__class__`` makes
    # ``isinstance(native, types.FunctionType)`` (so inspect.isfunction) true; type() is unchanged.
    __class__ = property(lambda self: types.FunctionType,
                         doc="types.FunctionType: introspection treats a native as a function.")
    __code__ = _forwarded("__code__")
    __globals__ = _forwarded("__globals__")
    __defaults__ = _forwarded("__defaults__")
    __kwdefaults__ = _forwarded("__kwdefaults__")
    __closure__ = _forwarded("__closure__")
    __builtins__ = _forwarded("__builtins__")


def _name(obj: NativeFunction, attribute: str) -> str | None:
    """``obj``'s name attribute, or the original's when ``obj.__dict__`` was replaced."""
    value = obj.__dict__.get(attribute)
    if not isinstance(value, str):
        value = getattr(_FALLBACK.__get__(obj, NativeFunction), attribute, None)
    return value if isinstance(value, str) else None


def _lookup(module: str | None, qualname: str) -> object:
    """What ``module.qualname`` names now (None when it does not resolve)."""
    target: object = sys.modules.get(module) if module else None
    for part in qualname.split("."):
        if target is None or part == "<locals>":
            return None
        target = getattr(target, part, None)
    return target


@functools.lru_cache(maxsize=256)
def _rebuild(original: Callable[..., Any]) -> Any:
    """Unpickling a native pickled by its original: compile it again here.

    The original itself when it cannot be compiled here (another platform,
    ``JITIMPORT_DISABLE=1``, no executable memory): it computes the same
    results.  Cached per original, so a pool worker that receives the same
    function with every task compiles it once.
    """
    try:
        # Through the package's public entry point (loaded lazily there): this module sits
        # below the compiler and never imports it.
        return sys.modules[__package__].compile_native(original)
    except Exception:  # never fail a load for the sake of speed
        return original


_ENTRY = NativeFunction.__dict__["_entry"]
_FALLBACK = NativeFunction.__dict__["_fallback"]
_CODE = NativeFunction.__dict__["_code"]
_META = NativeFunction.__dict__["_meta"]
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
    # (mypy does not see the slot descriptors as class attributes: the ignores below.)
    del NativeFunction._fallback  # type: ignore[attr-defined]
    del NativeFunction._code  # type: ignore[attr-defined]
    del NativeFunction._meta  # type: ignore[attr-defined]
    _descr_get_block = default_arena().install(descr_get_code, permanent=True)
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
    """Wrap installed machine code (entry address ``entry`` inside ``code``).

    ``metadata`` (what :func:`jitimport.info` reports) is kept in a hidden slot,
    so replacing the native's ``__dict__`` does not lose it.
    """
    if not _finished:
        raise RuntimeError("NativeFunction type not finished")
    obj = object.__new__(NativeFunction)
    _FALLBACK.__set__(obj, original)
    _CODE.__set__(obj, code)
    _META.__set__(obj, dict(metadata or {}))
    d = obj.__dict__
    for name in _COPIED:
        if hasattr(original, name):
            d[name] = getattr(original, name)
    d.update(getattr(original, "__dict__", {}))
    d["__wrapped__"] = original
    # Last: from here on calls run the machine code.
    _capi.write_pointer(id(obj) + ENTRY_OFFSET, entry)
    return obj


#: ``verify.NATIVE_ATTRIBUTE``: in verify mode the hook and ``@jit`` hand out a Python wrapper that
#: holds the native under this name; ``is_native`` and ``original`` see through it.
_VERIFIED_NATIVE = "__jitimport_verified_native__"


def _unverified(obj: object) -> object:
    if type(obj) is types.FunctionType:
        return obj.__dict__.get(_VERIFIED_NATIVE, obj)
    return obj


def is_native(obj: object) -> bool:
    """True for an object made by jitimport (also through a staticmethod or a verify-mode wrapper)."""
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    return type(_unverified(obj)) is NativeFunction


if TYPE_CHECKING:  # pragma: no cover
    _Obj = TypeVar("_Obj")
    _P = ParamSpec("_P")
    _R = TypeVar("_R")
else:
    def overload(fn: object) -> object:
        """Stands in for ``typing.overload`` at run time (the implementation below wins)."""
        return fn


@overload
def original(obj: staticmethod[_P, _R]) -> Callable[_P, _R]: ...
@overload
def original(obj: _Obj) -> _Obj: ...


def original(obj: object) -> Any:
    """The Python function a native object falls back to (``obj`` itself if not native).

    Typed for checkers as returning what it is given (a native has its original's signature).
    """
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    native = _unverified(obj)
    if type(native) is NativeFunction:
        return _FALLBACK.__get__(native, NativeFunction)
    return obj


def code_block(obj: NativeFunction) -> CodeBlock:
    """The owner of ``obj``'s machine code (its value is the code's address)."""
    return _CODE.__get__(obj, NativeFunction)  # type: ignore[no-any-return]  # a slot descriptor read


def metadata(obj: NativeFunction) -> dict[str, Any]:
    """The compile metadata of a native (``{"info": CompileInfo}`` for compile_native's)."""
    return _META.__get__(obj, NativeFunction)  # type: ignore[no-any-return]  # a slot descriptor read


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


#: ``Runtime`` fields that hold the address of an exported C-API function, and that
#: function's name.  A new such field in :class:`backend.codegen.Runtime` needs one
#: entry here (or in ``_RUNTIME_OBJECTS`` for the address of a static object).
RUNTIME_FUNCTIONS: dict[str, str] = {
    "vectorcall": "PyObject_Vectorcall",
    "long_from_long": "PyLong_FromLong",
    "long_from_unsigned": "PyLong_FromUnsignedLongLong",
    "bool_from_long": "PyBool_FromLong",
    "check_signals": "PyErr_CheckSignals",
    "save_thread": "PyEval_SaveThread",
    "restore_thread": "PyEval_RestoreThread",
    "dict_getitem": "PyDict_GetItem",
    "tuple_new": "PyTuple_New",
    "decref": "Py_DecRef",
}

#: ``Runtime`` fields that hold the address of a static object.
_RUNTIME_OBJECTS: dict[str, object] = {
    "long_type": int,
    "tuple_type": tuple,
}

_runtime: Runtime | None = None
_runtime_fields: dict[str, Any] | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """Addresses the generated code calls or compares against, resolved once per process.

    The shared int decoders are installed here, as permanent code: every native
    calls them, so they must outlive every native (even at interpreter exit).
    Raises :class:`~jitimport.execmem.ExecMemoryError` when executable memory is
    refused (and tries again on the next call).
    """
    global _runtime
    if _runtime is None:
        from .backend.codegen import Runtime

        fields = runtime_fields()
        with _runtime_lock:
            if _runtime is None:
                _runtime = Runtime(**fields)
    return _runtime


def runtime_fields() -> dict[str, Any]:
    """The fields of :func:`runtime` as a dict, without loading the code generator (the
    machine-code cache relocates code with these)."""
    global _runtime_fields
    if _runtime_fields is None:
        with _runtime_lock:
            if _runtime_fields is None:
                _runtime_fields = _make_runtime_fields()
    return _runtime_fields


def _make_runtime_fields() -> dict[str, Any]:
    from . import versions
    from .backend.stubs import DECODER_MODES, decoder_stub, guard_stub, poll_stub

    table = versions.current()
    if table is None:
        raise RuntimeError("no version table for this interpreter")
    fields: dict[str, Any] = {field: _capi.function_address(symbol)
                              for field, symbol in RUNTIME_FUNCTIONS.items()}
    fields.update({field: id(obj) for field, obj in _RUNTIME_OBJECTS.items()})
    arena = default_arena()
    fields["decoders"] = {
        mode: arena.install(decoder_stub(mode, table.long_layout, id(int)), permanent=True).address
        for mode in DECODER_MODES}
    fields["poll_stub"] = arena.install(poll_stub(
        fields["check_signals"], fields["save_thread"], fields["restore_thread"]), permanent=True).address
    fields["guard_stub"] = arena.install(guard_stub(
        fields["dict_getitem"], table.dict_version_offset), permanent=True).address
    return fields
