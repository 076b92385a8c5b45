"""``python -m jitimport X`` against plain ``python X`` (issue 9, defect 5).

Every test runs the same program both ways in fresh interpreters and compares
what a program can see (``sys.argv``, ``sys.path``, its ``__main__``
namespace, ``__annotations__``), what the user sees (stdout, stderr with the
traceback's frames) and the exit status.  Comparing against the running
interpreter keeps the tests free of version tables: whatever CPython does on
3.11, 3.12 or 3.13, the runner must do the same.
"""
from __future__ import annotations

import os
import py_compile
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ._util import Result, base_env

#: Prints what a program can observe about how it was started (no object addresses).
PROBE = '''
import sys
ns = dict(globals())
print("argv", sys.argv)
print("path", sys.path)
print("file", ns.get("__file__", "<absent>"), "cached", ns.get("__cached__", "<absent>"))
loader = ns.get("__loader__")
print("loader", loader.__name__ if isinstance(loader, type) else type(loader).__name__)
print("spec", getattr(ns.get("__spec__"), "name", None), "package", ns.get("__package__"))
print("globals", list(ns))
print("annotations", ns.get("__annotations__", "<absent>"))
print("read", __annotations__)
'''

ANNOTATED = '''
count: int = 3
label: str
print(__annotations__, count)
'''


def run_both(cwd: Path, args: list[str], flags: tuple[str, ...] = (), stdin: str | None = None,
             python: str = sys.executable, env: dict[str, str] | None = None) -> tuple[Result, Result]:
    """``python *flags *args`` and ``python *flags -m jitimport *args`` in ``cwd``."""
    def one(argv: list[str]) -> Result:
        proc = subprocess.run([python, *flags, *argv], cwd=cwd, env=env or base_env(), input=stdin,
                              capture_output=True, text=True, timeout=60)
        return Result(proc)
    return one(args), one(["-m", "jitimport", *args])


