"""Loader for ``# minijit: native`` source modules.

A :class:`importlib.machinery.SourceFileLoader` subclass that overrides only
what it must:

* ``source_to_code`` compiles the JIT-transformed AST (see ``transform``);
  any failure of the transform falls back to the plain compile, so a syntax
  error raises exactly the ``SyntaxError`` that plain Python raises.  Its
  code still holds the transform's marker constants, so it can be cached.
* ``get_code`` binds those markers to the runtime (``markers.bind_runtime``)
  on the way out, whether the code came from the cache or from the source.
* ``exec_module`` runs the module, then lets ``runtime.revisit`` compile again
  the functions that read a global bound only further down the module, then
  writes the module's machine-code cache (``codecache.flush``).
* ``get_data`` / ``set_data`` redirect the *bytecode* path (and only that
  path) from ``mod.cpython-312.pyc`` to ``mod.cpython-312.jitimport-t3.pyc``.
  The inherited ``get_code`` keeps doing all of the pyc validation and
  writing; a run without the hook never sees the transformed bytecode, and a
  run with it never reuses a plain pyc.

Resources, ``get_source``, ``is_package`` etc. are inherited untouched.
"""
from __future__ import annotations

import sys
from importlib.machinery import SourceFileLoader
from importlib.util import cache_from_source

from .markers import TRANSFORM_VERSION, bind_runtime

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: type checkers treat any name TYPE_CHECKING as true
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType, ModuleType

    from _typeshed import ReadableBuffer



class _LazyLog:
    """``logging.getLogger("jitimport")``, imported at the first warning (a warm import of a
    pragma module must not pay for ``logging``)."""

    def warning(self, *args: object) -> None:
        import logging

        logging.getLogger("jitimport").warning(*args)


log = _LazyLog()

#: Inserted before ``.pyc`` in the cache file name of transformed modules.
CACHE_TAG = f"jitimport-t{TRANSFORM_VERSION}"


def jit_cache_path(standard: str) -> str:
    """``x/__pycache__/m.cpython-312.pyc`` -> ``x/__pycache__/m.cpython-312.jitimport-t3.pyc``."""
    base = standard[:-4] if standard.endswith(".pyc") else standard
    return f"{base}.{CACHE_TAG}.pyc"


def jit_cache_for_source(source_path: str) -> str | None:
    """Where the transformed bytecode of ``source_path`` is cached (None: caching is off)."""
    try:
        return jit_cache_path(cache_from_source(source_path))
    except NotImplementedError:
        return None


class JitSourceFileLoader(SourceFileLoader):
    """SourceFileLoader that compiles eligible functions to native code on import."""

    def _redirect(self, path: str) -> str:
        try:
            standard = cache_from_source(self.path)
        except NotImplementedError:
            return path
        return jit_cache_path(standard) if path == standard else path

    def get_data(self, path: str) -> bytes:
        return super().get_data(self._redirect(path))

    def set_data(self, path: str, data: ReadableBuffer, *, _mode: int = 0o666) -> None:
        super().set_data(self._redirect(path), data, _mode=_mode)

    def exec_module(self, module: ModuleType) -> None:
        from . import runtime

        ran = False
        try:
            super().exec_module(module)
            ran = True
        finally:
            runtime.revisit(module, ran)
            codecache = sys.modules.get(f"{__package__}.codecache")
            if codecache is not None:   # write what this module compiled (see codecache)
                codecache.flush(self.path)

    def get_code(self, fullname: str) -> CodeType | None:
        code = super().get_code(fullname)
        if code is None:
            return None
        try:
            return bind_runtime(code)
        except Exception as exc:  # unbound markers cannot run: the plain module instead
            log.warning(
                "jitimport: could not bind the transformed code of %s (%s: %s); the module runs as plain Python",
                self.path, type(exc).__name__, exc,
            )
            return super().source_to_code(self.get_data(self.path), self.path)

    # Narrower than SourceLoader's (which also takes str and AST data): get_code passes the bytes
    # of get_data and the str path.
    def source_to_code(  # type: ignore[override]
        self, data: bytes, path: str, *, _optimize: int = -1
    ) -> CodeType:
        try:
            from .transform import transform_to_code   # only when the source is compiled

            return transform_to_code(data, path, _optimize)
        except SyntaxError:
            syntax_error = True
        except Exception as exc:
            syntax_error = False
            log.warning(
                "jitimport: could not transform %s (%s: %s); the module runs as plain Python",
                path, type(exc).__name__, exc,
            )
        # The plain compile runs outside the handlers, so a genuine SyntaxError raises exactly as
        # without the hook, not chained to the transform's ("During handling of the above exception").
        code = super().source_to_code(data, path, _optimize=_optimize)
        if syntax_error:
            log.warning("jitimport: transformed code of %s did not compile; it runs as plain Python", path)
        return code
