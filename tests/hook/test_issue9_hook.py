"""Issue 9, defects 3, 4, 6, 7 and 8: class bodies, injected names, the main script, configuration, report size.

In-process tests use the stand-in compiler of ``test_transform`` (where and
when the hook swaps); subprocess tests use the real compiler and a fresh
interpreter where the environment or start-up matters.
"""
from __future__ import annotations

import logging
import textwrap
import types

import pytest

import jitimport
from jitimport import config
from jitimport.errors import NotCompilable
from jitimport.hook import activate, reporting
from jitimport.hook.classbody import qualname_in_class_body
from jitimport.hook.loader import CACHE_TAG
from jitimport.hook.transform import MARK, SWAP_MARKER, bind_runtime, plan_functions, transform_to_code

from ._util import base_env, run, run_code
from .test_transform import Marked, fake_compiler, run_source  # noqa: F401  (fake_compiler is a fixture)

# --- 3. implicit classmethods / staticmethod ------------------------------------------------------

IMPLICIT = '''
# minijit: native
class Base:
    def __init_subclass__(cls):
        return 0

    def plain(self, a):
        return a + 1


class Sub(Base):
    pass


class Bits:
    def __class_getitem__(cls, n=8):
        return n * 8

    def __new__(cls):
        return object.__new__(cls)


def __new__(a):  # module level: an ordinary function, compiled as usual
    return a * 2
'''


LEFT_ALONE = {
    "__init_subclass__": "__init_subclass__ is an implicit classmethod in a class body: left alone",
    "__class_getitem__": "__class_getitem__ is an implicit classmethod in a class body: left alone",
    "__new__": "__new__ is an implicit staticmethod in a class body: left alone",
}


def test_implicit_class_methods_are_left_alone_by_the_transform(fake_compiler: list[str]) -> None:
    ns = run_source(IMPLICIT, name="implicit")
    Base, Bits = ns["Base"], ns["Bits"]
    assert issubclass(ns["Sub"], Base)  # __init_subclass__ was called with cls
    assert Bits[4] == 32 and Bits[2] == 16  # not 64: n is not bound to cls
    assert type(Bits()) is Bits
    assert isinstance(Base.__dict__["__init_subclass__"], classmethod)
    assert isinstance(Bits.__dict__["__class_getitem__"], classmethod)
    assert isinstance(Bits.__dict__["__new__"], staticmethod)
    assert isinstance(Base.__dict__["plain"], Marked) and isinstance(ns["__new__"], Marked)
    assert set(fake_compiler) == {"Base.plain", "__new__"}
    reasons = {r.qualname: r.reason for r in reporting.report() if r.module == "implicit"}
    assert reasons["Base.__init_subclass__"] == LEFT_ALONE["__init_subclass__"]
    assert reasons["Bits.__class_getitem__"] == LEFT_ALONE["__class_getitem__"]
    assert reasons["Bits.__new__"] == LEFT_ALONE["__new__"]
    assert ("Bits.__new__", LEFT_ALONE["__new__"]) in plan_functions(IMPLICIT)


def test_implicit_class_methods_in_a_fresh_interpreter(tree) -> None:
    """The issue's reproduction, with the real compiler: it failed to import / gave 64."""
    cwd = tree({"implicit.py": IMPLICIT})
    code = '''
        import sys, jitimport
        if sys.argv[1:] == ["hook"]:
            jitimport.install()
        import implicit
        print(implicit.Bits[4], type(implicit.Bits()).__name__, issubclass(implicit.Sub, implicit.Base))
        print(jitimport.is_native(implicit.Base.__dict__["plain"]), implicit.Base().plain(1))
    '''
    plain = run(["-c", textwrap.dedent(code)], cwd).ok()
    hooked = run(["-c", textwrap.dedent(code), "hook"], cwd).ok()
    assert plain.lines[0] == hooked.lines[0] == "32 Bits True"
    assert hooked.lines[1] == "True 2" and hooked.stderr == ""


def test_implicit_class_methods_when_imported_before_install(tree) -> None:
    cwd = tree({"implicit.py": IMPLICIT})
    result = run_code('''
        import jitimport, implicit
        jitimport.install()
        print(implicit.Bits[4], type(implicit.Bits()).__name__, jitimport.is_native(implicit.Base.__dict__["plain"]))
        print(type(implicit.Bits.__dict__["__new__"].__func__).__name__)
        rows = {r.qualname: r.reason for r in jitimport.report()}
        print(rows["Bits.__new__"])
    ''', cwd).ok()
    assert result.lines == ["32 Bits True", "function", LEFT_ALONE["__new__"]]


