"""Call statistics (issue 13 item 3): ``jitimport.stats()`` counts every call of a native and each
fallback by its cause, exactly; the exit report, pytest's ``--jitimport-report`` and
``annotate --stats`` (through ``python -m jitimport --stats-out``) show them.

The counting itself is machine code (``backend/codegen.py``: one ``add`` at entry, one on each cold
exit path); these tests call natives in every way that leaves the machine code and check that each
call is counted once, under the cause that made it leave.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import jitimport
from jitimport import callstats
from jitimport.backend.codegen import COUNTERS

SRC = Path(jitimport.__file__).resolve().parent.parent

CALL, TYPE, RANGE = COUNTERS["call"], COUNTERS["type"], COUNTERS["range"]
DEFAULT, GUARD, OPERATION = COUNTERS["default"], COUNTERS["guard"], COUNTERS["operation"]

MODULE = '''
K = 5
T = (10, 20, 30)

def plain(a, b):
    return a * b + K

def div(a, b):
    return a // b

def checked(x):
    if x < 0:
        raise ValueError("negative")
    return x + 1

def table(i):
    return T[i]

def big_default(a, b=2**70):
    return a + b

def small_default(a, b=3):
    return a + b

def spin(n):
    total = 0
    for i in range(n):
        total += i & 7
    return total
'''


def compiled(source: str = MODULE, name: str = "csmod") -> dict[str, Any]:
    """The functions of ``source`` (run in a fresh namespace named ``name``), each compiled."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(textwrap.dedent(source), f"<{name}>", "exec"), namespace)
    for key, value in list(namespace.items()):
        if callable(value) and getattr(value, "__module__", None) == name:
            namespace[key] = jitimport.compile_native(value)
    return namespace


def one(fn: Any) -> callstats.CallStats:
    [row] = jitimport.stats(fn)
    return row


def raises(fn: Any, *args: Any, **kwargs: Any) -> BaseException:
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # the original's own exception, passed through
        return exc
    raise AssertionError("expected an exception")


def test_native_calls_are_counted() -> None:
    ns = compiled()
    plain = ns["plain"]
    assert one(plain).calls == 0
    for i in range(1000):
        assert plain(i, 3) == i * 3 + 5
    row = one(plain)
    assert (row.module, row.qualname) == ("csmod", "plain")
    assert (row.calls, row.native, row.fallback, row.fallbacks) == (1000, 1000, 0, {})
    assert not row.mostly_falls_back


def test_each_argument_cause_is_counted_exactly() -> None:
    plain = compiled()["plain"]
    assert plain(a=2, b=3) == 11                      # keyword arguments
    assert plain(2, b=3) == 11
    assert isinstance(raises(plain, 1, 2, 3), TypeError)   # wrong argument count
    assert isinstance(raises(plain, 1), TypeError)
    assert plain(1.5, 2) == 8.0                       # not an int
    assert plain(True, True) == 6                     # a bool is not an exact int
    assert plain(2**70, 1) == 2**70 + 5               # past 64 bits
    assert plain(1, -(2**64)) == -(2**64) + 5
    assert plain(2, 3) == 11                          # native
    row = one(plain)
    assert row.fallbacks == {CALL: 4, TYPE: 2, RANGE: 2}
    assert (row.calls, row.native, row.fallback) == (9, 1, 8)
    assert row.mostly_falls_back


def test_overflow_and_zero_division_are_operation_exits() -> None:
    ns = compiled()
    plain, div = ns["plain"], ns["div"]
    assert plain(2**62, 4) == 2**64 + 5               # the product overflows 64 bits
    assert isinstance(raises(div, 1, 0), ZeroDivisionError)
    assert isinstance(raises(div, 7, 0), ZeroDivisionError)
    assert div(7, 2) == 3
    assert one(plain).fallbacks == {OPERATION: 1}
    assert one(div).fallbacks == {OPERATION: 2} and one(div).native == 1


def test_a_raise_path_is_counted_with_its_line() -> None:
    checked = compiled()["checked"]
    line = jitimport.original(checked).__code__.co_firstlineno + 2   # the `raise` statement
    for x in range(-3, 0):
        assert str(raises(checked, x)) == "negative"
    assert checked(4) == 5
    row = one(checked)
    [(cause, count)] = row.fallbacks.items()
    assert count == 3 and cause.startswith(f"line {line}: raise")
    assert (row.calls, row.native) == (4, 1)
    assert row.warning() == f"runs slower than Python: most calls fall back — because {cause}"


