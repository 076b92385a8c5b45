"""The functions that JIT-transformed modules call while they execute.

They are reached through constants bound into the code
(``transform.bind_runtime``), never through a name.  ``swap`` is the injected
innermost decorator: it returns the native version of a function, or the
function itself when it is not eligible or when compiling it fails for any
reason.  It must never raise: a broken compiler may cost
speed, never an import.

**Functions that are defined many times** (a ``def`` inside a function body,
a lambda) get an :class:`InstanceSite` per site instead: the first instance is
compiled, and every later instance with the same code object, globals,
builtins and int defaults and no closure gets a new native object around
the *same* machine code (whose exits call the first instance, which
computes exactly what this one computes).  A refusal is remembered the same
way, so a closure or an ineligible helper costs one compile attempt per site,
not one per call of the function that defines it.

**Definition order.**  A function compiled while a global it reads was not
bound yet (a helper or constant defined further down the module) is
remembered in :data:`_pending`; once the module body has run, the loader calls
:func:`revisit`, which compiles it again and rebinds the module (or class)
names that still hold the old object.
"""
from __future__ import annotations

from _thread import allocate_lock
from types import FunctionType
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover  (typing is not loaded on the warm path)
    from typing import Any, Callable, TypeVar

    F = TypeVar("F", bound="Callable[..., Any]")  # a def or a lambda

from .. import config
from . import reporting as _report



class _LazyLog:
    """``logging.getLogger("jitimport")``, imported at the first warning (a warm import of a
    pragma module must not pay for ``logging``)."""

    def warning(self, *args: object) -> None:
        import logging

        logging.getLogger("jitimport").warning(*args)


log = _LazyLog()


#: The report's reason for a native function whose machine code came from the cache.
FROM_CACHE = "from cache"


def _compile_native() -> Callable[[Any], Any]:
    # Looked up on every call (cheap attribute access) so that tests and users
    # can substitute jitimport.compiler.compile_native.
    from jitimport import compiler

    return compiler.compile_native


def _compile_now(fn: Any) -> Any:
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
    """Native version of ``fn`` if it compiles, else ``fn``; records the outcome either way."""
    return _compile(fn, module, qualname)[0]


def _compile(fn: F, module: str | None = None, qualname: str | None = None) -> tuple[F, frozenset[str]]:
    """:func:`compile_or_keep`, plus the globals the compile read while they were unbound
    (from the native's ``CompileInfo``, or from the refusal).

    Functions defined in a module file go through the persistent machine-code cache
    (:mod:`.codecache`): a usable entry is loaded instead of compiling."""
    module = module or getattr(fn, "__module__", None) or "?"
    qualname = qualname or getattr(fn, "__qualname__", None) or repr(fn)
    try:
        from jitimport.errors import NotCompilable, UnsupportedPlatform

        from .codecache import load_or_compile

        native, from_cache = load_or_compile(fn, _compile_now)  # type: ignore[arg-type]
    except NotCompilable as exc:
        if isinstance(exc, UnsupportedPlatform):
            _warn_unavailable(exc)
        _report.record(module, qualname, False, _describe_failure(exc))
        return fn, frozenset(getattr(exc, "unbound_globals", None) or ())
    except Exception as exc:  # any bug in the compiler: warn, keep Python
        log.warning(
            "jitimport: compiling %s.%s failed with %s: %s; it stays Python",
            module, qualname, type(exc).__name__, exc,
        )
        _report.record(module, qualname, False, f"compiler error: {type(exc).__name__}: {exc}")
        return fn, frozenset()
    if native is None:
        _report.record(module, qualname, False, "compiler returned None")
        return fn, frozenset()
    _report.record(module, qualname, True, FROM_CACHE if from_cache else None)
    metadata = _metadata(native)
    details = metadata.get("info")
    unbound = frozenset(getattr(details, "unbound_globals", None) or metadata.get("unbound_globals") or ())
    if config.flag(config.VERIFY):  # verify mode: a checking wrapper, only then (see jitimport.verify)
        from ..verify import verified

        return verified(native, fn), unbound
    return native, unbound


def _metadata(native: object) -> dict[str, Any]:
    """The native's compile metadata (empty for a stand-in compiler's result)."""
    from jitimport import native as _native

    return _native.metadata(native) if _native.is_native(native) else {}  # type: ignore[arg-type]


def swap(fn: F) -> F:
    """Injected innermost decorator: the native version of ``fn`` when possible."""
    function: object = fn  # what ``type(...) is`` narrows (mypy does not narrow a TypeVar)
    if type(function) is not FunctionType:
        return fn
    result, unbound = _compile(fn)
    if unbound and "<locals>" not in function.__qualname__:
        _defer(function, result, function.__qualname__, unbound)
    return result


