"""Pickling, introspection tools, and isolated subinterpreters (issue 9, defect 9).

A native whose qualname does not lead back to it (``bar = compile_native(foo)``)
pickles by reference to its original and is compiled again on loading;
``inspect``, doctest and ``dis`` see the original's code; the compile metadata
survives ``f.__dict__ = {}``; and where ``ctypes`` cannot be loaded, ``@jit``
leaves functions in Python instead of raising ImportError.
"""
from __future__ import annotations

import copy
import dis
import doctest
import importlib
import inspect
import io
import multiprocessing
import pickle
import sys
import types
from unittest import mock

import pytest

import jitimport
from jitimport import native as native_mod
from jitimport.native import NativeFunction
from jitimport.support import unsupported_reason

from ._child import describe, run_child

pytestmark = pytest.mark.skipif(unsupported_reason() is not None,
                                reason=f"native code unavailable: {unsupported_reason()}")

MODULE_SOURCE = '''\
import jitimport


def foo(a, b):
    """Difference of squares.

    >>> foo(5, 3)
    16
    """
    return a*a - b*b


bar = jitimport.compile_native(foo)


def swapped(a, b=2):
    return a * b


swapped = jitimport.compile_native(swapped)


class Shape:
    @staticmethod
    def area(w, h):
        return w * h


area = jitimport.compile_native(Shape.area)
'''


@pytest.fixture
def module(tmp_path, monkeypatch):
    name = "core_introspection_mod"
    (tmp_path / f"{name}.py").write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    forget_rebuilt()
    mod = importlib.import_module(name)
    yield mod
    sys.modules.pop(name, None)
    forget_rebuilt()


def forget_rebuilt() -> None:
    """Natives compiled again by unpickling are cached per original: start afresh."""
    rebuild = getattr(native_mod, "_rebuild", None)
    if rebuild is not None:
        rebuild.cache_clear()


# -- pickle ----------------------------------------------------------------------------------

def test_native_under_another_name_pickles_by_its_original(module) -> None:
    bar = module.bar
    assert jitimport.original(bar) is module.foo and module.foo is not bar
    data = pickle.dumps(bar)
    assert b"_rebuild" in data and b"foo" in data and len(data) < 200  # references, not code
    loaded = pickle.loads(data)
    assert jitimport.is_native(loaded) and jitimport.original(loaded) is module.foo
    assert loaded(5, 3) == 16 and loaded(2**70, 1) == module.foo(2**70, 1)
    assert pickle.loads(data) is loaded          # compiled once per original
    assert pickle.loads(pickle.dumps(module.area))(6, 7) == 42   # a staticmethod's function


def test_native_reachable_by_its_name_still_pickles_by_reference(module) -> None:
    data = pickle.dumps(module.swapped)
    assert b"_rebuild" not in data and pickle.loads(data) is module.swapped


def test_loading_where_compiling_fails_gives_the_original(module, monkeypatch) -> None:
    data = pickle.dumps(module.bar)
    monkeypatch.setenv("JITIMPORT_DISABLE", "1")
    loaded = pickle.loads(data)
    assert loaded is module.foo and loaded(5, 3) == 16


