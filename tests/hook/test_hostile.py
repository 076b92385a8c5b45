"""The import hook under hostile conditions (issue 4), each case in a fresh interpreter.

Threads importing pragma modules while others call natives; a ``__pycache__``
that cannot be written; a source file that vanishes between finding and
loading; a module replaced on disk and reloaded; coverage, tracing and
profiling; executable memory refused.  In every case the program must behave
as plain Python would (values, exceptions), lose nothing, and say at most one
warning about what was skipped.
"""
from __future__ import annotations

import os
import sys

import pytest

from jitimport.support import unsupported_reason

from ._util import base_env, run

pytestmark = pytest.mark.skipif(unsupported_reason() is not None,
                                reason=f"native code unavailable: {unsupported_reason()}")

GEO = '''
# minijit: native
"""Integer geometry."""


def area(w, h):
    return w * h


def mix(a, b):
    t = a ^ b
    return (t << 3) - (a & b)


def biggest(a, b):
    return int(max(a, b))


OPS = {"area": area}


class Box:
    @staticmethod
    def volume(a, b, c):
        return a * b * c
'''


def jit_warnings(stderr: str) -> list[str]:
    """The jitimport warnings in a child's stderr (the logger's last-resort handler: one line each)."""
    return [line for line in stderr.splitlines() if line.startswith("jitimport:")]


# --- 1. threads importing while other threads call natives ---------------------------------

#: Expression templates for generated module functions; {i}/{j} make every function distinct.
EXPRS = [
    "(a * {i} + b * {j}) ^ (a >> {j})",
    "(a - b) * {j} + (b // {i}) - (a % {j})",
    "((a << 3) | (b & {j})) - a * {i}",
    "-(a ^ {i}) + (b ** 2) * {j}",
]

THREAD_CHILD = '''
import faulthandler, importlib, random, sys, threading, time
faulthandler.dump_traceback_later(45, exit=True)  # a deadlock fails loudly instead of hanging
sys.setswitchinterval(1e-5)  # switch threads as often as possible
import jitimport
jitimport.install()
import base
from gen_exprs import EXPECTED, MODULES, IMPORTERS

BASE = [(base.area, lambda a, b: a * b), (base.mix, lambda a, b: ((a ^ b) << 3) - (a & b))]
assert all(jitimport.is_native(f) for f, _ in BASE)
ARGS = [0, 1, -1, 7, -12345, 2**31, 2**62, -(2**63), 2**64 + 3, 2**100, True, 2.5]
imported, errors, calls = [], [], [0]
stop = threading.Event()
start = threading.Barrier(IMPORTERS + 5)


def check(fn, expect, a, b):
    try:
        want = ("ok", expect(a, b))
    except Exception as exc:
        want = ("exc", type(exc), str(exc))
    try:
        got = ("ok", fn(a, b))
    except Exception as exc:
        got = ("exc", type(exc), str(exc))
    if got != want or (got[0] == "ok" and type(got[1]) is not type(want[1])):
        errors.append((getattr(fn, "__qualname__", fn), a, b, got, want))


def importer(names):
    try:
        start.wait()
        for name in names:
            module = importlib.import_module(name)
            for fname, expect in EXPECTED[name].items():
                fn = getattr(module, fname)
                if not jitimport.is_native(fn):
                    errors.append((name, fname, "not native"))
                check(fn, expect, 12, 5)
            imported.append(module)
    except BaseException as exc:
        errors.append(("importer", repr(exc)))


def caller(seed):
    rng = random.Random(seed)
    try:
        start.wait()
        while not stop.is_set():
            fn, expect = rng.choice(BASE)
            check(fn, expect, rng.choice(ARGS), rng.choice(ARGS))
            if imported:  # functions compiled a moment ago, maybe in a chunk still being filled
                module = rng.choice(imported)
                fname, expect = rng.choice(sorted(EXPECTED[module.__name__].items()))
                check(getattr(module, fname), expect, rng.randrange(-99, 99), rng.randrange(1, 99))
            calls[0] += 1
    except BaseException as exc:
        errors.append(("caller", repr(exc)))


importers = [threading.Thread(target=importer, args=(MODULES[i::IMPORTERS] + ["shared"],)) for i in range(IMPORTERS)]
callers = [threading.Thread(target=caller, args=(seed,)) for seed in range(4)]
for t in importers + callers:
    t.start()
began = time.monotonic()
start.wait()
for t in importers:
    t.join(timeout=30)
assert not any(t.is_alive() for t in importers), "importer threads did not finish"
time.sleep(0.05)  # let the callers run against the complete set for a moment
stop.set()
for t in callers:
    t.join(timeout=10)
assert not any(t.is_alive() for t in callers), "caller threads did not finish"
names = sorted({m.__name__ for m in imported})
print(errors[:5])
print(len(imported), names == sorted(MODULES + ["shared"]), calls[0] > 0, round(time.monotonic() - began, 1))
'''


