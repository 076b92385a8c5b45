"""The contenders: how each one turns the kernels into callables, and what that cost.

Each contender says why it is unavailable (``missing``) instead of failing,
so a peer that is not installed becomes a note in the table.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from . import sources
from .build import BuildDir, BuildError, compiler_missing, module_missing


@dataclass
class Prepared:
    """A contender's callables for the selected kernels, with costs and per-kernel notes."""

    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    compile_cost: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    fallback: set[str] = field(default_factory=set)  # kernels left as Python (jitimport refused them)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1.0:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


class Contender:
    """One way of running the kernels; subclasses fill in the specifics."""

    key = ""
    label = ""
    product = ""  # name in the versions line of the report
    import_module = ""  # what a user imports at run time, for the import-time column

    def missing(self) -> str | None:
        return None

    def version(self) -> str:
        return ""

    def prepare(self, kernels: types.ModuleType, names: list[str], build: BuildDir,
                warm_args: dict[str, tuple[int, ...]], reuse: bool = False) -> Prepared:
        raise NotImplementedError


class CPython(Contender):
    key, label, product, import_module = "cpython", "CPython", "CPython", "kernels"

    def version(self) -> str:
        import platform
        return platform.python_version()

    def prepare(self, kernels, names, build, warm_args, reuse=False):
        table = sources.kernel_functions(kernels)
        out = Prepared()
        for name in names:
            out.functions[name] = table[name]
            out.compile_cost[name] = "—"
        return out


class Jitimport(Contender):
    key, label, product, import_module = "jitimport", "jitimport", "jitimport", "jitimport"

    def missing(self):
        reason = module_missing("jitimport")
        if reason:
            return reason
        from jitimport.support import unsupported_reason
        return unsupported_reason()

    def version(self):
        import jitimport
        return jitimport.__version__

    def prepare(self, kernels, names, build, warm_args, reuse=False):
        import jitimport
        table = sources.kernel_functions(kernels)
        out = Prepared()
        try:  # the first compile pays for loading the compiler: not any kernel's cost
            jitimport.jit(_warm_up)
        except Exception:  # reported per kernel below
            pass
        for name in names:
            started = time.perf_counter()
            try:
                fn = jitimport.jit(table[name])  # non-strict: an ineligible kernel stays Python
            except Exception as exc:  # a compiler bug: shown in the table, the other kernels still run
                out.failures[name] = f"compiler error: {type(exc).__name__}: {str(exc)[:120]}"
                out.compile_cost[name] = "failed"
                continue
            elapsed = time.perf_counter() - started
            details = jitimport.info(fn)
            out.functions[name] = fn
            if details.compiled:
                out.compile_cost[name] = _seconds(elapsed)
            else:
                out.compile_cost[name] = f"refused in {_seconds(elapsed)}"
                out.fallback.add(name)
                out.notes[name] = f"not native ({_short_reason(details.reason)}); timing is the fallback"
        return out


def _warm_up(a, b):
    return a * b - b


def _short_reason(reason: str | None) -> str:
    """Drop the file path from a NotCompilable message, keep ``line N: ...``."""
    text = reason or "not compiled"
    head, sep, rest = text.partition(".py:")
    if sep:
        line, _, what = rest.partition(":")
        return f"line {line}:{what}"
    return text


class Numba(Contender):
    key, label, product, import_module = "numba", "Numba @njit", "Numba", "numba"

    def missing(self):
        return module_missing("numba")

    def version(self):
        return f"{_version('numba')} (llvmlite {_version('llvmlite')})"

    def prepare(self, kernels, names, build, warm_args, reuse=False):
        import numba
        table = sources.kernel_functions(kernels)
        out = Prepared()
        for name in names:
            fn = numba.njit(table[name])
            started = time.perf_counter()
            try:
                fn(*warm_args[name])  # njit compiles lazily, on the first call
            except Exception as exc:  # a typing error is a result worth showing, not a crash
                out.failures[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                out.compile_cost[name] = "failed"
                continue
            out.functions[name] = fn
            out.compile_cost[name] = f"{_seconds(time.perf_counter() - started)} (1st call)"
        return out


class _Built(Contender):
    """A peer compiled ahead of time into one extension module holding all selected kernels."""

    module = ""

    def missing(self):
        return self.tool_missing() or compiler_missing()

    def tool_missing(self) -> str | None:
        return None

    def build(self, build: BuildDir, kernels_source: str, names: list[str]) -> float:
        raise NotImplementedError

    def prepare(self, kernels, names, build, warm_args, reuse=False):
        out = Prepared()
        with open(kernels.__file__, encoding="utf-8") as handle:
            text = handle.read()
        try:
            seconds = 0.0 if reuse and build.built(self.module) else self.build(build, text, names)
            module = build.load(self.module)
        except BuildError as exc:
            for name in names:
                out.failures[name] = f"build failed: {exc}"
                out.compile_cost[name] = "failed"
            return out
        if not str(module.__file__).endswith(".so"):
            raise BuildError(f"{self.module} imported from source, not the extension: {module.__file__}")
        cost = f"{_seconds(seconds)} build" + (f" (module of {len(names)})" if len(names) > 1 else "")
        for name in names:
            out.functions[name] = getattr(module, name)
            out.compile_cost[name] = cost
        return out

    @property
    def import_module(self) -> str:  # type: ignore[override]
        return self.module


class CythonPure(_Built):
    key, label, product, module = "cython", "Cython (pure .py)", "Cython", "bk_cython_pure"

    def tool_missing(self):
        return module_missing("Cython") or module_missing("setuptools")

    def version(self):
        return _version("Cython")

    def build(self, build, kernels_source, names):
        return build.cython(self.module, sources.pure_python(kernels_source, names), ".py")


class CythonTyped(CythonPure):
    key, label, product, module = "cython-typed", "Cython (long long)", "", "bk_cython_typed"

    def build(self, build, kernels_source, names):
        return build.cython(self.module, sources.typed_cython(kernels_source, names), ".pyx")


class Mypyc(_Built):
    key, label, product, module = "mypyc", "mypyc", "mypy/mypyc", "bk_mypyc"

    def tool_missing(self):
        return module_missing("mypyc") or module_missing("setuptools")

    def version(self):
        return _version("mypy")

    def build(self, build, kernels_source, names):
        return build.mypyc(self.module, sources.annotated(kernels_source, names))


ALL: list[Contender] = [CPython(), Jitimport(), Numba(), CythonPure(), CythonTyped(), Mypyc()]
BY_KEY = {c.key: c for c in ALL}
