"""jitimport: pure integer Python functions (branches, loops, bools) as native x86-64 code, exactly.

Public API::

    compile_native(fn)      native version of one function (NotCompilable says why not)
    jit / jit(strict=True)  the same as a decorator
    is_native, original, info, disassemble
    install(), uninstall(), report()   the import hook for '# minijit: native' modules

``import jitimport`` is cheap: the compiler and the hook load on first use of
a name that needs them (the ``.pth`` start-up hook relies on that).  ``jit``,
``compile_native`` and ``info`` load no module that needs ``ctypes`` before the
platform probe says native code can run, so where ``ctypes`` cannot be loaded
(a 3.12 isolated subinterpreter) they leave functions in Python.
"""
from __future__ import annotations

import importlib

from .errors import NotCompilable, UnsupportedPlatform

__version__ = "0.1.0"

_LAZY = {
    "compile_native": "api", "jit": "api", "info": "api", "disassemble": "api",
    "CompileInfo": "compiler", "NativeFunction": "native", "is_native": "native", "original": "native",
    "install": "hook", "uninstall": "hook", "report": "hook",
}

__all__ = ["NotCompilable", "UnsupportedPlatform", *sorted(_LAZY)]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jitimport' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
