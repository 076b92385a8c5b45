"""End-to-end behaviour of the hook in fresh interpreters, with the real compiler."""
from __future__ import annotations

import marshal
import re
import sys
import textwrap
import zipfile

import pytest

from jitimport.hook.loader import CACHE_TAG
from jitimport.hook.transform import SWAP_MARKER

from ._util import INSTALLED, PACKAGE_PARENT, REPO, base_env, run, run_code

GEO = '''
# minijit: native
"""Integer geometry (the pragma comes before the docstring)."""


def area(w, h):
    return w * h


OPS = {"area": area}
alias = area


CONFIG = {3: 9}


def uses_global(x):
    return CONFIG[x]


class Box:
    @staticmethod
    def volume(a, b, c):
        return a * b * c

    def scaled(self, k):
        return k * 3


def kept(x):  # minijit: skip
    return x + 1
'''

PLAIN = '''
"""No pragma here: the text below is in a string and after code."""
TEXT = "# minijit: native"
# minijit: native


def f(a, b):
    return a * b
'''


def test_install_compiles_pragma_modules_and_leaves_others_untouched(tree) -> None:
    cwd = tree({"geo.py": GEO, "plain.py": PLAIN})
    result = run_code('''
        import pickle, sys, types
        from importlib.machinery import SourceFileLoader
        import jitimport
        jitimport.install()
        import geo, plain
        assert jitimport.is_native(geo.area) and geo.area(6, 7) == 42
        assert geo.OPS["area"] is geo.area and geo.alias is geo.area
        assert not jitimport.is_native(geo.uses_global) and geo.uses_global(3) == 9
        assert jitimport.is_native(geo.Box.__dict__["volume"].__func__) and geo.Box.volume(2, 3, 4) == 24
        assert jitimport.is_native(geo.Box.__dict__["scaled"]) and geo.Box().scaled(5) == 15
        assert type(geo.kept) is types.FunctionType
        assert pickle.loads(pickle.dumps(geo.area)) is geo.area
        assert type(plain.__spec__.loader) is SourceFileLoader and type(plain.f) is types.FunctionType
        assert plain.__cached__.endswith(".cpython-%d%d.pyc" % sys.version_info[:2])
        rows = {(r.module, r.qualname): r for r in jitimport.report()}
        assert not any(module == "plain" for module, _ in rows)
        print(rows["geo", "area"].native, rows["geo", "Box.volume"].native, rows["geo", "kept"].reason)
        print(rows["geo", "uses_global"].native, rows["geo", "uses_global"].reason)
    ''', cwd).ok()
    assert result.lines[0] == "True True skipped by '# minijit: skip'"
    assert result.lines[1].startswith("False line ")
    assert result.stderr == ""


SCRIPT = '''
# minijit: native
import sys


def sq(x):
    return x * x


TABLE = [sq]


def main():
    import jitimport
    print(__name__, sys.argv, sys.path[0] == __file__.rsplit("/", 1)[0])
    print("native", jitimport.is_native(sq), jitimport.is_native(TABLE[0]))
    if "--fail" in sys.argv:
        raise ValueError("boom " + str(sq(7)))
    return 3


if __name__ == "__main__":
    sys.exit(main())
'''


def test_script_mode_argv_name_exit_code(tree) -> None:
    cwd = tree({"app/script.py": SCRIPT})
    hooked = run(["-m", "jitimport", "app/script.py", "a", "-x"], cwd)
    plain = run(["app/script.py", "a", "-x"], cwd)
    assert hooked.returncode == plain.returncode == 3
    assert hooked.lines[0] == plain.lines[0] == "__main__ ['app/script.py', 'a', '-x'] True"
    assert hooked.lines[1] == "native True True" and plain.lines[1] == "native False False"


def test_script_mode_uncaught_exception_as_plain_python(tree) -> None:
    cwd = tree({"script.py": SCRIPT})
    hooked = run(["-m", "jitimport", "script.py", "--fail"], cwd)
    plain = run(["script.py", "--fail"], cwd)
    assert hooked.returncode == plain.returncode == 1
    assert hooked.stderr == plain.stderr  # same traceback, no jitimport/runpy frames
    assert "ValueError: boom 49" in hooked.stderr