def test_threads_import_pragma_modules_while_others_call_natives(tree) -> None:
    importers, per_importer = 3, 4
    names = [f"m{i}" for i in range(importers * per_importer)]
    files: dict[str, str] = {"base.py": GEO, "child.py": THREAD_CHILD}
    expected: dict[str, dict[str, str]] = {}
    for i, name in enumerate(names + ["shared"], start=2):
        exprs = {f"f{j}": EXPRS[j % len(EXPRS)].format(i=i, j=j + 1) for j in range(6)}
        expected[name] = exprs
        files[f"{name}.py"] = "# minijit: native\n" + "".join(
            f"\n\ndef {f}(a, b):\n    return {e}\n" for f, e in exprs.items())
    table = ", ".join(f"{n!r}: {{{', '.join(f'{f!r}: lambda a, b: {e}' for f, e in ex.items())}}}"
                      for n, ex in expected.items())
    files["gen_exprs.py"] = f"EXPECTED = {{{table}}}\nMODULES = {names!r}\nIMPORTERS = {importers}\n"
    cwd = tree(files)
    result = run(["child.py"], cwd, timeout=90).ok()
    assert result.lines[0] == "[]", result.stdout  # every value, type and exception as in Python
    count, all_names, called, _seconds = result.lines[1].split()
    # "shared" is imported by every importer: the same module object each time.
    assert int(count) == len(names) + importers and all_names == "True" and called == "True"
    assert result.stderr == ""


# --- 2. a __pycache__ that cannot be written ----------------------------------------------

PYCACHE_CHILD = '''
import os, sys
from jitimport.hook import loader
attempts = []
real_set_data = loader.JitSourceFileLoader.set_data
def spy(self, path, data, *, _mode=0o666):
    attempts.append(self._redirect(path))
    return real_set_data(self, path, data, _mode=_mode)
loader.JitSourceFileLoader.set_data = spy
import jitimport
jitimport.install()
import geo
print(jitimport.is_native(geo.area), jitimport.is_native(geo.mix), jitimport.is_native(geo.Box.volume),
      geo.area(6, 7), geo.mix(12, 10), geo.Box.volume(2, 3, 4), jitimport.is_native(geo.biggest))
print(len(attempts), [p.endswith("." + loader.CACHE_TAG + ".pyc") for p in attempts], [os.path.exists(p) for p in attempts])
'''