def test_implicit_class_methods_without_source_are_not_swapped() -> None:
    """The no-source discovery (``_discover``) follows the same rule as the transform."""
    module = types.ModuleType("nosource")
    exec(textwrap.dedent(IMPLICIT), vars(module))
    found = [q for q, _ in activate._discover(module)]
    assert "Bits.__new__" not in found and "Base.__init_subclass__" not in found
    assert "Base.plain" in found and "__new__" in found


def test_jit_leaves_implicit_class_methods_alone() -> None:
    class Bits:
        @jitimport.jit
        def __class_getitem__(cls, n=8):
            return n * 8

        @jitimport.jit
        def __new__(cls):
            return object.__new__(cls)

    class Base:
        @jitimport.jit
        def __init_subclass__(cls):
            return 0

    class Sub(Base):
        pass

    assert Bits[4] == 32 and type(Bits()) is Bits and issubclass(Sub, Base)
    assert jitimport.info(Bits.__dict__["__class_getitem__"].__func__).reason == LEFT_ALONE["__class_getitem__"]
    with pytest.raises(NotCompilable, match=r"__new__ = staticmethod\(jitimport.compile_native\(function\)\)"):
        class Strict:
            @jitimport.jit(strict=True)
            def __new__(cls):
                return object.__new__(cls)


def test_qualname_in_class_body() -> None:
    assert qualname_in_class_body("K.__new__") and qualname_in_class_body("f.<locals>.K.__new__")
    assert not qualname_in_class_body("__new__") and not qualname_in_class_body("f.<locals>.__new__")


# --- 4. no injected name: a __prepare__ namespace cannot break the hook ---------------------------

PREPARED = '''
# minijit: native
import collections
import functools

SEEN_AT_START = sorted(k for k in globals() if "jitimport" in k)
LOOKUPS = []


class Recording(dict):
    """A class namespace that records every name the class body looks up in it."""

    def __getitem__(self, key):
        LOOKUPS.append(key)
        return super().__getitem__(key)


class Meta(type):
    @classmethod
    def __prepare__(mcls, name, bases):
        return Recording()

    def __new__(mcls, name, bases, ns):
        return super().__new__(mcls, name, bases, dict(ns))


class K(metaclass=Meta):
    def f(self, a):
        return a * 2

    @staticmethod
    def s(a, b):
        return a - b

    @functools.lru_cache
    def cached(self, a):
        return a

    def later(self, a):  # minijit: skip
        return a


class Defaulting(type):
    """The issue's metaclass: every missing name is 0 in the class body (builtins included)."""

    @classmethod
    def __prepare__(mcls, name, bases):
        return collections.defaultdict(int)

    def __new__(mcls, name, bases, ns):
        return super().__new__(mcls, name, bases, dict(ns))


class D(metaclass=Defaulting):
    def f(self, a):
        return a * 3

    def later(self, a):  # minijit: skip
        return a


SEEN_AT_END = sorted(k for k in globals() if "jitimport" in k)
'''


def test_prepare_namespace_does_not_see_the_hook(fake_compiler: list[str]) -> None:
    ns = run_source(PREPARED, name="prepared")
    K, D = ns["K"], ns["D"]
    assert K().f(3) == 6 and K.s(5, 2) == 3 and K().later(4) == 4 and D().f(3) == 9 and D().later(4) == 4
    assert isinstance(K.__dict__["f"], Marked) and isinstance(K.__dict__["s"].__func__, Marked)
    assert isinstance(D.__dict__["f"], Marked) and isinstance(D.__dict__["later"], types.FunctionType)
    assert not [key for key in ns["LOOKUPS"] if "jitimport" in str(key)]  # nothing looked up in the class namespace
    assert ns["SEEN_AT_START"] == ns["SEEN_AT_END"] == []  # nothing visible in the module's globals
    reasons = {r.qualname: r.reason for r in reporting.report() if r.module == "prepared"}
    assert reasons["K.later"] == reasons["D.later"] == "skipped by '# minijit: skip'"
    assert "lru_cache" in reasons["K.cached"]