def test_module_mode(tree) -> None:
    cwd = tree({"pkg/__init__.py": "", "pkg/tool.py": SCRIPT})
    hooked = run(["-m", "jitimport", "-m", "pkg.tool", "b"], cwd)
    plain = run(["-m", "pkg.tool", "b"], cwd)
    assert hooked.returncode == plain.returncode == 3
    expected = f"__main__ [{str(cwd / 'pkg' / 'tool.py')!r}, 'b'] False"
    assert hooked.lines[0] == plain.lines[0] == expected
    assert hooked.lines[1] == "native True True"
    missing = run(["-m", "jitimport", "-m", "no_such_module_xyz"], cwd)
    assert missing.returncode == 1 and "No module named no_such_module_xyz" in missing.stderr


def test_report_flag_and_env(tree) -> None:
    cwd = tree({"geo.py": GEO, "main.py": "import geo\nprint(geo.area(2, 3))\n"})
    result = run(["-m", "jitimport", "--report", "main.py"], cwd).ok()
    assert result.stdout == "6\n"
    report = result.stderr
    assert report.startswith("jitimport report: 3 function(s) native, 2 kept in Python")
    assert "native  area" in report and "native  Box.volume" in report and "native  Box.scaled" in report
    assert "python  kept" in report and "skipped by '# minijit: skip'" in report
    assert "python  uses_global" in report
    assert "native  area         1 call: all native" in report  # call statistics: main.py called it once
    env_report = run_code("import jitimport; jitimport.install(); import geo; geo.area(2, 3)",
                          cwd, base_env(JITIMPORT_REPORT="1")).ok()
    assert env_report.stderr == report


def test_kill_switch_in_every_mode(tree, pth_python: str) -> None:
    cwd = tree({"geo.py": GEO, "main.py": "import jitimport, geo\nprint(jitimport.is_native(geo.area))\n"})
    env = base_env(JITIMPORT_DISABLE="1")
    assert run_code("import jitimport; jitimport.install(); exec(open('main.py').read())", cwd, env).ok().stdout == "False\n"
    assert run(["-m", "jitimport", "main.py"], cwd, env).ok().stdout == "False\n"
    env["JITIMPORT"] = "1"
    assert run(["main.py"], cwd, env, python=pth_python).ok().stdout == "False\n"


def test_env_activation_through_pth(tree, pth_python: str) -> None:
    cwd = tree({
        "geo.py": GEO,
        "main.py": '''
            import subprocess, sys
            import jitimport, geo
            print(jitimport.is_native(geo.area), jitimport.is_native(geo.OPS["area"]))
            if len(sys.argv) > 1:  # a subprocess inherits the activation
                subprocess.run([sys.executable, "main.py"], check=True)
        ''',
    })
    on = run(["main.py", "child"], cwd, base_env(JITIMPORT="1"), python=pth_python).ok()
    assert on.stdout == "True True\nTrue True\n" and on.stderr == ""
    off = run_code("import sys; print('jitimport' in sys.modules)", cwd, base_env(), python=pth_python).ok()
    assert off.stdout == "False\n"  # nothing imported when JITIMPORT is unset
    for value in ("0", "off", " False "):  # parsed by jitimport.config: recognised, so no warning
        zero = run_code("import jitimport.hook.activate as a; print(a.is_installed())", cwd,
                        base_env(JITIMPORT=value), python=pth_python)
        assert zero.ok().stdout == "False\n" and zero.stderr == ""
    bad = run(["main.py"], cwd, base_env(JITIMPORT="yes please"), python=pth_python).ok()
    assert bad.stdout == "False False\n"
    assert bad.stderr.count("JITIMPORT='yes please' is not recognised") == 1
    assert "Traceback" not in bad.stderr


def test_pth_is_installed_next_to_the_package() -> None:
    if not INSTALLED:
        pytest.skip("jitimport runs from a source tree; the wheel's .pth is checked under tox")
    pth = PACKAGE_PARENT / "jitimport.pth"
    assert pth.read_text() == (REPO / "src" / "jitimport.pth").read_text()


PROBE = '''
import importlib.resources, sys
sys.path.insert(0, "lib.zip")
import jitimport
if sys.argv[1] == "hook":
    jitimport.install()
import ns.sub, ns.plainsub, zipped, pkg, pkg.helper
for m in (ns, ns.sub, ns.plainsub, zipped, pkg, pkg.helper):
    spec = m.__spec__
    print(m.__name__, type(spec.loader).__name__, spec.origin, list(getattr(m, "__path__", [])),
          getattr(m, "__cached__", None), getattr(m, "__file__", None))
print(importlib.resources.files("pkg").joinpath("data.txt").read_text().strip())
print(importlib.resources.files("ns").joinpath("ns_data.txt").read_text().strip())
print([jitimport.is_native(f) for f in (ns.sub.f, ns.plainsub.f, zipped.f, pkg.f, pkg.helper.f)])
'''


