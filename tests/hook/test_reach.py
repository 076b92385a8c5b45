"""What the hook reaches besides top-level defs (issue 11, "Hook reach" and definition order).

* lambdas, and defs nested in a function body: compiled when eligible, reported either way;
  a nested def is compiled once per code object, its later instances share the machine code;
* ``install(include=[...])`` modules compile again on ``importlib.reload`` and on re-import
  after ``del sys.modules[name]``;
* a function reading a global bound further down the module (a constant, a helper) is
  compiled again once the module body has run.

Each test runs a fresh interpreter with the real compiler.  Compiles are counted by
wrapping ``jitimport.compiler.compile_native`` (the hook looks it up on every compile).
"""
from __future__ import annotations

from ._util import base_env, run_code

COUNTING = '''
import jitimport, jitimport.compiler
COMPILED = []
_real = jitimport.compiler.compile_native
def _counting(fn):
    COMPILED.append(fn.__qualname__)
    return _real(fn)
jitimport.compiler.compile_native = _counting
'''

REACH = '''
# minijit: native
cube = lambda x: x * x * x
TABLE = {"neg": lambda x: -x}


def main(n):
    def helper(x):
        return x * 2 + 1
    return helper(n), helper


def make_adder(k):
    def add(x):
        return x + k
    return add


def scaled(n):
    return (lambda x, s=3: x * s)(n)
'''


def test_lambdas_and_nested_defs_are_compiled_once_and_reported(tree) -> None:
    cwd = tree({"reach.py": REACH})
    code = COUNTING + '''
jitimport.install()
import reach
from jitimport import is_native, original
assert is_native(reach.cube) and reach.cube(3) == 27 and reach.cube(2**40) == 2**120
assert is_native(reach.TABLE["neg"]) and reach.TABLE["neg"](5) == -5
results = [reach.main(i) for i in range(1000)]
assert [value for value, _ in results] == [2 * i + 1 for i in range(1000)]
helpers = [h for _, h in results]
assert all(is_native(h) for h in helpers) and len({id(h) for h in helpers}) == 1000  # one object per def
assert original(helpers[0]) is not original(helpers[1]) and helpers[1](1.5) == 4.0
print(COMPILED.count("main.<locals>.helper"), COMPILED.count("scaled.<locals>.<lambda>"))
assert [reach.scaled(i) for i in range(100)] == [3 * i for i in range(100)]
print(COMPILED.count("scaled.<locals>.<lambda>"))
adders = [reach.make_adder(k) for k in range(100)]
assert not any(is_native(a) for a in adders) and adders[7](1) == 8
print(COMPILED.count("make_adder.<locals>.add"))
rows = {r.qualname: r for r in jitimport.report() if r.module == "reach"}
print(sorted(q for q, r in rows.items() if r.native))
print(rows["make_adder.<locals>.add"].reason)
'''
    for run in range(2):  # the second run reads the transformed code from the pyc cache
        env = base_env()
        del env["PYTHONDONTWRITEBYTECODE"]
        result = run_code(code, cwd, env).ok()
        # One compile per site, however many instances; none on the second run, which loads
        # every site (the refusal too) from the machine-code cache.
        assert result.lines[:3] == (["1 0", "1", "1"] if run == 0 else ["0 0", "0", "0"])
        assert result.lines[3] == str(["<lambda> (line 2)", "<lambda> (line 3)", "main.<locals>.helper",
                                       "scaled.<locals>.<lambda> (line 19)"])
        assert "closure variable 'k'" in result.lines[4]


def test_nested_instances_with_other_defaults_or_globals_compile_again(tree) -> None:
    cwd = tree({"variants.py": '''
        # minijit: native
        def make(d):
            def f(x, k=d):
                return x * k
            return f
    '''})
    result = run_code(COUNTING + '''
jitimport.install()
import variants
from jitimport import is_native
fs = [variants.make(d) for d in (2, 2, 3, 3, 2, "ab")]
assert all(is_native(f) for f in fs) and [f(5) for f in fs] == [10, 10, 15, 15, 10, 5 * "ab"]
print(COMPILED.count("make.<locals>.f"))
''', cwd).ok()
    assert result.lines == ["4"]  # 2 (reused), 3 (reused), 2 again, then a non-int default


PLAIN = '''
def twice(x):
    return 2 * x
'''


def test_include_module_compiles_again_on_reload_and_reimport(tree) -> None:
    cwd = tree({"inc.py": PLAIN})
    result = run_code(COUNTING + '''
import importlib, sys
jitimport.install(include=["inc"])
import inc
first = inc.twice
importlib.reload(inc)
second = inc.twice
del sys.modules["inc"]
import inc
third = inc.twice
print([jitimport.is_native(f) for f in (first, second, third)], len({id(first), id(second), id(third)}))
print(COMPILED.count("twice"), third(21))
''', cwd).ok()
    assert result.lines == ["[True, True, True] 3", "3 42"]


LATER = '''
# minijit: native
import jitimport


def branchy(x):
    if x < 0:
        return 0
    return x + K


AT_DEFINITION = jitimport.info(branchy).unbound_globals


def plus_k(x):
    return x + K


PLUS_K_AT_DEFINITION = jitimport.is_native(plus_k)
alias = plus_k
shifted = lambda x: x - K


def caller(x):
    return helper(x) + 1


class Box:
    def grow(self, x):
        return x + K

    @staticmethod
    def s(x):
        return x * K


def helper(x):
    return x * 3


def chosen(x):
    return x + K


def other(x):
    return x


chosen = other  # the module's own rebinding wins over the hook's second compile
K = 5
'''


def test_globals_bound_later_in_the_module_are_reached(tree) -> None:
    cwd = tree({"later.py": LATER})
    result = run_code('''
import jitimport
jitimport.install()
import later
from jitimport import info, is_native
print(sorted(later.AT_DEFINITION), later.PLUS_K_AT_DEFINITION)
for name in ("branchy", "plus_k", "shifted", "caller"):
    f = getattr(later, name)
    print(name, is_native(f), sorted(info(f).unbound_globals))
print(later.branchy(1), later.plus_k(1), later.shifted(1), later.caller(2), later.alias is later.plus_k)
print(is_native(later.Box.__dict__["grow"]), later.Box().grow(1), is_native(later.Box.s), later.Box.s(2))
rows = {r.qualname: r.native for r in jitimport.report() if r.module == "later"}
print(rows["plus_k"], rows["caller"], rows["Box.grow"], rows["<lambda> (line 20)"])
print(later.chosen.__name__, later.chosen(1))
''', cwd).ok()
    assert result.lines == [
        "['K'] False",
        "branchy True []", "plus_k True []", "shifted True []", "caller True []",
        "6 6 -4 7 True",
        "True 6 True 10",
        "True True True True",
        "other 1",
    ]
