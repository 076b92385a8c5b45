"""The functions that JIT-transformed modules call while they execute.

They are reached through constants bound into the code
(``transform.bind_runtime``), never through a name.  ``swap`` is the injected
innermost decorator: it returns the native version of a function, or the
function itself when it is not eligible or when compiling it fails for any
reason.  It must never raise: a broken compiler may cost
speed, never an import.
"""
from __future__ import annotations

from types import FunctionType
from typing import Any, Callable, TypeVar

from .. import config
from . import reporting as _report



class _LazyLog:
    """``logging.getLogger("jitimport")``, imported at the first warning (a warm import of a
    pragma module must not pay for ``logging``)."""

    def warning(self, *args: object) -> None:
        import logging

        logging.getLogger("jitimport").warning(*args)


log = _LazyLog()

F = TypeVar("F")

#: The report's reason for a native function whose machine code came from the cache.
FROM_CACHE = "from cache"


def _compile_native() -> Callable[[Any], Any]:
    # Looked up on every call (cheap attribute access) so that tests and users
    # can substitute jitimport.compiler.compile_native.
    from jitimport import compiler

    return compiler.compile_native


def _compile(fn: Any) -> Any:
    """The compiler, loaded only when a function is not in the machine-code cache."""
    return _compile_native()(fn)


def _describe_failure(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    lineno = getattr(exc, "lineno", None)
    if isinstance(reason, str):
        return f"line {lineno}: {reason}" if lineno else reason
    return str(exc)


def _warn_unavailable(exc: BaseException) -> None:
    """Native code became unavailable after install() (e.g. mprotect refused): warn once per process.

    install() already warns when it is unavailable from the start; this covers
    memory that is refused later, which would otherwise leave every following
    function in Python without a word.  The once-key is shared with install()
    and ``@jit``: one cause, one warning.
    """
    reason = getattr(exc, "reason", exc)
    config.warn_once(config.UNAVAILABLE, f"jitimport: {reason}; functions compiled from now on stay Python")


def compile_or_keep(fn: F, module: str | None = None, qualname: str | None = None) -> F:
    """Native version of ``fn`` if it compiles, else ``fn``; records the outcome either way.

    Functions defined in a module file go through the persistent machine-code cache
    (:mod:`.codecache`): a usable entry is loaded instead of compiling."""
    module = module or getattr(fn, "__module__", None) or "?"
    qualname = qualname or getattr(fn, "__qualname__", None) or repr(fn)
    try:
        from jitimport.errors import NotCompilable, UnsupportedPlatform

        from .codecache import load_or_compile

        native, from_cache = load_or_compile(fn, _compile)  # type: ignore[arg-type]
    except NotCompilable as exc:
        if isinstance(exc, UnsupportedPlatform):
            _warn_unavailable(exc)
        _report.record(module, qualname, False, _describe_failure(exc))
        return fn
    except Exception as exc:  # any bug in the compiler: warn, keep Python
        log.warning(
            "jitimport: compiling %s.%s failed with %s: %s; it stays Python",
            module, qualname, type(exc).__name__, exc,
        )
        _report.record(module, qualname, False, f"compiler error: {type(exc).__name__}: {exc}")
        return fn
    if native is None:
        _report.record(module, qualname, False, "compiler returned None")
        return fn
    _report.record(module, qualname, True, FROM_CACHE if from_cache else None)
    if config.flag(config.VERIFY):  # verify mode: a checking wrapper, only then (see jitimport.verify)
        from ..verify import verified

        return verified(native, fn)  # type: ignore[no-any-return]
    return native


def swap(fn: F) -> F:
    """Injected innermost decorator: the native version of ``fn`` when possible."""
    if type(fn) is not FunctionType:
        return fn
    return compile_or_keep(fn)


def keep(qualname: str, reason: str) -> Callable[[F], F]:
    """Injected innermost decorator for functions left alone on purpose: records why.

    It receives the plain function, whose ``__module__`` is the module's
    ``__name__`` (read from the globals, whatever a class namespace holds).
    """

    def record(fn: F) -> F:
        _report.record(getattr(fn, "__module__", None) or "?", qualname, False, reason)
        return fn

    return record