@pytest.mark.parametrize("blocker", ["pycache-is-a-file", "prefix-under-a-file", "chmod-555"])
def test_unwritable_pycache(tree, blocker: str) -> None:
    if blocker == "chmod-555" and os.geteuid() == 0:
        pytest.skip("root ignores permission bits (the other two cases make the write fail for root)")
    cwd = tree({"geo.py": GEO, "child.py": PYCACHE_CHILD})
    env = base_env()
    del env["PYTHONDONTWRITEBYTECODE"]  # the loader must try to write the cache
    pycache = cwd / "__pycache__"
    if blocker == "pycache-is-a-file":
        pycache.write_text("not a directory")
    elif blocker == "prefix-under-a-file":
        (cwd / "blocker").write_text("not a directory")
        env["PYTHONPYCACHEPREFIX"] = str(cwd / "blocker")
    else:
        pycache.mkdir()
        pycache.chmod(0o555)
    try:
        for _ in range(2):  # the second run finds no cache either, and still works
            result = run(["child.py"], cwd, env).ok()
            assert result.lines[0] == "True True True 42 40 24 False"
            # The loader tried to write the transformed bytecode (under its own tag) and failed quietly.
            assert result.lines[1] == "1 [True] [False]"
            assert result.stderr == ""
    finally:
        if pycache.is_dir():
            pycache.chmod(0o755)
    if blocker == "pycache-is-a-file":
        assert pycache.read_text() == "not a directory"
    assert not list(cwd.rglob("*.pyc"))


# --- 3. a source file that vanishes between finding and loading -------------------------

VANISH_CHILD = '''
import importlib, importlib.util, os, sys
from importlib.machinery import PathFinder
import jitimport
hooked = sys.argv[1] == "hook"


class Phantom:
    """A finder whose spec points at a file that is already gone when the pragma is checked."""
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "phantom":
            return importlib.util.spec_from_file_location("phantom", os.path.abspath("phantom.py"))
        return None


sys.meta_path.insert(0, Phantom())
if hooked:
    jitimport.install()
finder = sys.meta_path[0] if hooked else PathFinder
spec = finder.find_spec("ghost", None)
print(type(spec.loader).__name__)
os.remove("ghost.py")
module = importlib.util.module_from_spec(spec)
try:
    spec.loader.exec_module(module)
except Exception as exc:
    print("exec_module:", type(exc).__name__, exc)
for name in ("ghost", "phantom"):
    try:
        importlib.import_module(name)
    except Exception as exc:
        print("import:", type(exc).__name__, exc)
    print(name in sys.modules)
import geo  # nothing else broke
print(jitimport.is_native(geo.area), geo.area(6, 7))
with open("ghost.py", "w") as fh:  # the file comes back: importing it works again
    fh.write("# minijit: native\\ndef f(a, b):\\n    return a * b - 1\\n")
importlib.invalidate_caches()
import ghost
print(jitimport.is_native(ghost.f), ghost.f(6, 7))
'''


def test_source_vanishing_between_find_and_load(tree) -> None:
    outputs = {}
    for mode in ("plain", "hook"):
        cwd = tree({"geo.py": GEO, f"{mode}.py": VANISH_CHILD,
                    "ghost.py": "# minijit: native\ndef f(a, b):\n    return a * b\n"})
        outputs[mode] = run([f"{mode}.py", mode], cwd).ok()
    plain, hooked = outputs["plain"], outputs["hook"]
    assert plain.lines[0] == "SourceFileLoader" and hooked.lines[0] == "JitSourceFileLoader"
    # Same exceptions (type and message), nothing left in sys.modules, in both runs.
    assert plain.lines[1:6] == hooked.lines[1:6]
    assert plain.lines[1].startswith("exec_module: FileNotFoundError")
    assert plain.lines[2].startswith("import: ModuleNotFoundError") and plain.lines[3] == "False"
    assert plain.lines[4].startswith("import: FileNotFoundError") and plain.lines[5] == "False"
    assert hooked.lines[6:] == ["True 42", "True 41"] and plain.lines[6:] == ["False 42", "False 41"]
    assert len(jit_warnings(hooked.stderr)) <= 1 and "Traceback" not in hooked.stderr
    assert hooked.stderr == plain.stderr == ""


# --- 4. a module replaced on disk, then reloaded ------------------------------------------

RELOAD_V1 = '''
# minijit: native
def area(w, h):
    return w * h


def clamp(x, lo):
    return x - lo


def grows(x):
    return int(max(x, 0))


OPS = {"area": area}
'''