def assert_same(plain: Result, hooked: Result) -> None:
    assert (hooked.returncode, hooked.stdout, hooked.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def test_symlinked_script_gets_the_real_directory_on_sys_path(tree) -> None:
    cwd = tree({"real/probe.py": PROBE, "real/helper.py": "WHERE = 'real'\n",
                "links/helper.py": "WHERE = 'links'\n"})
    (cwd / "links" / "probe.py").symlink_to(Path("..", "real", "probe.py"))
    (cwd / "abs.py").symlink_to(cwd / "links" / "probe.py")  # a link to a link, by absolute path
    for script in ("links/probe.py", "abs.py", "./real/../links/probe.py"):
        plain, hooked = run_both(cwd, [script])
        assert_same(plain, hooked)
        assert f"path [{str(cwd / 'real')!r}" in plain.stdout
    # The script's imports resolve from the target's directory, as with plain python.
    (cwd / "links" / "main.py").symlink_to(Path("..", "real", "main.py"))
    (cwd / "real" / "main.py").write_text("import helper\nprint(helper.WHERE)\n")
    plain, hooked = run_both(cwd, ["links/main.py"])
    assert_same(plain, hooked)
    assert plain.stdout == "real\n"


def test_file_is_as_given_made_absolute_not_normalized(tree) -> None:
    cwd = tree({"sub/probe.py": PROBE})
    plain, hooked = run_both(cwd, ["./sub/../sub/probe.py", "x"])
    assert_same(plain, hooked)
    assert f"file {cwd}/./sub/../sub/probe.py cached None" in plain.stdout


@pytest.mark.parametrize("flag", ["-P", "-I"])
def test_safe_path_and_isolated_leave_sys_path_alone(tree, pth_python: str, flag: str) -> None:
    cwd = tree({"app/probe.py": PROBE, "dirapp/__main__.py": PROBE, "pkg/__init__.py": "",
                "pkg/probe.py": PROBE})
    # -I ignores PYTHONPATH: that interpreter finds jitimport through a .pth in its site-packages.
    python = pth_python if flag == "-I" else sys.executable
    for args in (["app/probe.py", "a"], ["dirapp", "b"], ["-m", "pkg.probe", "c"]):
        plain, hooked = run_both(cwd, args, flags=(flag,), python=python)
        assert_same(plain, hooked)
        if args[0] == "-m":  # -m finds nothing in the current directory under -P / -I: the same error
            assert plain.returncode == 1 and "No module named 'pkg'" in plain.stderr
            continue
        path_line = next(line for line in plain.stdout.splitlines() if line.startswith("path "))
        assert plain.returncode == 0 and str(cwd / "app") not in path_line


def test_annotations_in_every_mode(tree) -> None:
    cwd = tree({"probe.py": PROBE, "annotated.py": ANNOTATED, "app/__main__.py": PROBE,
                "pkg/__init__.py": "", "pkg/probe.py": PROBE, "pkg/annotated.py": ANNOTATED,
                "native.py": "# minijit: native\n" + ANNOTATED})
    for args in (["probe.py"], ["annotated.py"], ["native.py"], ["app"], ["-m", "pkg.probe"], ["-m", "pkg.annotated"]):
        plain, hooked = run_both(cwd, args)
        assert_same(plain, hooked)
        assert plain.returncode == 0
    assert plain.stdout == "{'count': <class 'int'>, 'label': <class 'str'>} 3\n"


def test_module_argv_while_it_is_found(tree) -> None:
    # Plain python -m: sys.argv[0] is "-m" while the parent package imports, then the module's file.
    cwd = tree({"pkg/__init__.py": "import sys\nprint('parent', sys.argv)\n",
                "pkg/tool.py": "import sys\nprint('tool', sys.argv)\n"})
    plain, hooked = run_both(cwd, ["-m", "pkg.tool", "x"])
    assert_same(plain, hooked)
    assert plain.stdout.startswith("parent ['-m', 'x']\n")


def test_zip_app_and_directory(tree) -> None:
    cwd = tree({"dirapp/__main__.py": PROBE})
    with zipfile.ZipFile(cwd / "app.bin", "w") as zf:  # a zip app is recognised by content, not by name
        zf.writestr("__main__.py", PROBE)
    for args in (["dirapp", "1"], ["./dirapp/", "2"], ["app.bin", "3"]):
        plain, hooked = run_both(cwd, args)
        assert_same(plain, hooked)
        assert plain.returncode == 0
    (cwd / "empty").mkdir()
    plain, hooked = run_both(cwd, ["empty"])
    assert_same(plain, hooked)
    assert plain.returncode == 1 and "can't find '__main__' module" in plain.stderr


STDIN_PROGRAM = '''
# minijit: native
import sys


def sq(x):
    return x * x


print(sq(12))
''' + PROBE


def test_dash_reads_the_program_from_stdin(tree) -> None:
    cwd = tree({})
    plain, hooked = run_both(cwd, ["-", "a", "b"], stdin=STDIN_PROGRAM)
    assert_same(plain, hooked)
    assert "argv ['-', 'a', 'b']" in plain.stdout and "file <stdin> cached None" in plain.stdout
    assert "loader BuiltinImporter" in plain.stdout
    native = subprocess.run([sys.executable, "-m", "jitimport", "-"], cwd=cwd, env=base_env(), text=True,
                            input=STDIN_PROGRAM + "import jitimport\nprint(jitimport.is_native(sq))\n",
                            capture_output=True, timeout=60)
    assert native.returncode == 0 and native.stdout.endswith("True\n")
    plain, hooked = run_both(cwd, ["-"], stdin="def f():\n    1/0\n\nf()\n")
    assert_same(plain, hooked)
    assert plain.returncode == 1 and 'File "<stdin>", line 2, in f' in plain.stderr


RAISES = '''
import sys


def deep(kind):  # minijit: skip
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "error":
        raise ValueError("boom")
    sys.exit(int(kind) if kind.isdigit() else kind)


deep(sys.argv[1])
'''


@pytest.mark.parametrize("kind", ["interrupt", "error", "7", "bye"])
def test_uncaught_exceptions_show_only_the_programs_frames(tree, kind: str) -> None:
    cwd = tree({"raises.py": RAISES, "pkg/__init__.py": "", "pkg/raises.py": RAISES,
                "native.py": "# minijit: native\n" + RAISES})
    for args in (["raises.py", kind], ["native.py", kind], ["-m", "pkg.raises", kind]):
        plain, hooked = run_both(cwd, args)
        assert_same(plain, hooked)
        assert "jitimport" not in hooked.stderr
    expected = {"interrupt": -signal.SIGINT, "error": 1, "7": 7, "bye": 1}[kind]
    assert plain.returncode == expected


BROKEN = "# minijit: native\n\n\ndef f(a, b):\n    return a +* b\n"


def test_syntax_error_in_the_script(tree) -> None:
    cwd = tree({"broken.py": BROKEN, "plain_broken.py": BROKEN[len("# minijit: native\n"):],
                "pkg/__init__.py": "", "pkg/broken.py": "x = (\n"})
    for args in (["broken.py"], ["plain_broken.py"], ["-m", "pkg.broken"]):
        plain, hooked = run_both(cwd, args)
        assert_same(plain, hooked)
        assert plain.returncode == 1 and "SyntaxError" in plain.stderr


def test_syntax_error_in_an_imported_pragma_module_is_reported_once(tree) -> None:
    cwd = tree({"broken.py": BROKEN, "main.py": "import broken\n"})
    plain, hooked = run_both(cwd, ["main.py"])
    assert hooked.returncode == plain.returncode == 1
    assert "During handling" not in hooked.stderr
    assert hooked.stderr.count("Traceback (most recent call last)") == 1
    assert hooked.stderr.count("SyntaxError") == 1
    # The import line, then the error exactly as plain python shows it.  (Between them the
    # hooked run still lists the import system's frames around the hook's loader: the
    # interpreter hides those only when every frame of the chain is the import system's.)
    assert hooked.stderr.splitlines()[:3] == plain.stderr.splitlines()[:3]
    assert hooked.stderr.splitlines()[-4:] == plain.stderr.splitlines()[-4:]


ATEXIT = '''
import atexit, sys
atexit.register(lambda: print("at exit:", globals().get("__file__", "<absent>"),
                              globals().get("__cached__", "<absent>")))
if sys.argv[1] == "exit":
    sys.exit(0)
if sys.argv[1] == "raise":
    raise LookupError
'''


@pytest.mark.parametrize("how", ["end", "exit", "raise"])
def test_file_is_removed_when_the_script_ends(tree, how: str) -> None:
    # CPython deletes __file__ and __cached__ from __main__ once the script returned (or raised),
    # but not when it called sys.exit(): atexit handlers see the difference.
    cwd = tree({"ax.py": ATEXIT})
    plain, hooked = run_both(cwd, ["ax.py", how])
    assert_same(plain, hooked)


def test_compiled_script(tree) -> None:
    cwd = tree({"probe.py": PROBE})
    py_compile.compile(str(cwd / "probe.py"), cfile=str(cwd / "probe.pyc"), doraise=True)
    os.replace(cwd / "probe.pyc", cwd / "compiled.pyc")
    (cwd / "bad.pyc").write_bytes(b"\0\0\0\0" * 8)
    (cwd / "noext").write_bytes((cwd / "compiled.pyc").read_bytes())  # recognised by its magic number
    for args in (["compiled.pyc"], ["bad.pyc"], ["noext"]):
        plain, hooked = run_both(cwd, args)
        assert_same(plain, hooked)
    assert plain.returncode == 0 and "loader SourcelessFileLoader" in plain.stdout


def test_missing_script_and_module(tree) -> None:
    cwd = tree({})
    for args in (["nope.py"], ["./sub/../nope.py"], ["-m", "no_such_module_xyz"]):
        plain, hooked = run_both(cwd, args)
        assert_same(plain, hooked)
        assert plain.returncode in (1, 2)