def test_prepare_namespace_in_a_fresh_interpreter_and_from_the_cache(tree) -> None:
    cwd = tree({"prepared.py": PREPARED})
    env = base_env()
    del env["PYTHONDONTWRITEBYTECODE"]
    code = '''
        import jitimport
        jitimport.install()
        import prepared
        print(prepared.K().f(3), prepared.K.s(5, 2), prepared.D().f(3),
              jitimport.is_native(prepared.K.__dict__["f"]), jitimport.is_native(prepared.D.__dict__["f"]))
        print(prepared.SEEN_AT_START, prepared.SEEN_AT_END, [k for k in prepared.LOOKUPS if "jitimport" in str(k)])
    '''
    first = run_code(code, cwd, env).ok()
    assert list((cwd / "__pycache__").glob(f"prepared.*.{CACHE_TAG}.pyc"))
    second = run_code(code, cwd, env).ok()  # from the pyc cache: the markers are bound again
    assert first.lines == second.lines == ["6 3 9 True True", "[] [] []"]
    assert first.stderr == second.stderr == ""


def test_markers_are_bound_in_every_nested_class_body() -> None:
    """Class bodies nested in functions or (3.12+) in a generic class's annotation scope hold markers too."""
    try:
        compile("class G[T]: pass", "<probe>", "exec")
        generic = "class G[T]:\n    def g(self, a):\n        return a\n"
    except SyntaxError:  # no PEP 695 syntax on this version
        generic = ""
    source = ("class Outer:\n    class Inner:\n        def deep(self, a):\n            return a\n" + generic).encode()
    unbound = transform_to_code(source, "<nested>")
    bound = bind_runtime(unbound)

    def consts(code: types.CodeType) -> list[object]:
        found = list(code.co_consts)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found.extend(consts(const))
        return found

    assert SWAP_MARKER in consts(unbound)
    assert not [c for c in consts(bound) if type(c) is tuple and c and c[0] == MARK]
    assert bind_runtime(compile("x = 1", "<plain>", "exec")).co_consts == compile("x = 1", "<plain>", "exec").co_consts


# --- 6. the main script under JITIMPORT=1, and JITIMPORT_REPORT alone -----------------------------

GEO = '''
# minijit: native
def area(w, h):
    return w * h
'''

APP = '''
# minijit: native
import jitimport, geo


def twice(x):
    return x * 2


print(twice(21), jitimport.is_native(twice), jitimport.is_native(geo.area))
'''


def test_main_script_pragma_under_jitimport_env(tree, pth_python: str) -> None:
    cwd = tree({"geo.py": GEO, "app.py": APP, "plain_app.py": APP.replace("# minijit: native\n", "")})
    result = run(["app.py"], cwd, base_env(JITIMPORT="1", JITIMPORT_REPORT="1"), python=pth_python).ok()
    assert result.stdout == "42 False True\n"  # imported modules are compiled, the script itself is not
    warnings = [line for line in result.stderr.splitlines() if line.startswith("jitimport:")]
    assert len(warnings) == 1, result.stderr
    assert "app.py has the '# minijit: native' pragma" in warnings[0]
    assert "run `python -m jitimport app.py` to compile it too" in warnings[0]
    report = result.stderr[result.stderr.index("jitimport report:"):]
    assert report.startswith("jitimport report: 1 function(s) native, 0 kept in Python\n  note: app.py has the")
    # The command the warning names does compile it.
    assert run(["-m", "jitimport", "app.py"], cwd, python=pth_python).ok().stdout == "42 True True\n"
    # No pragma in the script: nothing to explain.
    quiet = run(["plain_app.py"], cwd, base_env(JITIMPORT="1"), python=pth_python).ok()
    assert quiet.stdout == "42 False True\n" and quiet.stderr == ""


def test_report_alone_says_the_hook_is_not_active(tree, pth_python: str) -> None:
    cwd = tree({"geo.py": GEO, "app.py": APP})
    result = run(["app.py"], cwd, base_env(JITIMPORT_REPORT="1"), python=pth_python).ok()
    assert result.stdout == "42 False False\n"
    assert result.stderr.startswith("jitimport report: the import hook is not active in this process")
    assert "JITIMPORT=1" in result.stderr and "0 function(s)" not in result.stderr
    # With the hook installed in code, the report is the ordinary one.
    in_code = run_code("import jitimport; jitimport.install(); import geo", cwd,
                       base_env(JITIMPORT_REPORT="1"), python=pth_python).ok()
    assert in_code.stderr.startswith("jitimport report: 1 function(s) native, 0 kept in Python")


