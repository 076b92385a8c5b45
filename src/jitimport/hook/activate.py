"""``install()`` / ``uninstall()``: putting the finder on ``sys.meta_path`` and taking it off.

* ``install()`` is idempotent: one finder, however many calls.  Every call
  returns its own :class:`Handle` (also a context manager); the finder is
  removed when every handle has been released or ``uninstall()`` is called.
  So ``with jitimport.install(): ...`` inside a process already activated by
  ``JITIMPORT=1`` does not switch the hook off at the end of the block.
* ``install()`` is lazy: it reads the environment, puts the finder in place
  and looks for pragma modules that are already imported, nothing more (no
  compiler, no ``ctypes``, no ``logging``, no ``typing``).  The platform probe
  runs at the first pragma module (see ``availability``), unless jitimport
  already ran it in this process (``@jit``, ``compile_native``), in which case
  ``install()`` uses its answer right away.
* Pragma modules imported *before* ``install()`` are compiled when it runs;
  references to their functions that were taken earlier cannot be updated and
  get a warning.
* ``include=[...]`` compiles modules without the pragma: the finder loads
  those that are source files like pragma modules (so every import, reload
  and re-import compiles them); wrapt's post-import hook (wrapt is imported
  only when ``include`` is used) swaps the functions of the others after
  their first import, and ``install()`` those already imported.
* ``JITIMPORT_DISABLE`` makes all of this a no-op, and so does an
  unsupported platform; either gets one warning per process (shared with
  ``@jit``, see ``config.warn_once``) and everything stays Python.  The kill
  switch is seen at ``install()``; an unsupported platform at ``install()``
  when the probe already ran, else at the first pragma module, which then
  runs as plain Python and switches the hook off (``Handle.active`` is False
  from then on).
"""
import sys
from _thread import RLock

from .. import config
from .finder import JitFinder, _SourceFileLoader

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable
    from logging import Logger
    from types import FunctionType, ModuleType
    from typing import Any

_lock = RLock()
_finder: "JitFinder | None" = None
_handles = 0
_generation = 0
_include: set[str] = set()
_registered_include: set[str] = set()
_ModuleType = type(sys)
#: ``install()`` was called (whatever came of it): the exit report is about the hook, not its absence.
#: Read by ``reporting`` (which ``install()`` does not import unless there is something to report).
requested = False


def _log() -> "Logger":
    """The ``jitimport`` logger, imported only when there is something to say."""
    import logging

    return logging.getLogger("jitimport")


class Handle:
    """Returned by ``install()``; releases that activation on ``uninstall()`` or ``with`` exit."""

    def __init__(self, active: bool, generation: int) -> None:
        self._active = active
        self._generation = generation

    @property
    def active(self) -> bool:
        """True while this handle keeps the hook installed (and native code was not found unavailable)."""
        finder = _finder
        return self._active and self._generation == _generation and finder is not None and not finder.off

    def uninstall(self) -> None:
        """Release this activation (the hook goes away with the last one)."""
        global _handles
        with _lock:
            if not self._active:
                return
            self._active = False
            if self._generation != _generation:
                return  # a global uninstall() already removed the hook
            _handles -= 1
            if _handles <= 0:
                _remove_finder()

    def __enter__(self) -> "Handle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        return f"<jitimport hook handle {'active' if self.active else 'inactive'}>"


def _unsupported_reason() -> "str | None":
    """The probe's answer when it costs nothing (already loaded), else None: the finder asks later."""
    if "jitimport.support" not in sys.modules:
        return None
    from .availability import probe

    return probe()


def is_installed() -> bool:
    """True while the finder is on ``sys.meta_path``."""
    return _finder is not None and any(f is _finder for f in sys.meta_path)


def install(include: "Iterable[str] | None" = None) -> Handle:
    """Activate the import hook; see the module docstring for the exact semantics."""
    global _finder, _handles, requested
    if isinstance(include, str):
        include = [include]
    names = [n for n in (include or ()) if n]
    requested = True
    if config.flag(config.REPORT):
        from .reporting import print_at_exit

        print_at_exit()
    if config.flag(config.DISABLE):
        reason: "str | None" = f"disabled by {config.DISABLE.name}"
        config.warn_once(
            config.UNAVAILABLE, f"jitimport: native code is not available here ({reason}); everything runs as plain Python",
        )
        from .reporting import note

        note(f"{reason}: everything runs as plain Python")
        return Handle(False, _generation)
    reason = _unsupported_reason()
    if reason is not None:
        from .availability import warn_unavailable

        warn_unavailable(reason)
        return Handle(False, _generation)
    with _lock:
        first = _finder is None
        if first:
            _finder = JitFinder()
            _finder.include = _include
            sys.meta_path.insert(0, _finder)
        _handles += 1
        handle = Handle(True, _generation)
        new_includes = [n for n in names if n not in _include]
        _include.update(new_includes)
    if first:
        _compile_already_imported()
    for name in new_includes:
        _register_include(name)
    return handle


