"""The native object looks and behaves like the function it replaces."""
from __future__ import annotations

import importlib
import inspect
import pickle
import re
import sys
import textwrap

import pytest

import jitimport

from ._util import define, fell_back

MODULE_SOURCE = '''
import jitimport


def square_diff(a, b=3):
    """a squared minus b squared."""
    return a*a - b*b


square_diff = jitimport.compile_native(square_diff)


@jitimport.jit
def decorated(x):
    return x * 7 + 1


class Shape:
    def __init__(self, k):
        self.k = k

    @jitimport.jit
    def scaled(self, k):
        return k * 3

    @staticmethod
    @jitimport.jit
    def twice(x):
        return x + x

    thrice = jitimport.compile_native(staticmethod(lambda x: x * 3))
'''


@pytest.fixture
def module(tmp_path, monkeypatch):
    name = "core_transparency_mod"
    (tmp_path / f"{name}.py").write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    mod = importlib.import_module(name)
    yield mod
    sys.modules.pop(name, None)


def test_metadata(module) -> None:
    f = module.square_diff
    orig = jitimport.original(f)
    assert jitimport.is_native(f) and not jitimport.is_native(orig)
    assert f.__name__ == "square_diff" and f.__qualname__ == "square_diff"
    assert f.__module__ == module.__name__
    assert f.__doc__ == "a squared minus b squared."
    assert f.__wrapped__ is orig
    assert "native" in repr(f) and "square_diff" in repr(f)


def test_signature_and_source(module) -> None:
    f = module.square_diff
    assert str(inspect.signature(f)) == "(a, b=3)"
    source = inspect.getsource(f.__wrapped__)
    assert source.startswith("def square_diff(a, b=3):") and "return a*a - b*b" in source
    assert inspect.getsource(f) == source


def test_pickle_by_reference(module) -> None:
    f = module.square_diff
    data = pickle.dumps(f)
    assert b"square_diff" in data and len(data) < 200  # a reference, not the code
    assert pickle.loads(data) is f
    assert pickle.loads(pickle.dumps(module.decorated)) is module.decorated


def test_module_function_calls(module) -> None:
    assert module.square_diff(5) == 16 and module.square_diff(5, 4) == 9
    assert module.decorated(6) == 43
    assert jitimport.is_native(module.decorated)
    got, fallback = fell_back(module.square_diff, 5, 1)
    assert got == ("ok", int, 24) and not fallback


def test_method_binding_with_unused_self(module) -> None:
    shape = module.Shape(2)
    assert jitimport.is_native(module.Shape.__dict__["scaled"])
    assert shape.scaled(4) == 12
    bound = shape.scaled
    assert bound.__self__ is shape and bound(5) == 15
    assert module.Shape.scaled(shape, 6) == 18
    assert module.Shape.scaled("any object", 6) == 18
    assert module.Shape.scaled(None, 1.5) == 4.5  # not an int: the original runs
    # self is never read, so a bound call stays native
    got, fallback = fell_back(module.Shape.__dict__["scaled"], shape, 4)
    assert got == ("ok", int, 12) and not fallback
    assert jitimport.info(module.Shape.__dict__["scaled"]).checked_params == ("k",)


def test_staticmethod(module) -> None:
    raw = module.Shape.__dict__["twice"]
    assert isinstance(raw, staticmethod) and jitimport.is_native(raw)
    assert module.Shape.twice(21) == 42 and module.Shape(0).twice(4) == 8
    thrice = module.Shape.__dict__["thrice"]
    assert isinstance(thrice, staticmethod) and jitimport.is_native(thrice)
    assert module.Shape(1).thrice(4) == 12 and module.Shape.thrice("ab") == "ababab"
    assert jitimport.original(raw).__name__ == "twice"
    assert jitimport.info(raw).compiled


def test_descriptor_protocol_explicitly() -> None:
    def f(self, x):
        return x + 1

    native = jitimport.compile_native(f)
    assert native.__get__(None, object) is native
    marker = object()
    bound = native.__get__(marker, object)
    assert bound.__self__ is marker and bound(1) == 2
    assert native.__call__(None, 41) == 42


def test_cannot_be_constructed_directly() -> None:
    with pytest.raises(TypeError):
        jitimport.NativeFunction()