def test_a_table_index_out_of_range_is_counted_with_its_line() -> None:
    table = compiled()["table"]
    line = jitimport.original(table).__code__.co_firstlineno + 1
    assert table(-1) == 30 and table(0) == 10
    assert str(raises(table, 3)) == "tuple index out of range"
    row = one(table)
    [(cause, count)] = row.fallbacks.items()
    assert count == 1 and cause.startswith(f"line {line}: tuple index out of range")
    assert row.native == 2


def test_unusable_defaults_and_reassigned_defaults() -> None:
    ns = compiled()
    big, small = ns["big_default"], ns["small_default"]
    assert big(1) == 2**70 + 1                        # a default past 64 bits: Python decides
    assert big(1, 2) == 3                             # not using it: native
    assert small(1) == 4                              # a usable default: native
    jitimport.original(small).__defaults__ = (10,)
    assert small(1) == 11                             # the original's new defaults
    assert small(1, 1) == 2
    assert one(big).fallbacks == {DEFAULT: 1} and one(big).native == 1
    assert one(small).fallbacks == {DEFAULT: 1} and one(small).native == 2


def test_a_rebound_module_constant_is_a_guard_exit() -> None:
    ns = compiled()
    plain = ns["plain"]
    assert plain(1, 1) == 6
    ns["K"] = 7
    assert plain(1, 1) == 8 and plain(2, 1) == 9      # the original, with the new value
    ns["K"] = 5
    assert plain(1, 1) == 6                           # bound back to the compiled object: native again
    row = one(plain)
    assert row.fallbacks == {GUARD: 2} and (row.calls, row.native) == (4, 2)


def test_reset() -> None:
    ns = compiled()
    plain = ns["plain"]
    plain(1, 2), plain(1.5, 2)
    jitimport.callstats.reset()
    assert (one(plain).calls, one(plain).fallbacks) == (0, {})
    plain(1, 2)
    assert (one(plain).calls, one(plain).native) == (1, 1)


def test_stats_of_one_function_and_of_all() -> None:
    ns = compiled(name="csmod_all")
    ns["plain"](1, 2)
    mine = [row for row in jitimport.stats() if row.module == "csmod_all"]
    assert [row.qualname for row in mine] == sorted(["plain", "div", "checked", "table", "big_default",
                                                     "small_default", "spin"])
    assert [row.qualname for row in jitimport.stats(ns["plain"])] == ["plain"]
    assert jitimport.stats(jitimport.original(ns["plain"])) == []    # not a native
    assert jitimport.stats(len) == []


def test_natives_that_die_disappear() -> None:
    ns = compiled(name="csmod_dies")
    ns["plain"](1, 2)
    assert any(row.module == "csmod_dies" for row in jitimport.stats())
    ns.clear()
    gc.collect()
    assert not any(row.module == "csmod_dies" for row in jitimport.stats())


