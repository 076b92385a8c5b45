"""Verify mode: natives from the hook and @jit are checked against their Python originals on every call."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import jitimport
from jitimport import compiler, verify

SRC = Path(jitimport.__file__).resolve().parent.parent


def wrong_compiler(monkeypatch: pytest.MonkeyPatch, other: types.FunctionType) -> None:
    """Make the pipeline hand out the native of ``other`` whatever it is asked to compile."""
    real = compiler.compile_native
    monkeypatch.setattr(compiler, "compile_native", lambda fn: real(other))


def test_wrong_native_from_jit_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITIMPORT_VERIFY", "1")

    def off_by_one(a, b):
        return a * b + 1

    wrong_compiler(monkeypatch, off_by_one)

    @jitimport.jit
    def mul(a, b):
        return a * b

    with pytest.raises(jitimport.VerificationError) as caught:
        mul(6, 7)
    message = str(caught.value)
    assert "mul(6, 7)" in message
    assert "native returned 43 (int)" in message and "Python returned 42 (int)" in message
    assert caught.value.args_given == (6, 7)


def test_exception_outcomes_are_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITIMPORT_VERIFY", "1")

    def divides(a, b):
        return a // b

    wrong_compiler(monkeypatch, divides)

    @jitimport.jit
    def mods(a, b):
        return a % b

    with pytest.raises(jitimport.VerificationError) as caught:
        mods(7, 0)  # both raise ZeroDivisionError, with different messages
    assert "integer division or modulo by zero" in str(caught.value)
    assert "modulo by zero" in str(caught.value)
    with pytest.raises(jitimport.VerificationError, match=r"mods\(7, b=2\)"):
        mods(7, b=2)  # keyword arguments are shown too (3 vs 1)


def test_type_differences_count() -> None:
    assert not verify.Outcome(False, True).same_as(verify.Outcome(False, 1))
    assert not verify.Outcome(True, ValueError("x")).same_as(verify.Outcome(True, TypeError("x")))
    assert verify.Outcome(False, 2**70).same_as(verify.Outcome(False, 2**70))


def test_agreeing_native_returns_and_raises_as_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITIMPORT_VERIFY", "1")

    @jitimport.jit
    def floor_div(a, b):
        return a // b

    assert type(floor_div) is types.FunctionType  # the checking wrapper
    assert jitimport.is_native(floor_div) and jitimport.info(floor_div).compiled
    assert jitimport.original(floor_div) is floor_div.__wrapped__
    assert floor_div(-7, 2) == -4 and floor_div(2**70, 3) == 2**70 // 3
    with pytest.raises(ZeroDivisionError, match="integer division or modulo by zero"):
        floor_div(1, 0)


def test_off_leaves_the_native_unwrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JITIMPORT_VERIFY", raising=False)

    @jitimport.jit
    def add(a, b):
        return a + b

    assert type(add) is jitimport.NativeFunction


def _run(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "mod.py").write_text("# minijit: native\ndef f(a, b):\n    return a * b - 1\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("JITIMPORT")}
    base["PYTHONPATH"] = os.pathsep.join([str(SRC), str(tmp_path)])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path,
                          env={**base, **env}, capture_output=True, text=True, timeout=300)


HOOK_WITH_WRONG_NATIVE = """
    import jitimport
    from jitimport import compiler
    real = compiler.compile_native
    def g(a, b):
        return a * b + 1
    compiler.compile_native = lambda fn: real(g)
    jitimport.install()
    import mod
    print(type(mod.f).__name__, jitimport.is_native(mod.f))
    mod.f(3, 4)
"""


def test_hook_in_verify_mode_detects_a_wrong_native(tmp_path: Path) -> None:
    result = _run(tmp_path, HOOK_WITH_WRONG_NATIVE, JITIMPORT_VERIFY="1")
    assert result.stdout.startswith("function True"), result.stdout + result.stderr
    assert "jitimport.verify.VerificationError: mod.f(3, 4): native and Python outcomes differ: " \
           "native returned 13 (int), Python returned 11 (int)" in result.stderr


def test_hook_without_verify_mode_hands_out_the_native(tmp_path: Path) -> None:
    result = _run(tmp_path, HOOK_WITH_WRONG_NATIVE)
    assert result.stdout.startswith("NativeFunction True"), result.stdout + result.stderr
    assert result.returncode == 0  # the wrong native goes unnoticed: what verify mode is for