def test_is_native_original_info_on_plain_objects() -> None:
    def plain(a):
        return a

    assert not jitimport.is_native(plain) and jitimport.original(plain) is plain
    assert not jitimport.is_native(len) and jitimport.original(len) is len
    details = jitimport.info(plain)
    assert not details.compiled and details.reason
    with pytest.raises(jitimport.NotCompilable):
        jitimport.disassemble(plain)


def test_info_fields() -> None:
    def poly(a, b, c=1):
        return 3 * a * a + 2 * b + c

    native = jitimport.compile_native(poly)
    details = jitimport.info(native)
    assert details.compiled and details.reason is None
    assert details.name == poly.__qualname__
    assert details.nargs == 3
    assert details.code_size > 0 and details.code_size == len(
        jitimport.native.code_block(native).read())
    assert 0 < details.compile_seconds < 1
    assert details.checked_params == ("a", "b", "c")
    assert "mul" in details.ir and details.optimized_ir
    assert details.address == jitimport.native.code_block(native).address
    assert details.listing and details.listing[0][0] == 0
    assert b"".join(raw for _, raw, _ in details.listing) == jitimport.native.code_block(native).read()
    assert jitimport.compile_native(native) is native  # already native: unchanged


def test_jit_records_the_reason() -> None:
    def bad(a):
        return len(a)

    result = jitimport.jit(bad)
    assert result is bad
    details = jitimport.info(bad)
    assert not details.compiled and "call to len() is not supported" in details.reason
    assert jitimport.jit()(bad) is bad
    with pytest.raises(jitimport.NotCompilable, match=r"call to len\(\) is not supported"):
        jitimport.jit(strict=True)(bad)


def test_disassemble_with_capstone() -> None:
    pytest.importorskip("capstone")

    def f(a, b):
        return a * b + 1

    native = jitimport.compile_native(f)
    text = jitimport.disassemble(native)
    lines = text.splitlines()
    assert lines[0].startswith("; ") and "encoder listing" not in lines[0]
    rows = [re.match(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )*[0-9a-f]{2})\s+(\S+)", line)
            for line in lines[1:]]
    assert all(rows), lines
    mnemonics = {row.group(3) for row in rows}
    assert {"imul", "jo", "jmp"} <= mnemonics
    # capstone decoded the whole block, instruction after instruction
    assert sum(len(row.group(2).split()) for row in rows) == jitimport.info(native).code_size
    assert [int(row.group(1), 16) for row in rows][0] == 0


def test_disassemble_listing_without_capstone(monkeypatch) -> None:
    def f(a, b):
        return a - b

    native = jitimport.compile_native(f)
    monkeypatch.setitem(sys.modules, "capstone", None)  # import capstone -> ImportError
    text = jitimport.disassemble(native)
    lines = text.splitlines()
    assert "encoder listing" in lines[0]
    details = jitimport.info(native)
    assert len(lines) == 1 + len(details.listing)
    first_offset, first_raw, first_text = details.listing[0]
    assert lines[1].split(":")[0].strip() == f"{first_offset:x}"
    assert first_raw.hex(" ") in lines[1] and first_text in lines[1]
    assert "sub" in text


def test_repl_defined_function_compiles() -> None:
    ns: dict = {}
    exec(textwrap.dedent("""
        def repl_fn(a, b):
            return (a ^ b) * 2
    """), ns)
    native = jitimport.compile_native(ns["repl_fn"])
    assert native(5, 3) == 12 and jitimport.is_native(native)
    assert native.__module__ == ns["repl_fn"].__module__


def test_annotations_and_introspection_helpers() -> None:
    """What functools.wraps copies is copied, so type-hint and doc tools see the original."""
    import typing

    fn = define("def f(a: int, b: int = 2) -> int:\n    'Scale.'\n    return a * b\n", name="f")
    native = jitimport.compile_native(fn)
    assert typing.get_type_hints(native) == {"a": int, "b": int, "return": int}
    assert inspect.isroutine(native) and inspect.isfunction(native)  # __class__ is FunctionType
    assert inspect.signature(native) == inspect.signature(fn)
    assert inspect.getdoc(native) == "Scale."