# --- 7. one parser for every entry point ------------------------------------------------------------

ENTRY_POINTS = '''
import jitimport
from jitimport import NotCompilable, UnsupportedPlatform


def f(a, b):
    return a * b


def g(a, b):
    return a + b


try:
    jitimport.compile_native(f)
    print("compile_native: native")
except UnsupportedPlatform:
    print("compile_native: UnsupportedPlatform")
print("jit:", jitimport.is_native(jitimport.jit(f)), jitimport.is_native(jitimport.jit(g)),
      jitimport.is_native(jitimport.jit(strict=True)(g)))
print("hook:", jitimport.install().active)
'''


@pytest.mark.parametrize("value, native", [("maybe", False), ("1", False), ("TRUE ", False), ("off", True), ("", True)])
def test_kill_switch_is_parsed_once_for_every_entry_point(tree, value: str, native: bool) -> None:
    cwd = tree({"entry.py": ENTRY_POINTS})
    result = run(["entry.py"], cwd, base_env(JITIMPORT_DISABLE=value)).ok()
    if native:
        assert result.lines == ["compile_native: native", "jit: True True True", "hook: True"]
        assert result.stderr == ""
        return
    assert result.lines == ["compile_native: UnsupportedPlatform", "jit: False False False", "hook: False"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("jitimport:")]
    unrecognised = [w for w in warnings if "is not recognised" in w]
    unavailable = [w for w in warnings if "not available" in w]
    assert len(unavailable) == 1, result.stderr  # one warning, whichever entry point met it first
    assert "disabled by JITIMPORT_DISABLE" in unavailable[0] and "@jit leaves functions in Python" in unavailable[0]
    if value == "maybe":
        assert unrecognised == ["jitimport: JITIMPORT_DISABLE='maybe' is not recognised (use 1/true/yes/on or "
                                "0/false/no/off); treated as set: everything stays Python (the import hook, "
                                "@jit and compile_native)"]
    assert len(warnings) == len(unrecognised) + len(unavailable)


def test_jit_warns_once_when_the_platform_is_unsupported(tree) -> None:
    cwd = tree({"entry.py": ENTRY_POINTS})
    result = run_code('''
        import jitimport.support
        jitimport.support._static_reason = lambda: "CPython 3.99 is not supported (simulated)"
        exec(open("entry.py").read())
    ''', cwd).ok()
    assert result.lines == ["compile_native: UnsupportedPlatform", "jit: False False False", "hook: False"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("jitimport:")]
    assert warnings == ["jitimport: native code is not available: CPython 3.99 is not supported (simulated); "
                        "@jit leaves functions in Python"]


def test_config_warnings_go_to_the_jitimport_logger(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(config, "_warned", {})
    monkeypatch.setenv("JITIMPORT_REPORT", "sometimes")
    with caplog.at_level(logging.WARNING, logger="jitimport"):
        assert config.flag(config.REPORT) is False
        assert config.flag("JITIMPORT_REPORT") is False
    assert [r.getMessage() for r in caplog.records] == [
        "jitimport: JITIMPORT_REPORT='sometimes' is not recognised (use 1/true/yes/on or 0/false/no/off); "
        "ignored: no report is printed"]


# --- 8. one report record per function ------------------------------------------------------------------


def test_reloads_keep_one_record_per_function(tree) -> None:
    cwd = tree({"geo.py": GEO + "\n\ndef kept(x):  # minijit: skip\n    return x\n"})
    result = run_code('''
        import importlib, jitimport
        from jitimport.hook import reporting
        jitimport.install()
        import geo
        before = len(reporting._records)
        for _ in range(300):
            importlib.reload(geo)
        rows = [r for r in jitimport.report() if r.module == "geo"]
        print(before, len(reporting._records), [(r.qualname, r.native) for r in rows])
    ''', cwd).ok()
    assert result.lines == ["2 2 [('area', True), ('kept', False)]"]


def test_latest_outcome_wins_in_first_seen_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporting, "_records", {})
    reporting.record("m", "a", True)
    reporting.record("m", "b", False, "why")
    for _ in range(1000):
        reporting.record("m", "a", False, "later")
    assert reporting.report() == [("m", "a", False, "later"), ("m", "b", False, "why")]
    assert len(reporting._records) == 2