class _Keep:
    """Injected for functions left alone on purpose: records why, once per execution of the module.

    Applied as a decorator (``def``) or called (lambda); it receives
    the plain function, whose ``__module__`` is the module's ``__name__``
    (read from the globals, whatever a class namespace holds).
    """

    __slots__ = ("qualname", "reason", "done")

    def __init__(self, qualname: str, reason: str) -> None:
        self.qualname = qualname
        self.reason = reason
        self.done = False

    def __call__(self, fn: F) -> F:
        if not self.done:
            self.done = True
            qualname = self.qualname
            if qualname == "<lambda>":
                qualname = report_name(fn)
            _report.record(getattr(fn, "__module__", None) or "?", qualname, False, self.reason)
        return fn


def keep(qualname: str, reason: str) -> Callable[[F], F]:
    """Injected innermost decorator for functions left alone on purpose (see :class:`_Keep`)."""
    return _Keep(qualname, reason)


def report_name(fn: object) -> str:
    """The report's name for a function: its qualname, plus the line for a lambda (they all share one)."""
    qualname = getattr(fn, "__qualname__", None) or repr(fn)
    if qualname.endswith("<lambda>"):
        code = getattr(fn, "__code__", None)
        return f"{qualname} (line {code.co_firstlineno})" if code is not None else qualname
    return qualname


def _same_defaults(a: tuple[object, ...] | None, b: tuple[object, ...] | None) -> bool:
    """Defaults that give the same outcome: the same objects, or equal exact ints (a fresh tuple per def)."""
    if a is b:
        return True
    if a is None or b is None or len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not y and not (type(x) is int and type(y) is int and x == y):
            return False
    return True


class _Compiled:
    """What an :class:`InstanceSite` remembers about the first instance of one code object."""

    __slots__ = ("first", "result", "native", "unbound", "share")

    def __init__(self, first: FunctionType, result: object, native: object, unbound: frozenset[str]) -> None:
        self.first = first          # the instance that was compiled (its exits call it)
        self.result = result        # what swap returned for it (native, verified wrapper, or itself)
        self.native = native        # the NativeFunction, or None when it stayed Python
        self.unbound = unbound      # globals unbound at compile time: compile again once bound
        #: (code block, entry address, metadata) for the natives of later instances; built once.
        self.share: tuple[object, int, dict[str, Any]] | None = None

    def reusable_for(self, fn: FunctionType) -> bool:
        first = self.first
        # FunctionType.__builtins__ is in typeshed, but mypy loses it when it reads the types module from its cache
        # (an error only then, hence unused-ignore)
        if (fn.__globals__ is not first.__globals__
                or fn.__builtins__ is not first.__builtins__):  # type: ignore[attr-defined, unused-ignore]
            return False
        if fn.__closure__ is not None:  # refused anyway (and each instance has its own cells)
            return self.native is None
        if fn.__kwdefaults__ is not None or not _same_defaults(fn.__defaults__, first.__defaults__):
            return False
        if self.unbound:
            namespace, builtins = fn.__globals__, fn.__builtins__  # type: ignore[attr-defined, unused-ignore]  # as above
            if any(name in namespace or name in builtins for name in self.unbound):
                return False
        return True


#: How many times an :class:`InstanceSite` compiled (rather than reused); read by tests.
site_compiles = 0


class InstanceSite:
    """The injected marker of one ``def`` inside a function, or of one lambda: see the module docstring.

    One object per site and per execution of the module (``transform.bind_runtime``
    creates it), so what it remembers dies with the module's code.
    """

    __slots__ = ("entries",)

    def __init__(self) -> None:
        #: id(code) -> the first compiled instance of that code (normally one entry per site).
        self.entries: dict[int, _Compiled] = {}

    def __call__(self, fn: F) -> F:
        function: object = fn  # what ``type(...) is`` narrows (mypy does not narrow a TypeVar)
        if type(function) is not FunctionType:
            return fn
        code = function.__code__
        entry = self.entries.get(id(code))
        if entry is not None and entry.first.__code__ is code and entry.reusable_for(function):
            if entry.native is None:
                if entry.result is entry.first:  # refused: so is this one
                    return fn
                # a stand-in compiler's result, which replaces fn
                return self._compile(function)  # type: ignore[return-value]
            try:
                # a native (or its verify wrapper) with fn's signature
                return self._share(function, entry)  # type: ignore[return-value]
            except Exception:  # never break the caller: compile this instance instead
                pass
        # fn itself, or a native (or its verify wrapper) with fn's signature
        return self._compile(function)  # type: ignore[return-value]

    def __repr__(self) -> str:
        # What the compiler's refusal of the *enclosing* function quotes.
        return "<nested function or lambda>"

    def _compile(self, fn: FunctionType) -> object:
        global site_compiles
        site_compiles += 1
        name = report_name(fn)
        result, unbound = _compile(fn, qualname=name)
        native = _native_of(result)
        self.entries[id(fn.__code__)] = _Compiled(fn, result, native, unbound)
        if unbound and "<locals>" not in fn.__qualname__:  # a module-level lambda
            _defer(fn, result, name, unbound)
        return result

    @staticmethod
    def _share(fn: FunctionType, entry: _Compiled) -> object:
        """A native for ``fn`` around ``entry``'s machine code (no compile)."""
        native_module = _native_module()
        if entry.share is None:
            first = entry.native
            metadata = dict(native_module.metadata(first))
            metadata["exits_call"] = entry.first  # the code's exits call it: keep it alive
            entry.share = (native_module.code_block(first), _entry_address(first), metadata)
        block, address, metadata = entry.share
        shared = native_module.make_native(fn, block, address, metadata)
        if entry.result is not entry.native:  # verify mode
            from ..verify import verified

            return verified(shared, fn)
        return shared


