"""The package as a type checker sees it: ``py.typed``, real signatures behind the lazy ``__getattr__``.

``mypy --strict`` runs in a subprocess on a small user file.  When jitimport is
installed (tox runs the suite against the wheel), mypy finds it in
site-packages through its ``py.typed`` marker, exactly as a user's mypy would;
against the source tree (``PYTHONPATH=src``) it is given the tree through
``MYPYPATH`` and told to ignore errors inside jitimport, which is what it does
for installed packages anyway.  Either way only the user file is judged.
One more test checks jitimport itself with ``mypy --strict`` (about 5 s, cold cache).
"""
from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jitimport

PACKAGE_DIR = Path(jitimport.__file__).resolve().parent

USER_FILE = '''
from typing import Callable, assert_type

import jitimport
from jitimport import CompileInfo, NotCompilable


def foo(a: int, b: int) -> int:
    return a * a - b * b


bar = jitimport.compile_native(foo)
same_signature: Callable[[int, int], int] = bar
assert_type(bar(1, 2), int)
assert_type(jitimport.original(bar)(3, 4), int)
assert_type(jitimport.original(staticmethod(foo))(1, 2), int)


@jitimport.jit
def baz(x: int) -> int:
    return x + 1


@jitimport.jit(strict=True)
def qux(x: int) -> bool:
    return x > 0


assert_type(baz(1), int)
assert_type(qux(1), bool)
assert_type(jitimport.is_native(bar), bool)
assert_type(jitimport.info(bar), CompileInfo)
assert_type(jitimport.info(bar).compiled, bool)
assert_type(jitimport.disassemble(bar), str)
with jitimport.install(include=["pkg.mod"]) as handle:
    assert_type(handle.active, bool)
jitimport.uninstall()
for row in jitimport.report():
    assert_type(row.module, str)
    assert_type(row.native, bool)
    assert_type(row.reason, str | None)
try:
    pass
except NotCompilable as exc:
    assert_type(exc.reason, str)
'''

MISUSE_FILE = '''
import jitimport


def foo(a: int, b: int) -> int:
    return a * a - b * b


bar = jitimport.compile_native(foo)
text: str = bar(1, 2)
bar("x", 2)
jitimport.install(include=3)
'''


def _run_mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy, or the 'test' extra): the typing test needs it")
    (tmp_path / "user.py").write_text(textwrap.dedent(source))
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nstrict = True\n"
        "[mypy-jitimport.*]\nignore_errors = True\n"
        "[mypy-capstone.*]\nignore_missing_imports = True\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    installed = {Path(p).resolve() for p in site.getsitepackages()}
    if PACKAGE_DIR.parent not in installed:
        env["MYPYPATH"] = str(PACKAGE_DIR.parent)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--show-error-codes", "user.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )


def test_the_package_itself_passes_mypy_strict(tmp_path: Path) -> None:
    """``py.typed`` promises checked annotations: ``mypy --strict`` reports nothing in jitimport.

    Checked as ``-p jitimport`` found where the tests import it from (the installed wheel
    under tox, else the source tree through ``MYPYPATH``), with a fresh cache and no config
    file.  The remaining ``# type: ignore`` comments each name their error code and why."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy, or the 'test' extra): the typing test needs it")
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    installed = {Path(p).resolve() for p in site.getsitepackages()}
    if PACKAGE_DIR.parent not in installed:
        env["MYPYPATH"] = str(PACKAGE_DIR.parent)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "", "--cache-dir", str(tmp_path / "cache"),
         "--show-error-codes", "-p", "jitimport"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def test_py_typed_marker_is_in_the_package() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_mypy_strict_sees_the_real_signatures(tmp_path: Path) -> None:
    result = _run_mypy(tmp_path, USER_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_mypy_strict_catches_misuse(tmp_path: Path) -> None:
    result = _run_mypy(tmp_path, MISUSE_FILE)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = {int(line.split(":")[1]) for line in errors}
    assert lines == {10, 11, 12}, result.stdout + result.stderr
    assert 'expression has type "int", variable has type "str"' in result.stdout
    assert 'Argument 1 has incompatible type "str"; expected "int"' in result.stdout


def test_import_stays_lazy() -> None:
    """The type-checker imports must not run: ``import jitimport`` loads neither typing, ctypes nor the API."""
    code = "import sys, jitimport; print(sorted(m for m in sys.modules if m.startswith(('jitimport', 'ctypes', 'typing'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "JITIMPORT": "", "JITIMPORT_REPORT": ""}).stdout
    assert set(eval(out)) <= {"jitimport", "jitimport.errors"}


def test_all_matches_the_lazy_names() -> None:
    """``__all__`` is a literal for type checkers; it must still list every lazily loaded name."""
    assert set(jitimport.__all__) == {"NotCompilable", "UnsupportedPlatform", *jitimport._LAZY}
    for name in jitimport.__all__:
        assert getattr(jitimport, name) is not None
