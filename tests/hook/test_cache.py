"""The persistent machine-code cache (issue 12, ``jitimport.hook.codecache``), across real processes.

Each test imports a pragma module in fresh interpreters with the hook on and bytecode writing
allowed, and compares what the second (and later) runs load from the cache with what Python
computes: the cache may only ever make an import faster, never change an outcome.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ._util import base_env, run_code

MOD = '''
# minijit: native
"""Functions covering every relocation kind: plain, a module constant, builtins, a loop."""
SCALE = 3
MASK = 0xFFFFFFFFFFFFFFFF


def poly(a, b):
    return a * a - 3 * a * b + b // 7


def scaled(x):
    return x * SCALE


def mix(x):
    return (x * 0x9E3779B97F4A7C15) & MASK


def lo(a, b):
    return min(a, b) - max(a, b) + abs(a)


def total(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def refused(x):
    return len(x)


TABLE = (1, 5, -9, 2**63 - 1)
LIST = [3, 4, 5]


def pick(i):
    return TABLE[i] - 1


def lget(i):
    return LIST[i] * 2 + 1
'''

EDGES = [0, -1, 1, 7, 2**63 - 1, -2**63, 2**64 - 1, 2**70, -(2**70)]

#: The child: pads its heap first (``pad`` objects, so that every address differs between two
#: runs even without ASLR), imports ``mod`` under the hook, prints one JSON object.
CHILD = '''
import json, sys
pad = [object() for _ in range({pad})]
{before}
import jitimport
jitimport.install()
import mod
from jitimport import is_native, original
edges = {edges}
out = {{"native": {{}}, "from_cache": {{}}, "reason": {{}}, "results": {{}}, "address": {{}}}}
for row in jitimport.report():
    out["from_cache"][row.qualname] = row.reason == "from cache"
    out["reason"][row.qualname] = row.reason
for name in ("poly", "scaled", "mix", "lo", "total", "refused", "pick", "lget"):
    f = getattr(mod, name)
    out["native"][name] = is_native(f)
    out["address"][name] = id(f)
    res = []
    for a in edges:
        for b in edges[:5]:
            args = (a,) if name in ("scaled", "mix", "refused", "pick", "lget") else (a, b)
            if name == "total":
                args = (a if 0 <= a < 300 else 12,)
            def outcome(fn):
                try:
                    r = fn(*args)
                    return [type(r).__name__, str(r)]
                except Exception as exc:
                    return [type(exc).__name__, str(exc)]
            got, want = outcome(f), outcome(original(f))
            assert got == want, (name, args, got, want)
            res.append(got)
    out["results"][name] = res
{after}
print(json.dumps(out))
'''


def rewrite(path: Path, text: str) -> None:
    """New source, with an mtime the pyc cannot mistake for the old one (pyc checks whole seconds)."""
    stamp = path.stat().st_mtime + 10
    path.write_text(text)
    os.utime(path, (stamp, stamp))


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "__pycache__").glob("mod.*.jitimport-code-v*.bin"))


def run_child(root: Path, *, pad: int = 0, before: str = "", after: str = "", **env: str | None) -> dict:
    extra = {"PYTHONDONTWRITEBYTECODE": None}
    extra.update(env)
    code = CHILD.format(pad=pad, before=before, after=after, edges=EDGES)
    result = run_code(code, root, base_env(**extra)).ok()  # type: ignore[arg-type]
    return json.loads(result.lines[-1])


@pytest.fixture
def module(tree):
    return tree({"mod.py": MOD})


NATIVE = ["poly", "scaled", "mix", "lo", "total", "pick", "lget"]


def test_second_run_loads_every_function_from_the_cache(module: Path) -> None:
    first = run_child(module)
    assert all(first["native"][n] for n in NATIVE) and not first["native"]["refused"]
    assert not any(first["from_cache"].values())
    [path] = cache_files(module)
    assert path.name.endswith(".jitimport-code-v2.bin")
    # Another heap layout: the padding moves every object the code refers to.
    second = run_child(module, pad=200_000, before="import decimal, fractions, json")
    assert all(second["native"][n] for n in NATIVE)
    assert all(second["from_cache"][n] for n in NATIVE)
    assert second["reason"]["refused"] == first["reason"]["refused"]   # the refusal is cached too
    assert "len()" in second["reason"]["refused"]
    assert second["results"] == first["results"]
    assert second["address"] != first["address"]


def test_info_and_report_say_from_cache(module: Path) -> None:
    run_child(module)
    after = '''
info = jitimport.info(mod.scaled)
assert info.from_cache and info.compiled, info
assert info.optimized_ir and info.code_size > 0 and info.listing
assert not jitimport.info(mod.refused).compiled
from jitimport.hook.reporting import format_report
assert any(line.startswith("    native  poly ") and line.endswith("  (from cache)")
           for line in format_report().splitlines()), format_report()
'''
    run_child(module, after=after)


def test_cached_guards_still_follow_rebinding_at_run_time(module: Path) -> None:
    run_child(module)
    after = '''
import builtins
assert mod.scaled(5) == 15
mod.SCALE = 10
assert mod.scaled(5) == 50          # the guard sees the new binding: the original runs
mod.SCALE = 3
assert mod.scaled(5) == 15
real_min = builtins.min
builtins.min = lambda *a: 1000
try:
    assert mod.lo(2, 9) == 1000 - 9 + 2
finally:
    builtins.min = real_min
assert mod.lo(2, 9) == -5
mod.LIST.append(70)                 # read when the code runs, from the object the module binds
assert mod.lget(3) == 141 and mod.lget(-1) == 141
mod.LIST = [1]
assert mod.lget(0) == 3
assert mod.pick(-1) == 2**63 - 2
'''
    out = run_child(module, after=after)
    assert all(out["from_cache"][n] for n in ("scaled", "lo", "pick", "lget"))


def test_a_changed_function_is_compiled_again(module: Path) -> None:
    run_child(module)
    source = (module / "mod.py").read_text()
    rewrite(module / "mod.py", source.replace("return a * a - 3 * a * b + b // 7", "return a * a - 5 * a * b"))
    out = run_child(module)
    assert not out["from_cache"]["poly"] and out["native"]["poly"]
    assert all(out["from_cache"][n] for n in NATIVE if n != "poly")


def test_a_rebound_module_constant_invalidates(module: Path) -> None:
    """The function's code is the same; the value it was compiled with is not."""
    run_child(module)
    source = (module / "mod.py").read_text()
    rewrite(module / "mod.py", source.replace("SCALE = 3", "SCALE = 5"))
    out = run_child(module, after="assert mod.scaled(4) == 20")
    assert not out["from_cache"]["scaled"] and out["native"]["scaled"]
    assert out["from_cache"]["poly"]
    # Same value, another type: True is not 1 for the code (it embeds a bool's result type).
    rewrite(module / "mod.py", source.replace("SCALE = 3", "SCALE = True"))
    out = run_child(module, after="assert mod.scaled(4) == 4")
    assert not out["from_cache"]["scaled"]


