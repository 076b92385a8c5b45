"""NotCompilable: the reason and the file:line of what is refused; jit/strict behaviour."""
from __future__ import annotations

import textwrap

import pytest

import jitimport

from ._util import define

# (source, the refused line within it (1-based), a phrase the reason must contain)
CASES = {
    "call": ("def f(a):\n    b = a + 1\n    return len(b)\n", 3, "call to len() is not supported"),
    "method_call": ("def f(a):\n    return a.to_bytes()\n", 2, "to_bytes"),
    "global": ("def f(a):\n    return a + H\n", 2, "global variable 'H'"),
    "attribute": ("def f(a):\n    x = 1\n    return a.real + x\n", 3, "attribute access"),
    "subscript": ("def f(a):\n    return a[0]\n", 2, "subscript"),
    "for": ("def f(a):\n    for i in a:\n        a += 1\n    return a\n", 2, "iteration over anything but range()"),
    "always_raises": ("def f(a):\n    b = a + 1\n    raise ValueError(b)\n", 3, "raise statement"),
    "raises_or_calls": ("def f(a):\n    if a:\n        raise ValueError(a)\n    return str(a)\n", 3,
                        "raise statement"),
    "is_none": ("def f(a):\n    return a is None\n", 2, "'is' comparison"),
    "varargs": ("def f(*a):\n    return 1\n", 1, "*args and **kwargs"),
    "kwargs": ("def f(a, **k):\n    return a\n", 1, "*args and **kwargs"),
    "kwonly": ("def f(a, *, b):\n    return a + b\n", 1, "keyword-only"),
    "generator": ("def f(a):\n    yield a\n", 1, "generator"),
    "coroutine": ("async def f(a):\n    return a\n", 1, "coroutine"),
    "true_division": ("def f(a, b):\n    c = a + b\n    return c / 2\n", 3, "true division"),
    "pow_variable": ("def f(a, b):\n    return a ** b\n", 2, "constant, non-negative exponent"),
    "pow_negative": ("def f(a):\n    return a ** -2\n", 2, "constant, non-negative exponent"),
    "float_constant": ("def f(a):\n    return a + 1.5\n", 2, "float constant 1.5"),
    "str_constant": ("def f(a):\n    return a * 'x'\n", 2, "str constant"),
    "none_return": ("def f(a):\n    a + 1\n", 2, "returns None"),
    "explicit_none": ("def f(a):\n    return None\n", 2, "returns None"),
    "big_constant": ("def f(a):\n    return a + 18446744073709551616\n", 2, "does not fit in 64 bits"),
    "big_negative_constant": ("def f(a):\n    return a + -9223372036854775809\n", 2, "does not fit"),
    "lambda": ("def f(a):\n    g = lambda x: x\n    return a\n", 2, "lambda"),
    "nested_def": ("def f(a):\n    def g():\n        pass\n    return a\n", 2, "nested function"),
    "matmul": ("def f(a, b):\n    return a @ b\n", 2, "@"),
    "list_return": ("def f(a, b):\n    return [a, b]\n", 2, "list"),
    "unpack_param": ("def f(a):\n    a = a + 1\n    x, y = a\n    return x\n", 3, "unpacking"),
    "del_local": ("def f(a):\n    b = a\n    del b\n    return a\n", 3, "del"),
    "raise": ("def f(a):\n    b = a\n    raise b\n", 3, "raise"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reason_and_location(name: str, tmp_path) -> None:
    source, line, phrase = CASES[name]
    fn = define(source, tmp_path, name="f", namespace={"G": 1})
    with pytest.raises(jitimport.NotCompilable) as info:
        jitimport.compile_native(fn)
    exc = info.value
    assert phrase in exc.reason, exc.reason
    assert exc.filename == fn.__code__.co_filename and exc.filename.endswith(".py")
    assert exc.lineno == fn.__code__.co_firstlineno + line - 1, (exc.lineno, str(exc))
    assert str(exc) == f"{exc.filename}:{exc.lineno}: {exc.reason}"
    assert not isinstance(exc, jitimport.UnsupportedPlatform)


def test_closure_variable(tmp_path) -> None:
    outer = define("def outer(k):\n    def inner(a):\n        return a + k\n    return inner\n", tmp_path)
    with pytest.raises(jitimport.NotCompilable, match="closure variable 'k'") as info:
        jitimport.compile_native(outer(3))
    assert info.value.lineno == 2
    with pytest.raises(jitimport.NotCompilable, match="captured by an inner function"):
        jitimport.compile_native(outer)


@pytest.mark.parametrize("obj", [len, int, 3, jitimport.NativeFunction, print, object()])
def test_not_a_python_function(obj) -> None:
    with pytest.raises(jitimport.NotCompilable, match="is not a Python function"):
        jitimport.compile_native(obj)
    assert jitimport.jit(obj) is obj


def test_jit_leaves_function_unchanged_and_strict_raises(tmp_path) -> None:
    fn = define("def f(a):\n    return len(a)\n", tmp_path)
    assert jitimport.jit(fn) is fn
    assert fn("abc") == 3
    details = jitimport.info(fn)
    assert not details.compiled
    assert "call to len() is not supported" in details.reason and f"{fn.__code__.co_filename}:2" in details.reason
    with pytest.raises(jitimport.NotCompilable, match=r"len\(\)"):
        jitimport.jit(strict=True)(fn)


def test_jit_strict_compiles_eligible() -> None:
    @jitimport.jit(strict=True)
    def f(a, b):
        return a % b

    assert jitimport.is_native(f) and f(-7, 3) == 2


def test_repl_function_has_lines_without_source() -> None:
    ns: dict = {}
    exec(compile("def f(a):\n    x = a + 1\n    return x in (3, 4)\n", "<stdin>", "exec"), ns)
    with pytest.raises(jitimport.NotCompilable) as info:
        jitimport.compile_native(ns["f"])
    assert info.value.filename == "<stdin>" and info.value.lineno == 3
    exec(compile(textwrap.dedent("""
        def g(a, b=4):
            a, b = b, a
            a += 1
            return a * b
    """), "<stdin>", "exec"), ns)
    native = jitimport.compile_native(ns["g"])
    assert native(3) == 15 and native(3, 5) == 18 and native(3, 5) == ns["g"](3, 5)