def test_import_kinds_behave_as_without_hook(tree) -> None:
    fn = "\n\ndef f(a, b):\n    return a - b\n"
    cwd = tree({
        "probe.py": PROBE,
        "ns/sub.py": "# minijit: native" + fn,
        "ns/plainsub.py": fn,
        "ns/ns_data.txt": "namespace data",
        "pkg/__init__.py": "# minijit: native" + fn,
        "pkg/helper.py": fn,
        "pkg/data.txt": "package data",
    })
    with zipfile.ZipFile(cwd / "lib.zip", "w") as zf:
        zf.writestr("zipped.py", "# minijit: native" + fn)
    plain = run(["probe.py", "plain"], cwd).ok().lines
    hooked = run(["probe.py", "hook"], cwd).ok().lines
    jit_cached = lambda line: line.replace(f".{CACHE_TAG}.pyc", ".pyc").replace("JitSourceFileLoader", "SourceFileLoader")
    # Namespace package, plain submodules and the zip import are identical; pragma modules only
    # differ in their loader class and cache file.
    assert [jit_cached(line) for line in hooked[:-1]] == plain[:-1]
    assert hooked[1].split()[1] == "JitSourceFileLoader" and hooked[4].split()[1] == "JitSourceFileLoader"
    assert hooked[0] == plain[0] and hooked[2] == plain[2] and hooked[3] == plain[3] and hooked[5] == plain[5]
    assert plain[-1] == "[False, False, False, False, False]"
    assert hooked[-1] == "[True, False, False, True, False]"


def test_reload(tree) -> None:
    cwd = tree({"geo.py": GEO})
    result = run_code('''
        import importlib, pathlib
        import jitimport
        jitimport.install()
        import geo
        first = geo.area
        path = pathlib.Path("geo.py")
        path.write_text(path.read_text() + "\\n\\ndef added(a):\\n    return a + 1\\n")
        importlib.invalidate_caches()
        importlib.reload(geo)
        print(geo.area is not first, jitimport.is_native(geo.area), jitimport.is_native(geo.added), geo.added(1))
        print(geo.OPS["area"] is geo.area, type(geo.__spec__.loader).__name__)
    ''', cwd).ok()
    assert result.lines == ["True True True 2", "True JitSourceFileLoader"]


def test_syntax_error_is_the_plain_one(tree) -> None:
    cwd = tree({"broken.py": "# minijit: native\n\ndef f(a, b):\n    return a +* b\n"})
    code = '''
        import sys, jitimport
        if sys.argv[1:] == ["hook"]:
            jitimport.install()
        try:
            import broken
        except SyntaxError as e:
            print(type(e).__name__, e.msg, e.filename, e.lineno, e.offset, repr(e.text))
    '''
    code = textwrap.dedent(code)
    plain = run(["-c", code, "plain"], cwd).ok()
    hooked = run(["-c", code, "hook"], cwd).ok()
    assert hooked.stdout == plain.stdout and hooked.stdout.startswith("SyntaxError invalid syntax")
    assert hooked.stderr == ""


def test_a_compiler_crash_leaves_one_function_python(tree) -> None:
    cwd = tree({"geo.py": GEO})
    result = run_code('''
        import jitimport, jitimport.compiler as compiler
        real = compiler.compile_native
        def flaky(fn):
            if fn.__name__ == "volume":
                raise MemoryError("simulated compiler failure")
            return real(fn)
        compiler.compile_native = flaky
        jitimport.install()
        import geo
        print(jitimport.is_native(geo.area), jitimport.is_native(geo.Box.volume), geo.Box.volume(2, 3, 4))
    ''', cwd).ok()
    assert result.stdout == "True False 24\n"
    assert "compiling geo.Box.volume failed with MemoryError: simulated compiler failure" in result.stderr