def uninstall() -> None:
    """Remove the hook regardless of outstanding handles (functions already native stay native)."""
    with _lock:
        _remove_finder()


def _remove_finder() -> None:
    global _finder, _handles, _generation
    finder, _finder = _finder, None
    _handles = 0
    _generation += 1
    _include.clear()
    if finder is not None:
        try:
            sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]
        except Exception:  # sys.meta_path replaced by something odd: leave it
            pass


# --- modules imported before install() --------------------------------------------


def _plain_source_module(module: "ModuleType") -> "str | None":
    """The source path of a module loaded by the stock SourceFileLoader, else None."""
    spec = getattr(module, "__spec__", None)
    loader = getattr(spec, "loader", None) if spec is not None else getattr(module, "__loader__", None)
    if type(loader) is not _SourceFileLoader:
        return None
    origin = getattr(spec, "origin", None) if spec is not None else getattr(module, "__file__", None)
    return origin if isinstance(origin, str) else None


def _native_ready() -> bool:
    """The finder's answer (the probe, asked once, see ``availability``); False when the hook is gone."""
    finder = _finder
    return finder is not None and finder.native_ready()


def _compile_already_imported() -> None:
    from .finder import is_stdlib
    from .pragma import has_pragma

    for name, module in list(sys.modules.items()):
        if not isinstance(module, _ModuleType):
            continue
        try:
            path = _plain_source_module(module)
            if path is None or is_stdlib(path) or not has_pragma(path):
                continue
            if not _native_ready():
                return  # warned once; the module stays plain Python
            compile_module_namespace(module, path, context="was imported before install()")
        except Exception as exc:  # never break the host
            _log().warning("jitimport: could not compile already-imported module %s (%s: %s)", name, type(exc).__name__, exc)


# --- include=[...] ------------------------------------------------------------------


def _register_include(name: str) -> None:
    if name in _registered_include:
        module = sys.modules.get(name)
        if module is not None:
            _include_hook(module)
        return
    _registered_include.add(name)
    try:
        import wrapt  # type: ignore[import-untyped, unused-ignore]  # typed from wrapt 2 on; >=1.14 is allowed
    except ImportError as exc:
        _log().warning("jitimport: install(include=...) needs wrapt (%s); %s stays Python", exc, name)
        return
    wrapt.register_post_import_hook(_include_hook, name)


def _include_hook(module: "ModuleType") -> None:
    """wrapt post-import hook: compile a module named in ``include=`` (must never raise)."""
    try:
        name = getattr(module, "__name__", None)
        if _finder is None or name not in _include:
            return
        if not _native_ready():
            return
        loader_module = sys.modules.get(f"{__package__}.loader")
        spec_loader = getattr(getattr(module, "__spec__", None), "loader", None)
        if loader_module is not None and isinstance(spec_loader, loader_module.JitSourceFileLoader):
            return  # the finder loaded it as it loads pragma modules: already compiled
        path = getattr(module, "__file__", None)
        compile_module_namespace(module, path if isinstance(path, str) else None, context="is in include=")
    except Exception as exc:
        _log().warning("jitimport: could not compile included module %r (%s: %s)", module, type(exc).__name__, exc)


# --- the after-the-fact swap ------------------------------------------------------------


def _plan(module: "ModuleType", path: "str | None") -> "list[tuple[str, str | None]] | None":
    """Which defs to swap, from the module's source; None when there is no source."""
    from .transform import plan_functions

    data = None
    if path and path.endswith(".py"):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            data = None
    if data is None:
        loader = getattr(getattr(module, "__spec__", None), "loader", None)
        try:
            data = loader.get_source(module.__name__) if loader is not None else None
        except Exception:
            data = None
    if data is None:
        return None
    try:
        return plan_functions(data)
    except SyntaxError:
        return None


