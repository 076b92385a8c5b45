"""The AST rewrite and the loader, in-process, with a stand-in compiler.

``jitimport.compiler.compile_native`` is replaced by a marker so these tests
pin down *where and when* the hook swaps functions independently of what the
real compiler accepts (the subprocess tests use the real one).
"""
from __future__ import annotations

import inspect
import logging
import textwrap
import traceback
import types

import pytest

import jitimport.compiler
from jitimport.errors import NotCompilable
from jitimport.hook import reporting
from jitimport.hook.loader import CACHE_TAG, JitSourceFileLoader, jit_cache_path
from jitimport.hook.transform import compile_transformed


class Marked:
    """What the stand-in compiler returns: remembers the original, binds like a function."""

    def __init__(self, fn: types.FunctionType) -> None:
        self.__wrapped__ = fn
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__

    def __call__(self, *args, **kwargs):
        return self.__wrapped__(*args, **kwargs)

    def __get__(self, obj, objtype=None):
        return self if obj is None else types.MethodType(self, obj)


@pytest.fixture
def fake_compiler(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Compile every function except those named ``bad*`` (NotCompilable) / ``boom*`` (crash)."""
    seen: list[str] = []

    def compile_native(fn):
        seen.append(fn.__qualname__)
        if fn.__name__.startswith("bad"):
            raise NotCompilable("call to len() is not supported", fn.__code__.co_filename, 3)
        if fn.__name__.startswith("boom"):
            raise RuntimeError("compiler bug")
        return Marked(fn)

    monkeypatch.setattr(jitimport.compiler, "compile_native", compile_native)
    return seen


def run_source(source: str, name: str = "tmod", filename: str = "/virtual/tmod.py") -> dict:
    code = compile_transformed(textwrap.dedent(source).encode(), filename)
    namespace = {"__name__": name}
    exec(code, namespace)
    return namespace


def test_swap_happens_when_def_runs(fake_compiler: list[str]) -> None:
    ns = run_source('''
        # minijit: native
        """Module doc."""
        from __future__ import annotations

        def area(w: int, h: int) -> int:
            return w * h

        OPS = {"area": area}
        ALIAS = area
        CAPTURED = (lambda f=area: f)()

        def uses(x):
            return OPS["area"](x, x)
    ''')
    assert isinstance(ns["area"], Marked)
    assert ns["OPS"]["area"] is ns["area"] and ns["ALIAS"] is ns["area"] and ns["CAPTURED"] is ns["area"]
    assert ns["__doc__"] == "Module doc."
    assert ns["area"].__wrapped__.__annotations__ == {"w": "int", "h": "int", "return": "int"}  # future import kept
    assert not [key for key in ns if "jitimport" in key]  # nothing injected into the module namespace


def test_class_bodies_staticmethod_and_decorators(fake_compiler: list[str]) -> None:
    ns = run_source('''
        import functools

        class K:
            @staticmethod
            def s(a, b):
                return a + b

            def m(self, k):
                return k * 3

            @classmethod
            def c(cls, x):
                return x

            @property
            def p(self):
                return 1

            @functools.lru_cache
            def cached(self, x):
                return x

            class Inner:
                def deep(self, x):
                    return x

        def outer():
            def nested(x):
                return x
            return nested

        def later():  # minijit: skip
            return 1

        if True:
            def under_if(x):
                return -x
    ''')
    K = ns["K"]
    raw = K.__dict__["s"]
    assert isinstance(raw, staticmethod) and isinstance(raw.__func__, Marked)  # staticmethod stays outermost
    assert K.s(2, 3) == 5 and K().s(2, 3) == 5
    assert isinstance(K.__dict__["m"], Marked) and K().m(2) == 6
    assert isinstance(K.__dict__["Inner"].__dict__["deep"], Marked)
    assert isinstance(K.__dict__["c"], classmethod) and isinstance(K.__dict__["p"], property)
    assert isinstance(ns["outer"], Marked) and isinstance(ns["outer"].__wrapped__(), Marked)  # nested: compiled too
    assert isinstance(ns["later"], types.FunctionType)
    assert isinstance(ns["under_if"], Marked)
    assert set(fake_compiler) == {"K.s", "K.m", "K.Inner.deep", "outer", "under_if", "outer.<locals>.nested"}
    reasons = {(r.qualname): r.reason for r in reporting.report() if r.module == "tmod"}
    assert "@classmethod" in reasons["K.c"] and "@property" in reasons["K.p"]
    assert "lru_cache" in reasons["K.cached"] and "skip" in reasons["later"]


def test_lines_source_and_tracebacks_unchanged(fake_compiler: list[str], tmp_path) -> None:
    source = textwrap.dedent('''
        # minijit: native
        import functools

        @staticmethod
        def s(a):
            return a


        def div(a, b):
            return a // b

        @functools.wraps(div)
        def wrapped(a, b):
            return a
    ''').lstrip()
    path = tmp_path / "linemod.py"
    path.write_text(source)
    plain = compile(source, str(path), "exec")
    jit = compile_transformed(source.encode(), str(path))
    firsts = lambda code: {c.co_name: c.co_firstlineno for c in code.co_consts if isinstance(c, types.CodeType)}
    assert firsts(jit) == firsts(plain)
    ns: dict = {"__name__": "linemod"}
    exec(jit, ns)
    original = ns["div"].__wrapped__
    assert inspect.getsource(original).startswith("def div(a, b):")
    with pytest.raises(ZeroDivisionError) as info:
        original(1, 0)
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (frame.lineno, frame.line) == (10, "return a // b")


def test_compile_failures_keep_python_and_warn(fake_compiler: list[str], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="jitimport"):
        ns = run_source('''
            def bad_one(x):
                return len(x)
            def boom_one(x):
                return x
            def fine(x):
                return x
        ''', name="failmod")
    assert isinstance(ns["bad_one"], types.FunctionType) and isinstance(ns["boom_one"], types.FunctionType)
    assert isinstance(ns["fine"], Marked)
    messages = [r.getMessage() for r in caplog.records]
    assert any("boom_one" in m and "compiler bug" in m for m in messages)
    assert not any("bad_one" in m for m in messages)  # ineligible is normal, not a warning
    rows = {r.qualname: r for r in reporting.report() if r.module == "failmod"}
    assert rows["bad_one"].reason == "line 3: call to len() is not supported"
    assert "RuntimeError: compiler bug" in rows["boom_one"].reason and rows["fine"].native


BROKEN = [
    "def f(:\n    pass\n",
    "x = 1\nreturn x\n",  # a compiler-stage error, not a parser one
    "nonlocal q\n",
    "def f():\n    x = 1\n     y = 2\n",
    "print 'hello'\n",
]


@pytest.mark.parametrize("source", BROKEN)
def test_syntax_errors_are_the_plain_ones(source: str, tmp_path) -> None:
    path = tmp_path / "broken.py"
    data = ("# minijit: native\n" + source).encode()
    path.write_bytes(data)
    with pytest.raises(SyntaxError) as plain:
        compile(data, str(path), "exec", dont_inherit=True)
    with pytest.raises(SyntaxError) as jit:
        JitSourceFileLoader("broken", str(path)).source_to_code(data, str(path))
    for attr in ("msg", "lineno", "offset", "text", "filename", "end_lineno"):
        assert getattr(jit.value, attr) == getattr(plain.value, attr), attr
    assert type(jit.value) is type(plain.value)


def test_cache_path_uses_own_tag() -> None:
    assert jit_cache_path("/x/__pycache__/m.cpython-312.pyc") == f"/x/__pycache__/m.cpython-312.{CACHE_TAG}.pyc"
    assert jit_cache_path("/x/__pycache__/m.cpython-312.opt-1.pyc").endswith(f".opt-1.{CACHE_TAG}.pyc")