def test_two_threads_importing_at_once(tree) -> None:
    files = {f"m{i}.py": GEO for i in range(6)}
    cwd = tree(files)
    result = run_code('''
        import importlib, threading
        import jitimport
        jitimport.install()
        barrier = threading.Barrier(2)
        errors, done = [], []
        def work(names):
            try:
                barrier.wait()
                for name in names:
                    done.append(importlib.import_module(name))
            except BaseException as exc:
                errors.append(exc)
        threads = [threading.Thread(target=work, args=(["m0", "m1", "m2", "m5"],)),
                   threading.Thread(target=work, args=(["m3", "m4", "m5"],))]
        for t in threads: t.start()
        for t in threads: t.join()
        print(errors, len(done), all(jitimport.is_native(m.area) and m.OPS["area"] is m.area for m in done))
    ''', cwd).ok()
    assert result.stdout == "[] 7 True\n"


def test_include_modules_without_pragma(tree) -> None:
    fn = "def f(a, b):\n    return a * b + 1\n\nTABLE = [f]\n"
    cwd = tree({"early.py": fn, "later.py": fn, "other.py": fn})
    result = run_code('''
        import jitimport
        import early
        jitimport.install(include=["early", "later"])
        import later, other
        print([jitimport.is_native(m.f) for m in (early, later, other)], early.f(2, 3), later.f(2, 3))
    ''', cwd).ok()
    assert result.lines[0] == "[True, True, False] 7 7"
    # The tables were built from the Python functions before the swap: that is reported.
    assert "early is in include=" in result.stderr and "f (held by a list)" in result.stderr


def test_pragma_module_imported_before_install(tree) -> None:
    cwd = tree({"geo.py": GEO})
    result = run_code('''
        import jitimport
        import geo
        from geo import area as early_ref
        jitimport.install()
        print(jitimport.is_native(geo.area), jitimport.is_native(geo.alias), jitimport.is_native(geo.Box.volume),
              jitimport.is_native(early_ref), jitimport.is_native(geo.OPS["area"]), geo.area(3, 4))
    ''', cwd).ok()
    assert result.stdout == "True True True False False 12\n"
    assert "geo was imported before install()" in result.stderr
    assert "module __main__" in result.stderr and "area (held by" in result.stderr


def test_pyc_cache_uses_its_own_tag(tree) -> None:
    cwd = tree({"geo.py": GEO})
    env = base_env()
    del env["PYTHONDONTWRITEBYTECODE"]
    check = "import sys, jitimport\nif sys.argv[1:] == ['hook']: jitimport.install()\nimport geo\nprint(jitimport.is_native(geo.area))\n"
    tag = sys.implementation.cache_tag
    cache = cwd / "__pycache__"
    assert run(["-c", check, "hook"], cwd, env).ok().stdout == "True\n"
    jit_pyc = cache / f"geo.{tag}.{CACHE_TAG}.pyc"
    assert jit_pyc.exists() and not (cache / f"geo.{tag}.pyc").exists()
    assert run(["-c", check, "plain"], cwd, env).ok().stdout == "False\n"
    plain_code = marshal.loads((cache / f"geo.{tag}.pyc").read_bytes()[16:])
    assert SWAP_MARKER not in plain_code.co_consts
    assert SWAP_MARKER in marshal.loads(jit_pyc.read_bytes()[16:]).co_consts  # cached unbound: it marshals
    stamp = jit_pyc.stat().st_mtime_ns
    assert run(["-c", check, "hook"], cwd, env).ok().stdout == "True\n"
    assert jit_pyc.stat().st_mtime_ns == stamp  # loaded from the cache, not rewritten


def test_sample_pkg_demo() -> None:
    result = run(["-m", "jitimport", "-m", "sample_pkg", "--particles", "40", "--steps", "3", "--repeat", "1"],
                 REPO).ok()
    out = result.stdout
    assert "native  xorshift32" in out and "native  Torus.wrap" in out
    assert "python  Torus.describe" in out and "results identical" in out
    assert result.stderr == ""
    # for a newcomer: what it is about to do, how to read the ratio, a refusal and its reason, what next
    assert out.startswith("jitimport demo: sample_pkg") and "What happens:" in out.split("1. Functions")[0]
    assert "lower is better" in out and "0.33x means the run took a third of" in out
    assert re.search(r"python  polygon_area2 +line \d+: call to len\(\) is not supported", out)
    assert re.search(r"ratio \(as imported / Python\): \d+\.\d\dx +\((the native run took|not faster)", out)
    tail = out[out.index("Try next:"):]
    assert "python -m jitimport annotate sample_pkg/geometry.py" in tail
