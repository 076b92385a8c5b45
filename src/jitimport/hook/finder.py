"""The ``sys.meta_path`` finder: normal specs for everything, a JIT loader for pragma modules.

The finder sits in front of the standard finders and asks *them* (the finders
after it on ``sys.meta_path``, in order) for the spec, so path handling,
namespace packages, zip imports, frozen and built-in modules are resolved by
the normal machinery.  Only a spec whose loader is exactly the stock
``SourceFileLoader`` and whose file has the pragma in its header (or whose
name was given to ``install(include=...)``) gets a
:class:`JitSourceFileLoader`; every other spec is returned as it came.  The
finder is asked on every import, ``importlib.reload`` and re-import after
``del sys.modules[name]`` included, so each of them compiles again.

Installing the finder costs nothing beyond this module and ``pragma``: the
loader (and with it the AST transform) is imported at the first pragma
module, and so is the platform probe (:meth:`JitFinder.native_ready`).  When
the probe says native code cannot run here, the finder switches itself off
(``off``): that module and every later one are imported exactly as without
the hook.
"""
import os
import sys

from .pragma import has_pragma

try:  # the import system's own module (what importlib.machinery re-exports), loaded at start-up
    from _frozen_importlib_external import SourceFileLoader
except ImportError:  # pragma: no cover - an interpreter without the frozen bootstrap
    from importlib.machinery import SourceFileLoader

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType


class JitFinder:
    """Meta path finder delegating to the finders after it; see the module docstring."""

    def __init__(self) -> None:
        #: True once the probe said native code cannot run here: the finder then finds nothing.
        self.off = False
        self._ready = False
        #: Module names given to ``install(include=...)`` (activate's set): loaded like pragma
        #: modules, on every import and reload, when they are plain source files.
        self.include: "set[str] | frozenset[str]" = frozenset()

    def native_ready(self) -> bool:
        """Can pragma modules be compiled?  Asks the platform probe once (at the first pragma module).

        On "no" the one process-wide warning is logged (``availability.check``)
        and the finder switches off for good, as ``install()`` itself does
        when the answer is already known.
        """
        if self._ready:
            return True
        if self.off:
            return False
        from .availability import check

        if check() is None:
            self._ready = True
        else:
            self.off = True
        return self._ready

    def find_spec(
        self, fullname: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        # Hot path: runs for every import while the hook is installed.
        if self.off:
            return None
        meta_path = sys.meta_path
        if meta_path and meta_path[0] is self:  # the usual place
            start = 1
        else:
            for start, finder in enumerate(meta_path, 1):
                if finder is self:
                    break
            else:  # removed from meta_path concurrently
                return None
        spec = None
        for finder in meta_path[start:]:
            try:
                find_spec = finder.find_spec
            except AttributeError:
                # A legacy finder: let the import system handle the rest itself,
                # so the outcome is exactly what it would be without us.
                return None
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if type(spec.loader) is _SourceFileLoader:
            origin = spec.origin
            if not isinstance(origin, str):
                return spec
            if fullname in self.include:
                wanted = True
            elif origin.startswith(_STDLIB) and _PACKAGES not in origin:
                return spec  # the standard library never carries the pragma
            else:
                try:
                    wanted = has_pragma(origin)
                except Exception:  # never let the pragma check break an import
                    wanted = False
            if wanted and self.native_ready():
                from .loader import JitSourceFileLoader, jit_cache_for_source

                spec.loader = JitSourceFileLoader(fullname, origin)
                cached = jit_cache_for_source(origin)
                if cached is not None and spec.has_location:
                    spec.cached = cached
        return spec

    def invalidate_caches(self) -> None:
        """Nothing cached here (the finders we delegate to are invalidated directly)."""

    def __repr__(self) -> str:
        return "<jitimport.JitFinder>"


_SourceFileLoader = SourceFileLoader
# Standard library directory (e.g. /usr/lib/python3.12/); its site-packages is excluded.
_STDLIB = os.path.join(os.path.dirname(os.__file__), "")
_PACKAGES = "-packages" + os.sep


def is_stdlib(path: str) -> bool:
    """True for a file of the standard library itself (not its site-packages)."""
    return path.startswith(_STDLIB) and _PACKAGES not in path
