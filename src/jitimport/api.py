"""The user-facing helpers built on the pipeline: :func:`jit`, :func:`info`, :func:`disassemble`.

Kept apart from :mod:`jitimport.compiler` (the pipeline itself) so that the
decorator and the introspection helpers can be reached without loading the
compiler.  Nothing here imports a module that needs ``ctypes`` until native
code is known to be available: where ``ctypes`` cannot be imported (a 3.12
isolated subinterpreter), ``@jit`` still works and leaves functions in Python.
"""
from __future__ import annotations

import sys
from types import FunctionType
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from .errors import NotCompilable, UnsupportedPlatform
from .support import unsupported_reason

if TYPE_CHECKING:
    from .compiler import CompileInfo

F = TypeVar("F", bound=Callable[..., Any])


_JIT_REASON = "__jitimport_reason__"
#: ``verify.NATIVE_ATTRIBUTE``: a verify wrapper's native (spelled here so that info() need not import verify).
_VERIFIED_NATIVE = "__jitimport_verified_native__"


@overload
def jit(fn: F) -> F: ...
@overload
def jit(*, strict: bool = False) -> Callable[[F], F]: ...


def jit(fn: Any = None, *, strict: bool = False) -> Any:
    """Decorator: compile at decoration time.

    An ineligible function is returned unchanged, with the reason recorded
    (see :func:`info`); ``@jit(strict=True)`` raises :class:`NotCompilable`
    instead.  When native code is unavailable (an unsupported platform,
    ``JITIMPORT_DISABLE=1``) functions stay Python even with ``strict=True``,
    and the first one logs one warning on the ``jitimport`` logger (once per
    process, shared with the import hook, see ``config.warn_once``).

    ``__init_subclass__``, ``__class_getitem__`` and ``__new__`` written in a
    class body are left alone like other ineligible functions: Python makes
    them a classmethod / staticmethod only when they are plain functions
    (``jitimport.hook.classbody``), so a native there would be called
    wrongly.
    """
    def decorate(func: F) -> F:
        from types import FunctionType

        from .hook.classbody import implicit_wrapper, left_alone_reason, qualname_in_class_body

        if type(func) is FunctionType:
            wrapper = implicit_wrapper(func.__name__, qualname_in_class_body(func.__qualname__))
            if wrapper is not None:
                reason = left_alone_reason(func.__name__, wrapper)
                if strict:
                    raise NotCompilable(
                        f"{reason} (to compile it anyway: {func.__name__} = "
                        f"{wrapper}(jitimport.compile_native(function)))",
                        func.__code__.co_filename, func.__code__.co_firstlineno,
                    )
                _record_reason(func, reason)
                return func
        try:
            native = compile_native(func)
        except UnsupportedPlatform as exc:
            from . import config

            config.warn_once(config.UNAVAILABLE, f"jitimport: {exc.reason}; @jit leaves functions in Python")
            _record_reason(func, str(exc))
            return func
        except NotCompilable as exc:
            if strict:
                raise
            _record_reason(func, str(exc))
            return func
        from . import config

        if config.flag(config.VERIFY):  # verify mode: a checking wrapper, only then (see jitimport.verify)
            from .verify import verified

            return verified(native, func)  # type: ignore[no-any-return]
        return native

    if fn is None:
        return decorate
    return decorate(fn)


def compile_native(fn: F) -> F:
    """Return a native version of ``fn``, or raise :class:`NotCompilable` saying why.

    The native callable computes exactly what ``fn`` computes, falling back to
    ``fn`` for every case the machine code does not handle.  This is
    :func:`jitimport.compiler.compile_native`, loaded only once the platform
    probe says native code can run: the compiler needs ``ctypes``, and where it
    cannot be loaded the answer must be :class:`UnsupportedPlatform`, not an
    ImportError.
    """
    reason = unsupported_reason()
    if reason is not None:
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        raise UnsupportedPlatform(f"native code is not available: {reason}",
                                  getattr(code, "co_filename", None), getattr(code, "co_firstlineno", None))
    from . import compiler
    return compiler.compile_native(fn)


def _native_module() -> Any:
    """``jitimport.native`` if it was loaded; if not, no native object exists yet."""
    return sys.modules.get(__package__ + ".native")


def _record_reason(func: Any, reason: str) -> None:
    target = func.__func__ if isinstance(func, staticmethod) else func
    try:
        setattr(target, _JIT_REASON, reason)
    except (AttributeError, TypeError):
        pass


def info(obj: Any) -> CompileInfo:
    """Whether ``obj`` is native, and if so its code size, argument count, IR and timings."""
    target = obj.__func__ if isinstance(obj, staticmethod) else obj
    target = target.__dict__.get(_VERIFIED_NATIVE, target) if type(target) is FunctionType else target
    native = _native_module()
    if native is not None and native.is_native(target):
        meta = native.metadata(target)
        if "info" not in meta and "info_factory" in meta:   # loaded from the machine-code cache
            meta["info"] = meta["info_factory"]()
        return meta["info"]  # type: ignore[no-any-return]  # the metadata dict holds Any
    reason = getattr(target, _JIT_REASON, None) or "not compiled"
    name = getattr(target, "__qualname__", repr(target))
    from .compiler import CompileInfo
    return CompileInfo(compiled=False, reason=reason, name=name)


def disassemble(obj: Any) -> str:
    """Assembly of a native function: capstone's decoding when installed, else our encoder's listing."""
    details = info(obj)
    if not details.compiled:
        raise NotCompilable(f"{details.name} is not native: {details.reason}")
    target = obj.__func__ if isinstance(obj, staticmethod) else obj
    target = target.__dict__.get(_VERIFIED_NATIVE, target) if type(target) is FunctionType else target
    code = _native_module().code_block(target).read()
    lines = [f"; {details.name}: {details.code_size} bytes at {details.address:#x}"]
    try:
        # optional (pip install jitimport[disasm]) and untyped; the ignore holds whether it is installed or not
        import capstone  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        lines[0] += " (encoder listing; install capstone for an independent decoding)"
        for offset, raw, text in details.listing:
            lines.append(f"{offset:6x}:  {raw.hex(' '):<32} {text}")
        return "\n".join(lines)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    for ins in md.disasm(code, 0):
        lines.append(f"{ins.address:6x}:  {ins.bytes.hex(' '):<32} {ins.mnemonic} {ins.op_str}".rstrip())
    return "\n".join(lines)
