"""jitimport: pure integer Python functions (branches, loops, bools) as native x86-64 code, exactly.

Public API::

    compile_native(fn)      native version of one function (NotCompilable says why not)
    jit / jit(strict=True)  the same as a decorator
    is_native, original, info, disassemble
    stats()                 per native: calls that ran natively, calls that fell back and why
    install(), uninstall(), report()   the import hook for '# minijit: native' modules

``import jitimport`` is cheap: the compiler and the hook load on first use of
a name that needs them (the ``.pth`` start-up hook relies on that).  ``jit``,
``compile_native`` and ``info`` load no module that needs ``ctypes`` before the
platform probe says native code can run, so where ``ctypes`` cannot be loaded
(a 3.12 isolated subinterpreter) they leave functions in Python.

At run time this module imports nothing at all (not even ``__future__``,
``importlib`` or ``.errors``): ``JITIMPORT=1`` imports it in every interpreter
that starts, and ``python -c pass`` loads none of those.
"""
#: Not ``typing.TYPE_CHECKING``: importing ``typing`` is not free, and type checkers treat any
#: name ``TYPE_CHECKING`` as true.  They see the real names and signatures below; at run time
#: ``__getattr__`` loads them on first use.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .api import compile_native, disassemble, info, jit
    from .errors import NotCompilable, UnsupportedPlatform
    from .compiler import CompileInfo
    from .hook import install, report, uninstall
    from .native import NativeFunction, is_native, original
    from .verify import VerificationError
    from .callstats import CallStats, stats

__version__ = "0.1.0"

_LAZY = {
    "NotCompilable": "errors", "UnsupportedPlatform": "errors",
    "compile_native": "api", "jit": "api", "info": "api", "disassemble": "api",
    "CompileInfo": "compiler", "NativeFunction": "native", "is_native": "native", "original": "native",
    "install": "hook", "uninstall": "hook", "report": "hook",
    "VerificationError": "verify", "stats": "callstats", "CallStats": "callstats",
}

#: Spelled out (not computed from ``_LAZY``) so that type checkers read it: a name missing from a
#: literal ``__all__`` counts as not exported under ``mypy --strict``.
__all__ = [
    "CallStats", "CompileInfo", "NativeFunction", "NotCompilable", "UnsupportedPlatform", "VerificationError",
    "compile_native", "disassemble", "info", "install", "is_native", "jit", "original", "report", "stats",
    "uninstall",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jitimport' has no attribute {name!r}")
    # __import__ rather than importlib.import_module: importlib (and with it warnings) is not loaded yet.
    value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
