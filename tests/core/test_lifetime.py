"""Code memory lives exactly as long as the native object (issue 9, defects 1 and 2).

A native made by ``exec`` or by the hook sits in a reference cycle (native ->
original -> ``__globals__`` -> native).  The garbage collector runs every
finalizer of a cycle before clearing anything, so the code's owner must not
have one that runs in that batch; and the stubs every native shares must
outlive every native, at interpreter exit too.  The crash reproductions run in
a child interpreter.
"""
from __future__ import annotations

import copy
import gc
import pickle
import weakref

import pytest

import jitimport
from jitimport import execmem, native as native_mod
from jitimport.execmem import PAGE_SIZE, CodeArena, CodeBlock
from jitimport.support import unsupported_reason

from ._child import describe, run_child
from ._util import define

pytestmark = pytest.mark.skipif(unsupported_reason() is not None,
                                reason=f"native code unavailable: {unsupported_reason()}")

#: Natives in a garbage cycle with an object whose ``__del__`` calls one of them.  400
#: fillers on each side put the called native in the middle of a chunk that the
#: collection empties (so releasing its code early unmaps it or hands it to the next).
CYCLE_PRELUDE = """
    import gc, jitimport
    gc.disable()
    def nat(k):
        ns = {}; exec(f"def f(a):\\n    return a + {k}\\n", ns)
        return jitimport.compile_native(ns["f"])
"""

CYCLE_BODY = """
    fillers = [nat(k) for k in range(400)]
    ns = {}; exec("def f(a, b):\\n    return a * b + 1\\n", ns)
    ns["f"] = jitimport.compile_native(ns["f"])
    ns["u"] = User(); ns["u"].f = ns["f"]
    fillers += [nat(k) for k in range(400)]
    del ns, fillers
    gc.collect()
"""


def test_finalizer_in_the_same_garbage_cycle_calls_the_native() -> None:
    """The issue's reproduction: exit status 139 before the fix."""
    proc = run_child(CYCLE_PRELUDE + """
    class User:
        def __del__(self):
            print("in __del__: f(3, 4) =", self.f(3, 4), flush=True)
    """ + CYCLE_BODY + """
    print("survived")
    """)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.split("\n")[:2] == ["in __del__: f(3, 4) = 13", "survived"], describe(proc)


def test_native_kept_by_a_finalizer_keeps_its_code() -> None:
    """The variant: the ``__del__`` keeps the native alive and more functions are compiled
    afterwards; before the fix ``f(3, 4)`` ran another function's code (or crashed)."""
    proc = run_child(CYCLE_PRELUDE + """
    kept = []
    class User:
        def __del__(self):
            kept.append(self.f)
    """ + CYCLE_BODY + """
    others = [nat(k) for k in range(800)]
    assert all(g(1) == k + 1 for k, g in enumerate(others))
    print("f(3, 4) =", kept[0](3, 4), kept[0](2**40, 3) == 3 * 2**40 + 1)
    """)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip() == "f(3, 4) = 13 True", describe(proc)


def test_code_owner_is_not_tracked_by_the_garbage_collector() -> None:
    """So no collection ever runs its finalizer while the native can still be reached."""
    native = jitimport.compile_native(define("def f(a):\n    return a - 1\n"))
    block = native_mod.code_block(native)
    assert isinstance(block, CodeBlock) and block.address == int(block)
    assert not gc.is_tracked(block)
    assert gc.is_tracked(native)


def test_code_is_released_when_the_cycle_is_cleared() -> None:
    """A native in a garbage cycle releases its code once the collector clears it."""
    ns: dict = {}
    exec("def f(a):\n    return a * 5\n", ns)
    ns["f"] = jitimport.compile_native(ns["f"])      # native -> original -> ns -> native
    arena = execmem.default_arena()
    address = native_mod.code_block(ns["f"]).address
    probe = weakref.ref(ns["f"])
    del ns
    assert arena.is_live(address)
    gc.collect()
    assert probe() is None and not arena.is_live(address)


def test_kept_objects_live_exactly_as_long_as_the_code() -> None:
    class Cell:
        pass

    arena = CodeArena(chunk_size=PAGE_SIZE)
    cell = Cell()
    probe = weakref.ref(cell)
    block = arena.install(b"\x90\xc3", keep=(cell,))
    del cell
    gc.collect()
    assert probe() is not None and block.kept[0] is probe()
    assert block.read() == b"\x90\xc3" and block.size == 2
    del block
    assert probe() is None and arena.live_blocks() == 0