def test_counts_are_exact_under_threads() -> None:
    """Two threads, 10000 calls each: 20000.  The counter is a plain (not atomic) ``add`` to
    memory, and that is enough: a native counts only while it holds the GIL (its loops release the
    GIL at a poll, between iterations, never in the middle of a count)."""
    ns = compiled()
    plain, spin = ns["plain"], ns["spin"]
    start = threading.Barrier(2)

    def calls() -> None:
        start.wait()
        for i in range(10000):
            plain(i, 2)
        for _ in range(50):
            spin(200_000)            # polls (and releases the GIL) 3 times per call
        plain(1.5, 2)

    threads = [threading.Thread(target=calls) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (one(plain).calls, one(plain).native, one(plain).fallbacks) == (20002, 20000, {TYPE: 2})
    assert (one(spin).calls, one(spin).native) == (100, 100)


def test_write_json_format(tmp_path: Path) -> None:
    ns = compiled(name="csmod_json")
    plain = ns["plain"]
    plain(1, 2), plain(1.5, 2), plain(2**70, 2)
    path = tmp_path / "stats.json"
    callstats.write_json(str(path), "csmod_json")
    data = json.loads(path.read_text())
    assert data["plain"] == {"native": 1, "fallback": 2, "fallbacks": {TYPE: 1, RANGE: 1}}
    assert data["div"] == {"native": 0, "fallback": 0, "fallbacks": {}}
    assert set(data) == {"plain", "div", "checked", "table", "big_default", "small_default", "spin"}
    everything = tmp_path / "all.json"
    callstats.write_json(str(everything))
    assert json.loads(everything.read_text())["csmod_json:plain"] == data["plain"]
    # What annotate reads: the same counts.
    from jitimport.annotate import load_stats, stats_for

    counts = stats_for(load_stats(str(everything)), "csmod_json", "plain")
    assert counts is not None and (counts.native, counts.fallback) == (1, 2)
    assert counts.fallbacks == ((RANGE, 1), (TYPE, 1))
    assert load_stats(str(path))["plain"] == counts


def test_natives_compiled_again_are_added_up(tmp_path: Path) -> None:
    first, second = compiled(name="csmod_twice"), compiled(name="csmod_twice")
    first["plain"](1, 2), second["plain"](1, 2), second["plain"](1.5, 2)
    merged = callstats.merged(jitimport.stats())[("csmod_twice", "plain")]
    assert (merged.calls, merged.native, merged.fallbacks) == (3, 2, {TYPE: 1})
    path = tmp_path / "s.json"
    callstats.write_json(str(path), "csmod_twice")
    assert json.loads(path.read_text())["plain"]["native"] == 2


# --- in other processes: the hook, the exit report, --stats-out and annotate, pytest ------------------

def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JITIMPORT", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=child_env(**extra), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


GEO = '''
# minijit: native
def area(w, h):
    return w * h


def half(x):
    if x < 0:
        raise ValueError("negative")
    return x // 2


def unused(x):
    return x + 1


def kept(x):  # minijit: skip
    return x
'''

PLAIN_LIB = '''
def triple(x):
    return 3 * x
'''

MAIN = '''
import geo
import plainlib
for i in range(10):
    geo.area(i, 2)
for i in range(5):
    try:
        geo.half(-i - 1)
    except ValueError:
        pass
geo.half(4)
geo.area(1.5, 2)
plainlib.triple(4)
'''


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text.lstrip("\n"))
    return root


def test_natives_of_the_hook_appear_with_their_module(tmp_path: Path) -> None:
    cwd = tree(tmp_path, {"geo.py": GEO, "plainlib.py": PLAIN_LIB})
    code = ("import jitimport\njitimport.install(include=['plainlib'])\n" + MAIN +
            "print(sorted((r.module, r.qualname, r.calls, r.native) for r in jitimport.stats()))\n")
    out = run(["-c", code], cwd).stdout
    assert eval(out) == [("geo", "area", 11, 10), ("geo", "half", 6, 1), ("geo", "unused", 0, 0),
                         ("plainlib", "triple", 1, 1)]


def test_the_exit_report_shows_calls_and_flags_functions_that_mostly_fall_back(tmp_path: Path) -> None:
    cwd = tree(tmp_path, {"geo.py": GEO, "plainlib.py": PLAIN_LIB, "main.py": MAIN})
    report = run(["-m", "jitimport", "--report", "main.py"], cwd).stderr
    assert report.startswith("jitimport report: 3 function(s) native, 1 kept in Python\n"), report
    lines = report.splitlines()
    area = lines.index("    native  area    11 calls: 10 native, 1 fell back")
    assert lines[area + 1].split(None, 1) == ["1", TYPE]
    half = lines.index("    native  half    6 calls: 1 native, 5 fell back")
    assert lines[half + 1].split(None, 1)[0] == "5" and "line 8: raise statement" in lines[half + 1]
    assert lines[half + 2].strip() == ("! runs slower than Python: most calls fall back — because "
                                       + lines[half + 1].split(None, 1)[1])
    assert "    native  unused\n" in report              # never called: no counts
    assert "    python  kept    skipped by '# minijit: skip'" in report
    assert report.count("runs slower than Python") == 1  # area: 1 of 11 fell back, not flagged
    # JITIMPORT_REPORT=1 prints the same report.
    assert run(["-c", "import jitimport; jitimport.install()\n" + MAIN], cwd, JITIMPORT_REPORT="1").stderr == report