RELOAD_V2 = '''
# minijit: native
def area(w, h):
    return w * h + 1000


def clamp(x, lo):
    return int(max(x, lo))


def grows(x):
    return x * 2


def added(a, b):
    return a ^ b


OPS = {"area": area}
'''

RELOAD_CHILD = '''
import gc, importlib, os, sys, types
import jitimport
from jitimport.hook.loader import CACHE_TAG
jitimport.install()
import geo


def replace(text, bump):
    """Replace the file atomically (new inode), with a newer mtime, as an editor or deploy would."""
    with open("geo.py.new", "w") as fh:
        fh.write(text)
    os.replace("geo.py.new", "geo.py")
    st = os.stat("geo.py")
    os.utime("geo.py", ns=(st.st_atime_ns, st.st_mtime_ns + bump * 10**9))
    importlib.invalidate_caches()


native = jitimport.is_native
old_area, old_clamp, old_grows = geo.area, geo.clamp, geo.grows
print(native(old_area), native(old_clamp), native(old_grows))
replace(open("v2.txt").read(), 5)
assert importlib.reload(geo) is geo
print(native(geo.area), geo.area(6, 7), geo.OPS["area"] is geo.area)
print(type(geo.clamp) is types.FunctionType, geo.clamp(3, 5), geo.clamp(9, 5))
print(native(geo.grows), geo.grows(21), native(geo.added), geo.added(12, 10))
rows = {r.qualname: r for r in jitimport.report() if r.module == "geo"}
print(rows["clamp"].native, rows["clamp"].reason is not None, rows["grows"].native)
del geo.area, geo.OPS, geo.clamp
gc.collect()
# References taken before the reload still run the old code, natively.
print(native(old_area), old_area(6, 7), native(old_clamp), old_clamp(10, 3), old_grows(-4), old_area(2**40, 2**40))
assert importlib.reload(geo) is geo  # unchanged on disk: from the JIT pyc cache, still native
print(native(geo.area), geo.area(1, 1), os.path.exists(geo.__cached__), geo.__cached__.endswith(CACHE_TAG + ".pyc"))
replace(open("v2.txt").read().replace("# minijit: native", "# no pragma now"), 10)
importlib.reload(geo)  # the pragma went away: plain Python, plain loader
print(native(geo.area), geo.area(6, 7), type(geo.__spec__.loader).__name__, native(old_area), old_area(6, 7))
'''


def test_replaced_on_disk_then_reloaded(tree) -> None:
    cwd = tree({"geo.py": RELOAD_V1, "v2.txt": RELOAD_V2, "child.py": RELOAD_CHILD})
    env = base_env()
    del env["PYTHONDONTWRITEBYTECODE"]  # reloading must not pick up the stale cached bytecode
    result = run(["child.py"], cwd, env).ok()
    assert result.lines == [
        "True True False",                         # grows calls int(): Python in v1
        "True 1042 True",                          # new body, native, table rebuilt
        "True 5 9",                                # clamp now calls int(): Python, right results
        "True 42 True 6",                          # grows became eligible; added is new
        "False True True",
        "True 42 True 7 0 1208925819614629174706176",
        "True 1001 True True",
        "False 1042 SourceFileLoader True 42",
    ]
    assert result.stderr == ""


# --- 5. coverage ------------------------------------------------------------------------------

FIXED = '''
# minijit: native
"""Fixed-point helpers."""
SHIFT = 16


def pick(a, b):
    if a > b:
        return a
    return b


def mul(a, b):
    product = a * b
    return product >> 16


def mix(a, b):
    return (a ^ b) + (a & b)
'''

FIXED_MAIN = '''
import jitimport
import fixed
print(jitimport.is_native(fixed.mul), jitimport.is_native(fixed.mix), jitimport.is_native(fixed.pick))
print(fixed.mul(3 << 16, 5 << 16), fixed.mix(12, 10), fixed.pick(1, 2), fixed.pick(2, 1))
'''


def _coverage_cores() -> list[str]:
    cores = ["ctrace"]
    if sys.version_info >= (3, 12):
        cores.append("sysmon")
    return cores


