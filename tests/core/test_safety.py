"""W^X memory, code lifetime, unsupported platforms, refused mprotect, and threads."""
from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

import jitimport
from jitimport import compiler, execmem, native as native_mod
from jitimport.execmem import PAGE_SIZE, PROT_EXEC, CodeArena, ExecMemoryError

from ._util import define


def writable_and_executable_mappings() -> list[str]:
    with open("/proc/self/maps") as maps:
        return [line for line in maps if len(line.split()) > 1
                and "w" in line.split()[1] and "x" in line.split()[1]]


def test_no_mapping_is_writable_and_executable() -> None:
    natives = [jitimport.compile_native(define(f"def f(a, b):\n    return a * {k} + b\n"))
               for k in range(50)]
    assert all(n(1, 2) == k + 2 for k, n in enumerate(natives))
    assert writable_and_executable_mappings() == []
    block = native_mod.code_block(natives[-1])
    for line in open("/proc/self/maps"):
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        if start <= block.address < end:
            assert line.split()[1].startswith("r-x"), line
            break
    else:
        pytest.fail("the code block is not in any mapping")


def test_many_functions_share_pages() -> None:
    natives = [jitimport.compile_native(define(f"def f(a):\n    return a + {k}\n")) for k in range(20)]
    pages = {native_mod.code_block(n).address // PAGE_SIZE for n in natives}
    assert len(pages) < len(natives) // 2


def test_code_lives_as_long_as_the_native_object() -> None:
    fn = define("def f(a, b):\n    return a ^ b\n")
    native = jitimport.compile_native(fn)
    address = native_mod.code_block(native).address
    arena = execmem.default_arena()
    calls = [native(i, 3) for i in range(10)]
    gc.collect()
    assert arena.is_live(address) and calls == [i ^ 3 for i in range(10)]
    alias = native
    del native
    gc.collect()
    assert arena.is_live(address) and alias(6, 3) == 5
    del alias
    gc.collect()
    assert not arena.is_live(address)


def test_arena_releases_memory() -> None:
    arena = CodeArena(chunk_size=PAGE_SIZE)
    first = arena.install(b"\xc3" * (PAGE_SIZE - 64))
    assert arena.mapped_bytes == PAGE_SIZE
    second = arena.install(b"\xc3" * 128)          # does not fit: a second chunk
    assert arena.mapped_bytes == 2 * PAGE_SIZE
    assert first.read() == b"\xc3" * (PAGE_SIZE - 64)
    del first
    gc.collect()
    assert arena.mapped_bytes == PAGE_SIZE          # the retired, empty chunk is unmapped
    third = arena.install(b"\x90\xc3")
    assert third.read() == b"\x90\xc3"
    del second, third
    gc.collect()
    assert arena.mapped_bytes <= PAGE_SIZE


class RefusingMemory(execmem.LibcMemory):
    """Real mappings, but mprotect to read+exec is refused (as under a strict SELinux policy)."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 0

    def protect(self, addr: int, size: int, prot: int) -> None:
        if prot & PROT_EXEC:
            self.refusals += 1
            raise ExecMemoryError(13, "mprotect refused: Permission denied")
        super().protect(addr, size, prot)


def test_refused_mprotect_surfaces_cleanly(monkeypatch) -> None:
    memory = RefusingMemory()
    arena = CodeArena(memory=memory, chunk_size=PAGE_SIZE)
    with pytest.raises(ExecMemoryError, match="mprotect refused"):
        arena.install(b"\xc3")
    assert memory.refusals == 1
    monkeypatch.setattr(compiler, "default_arena", lambda: arena)
    fn = define("def f(a):\n    return a + 1\n")
    with pytest.raises(jitimport.UnsupportedPlatform, match="executable memory is not available"):
        jitimport.compile_native(fn)
    assert jitimport.jit(fn) is fn and fn(1) == 2
    assert "executable memory" in jitimport.info(fn).reason
    g = define("def g(a):\n    return a\n")
    assert jitimport.jit(strict=True)(g) is g  # the platform's fault, not g's: stays Python
    assert writable_and_executable_mappings() == []


def test_unsupported_platform_simulated(monkeypatch) -> None:
    monkeypatch.setattr(compiler, "unsupported_reason", lambda: "architecture arm64 is not x86-64")
    fn = define("def f(a):\n    return a * 2\n")
    with pytest.raises(jitimport.UnsupportedPlatform, match="arm64") as info:
        jitimport.compile_native(fn)
    assert isinstance(info.value, jitimport.NotCompilable)
    assert jitimport.jit(fn) is fn
    assert jitimport.jit(strict=True)(fn) is fn  # the platform is not the function's fault
    assert "arm64" in jitimport.info(fn).reason


def test_disable_environment_variable(monkeypatch) -> None:
    monkeypatch.setenv("JITIMPORT_DISABLE", "1")
    assert "JITIMPORT_DISABLE" in jitimport.support.unsupported_reason()
    fn = define("def f(a):\n    return a - 2\n")
    with pytest.raises(jitimport.UnsupportedPlatform, match="JITIMPORT_DISABLE"):
        jitimport.compile_native(fn)
    assert jitimport.jit(fn) is fn and not jitimport.is_native(jitimport.jit(fn))
    monkeypatch.setenv("JITIMPORT_DISABLE", "0")
    assert jitimport.is_native(jitimport.compile_native(fn))


THREADS_SCRIPT = r"""
import random, sys, threading, time
import jitimport

def define(source):
    ns = {}
    exec(source, ns)
    return ns["f"]

def outcome(fn, *args):
    try:
        value = fn(*args)
    except Exception as exc:
        return ("raise", type(exc), str(exc))
    return ("ok", type(value), value)

sources = ["def f(a, b):\n    return a * b - (a // 3)\n", "def f(a, b):\n    return (a << 3) ^ b\n",
           "def f(a, b):\n    return a % 7 + b ** 2\n"]
pairs = [(jitimport.compile_native(fn), fn) for fn in (define(s) for s in sources)]
stop = threading.Event()
errors = []
counts = [0, 0, 0]

def caller(seed):
    rng = random.Random(seed)
    while not stop.is_set():
        native, fn = rng.choice(pairs)
        args = (rng.randint(-2**40, 2**40), rng.choice([0, 1, -5, 2**62, 2**70]))
        if outcome(native, *args) != outcome(fn, *args):
            errors.append(repr(args))
        counts[seed] += 1

sys.setswitchinterval(1e-5)  # switch threads as often as possible
threads = [threading.Thread(target=caller, args=(seed,), daemon=True) for seed in range(3)]
for t in threads:
    t.start()
compiled = []
deadline = time.monotonic() + float(sys.argv[1])
k = 0
while time.monotonic() < deadline:
    compiled.append((k, jitimport.compile_native(define(f"def f(a):\n    return a * {k} + {k}\n"))))
    if len(compiled) > 40:
        compiled.pop(0)  # dropping natives releases code while the others run
    k += 1
stop.set()
for t in threads:
    t.join(timeout=10)
assert not any(t.is_alive() for t in threads), "a caller thread hung"
assert errors == [], errors[:5]
assert k > 10 and min(counts) > 10, (k, counts)
assert all(n(2) == 3 * j for j, n in compiled)
print("ok", k, counts)
"""


def test_threads_call_while_another_compiles(tmp_path) -> None:
    """Callers in three threads, a compiler in the main one; in a child process so that
    a crash is a failure, not the end of the test run."""
    script = tmp_path / "threads.py"
    script.write_text(THREADS_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, str(script), "2.0"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert proc.stdout.startswith("ok ")


def test_native_type_cannot_be_instantiated_subclassed_or_patched() -> None:
    """Only compile_native makes NativeFunction objects: an instance without machine code,
    a subclass, or a patched class attribute could otherwise reach a NULL entry point."""
    native = jitimport.compile_native(define("def f(a):\n    return a + 1\n", name="f"))
    cls = type(native)
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        type("Sub", (cls,), {})
    with pytest.raises(TypeError):
        cls.__call__ = lambda self, *a: 0
    with pytest.raises(AttributeError):
        del native._fallback
    assert native(41) == 42


FIRST_USE_SCRIPT = """
import threading, jitimport
barrier = threading.Barrier(8)
results = []
def work(k):
    ns = {}
    exec(f"def f(a):\\n    return a * {k} + 1\\n", ns)
    barrier.wait()
    native = jitimport.compile_native(ns["f"])   # the first compile of the process, 8 at once
    results.append((jitimport.is_native(native), native(10) == 10 * k + 1))
threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join(30)
print(sorted(results) == [(True, True)] * 8, results)
"""


def test_concurrent_first_compiles_set_up_the_runtime_once() -> None:
    """Finishing the native type twice would fail half-way and disable native code."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", FIRST_USE_SCRIPT], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("True"), proc.stdout