@pytest.mark.parametrize("change", [
    "import sys; sys.version = sys.version + ' (another build)'",
    "import sys; sys.implementation.cache_tag",  # control: nothing changes
    "import jitimport; jitimport.__version__ = '99.0'",
])
def test_another_python_or_jitimport_version_invalidates(module: Path, change: str) -> None:
    run_child(module)
    out = run_child(module, before=change)
    expected = "control" in change or change.endswith("cache_tag")
    assert all(out["from_cache"][n] is expected for n in NATIVE), out["from_cache"]
    assert all(out["native"][n] for n in NATIVE)


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how.startswith("flip"):
        where = {"flip-magic": 0, "flip-checksum": 10, "flip-middle": len(data) // 2, "flip-last": len(data) - 1}[how]
        data[where] ^= 0x40
        path.write_bytes(bytes(data))
    else:
        keep = {"cut-empty": 0, "cut-header": 20, "cut-half": len(data) // 2, "cut-last": len(data) - 1}[how]
        path.write_bytes(bytes(data[:keep]))


@pytest.mark.parametrize("how", ["flip-magic", "flip-checksum", "flip-middle", "flip-last",
                                 "cut-empty", "cut-header", "cut-half", "cut-last"])
def test_a_corrupted_or_truncated_file_is_ignored_and_rewritten(module: Path, how: str) -> None:
    first = run_child(module)
    [path] = cache_files(module)
    _damage(path, how)
    out = run_child(module)
    assert all(out["native"][n] for n in NATIVE)
    assert not any(out["from_cache"].values())
    assert out["results"] == first["results"]
    again = run_child(module)                   # the damaged file was replaced by a good one
    assert all(again["from_cache"][n] for n in NATIVE)


def test_a_foreign_file_with_a_valid_checksum_is_ignored(module: Path) -> None:
    """Right magic and checksum, but entries that are not what the loader expects."""
    run_child(module)
    [path] = cache_files(module)
    write = '''
import marshal, sys
from jitimport.hook import codecache
entries = codecache.read_entries(sys.argv[1])
assert entries
bad = {key: (1, b"\\xcc", ((99999, ("runtime", "vectorcall")),), (), 0, (), (), (), 0.0) for key in entries}
assert codecache.write_entries(sys.argv[1], bad)
'''
    run_code(f"import sys; sys.argv[1:] = [{str(path)!r}]\n" + write, module,
             base_env(PYTHONDONTWRITEBYTECODE=None)).ok()  # type: ignore[arg-type]
    out = run_child(module)
    assert all(out["native"][n] for n in NATIVE) and not any(out["from_cache"].values())


def test_nothing_is_written_without_bytecode_writing(module: Path) -> None:
    out = run_child(module, PYTHONDONTWRITEBYTECODE="1")
    assert all(out["native"][n] for n in NATIVE)
    assert cache_files(module) == []
    run_child(module, before="import sys; sys.dont_write_bytecode = True")
    assert cache_files(module) == []


def test_pycache_prefix_is_honoured(module: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    prefix = tmp_path_factory.mktemp("prefix")
    run_child(module, PYTHONPYCACHEPREFIX=str(prefix))
    assert cache_files(module) == []
    assert list(prefix.rglob("mod.*.jitimport-code-v2.bin"))
    out = run_child(module, PYTHONPYCACHEPREFIX=str(prefix))
    assert all(out["from_cache"][n] for n in NATIVE)


def test_an_unwritable_cache_directory_is_skipped(module: Path) -> None:
    (module / "__pycache__").write_text("not a directory")
    out = run_child(module)
    assert all(out["native"][n] for n in NATIVE) and not any(out["from_cache"].values())


def test_the_compiler_is_not_loaded_on_a_warm_import(module: Path) -> None:
    run_child(module)
    out = run_child(module, after='''
for name in ("jitimport.compiler", "jitimport.frontend", "jitimport.optimizer", "logging"):
    assert name not in sys.modules, name
''')
    assert all(out["from_cache"][n] for n in NATIVE)


def test_write_is_atomic_and_leaves_no_temporary_file(module: Path) -> None:
    run_child(module)
    leftovers = [p for p in (module / "__pycache__").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert os.path.getsize(cache_files(module)[0]) > 100


FEATURES = '''
# minijit: native
"""One function per construct of the newer code generator, each with its own relocations."""
TABLE = (3, -1, 2**63 - 1, 0, 77)
LIST = [5, 2**62, -7, 11]
DATA = bytearray(b"\\x01\\x80\\xff\\x00")
MOD = 1_000_000_007


def pair(a, b):
    return a + b, a - b


def unpack(p):
    x, y = p
    return x * y - x


def table(i):
    return TABLE[i] * 2 + 1


def listed(i):
    return LIST[i] + DATA[i]


def modpow(b, e):
    return pow(b, e, MOD) + b.bit_count()


def scaled(x, k=5):
    return x * k + 1


def wide(x, m=2**64 - 1):
    return x & m


def helper(x):
    return x * 3 + 1


def calls_helper(x):
    return helper(x) - helper(x + 1)


def less(a, b):
    return a < b


def raises(x):
    if x > 100:
        raise ValueError("too big")
    return x * 2
'''

FEATURE_NAMES = ["pair", "unpack", "table", "listed", "modpow", "scaled", "wide", "helper", "calls_helper",
                 "less", "raises"]

#: The child for FEATURES: every function on edge arguments against its original (after the
#: module's lists change, and after a default is reassigned), then the call statistics of each
#: native, and whether its listing (generated again) is the code installed.
FEATURES_CHILD = '''
import json, sys
pad = [object() for _ in range({pad})]
import jitimport
jitimport.install()
import feat
from jitimport import is_native, original
from jitimport.native import code_block
E = [0, -1, 1, 7, 100, 101, 2**63 - 1, -2**63, 2**64 - 1, 2**70, -(2**70)]
ARGS = {{
    "pair": [(a, b) for a in E for b in E[:5]],
    "unpack": [((a, b),) for a in E for b in E[:4]] + [(5,), ((1, 2, 3),), ((1,),), ([1, 2],), ((1.5, 2),),
                                                        ((True, 2),), ((2**70, 1),)],
    "table": [(i,) for i in range(-7, 7)] + [(2**70,), (True,)],
    "listed": [(i,) for i in range(-6, 6)],
    "modpow": [(b, e) for b in E for e in (0, 1, 2, 65, -1, 2**63 - 1)],
    "scaled": [(x,) for x in E] + [(x, k) for x in E[:6] for k in E[:6]],
    "wide": [(x,) for x in E] + [(x, 0xFF) for x in E],
    "helper": [(x,) for x in E],
    "calls_helper": [(x,) for x in E],
    "less": [(a, b) for a in E for b in E[:5]],
    "raises": [(x,) for x in E],
}}
calls = dict.fromkeys(ARGS, 0)


def outcome(fn, args):
    try:
        r = fn(*args)
        return [type(r).__name__, repr(r)]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]


def check(name, args):
    f = getattr(feat, name)
    got, want = outcome(f, args), outcome(original(f), args)
    assert got == want, (name, args, got, want)
    calls[name] += 1
    return got


out = {{"native": {{}}, "from_cache": {{}}, "results": {{}}, "stats": {{}}, "listing_is_code": {{}}}}
for row in jitimport.report():
    out["from_cache"][row.qualname] = row.reason == "from cache"
for name, cases in ARGS.items():
    out["native"][name] = is_native(getattr(feat, name))
    out["results"][name] = [check(name, args) for args in cases]
for name in ARGS:   # info() of a cached function compiles it again: with the loaded buffers
    f = getattr(feat, name)
    info = jitimport.info(f)
    assert info.from_cache is out["from_cache"][name], (name, info.from_cache)
    out["listing_is_code"][name] = b"".join(b for _, b, _ in info.listing) == code_block(f).read()
feat.LIST[1] = "x"; feat.LIST.append(2**70); feat.DATA[0] = 200     # read when the code runs
out["results"]["listed"] += [check("listed", (i,)) for i in range(-5, 5)]
original(feat.scaled).__defaults__ = (7,)      # the code's defaults check sees the new tuple
out["results"]["scaled"] += [check("scaled", (x,)) for x in E]
for name in ARGS:
    f = getattr(feat, name)
    [row] = jitimport.stats(f)
    # helper() is also called by the original of calls_helper() when that one falls back
    assert row.calls == calls[name] or (name == "helper" and row.calls > calls[name]), (name, row, calls[name])
    out["stats"][name] = row.as_dict()
print(json.dumps(out))
'''


def test_every_newer_construct_is_loaded_from_the_cache_and_counts_calls(tree) -> None:
    """Tuple returns and parameters, a tuple table, module list/bytearray reads, pow(b, e, m) and
    bit_count, defaults (the ``__defaults__`` check), an inlined native callee, a bool result and
    an IR exit: compiled in one process, loaded from the cache in another with another heap
    layout, with the same outcomes and the same call statistics."""
    root = tree({"feat.py": FEATURES})
    env = base_env(PYTHONDONTWRITEBYTECODE=None)  # type: ignore[arg-type]
    first = json.loads(run_code(FEATURES_CHILD.format(pad=0), root, env).ok().lines[-1])
    assert all(first["native"][n] for n in FEATURE_NAMES), first["native"]
    assert not any(first["from_cache"].values())
    second = json.loads(run_code(FEATURES_CHILD.format(pad=150_000), root, env).ok().lines[-1])
    assert all(second["native"][n] for n in FEATURE_NAMES), second["native"]
    assert all(second["from_cache"][n] for n in FEATURE_NAMES), second["from_cache"]
    assert second["results"] == first["results"]
    assert second["stats"] == first["stats"]
    assert all(second["listing_is_code"].values()), second["listing_is_code"]
    assert all(first["listing_is_code"].values()), first["listing_is_code"]
    # The counters counted what ran natively and why the rest fell back.
    stats = second["stats"]
    assert stats["pair"]["native"] > 0 and stats["pair"]["fallback"] > 0
    assert any(cause.startswith("line ") and "raise" in cause for cause in stats["raises"]["fallbacks"]), stats["raises"]
    assert any("default" in cause for cause in stats["scaled"]["fallbacks"]), stats["scaled"]
    assert any("not an exact int" in cause for cause in stats["unpack"]["fallbacks"]), stats["unpack"]