def test_permanent_code_is_never_released_and_its_chunk_never_unmapped() -> None:
    arena = CodeArena(chunk_size=PAGE_SIZE)
    shared = arena.install(b"\x90" * 100 + b"\xc3", permanent=True)
    address = shared.address
    others = [arena.install(b"\xcc" * 1000) for _ in range(3)]   # same chunk
    del shared, others
    gc.collect()
    assert arena.is_live(address) and arena.mapped_bytes == PAGE_SIZE
    after = arena.install(b"\xc3")
    assert after.address > address      # the chunk is not reused from its start
    fillers = [arena.install(b"\xcc" * 3000) for _ in range(4)]  # the first chunk is retired
    del fillers, after
    gc.collect()
    assert arena.mapped_bytes == 2 * PAGE_SIZE   # the permanent code's chunk and the current one
    assert mapping_of(address).startswith("r-x")
    import ctypes
    assert ctypes.string_at(address, 101) == b"\x90" * 100 + b"\xc3"


def mapping_of(address: int) -> str:
    """The permissions of the mapping holding ``address`` ("" when unmapped)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start <= address < end:
                return line.split()[1]
    return ""


def test_shared_stubs_are_permanent() -> None:
    runtime = native_mod.runtime()
    arena = execmem.default_arena()
    stubs = [*runtime.decoders.values(), jitimport.native._descr_get_block.address]
    assert all(arena.is_live(address) and arena._blocks[address].permanent for address in stubs)


def test_code_block_cannot_be_made_copied_or_pickled() -> None:
    """A second owner of the same address would release the code twice."""
    native = jitimport.compile_native(define("def f(a):\n    return a ^ 3\n"))
    block = native_mod.code_block(native)
    with pytest.raises(TypeError):
        type(block)(block.address)
    with pytest.raises(TypeError):
        CodeBlock(5)
    assert copy.copy(block) is block and copy.deepcopy(block) is block
    with pytest.raises(TypeError):
        pickle.dumps(block)
    assert native(5) == 6


#: Compiles enough to retire the first chunk, keeps one native in a later chunk, then
#: clears the modules that hold the shared stubs the way interpreter exit does.
STUBS_AFTER_MODULE_CLEARING = """
    import gc, jitimport, jitimport.compiler, jitimport.native, jitimport.execmem
    fillers = []
    for k in range(600):
        ns = {}; exec(f"def g(a):\\n    return a * {k} + 1\\n", ns)
        fillers.append(jitimport.compile_native(ns["g"]))
    ns = {}; exec("def f(self, a):\\n    return a * 3 + 1\\n", ns)
    f = jitimport.compile_native(ns["f"])
    class Holder:
        m = f
    holder = Holder()
    del fillers
    gc.collect()
    for module in (jitimport.compiler, jitimport.native, jitimport.execmem):
        for name in list(vars(module)):
            if not name.startswith("__"):
                setattr(module, name, None)
    gc.collect()
    # 2**40 goes through a shared decoder; holder.m binds through the shared descriptor stub.
    print(f(None, 2**40) == 3 * 2**40 + 1, holder.m(2**41) == 3 * 2**41 + 1, flush=True)
"""


def test_shared_stubs_survive_their_modules_being_cleared() -> None:
    """Interpreter exit clears module globals, the ones holding the shared stubs included,
    before ``__main__``'s finalizers run; before the fix this crashed on every version."""
    proc = run_child(STUBS_AFTER_MODULE_CLEARING)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip() == "True True", describe(proc)


def test_main_finalizer_calls_a_native_at_exit() -> None:
    """The issue's scenario (a segfault on 3.11 before the fix)."""
    proc = run_child("""
    import jitimport

    @jitimport.jit
    def f(a, b):
        return a * b + 1

    more = []
    for k in range(600):
        ns = {}; exec(f"def g(a):\\n    return a * {k} + 1\\n", ns)
        more.append(jitimport.jit(ns["g"]))
    del more

    class AtExit:
        def __del__(self):
            print("at exit:", f(2**40, 3), flush=True)

    holder = AtExit()
    """)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip() == f"at exit: {2**40 * 3 + 1}", describe(proc)