def _native_module() -> Any:
    """``jitimport.native`` (loaded: a native exists), without an import statement on the hot path."""
    import sys

    return sys.modules["jitimport.native"]


def _native_of(result: object) -> object:
    """The NativeFunction in what ``_compile`` returned (through verify mode's wrapper), else None."""
    from jitimport.native import NativeFunction

    if type(result) is FunctionType:
        result = result.__dict__.get("__jitimport_verified_native__", result)
    return result if type(result) is NativeFunction else None


def _entry_address(obj: object) -> int:
    from jitimport import native as _native

    return _native.NativeFunction.__dict__["_entry"].__get__(obj, _native.NativeFunction)  # type: ignore[no-any-return]


# --- definition order: compile again once the module has run ----------------------------

_pending_lock = allocate_lock()
#: id(module globals) -> [(function, what swap returned, report name, unbound names)].
_pending: dict[int, list[tuple[FunctionType, object, str, frozenset[str]]]] = {}


def _defer(fn: FunctionType, result: object, name: str, unbound: frozenset[str]) -> None:
    with _pending_lock:
        _pending.setdefault(id(fn.__globals__), []).append((fn, result, name, unbound))


def revisit(module: object, ran: bool = True) -> int:
    """After a module body ran: compile again what read a then-unbound global that is bound now.

    Rebinds the module's names (and class attributes, through a ``staticmethod``
    too) that still hold the old object; returns how many were replaced.
    ``ran`` False (the body raised) only forgets the module's entries.
    """
    namespace = getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return 0
    with _pending_lock:
        entries = _pending.pop(id(namespace), [])
    if not ran or not entries:
        return 0
    try:
        return _revisit(module, namespace, entries)
    except Exception as exc:  # never break the import
        log.warning("jitimport: could not revisit %r (%s: %s)", module, type(exc).__name__, exc)
        return 0


def _revisit(module: object, namespace: dict[str, Any],
             entries: list[tuple[FunctionType, object, str, frozenset[str]]]) -> int:
    replaced = 0
    builtins = namespace.get("__builtins__")
    builtins = getattr(builtins, "__dict__", builtins)
    for fn, old, name, names in entries:
        if fn.__globals__ is not namespace:
            continue  # a namespace that died while its body ran; its id was reused
        if not any(n in namespace or (isinstance(builtins, dict) and n in builtins) for n in names):
            continue
        try:
            new = compile_or_keep(fn, qualname=name)
            if new is fn and old is not fn:  # refused now, native before: keep the native
                _report.record(fn.__module__ or "?", name, True, None)
                continue
            if new is not old:
                replaced += _rebind(module, fn.__qualname__, old, new)
        except Exception as exc:  # never break the import
            log.warning("jitimport: compiling %s again failed (%s: %s)", name, type(exc).__name__, exc)
    return replaced


def _rebind(module: object, qualname: str, old: object, new: Callable[..., Any]) -> int:
    """Replace ``old`` by ``new`` in the namespace that defined it (module or class), aliases included."""
    owner: object = module
    for part in qualname.split(".")[:-1]:
        owner = vars(owner).get(part)
        if not isinstance(owner, type):
            return 0
    count = 0
    for key, value in list(vars(owner).items()):
        if value is old:
            setattr(owner, key, new)
            count += 1
        elif isinstance(value, staticmethod) and value.__func__ is old:
            setattr(owner, key, staticmethod(new))
            count += 1
    return count
