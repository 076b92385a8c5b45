"""The ``sys.meta_path`` finder: normal specs for everything, a JIT loader for pragma modules.

The finder sits in front of the standard finders and asks *them* (the finders
after it on ``sys.meta_path``, in order) for the spec, so path handling,
namespace packages, zip imports, frozen and built-in modules are resolved by
the normal machinery.  Only a spec whose loader is exactly the stock
``SourceFileLoader`` and whose file has the pragma in its header gets a
:class:`JitSourceFileLoader`; every other spec is returned as it came.
"""
from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec, SourceFileLoader

from .loader import JitSourceFileLoader, jit_cache_for_source
from .pragma import has_pragma


class JitFinder:
    """Meta path finder delegating to the finders after it; see the module docstring."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        # Hot path: runs for every import while the hook is installed.
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
            if not isinstance(origin, str) or (origin.startswith(_STDLIB) and _PACKAGES not in origin):
                return spec  # the standard library never carries the pragma (nor a non-path origin)
            try:
                wanted = has_pragma(origin)
            except Exception:  # never let the pragma check break an import
                wanted = False
            if wanted:
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
