"""jitimport: branchless integer Python functions as native x86-64 code, exactly.

Public API::

    compile_native(fn)      native version of one function (NotCompilable says why not)
    jit / jit(strict=True)  the same as a decorator
    is_native, original, info, disassemble
    install(), uninstall(), report()   the import hook for '# minijit: native' modules
"""
from __future__ import annotations

from .compiler import CompileInfo, compile_native, disassemble, info, jit
from .errors import NotCompilable, UnsupportedPlatform
from .native import NativeFunction, is_native, original

__version__ = "0.1.0"

__all__ = [
    "CompileInfo", "NativeFunction", "NotCompilable", "UnsupportedPlatform", "compile_native",
    "disassemble", "info", "install", "is_native", "jit", "original", "report", "uninstall",
]


def __getattr__(name: str):
    # The hook is imported on first use so that `import jitimport` stays cheap.
    if name in ("install", "uninstall", "report"):
        from . import hook
        return getattr(hook, name)
    raise AttributeError(f"module 'jitimport' has no attribute {name!r}")
