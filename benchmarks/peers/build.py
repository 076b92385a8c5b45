"""Build Cython and mypyc extension modules at run time, in a temporary directory.

The built binaries are specific to this machine and interpreter, so they
are made by every run and thrown away afterwards, never committed.
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import types


class BuildError(Exception):
    """A peer's build failed; the message holds the tail of the compiler output."""


def compiler_missing() -> str | None:
    """Why C extensions cannot be built here, or None."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"C compiler {cc!r} not found"
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        return f"Python.h not found in {include}"
    return None


def module_missing(name: str) -> str | None:
    """Why ``name`` cannot be imported, or None (without importing it)."""
    return None if importlib.util.find_spec(name) is not None else f"{name} is not installed"


class BuildDir:
    """A temporary directory on ``sys.path`` holding this run's extension modules."""

    def __init__(self, path: str | None = None, keep: bool = False) -> None:
        self.owned = path is None
        self.path = path or tempfile.mkdtemp(prefix="jitimport-bench-")
        self.keep = keep
        if self.path not in sys.path:
            sys.path.insert(0, self.path)

    def built(self, module: str) -> bool:
        return bool(glob.glob(os.path.join(self.path, module + ".*.so")))

    def write(self, filename: str, text: str) -> str:
        target = os.path.join(self.path, filename)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        return target

    def run(self, argv: list[str]) -> float:
        """Run a build command here; return its wall time in seconds."""
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=self.path, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
            raise BuildError(" | ".join(tail) or f"exit status {proc.returncode}")
        return elapsed

    def cython(self, module: str, source: str, suffix: str) -> float:
        """Compile ``source`` (``.py`` pure-Python mode or ``.pyx``) into ``module``; return build seconds."""
        filename = self.write(module + suffix, source)
        return self.run([sys.executable, "-m", "Cython.Build.Cythonize", "-i", "-3", "-q",
                         os.path.basename(filename)])

    def mypyc(self, module: str, source: str) -> float:
        """Compile annotated ``source`` with mypyc into ``module``; return build seconds."""
        filename = self.write(module + ".py", source)
        return self.run([sys.executable, "-m", "mypyc", os.path.basename(filename)])

    def load(self, module: str) -> types.ModuleType:
        """Import a module built here (the extension, not the source next to it)."""
        if not self.built(module):
            raise BuildError(f"{module} was not built")
        importlib.invalidate_caches()
        return importlib.import_module(module)

    def close(self) -> None:
        if self.owned and not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)