@pytest.mark.parametrize("core", _coverage_cores())
def test_coverage_complete_with_kill_switch(tree, core: str) -> None:
    coverage = pytest.importorskip("coverage")
    cwd = tree({"fixed.py": FIXED, "main.py": FIXED_MAIN})
    body_lines = sorted(n for n, line in enumerate(FIXED.lstrip("\n").splitlines(), 1)
                        if line.strip() in ("if a > b:", "return a", "return b", "product = a * b",
                                            "return product >> 16", "return (a ^ b) + (a & b)"))
    missing = {}
    for disabled in ("1", "0"):
        data = cwd / f".coverage-{disabled}"
        env = base_env(JITIMPORT_DISABLE=disabled, COVERAGE_CORE=core)
        result = run(["-m", "coverage", "run", f"--data-file={data}", "--include=fixed.py",
                      "-m", "jitimport", "main.py"], cwd, env).ok()
        assert result.lines[0] == ("False False False" if disabled == "1" else "True True True")
        assert result.lines[1] == "983040 14 2 2"  # the same results either way
        cov = coverage.Coverage(data_file=str(data))
        cov.load()
        _, statements, _, missed, _ = cov.analysis2(str(cwd / "fixed.py"))
        assert statements  # the module was measured at all
        missing[disabled] = missed
    assert missing["1"] == []  # kill switch: every line of the pragma module is covered
    # Hook active: native bodies never run Python bytecode, so line tracing cannot see them.
    assert missing["0"] == body_lines and len(body_lines) == 6


# --- 6. tracing and profiling -------------------------------------------------------------

TRACE_CHILD = '''
import sys, threading
import jitimport
jitimport.install()
events = {}
traced_calls = []


def tracer(frame, event, arg):
    events[event] = events.get(event, 0) + 1
    if event == "call" and frame.f_code.co_name == "area":
        traced_calls.append(frame.f_locals.get("w"))
    if "geo" in sys.modules and hasattr(sys.modules["geo"], "OPS"):
        sys.modules["geo"].mix(3, 4)  # natives called from inside the tracer itself
    return tracer


def profiler(frame, event, arg):
    events["p_" + event] = events.get("p_" + event, 0) + 1
    if "geo" in sys.modules and hasattr(sys.modules["geo"], "OPS"):
        sys.modules["geo"].area(3, 4)


def work(out):
    import geo
    out.append((geo.area(6, 7), geo.area(2**40, 2**40), geo.area(1.5, 2), geo.mix(12, 10),
                geo.Box.volume(2, 3, 4), geo.biggest(3, 9)))


sys.settrace(tracer)
sys.setprofile(profiler)
threading.settrace(tracer)
threading.setprofile(profiler)
out = []
work(out)  # imports (and compiles) geo with tracing and profiling active
thread = threading.Thread(target=work, args=(out,))
thread.start()
thread.join(timeout=30)
sys.settrace(None)
sys.setprofile(None)
threading.settrace(None)
threading.setprofile(None)
import geo
print(out)
print(jitimport.is_native(geo.area), jitimport.is_native(geo.mix), events["line"] > 0, events["p_call"] > 0)
print(sorted(traced_calls, key=repr))  # only the calls that fell back to Python were traced
if hasattr(sys, "monitoring"):
    mon = sys.monitoring
    starts = []
    mon.use_tool_id(3, "hostile-test")
    mon.register_callback(3, mon.events.PY_START, lambda code, offset: starts.append(code.co_name))
    mon.register_callback(3, mon.events.CALL, lambda code, offset, fn, arg0: geo.mix(1, 2) and None)
    mon.set_events(3, mon.events.PY_START | mon.events.CALL)
    values = [geo.area(6, 7), geo.area(2**40, 3), geo.area(2**40, 2**40)]
    mon.set_events(3, 0)
    mon.free_tool_id(3)
    print(values, starts.count("area"))
else:
    print([42, 3298534883328, 1208925819614629174706176], 1)
'''