def test_native_under_another_name_goes_to_a_pool(module) -> None:
    """Sent to worker processes (pickled with each task), compiled again there."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.starmap(module.bar, [(5, 3), (2**40, 1), (1.5, 2)]) == [16, 2**80 - 1, -1.75]
        assert pool.apply(jitimport.is_native, (module.bar,)) is True


def test_copy_returns_the_same_native(module) -> None:
    bar = module.bar
    assert copy.copy(bar) is bar and copy.deepcopy(bar) is bar
    assert copy.deepcopy({"f": [bar]})["f"][0] is bar


# -- metadata kept out of __dict__ -------------------------------------------------------------

def test_info_and_disassemble_after_dict_is_replaced(module) -> None:
    bar = module.bar
    size = jitimport.info(bar).code_size
    bar.__dict__ = {}
    details = jitimport.info(bar)
    assert details.compiled and details.code_size == size and details.name == "foo"
    assert jitimport.disassemble(bar).startswith("; foo:")
    assert "foo" in repr(bar)
    assert pickle.loads(pickle.dumps(bar))(5, 3) == 16
    assert bar(5, 3) == 16


# -- introspection tools ---------------------------------------------------------------------

def test_function_attributes_are_the_originals(module) -> None:
    native, orig = module.swapped, jitimport.original(module.swapped)
    for name in ("__code__", "__globals__", "__defaults__", "__kwdefaults__", "__closure__",
                 "__builtins__"):
        assert getattr(native, name) is getattr(orig, name), name
    assert native.__defaults__ == (2,) and native.__globals__ is module.__dict__
    with pytest.raises(AttributeError):
        native.__code__ = orig.__code__          # would not change what the machine code does


def test_inspect_sees_the_original_source(module) -> None:
    bar, foo = module.bar, module.foo
    assert inspect.isfunction(bar)
    assert inspect.getfile(bar) == module.__file__
    assert inspect.getsourcefile(bar) == module.__file__
    assert inspect.getsourcelines(bar) == inspect.getsourcelines(foo)
    assert inspect.getsource(bar).startswith("def foo(a, b):")
    assert inspect.getmodule(bar) is module
    assert str(inspect.signature(bar)) == "(a, b)"
    del module.swapped.__wrapped__               # not through __wrapped__: through __code__
    assert str(inspect.signature(module.swapped)) == "(a, b=2)"


def test_doctest_finds_the_line_and_runs_the_example(module) -> None:
    tests = {t.name.rsplit(".", 1)[-1]: t for t in doctest.DocTestFinder().find(module)}
    assert tests["foo"].lineno == module.foo.__code__.co_firstlineno  # 0-based line of the docstring
    finder_on_native = doctest.DocTestFinder().find(module.bar, "bar", module=module)
    assert [t.lineno for t in finder_on_native] == [tests["foo"].lineno]
    runner = doctest.DocTestRunner()
    for test in finder_on_native:
        runner.run(test, out=lambda text: None)
    assert runner.summarize(verbose=False) == (0, 1)


def test_dis_shows_the_original_bytecode(module) -> None:
    ours, theirs = io.StringIO(), io.StringIO()
    dis.dis(module.bar, file=ours)
    dis.dis(module.foo, file=theirs)
    assert ours.getvalue() == theirs.getvalue()
    assert "__wrapped__" not in ours.getvalue() and "BINARY_OP" in ours.getvalue()


def test_class_is_function_for_isinstance_but_type_is_unchanged(module) -> None:
    """``__class__`` answers FunctionType (what inspect and doctest test), nothing else moves."""
    bar = module.bar
    assert bar.__class__ is types.FunctionType and type(bar) is NativeFunction
    assert isinstance(bar, types.FunctionType) and isinstance(bar, NativeFunction)
    assert not isinstance(bar, staticmethod) and not isinstance(bar, type)
    assert jitimport.is_native(bar) and jitimport.compile_native(bar) is bar
    assert NativeFunction.__class__ is type
    with pytest.raises(AttributeError):
        bar.__class__ = types.FunctionType
    spec = mock.create_autospec(bar, return_value=7)
    assert spec(1, 2) == 7
    with pytest.raises(TypeError):
        spec(1, 2, 3)                            # the original's signature is enforced


# -- isolated subinterpreters -----------------------------------------------------------------

SUBINTERPRETER_SCRIPT = r'''
import os, sys
try:
    import _interpreters as interpreters
    def create():
        return interpreters.create("isolated")
except ImportError:
    try:
        import _xxsubinterpreters as interpreters
    except ImportError:
        print("NO-API")
        raise SystemExit(0)
    def create():
        try:
            return interpreters.create(isolated=True)
        except TypeError:
            return interpreters.create()
out_path = sys.argv[1]
code = """
import sys
sys.path[:0] = %r
found = []
try:
    try:
        import ctypes
        found.append("ctypes ok")
    except ImportError:
        found.append("no ctypes")
    import jitimport
    def f(a, b):
        return a * b + 1
    g = jitimport.jit(f)
    found.append(repr((g(3, 4), g is f, jitimport.is_native(g) if g is not f else False,
                       getattr(f, "__jitimport_reason__", ""))))
except BaseException as exc:
    import traceback
    found.append("ERROR " + traceback.format_exc())
with open(%r, "w") as fh:
    fh.write("\\n".join(found))
""" % (sys.path, out_path)
interp = create()
interpreters.run_string(interp, code)
interpreters.destroy(interp)
print(open(out_path).read())
'''


def test_jit_in_an_isolated_subinterpreter(tmp_path) -> None:
    """Where ctypes cannot be loaded (a 3.12 isolated subinterpreter) ``@jit`` leaves the
    function in Python with the reason recorded; where it can, the function is native."""
    proc = run_child(SUBINTERPRETER_SCRIPT, str(tmp_path / "out.txt"))
    assert proc.returncode == 0, describe(proc)
    if proc.stdout.strip() == "NO-API":
        pytest.skip("this interpreter has no subinterpreter API")
    ctypes_line, result = proc.stdout.strip().split("\n", 1)
    assert not result.startswith("ERROR"), result
    value, unchanged, native, recorded = eval(result)  # noqa: S307 - our own repr
    assert value == 13
    if ctypes_line == "no ctypes":
        assert unchanged and "ctypes is not available here" in recorded, result
    else:
        assert native and not unchanged, result