def _discover(module: "ModuleType") -> "list[tuple[str, str | None]]":
    """Without source: every plain function / staticmethod defined in the module."""
    from types import FunctionType

    from .classbody import implicit_wrapper

    plan: list[tuple[str, str | None]] = []

    def walk(ns: "dict[str, object]", prefix: str, depth: int) -> None:
        for key, value in list(ns.items()):
            if implicit_wrapper(key, in_class_body=bool(prefix)) is not None:
                continue  # Python wraps these itself: never swapped (see classbody)
            raw = value.__func__ if isinstance(value, staticmethod) else value
            if type(raw) is FunctionType and raw.__module__ == module.__name__ \
                    and raw.__qualname__ == prefix + key and not hasattr(raw, "__wrapped__"):
                plan.append((prefix + key, None))
            elif isinstance(value, type) and value.__module__ == module.__name__ \
                    and value.__qualname__ == prefix + key and depth < 8:
                walk(dict(vars(value)), f"{prefix}{key}.", depth + 1)

    walk(dict(vars(module)), "", 0)
    return plan


def _is_native(obj: object) -> bool:
    try:
        from jitimport.native import is_native
    except ImportError:
        return False
    try:
        return bool(is_native(obj))
    except Exception:
        return False


def compile_module_namespace(module: "ModuleType", path: "str | None", context: str) -> int:
    """Swap the eligible functions of an executed module in its namespace; returns how many.

    References taken before the swap (``from m import f`` elsewhere, tables,
    closures) cannot be updated: they get one warning per module.  Plain
    aliases in the module's own namespace *are* updated.
    """
    from types import FunctionType

    from .reporting import record
    from .runtime import compile_or_keep

    modname = module.__name__
    plan = _plan(module, path)
    if plan is None:
        plan = _discover(module)
    swapped: "list[tuple[str, FunctionType, object]]" = []
    old_wrappers: list[object] = []
    sources: "set[str]" = set()
    for qualname, reason in plan:
        if reason is not None:
            record(modname, qualname, False, reason)
            continue
        *outer, leaf = qualname.split(".")
        owner: object = module
        for part in outer:
            owner = vars(owner).get(part) if hasattr(owner, "__dict__") else None
            if not isinstance(owner, type):
                break
        else:
            raw: "Any" = vars(owner).get(leaf)  # checked below: a plain function, or one in a staticmethod
            static = isinstance(raw, staticmethod)
            fn = raw.__func__ if static else raw
            if type(fn) is not FunctionType or fn.__qualname__ != qualname or fn.__module__ != modname:
                continue  # rebound, already native, or not the def we planned for
            native = compile_or_keep(fn, modname, qualname)
            sources.add(fn.__code__.co_filename)
            if native is fn:
                continue
            setattr(owner, leaf, staticmethod(native) if static else native)
            swapped.append((qualname, fn, native))
            if static:
                old_wrappers.append(raw)
    codecache = sys.modules.get(f"{__package__}.codecache")
    if codecache is not None:   # write what was compiled (see codecache)
        for source in sources:
            codecache.flush(source)
    if not swapped:
        return 0
    # Plain aliases in the module namespace (``alias = area``) can be updated safely.
    by_id = {id(fn): native for _, fn, native in swapped}
    namespace = vars(module)
    for key, value in list(namespace.items()):
        if id(value) in by_id:
            namespace[key] = by_id[id(value)]
    _warn_stale_references(modname, swapped, old_wrappers, context)
    return len(swapped)


def _warn_stale_references(
    modname: str, swapped: "list[tuple[str, FunctionType, object]]", old_wrappers: "list[object]", context: str
) -> None:
    import gc

    originals = tuple(fn for _, fn, _ in swapped)  # passed as *args: the same tuple object
    ignore = {id(originals), id(swapped), id(old_wrappers)} | {id(w) for w in old_wrappers}
    for _, _, native in swapped:
        ignore.add(id(native))
        ignore.add(id(getattr(native, "__dict__", None)))
    for item in swapped:
        ignore.add(id(item))
    module_dicts = {id(vars(m)): n for n, m in list(sys.modules.items()) if isinstance(m, _ModuleType)}
    where: dict[str, list[str]] = {}
    frame = sys._getframe()
    for referrer in gc.get_referrers(*originals):
        if id(referrer) in ignore or type(referrer).__name__ == "frame" or referrer is frame:
            continue
        for qualname, fn, _ in swapped:
            if any(r is fn for r in gc.get_referents(referrer)):
                if id(referrer) in module_dicts:
                    place = f"module {module_dicts[id(referrer)]}"
                else:
                    place = f"a {type(referrer).__name__}"
                where.setdefault(qualname, []).append(place)
    if where:
        details = "; ".join(f"{q} (held by {', '.join(places)})" for q, places in where.items())
        _log().warning(
            "jitimport: %s %s; its functions are native from now on, but references taken "
            "earlier still run Python: %s", modname, context, details,
        )


__all__ = ["Handle", "install", "uninstall", "is_installed", "compile_module_namespace"]