def test_settrace_and_setprofile_active(tree) -> None:
    cwd = tree({"geo.py": GEO, "child.py": TRACE_CHILD})
    result = run(["child.py"], cwd).ok()
    row = "(42, 1208925819614629174706176, 3.0, 40, 24, 9)"
    assert result.lines[0] == f"[{row}, {row}]"
    assert result.lines[1] == "True True True True"
    # area(6, 7) ran natively (invisible); the overflow and the float fell back to the Python body.
    assert result.lines[2] == "[1.5, 1.5, 1099511627776, 1099511627776]"
    assert result.lines[3] == "[42, 3298534883328, 1208925819614629174706176] 1"
    assert result.stderr == ""


# --- 7. executable memory refused ---------------------------------------------------------------

MEMORY_CHILD = '''
import errno, sys
import jitimport
from jitimport import execmem
case = sys.argv[1]


def refuse(*args, **kwargs):
    raise execmem.ExecMemoryError(errno.EACCES, "mprotect refused: Permission denied (simulated)")


def no_map(*args, **kwargs):
    raise execmem.ExecMemoryError(errno.ENOMEM, "mmap failed: Cannot allocate memory (simulated)")


if case == "probe-says-no":
    import jitimport.support
    jitimport.support.unsupported_reason = lambda: "mprotect refused (simulated)"
elif case == "mprotect-before-install":
    memory = execmem.LibcMemory()
    memory.write_fresh = memory.write_live = refuse
    execmem._default_arena = execmem.CodeArena(memory)
jitimport.install()
import first  # compiled normally unless refused from the start
print([jitimport.is_native(f) for f in (first.area, first.mix)], first.area(6, 7), first.mix(12, 10))
if case == "mprotect-mid-run":
    memory = execmem.default_arena()._memory
    memory.write_fresh = memory.write_live = refuse
elif case == "mmap-mid-run":
    memory = execmem.LibcMemory()
    memory.map = no_map
    execmem._default_arena = execmem.CodeArena(memory)
import geo, third
for m in (geo, third):
    print([jitimport.is_native(f) for f in (m.area, m.mix, m.Box.volume)],
          m.area(6, 7), m.area(2**40, 2**40), m.mix(12, 10), m.Box.volume(2, 3, 4), m.OPS["area"] is m.area)
print(first.area(6, 7), first.area(2**40, 2**40), first.mix(12, 10))  # earlier natives still run
rows = [r for r in jitimport.report() if r.module == "geo"]
print(sum(r.native for r in rows), [r.qualname for r in rows if "memory is not available" in (r.reason or "")])
'''

PY_ROW = "[False, False, False] 42 1208925819614629174706176 40 24 True"


@pytest.mark.parametrize("case, first_native, warning", [
    ("probe-says-no", False, "native code is not available here (mprotect refused (simulated))"),
    ("mprotect-before-install", False, "mprotect refused: Permission denied (simulated)"),
    ("mprotect-mid-run", True, "mprotect refused: Permission denied (simulated)"),
    ("mmap-mid-run", True, "mmap failed: Cannot allocate memory (simulated)"),
])
def test_executable_memory_refused(tree, case: str, first_native: bool, warning: str) -> None:
    cwd = tree({"first.py": GEO, "geo.py": GEO, "third.py": GEO, "child.py": MEMORY_CHILD})
    result = run(["child.py", case], cwd).ok()
    flags = "[True, True]" if first_native else "[False, False]"
    assert result.lines[:4] == [f"{flags} 42 40", PY_ROW, PY_ROW, "42 1208925819614629174706176 40"]
    if first_native:  # the hook was active: each function was tried and kept in Python, with the reason
        assert result.lines[4] == "0 ['area', 'mix', 'Box.volume']"
    else:  # the hook never switched on
        assert result.lines[4] == "0 []"
    warnings = jit_warnings(result.stderr)
    assert len(warnings) == 1, result.stderr  # one warning for the whole process, not one per function
    assert warning in warnings[0]
    assert "Traceback" not in result.stderr