def test_stats_out_then_annotate_shows_the_counts(tmp_path: Path) -> None:
    cwd = tree(tmp_path, {"geo.py": GEO, "plainlib.py": PLAIN_LIB, "main.py": MAIN})
    run(["-m", "jitimport", "--stats-out", "stats.json", "main.py"], cwd)
    data = json.loads((cwd / "stats.json").read_text())
    assert data["geo:area"] == {"native": 10, "fallback": 1, "fallbacks": {TYPE: 1}}
    assert data["geo:half"]["native"] == 1 and data["geo:half"]["fallback"] == 5
    assert "plainlib:triple" not in data                 # no pragma, no include=: not native
    page = cwd / "geo.html"
    run(["-m", "jitimport", "annotate", "geo.py", "--stats", "stats.json", "-o", str(page)], cwd)
    html = page.read_text()
    assert f'<div class="stats">calls: 10 native, 1 fell back (9% fell back) — 1 {TYPE}</div>' in html
    assert "calls: 1 native, 5 fell back (83% fell back) — 5 line 8: raise statement" in html
    assert "Runs slower than Python: most calls fall back" in html
    text = run(["-m", "jitimport", "annotate", "geo.py", "--stats", "stats.json", "--text"], cwd).stdout
    lines = text.splitlines()
    area = next(i for i, line in enumerate(lines) if line.endswith("N  def area(w, h):"))
    assert lines[area + 1].strip() == f"calls: 10 native, 1 fell back (9% fell back) — 1 {TYPE}"


def test_stats_out_of_a_main_script_annotates_that_script(tmp_path: Path) -> None:
    cwd = tree(tmp_path, {"app.py": "# minijit: native\ndef sq(x):\n    return x * x\n\n\n"
                                    "if __name__ == '__main__':\n    print(sum(sq(i) for i in range(7)))\n"})
    (cwd / "out").mkdir()
    assert run(["-m", "jitimport", "--stats-out=out/s.json", "app.py"], cwd).stdout == "91\n"
    assert json.loads((cwd / "out" / "s.json").read_text()) == {
        "__main__:sq": {"native": 7, "fallback": 0, "fallbacks": {}}}
    text = run(["-m", "jitimport", "annotate", "app.py", "--stats", "out/s.json", "--text"], cwd).stdout
    assert "calls: 7 native, 0 fell back (0% fell back)" in text


def test_stats_out_needs_a_file_name(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "jitimport", "--stats-out"], cwd=tmp_path, env=child_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "argument --stats-out: expected a file name" in result.stderr


PYTEST_PROJECT = {
    "mylib.py": "# minijit: native\ndef foo(a, b):\n    return a * a - b * b\n",
    "test_m.py": textwrap.dedent('''
        import pytest
        import mylib

        @pytest.mark.parametrize("i", range(8))
        def test_native(i):
            assert mylib.foo(i, 1) == i * i - 1

        @pytest.mark.parametrize("i", range(4))
        def test_float(i):
            assert mylib.foo(i + 0.5, 0) == (i + 0.5) ** 2
    '''),
}


def run_pytest(tmp_path: Path, *args: str) -> str:
    tree(tmp_path, PYTEST_PROJECT)
    plugin = [] if _entry_point_installed() else ["-p", "jitimport.pytest_plugin"]
    result = subprocess.run([sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider",
                             "-q", "--jitimport", "--jitimport-report", *args], cwd=tmp_path, env=child_env(),
                            capture_output=True, text=True, timeout=600)
    assert "12 passed" in result.stdout, result.stdout + result.stderr
    return result.stdout[result.stdout.index("= jitimport ="):]


def _entry_point_installed() -> bool:
    """Installed (tox), pytest loads the plugin through its entry point; from the source tree, ``-p``."""
    import importlib.metadata

    return any(ep.value == "jitimport.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))


@pytest.mark.parametrize("workers", [None, "2"])
def test_pytest_report_section_shows_the_counts(tmp_path: Path, workers: str | None) -> None:
    if workers is not None:
        pytest.importorskip("xdist", reason="pytest-xdist is not installed: the xdist case needs it")
    section = run_pytest(tmp_path, *(["-n", workers] if workers else []))
    lines = [" ".join(line.split()) for line in section.splitlines()]
    # 12 calls in all, however the tests were spread over the workers: their counts are added up.
    assert "mylib.foo 12 calls: 8 native, 4 fell back" in lines, section
    assert f"4 {TYPE}" in lines
    assert not any("runs slower than Python" in line for line in lines)
