"""Executable memory for generated code, kept W^X.

Code is packed into chunks mapped with ``mmap``.  A chunk is never writable
and executable at once.  A new chunk is mapped read+write, filled, then made
read+exec.  Adding code to a chunk that already runs code means switching it
back to read+write for a moment, and no thread may execute from it then.
Python can switch threads between any two bytecodes, so that switch, the copy
and the switch back are done by one small machine-code routine (the
*installer*), called through a ctypes ``PYFUNCTYPE`` pointer that keeps the
GIL: while it runs no other thread runs Python or jitimport code (jitimport's
machine code never releases the GIL, and leaves by tail calls).

A :class:`CodeBlock` owns its bytes; when the last reference goes, its space
is released and a chunk that holds no live block is unmapped.  The owner is an
``int`` (the code's address) that the cyclic garbage collector does not track,
so its finalizer never runs in a collector batch: it runs only when the last
reference is dropped, i.e. when the native object holding it is cleared or
deallocated, and never while any finalizer can still reach that native.  Its
size, chunk and the objects kept alive with it live in the arena, keyed by
address.  Code installed as *permanent* (the stubs every native shares) is
never released, and its chunk is never unmapped.
"""
from __future__ import annotations

import ctypes
import mmap as _mmap_consts
import os
import threading
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover  (typing is not loaded on the hook's warm path)
    from typing import Any

PAGE_SIZE = _mmap_consts.PAGESIZE
CHUNK_SIZE = 64 * 1024
ALIGN = 16

PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_FAILED = ctypes.c_void_p(-1).value


#: Installer status: the chunk could not be made executable again (after retries).
INSTALL_NOT_RESTORED = -2


class ExecMemoryError(OSError):
    """mmap/mprotect refused: the caller falls back to plain Python."""


class LibcMemory:
    """The three system calls the arena needs, called with the GIL held."""

    def __init__(self) -> None:
        libc = ctypes.PyDLL(None, use_errno=True)
        self._libc = libc
        self._mmap = libc.mmap
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_long]
        self._mprotect = libc.mprotect
        self._mprotect.restype = ctypes.c_int
        self._mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self._munmap = libc.munmap
        self._munmap.restype = ctypes.c_int
        self._munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

    def map(self, size: int) -> int:
        addr = self._mmap(None, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if addr is None or addr == MAP_FAILED:
            raise ExecMemoryError(ctypes.get_errno(), f"mmap failed: {os.strerror(ctypes.get_errno())}")
        return addr  # type: ignore[no-any-return]  # a ctypes foreign function's result

    def protect(self, addr: int, size: int, prot: int) -> None:
        if self._mprotect(addr, size, prot) != 0:
            err = ctypes.get_errno()
            raise ExecMemoryError(err, f"mprotect refused: {os.strerror(err)}")

    def unmap(self, addr: int, size: int) -> None:
        self._munmap(addr, size)

    def write_fresh(self, chunk: Chunk, dest: int, code: bytes) -> None:
        """Fill a chunk that no code runs from yet, then make it read+exec."""
        ctypes.memmove(dest, code, len(code))
        self.protect(chunk.address, chunk.size, PROT_READ | PROT_EXEC)

    def write_live(self, chunk: Chunk, dest: int, code: bytes) -> None:
        """Add code to an executable chunk atomically with respect to other threads."""
        if self._installer is None:
            self._installer = self._make_installer()
        buffer = ctypes.create_string_buffer(code, len(code))
        status = self._installer(chunk.address, chunk.size, dest, buffer, len(code))
        if status != 0:
            err = self._errno()
            if status == INSTALL_NOT_RESTORED:
                chunk.broken = True
            raise ExecMemoryError(err, f"mprotect refused: {os.strerror(err)}")

    _installer: ctypes._CFunctionType | None = None

    def _errno(self) -> int:
        location = getattr(self._libc, "__errno_location")  # (a literal would be name-mangled)
        location.restype = ctypes.POINTER(ctypes.c_int)
        return location().contents.value  # type: ignore[no-any-return]  # a ctypes foreign function's result

    def _make_installer(self) -> ctypes._CFunctionType:
        """Generate the installer routine into a chunk of its own (never written again)."""
        from .backend.stubs import installer_stub
        mprotect = ctypes.cast(self._mprotect, ctypes.c_void_p).value
        assert mprotect is not None  # libc's mprotect is never at NULL
        code = installer_stub(mprotect, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC,
                              INSTALL_NOT_RESTORED)
        size = (len(code) + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
        address = self.map(size)
        ctypes.memmove(address, code, len(code))
        self.protect(address, size, PROT_READ | PROT_EXEC)
        self._installer_address = address  # mapped for the life of the process
        prototype = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        return prototype(address)


class Chunk:
    """One mapping; code is bump-allocated in it, and it is freed when empty."""

    __slots__ = ("address", "size", "used", "live", "broken")

    def __init__(self, address: int, size: int) -> None:
        self.address = address
        self.size = size
        self.used = 0
        self.live = 0
        #: mprotect refused to make it executable again: never written to again.
        self.broken = False


class CodeBlock(int):
    """Owner of installed machine code; its value is the code's address.

    The code (and its space in the chunk) lives exactly as long as this object.
    Instances are untracked by the cyclic garbage collector (they refer to
    nothing but their type), so ``__del__`` is never called as part of a
    collected cycle's finalizer batch, where another object's ``__del__`` in
    the same batch could still call the native holding it.  Each arena has its
    own subclass whose ``arena`` attribute leads back to it, so a live block
    keeps its arena alive even after module globals are cleared at exit.

    A block cannot be created, copied or pickled from Python: a second owner
    of the same address would release the code twice.
    """

    __slots__ = ()
    arena: CodeArena

    def __new__(cls, *args: Any, **kwargs: Any) -> CodeBlock:
        raise TypeError("CodeBlock objects are created by CodeArena.install()")

    @property
    def address(self) -> int:
        return int(self)

    @property
    def size(self) -> int:
        return self.arena._record(self).size

    @property
    def kept(self) -> tuple[object, ...]:
        """The objects kept alive as long as the code (``install(..., keep=...)``)."""
        return self.arena._record(self).keep

    def read(self) -> bytes:
        """The installed bytes (for disassembly and tests)."""
        return ctypes.string_at(int(self), self.size)

    def __repr__(self) -> str:
        return f"<CodeBlock at {int(self):#x}>"

    def __reduce__(self) -> Any:
        raise TypeError("installed machine code cannot be pickled")

    def __copy__(self) -> CodeBlock:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CodeBlock:
        return self

    def __del__(self) -> None:
        try:
            self.arena._release(self)
        except Exception:  # interpreter shutdown: the memory goes with the process
            pass


class _BlockRecord:
    """What the arena knows about one installed block."""

    __slots__ = ("owner_id", "size", "chunk", "keep", "permanent")

    def __init__(self, owner_id: int, size: int, chunk: Chunk, keep: tuple[object, ...],
                 permanent: bool) -> None:
        #: ``id`` of the one CodeBlock allowed to release this code.
        self.owner_id = owner_id
        self.size = size
        self.chunk = chunk
        #: Python objects the code uses (e.g. a data buffer it reads), released with it.
        self.keep = keep
        #: Never released (shared stubs): the chunk's ``live`` count keeps it mapped.
        self.permanent = permanent


def _untracker() -> Any:
    untrack = ctypes.pythonapi.PyObject_GC_UnTrack
    untrack.argtypes = [ctypes.py_object]
    untrack.restype = None
    return untrack


_gc_untrack = _untracker()


class CodeArena:
    """Hands out :class:`CodeBlock` s packed into W^X chunks."""

    def __init__(self, memory: LibcMemory | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        self._memory = memory if memory is not None else LibcMemory()
        self._chunk_size = chunk_size
        self._current: Chunk | None = None
        self._lock = threading.RLock()
        self.mapped_bytes = 0
        #: Live blocks by code address.
        self._blocks: dict[int, _BlockRecord] = {}
        self._block_type: type[CodeBlock] = type("CodeBlock", (CodeBlock,),
                                                 {"__slots__": (), "arena": self,
                                                  "__module__": __name__})

    def install(self, code: bytes, keep: tuple[object, ...] = (), permanent: bool = False) -> CodeBlock:
        """Copy ``code`` into executable memory and return its owner.

        ``keep``: objects the code needs (e.g. a writable ctypes buffer it reads),
        kept alive exactly as long as the code.  They must not refer back to the
        native object, or neither is ever freed.  ``permanent``: the code is never
        released and its chunk never unmapped, whatever happens to the owner (code
        shared by every native, which must outlive them all, even at exit).

        The space is reserved (``used`` bumped, the block counted live) before any
        Python-level call, so an install re-entered on this thread (a signal handler,
        a finalizer) gets other space, and a release cannot recycle this one.  A fresh
        chunk becomes the current one only once it is executable.
        """
        keep = tuple(keep)
        size = max(len(code), 1)
        with self._lock:
            chunk = self._current
            fresh = chunk is None or chunk.broken or chunk.used + size > chunk.size
            if fresh:
                chunk = self._new_chunk(size)
            assert chunk is not None  # fresh when there was none
            start = chunk.used
            chunk.used = (start + size + ALIGN - 1) & ~(ALIGN - 1)
            chunk.live += 1
            addr = chunk.address + start
            try:
                if fresh:
                    self._memory.write_fresh(chunk, addr, code)
                else:
                    self._memory.write_live(chunk, addr, code)
            except BaseException:
                chunk.live -= 1
                if fresh:
                    self._unmap(chunk)
                elif chunk.broken and chunk is self._current:
                    self._retire_current()
                raise
            if fresh:
                self._retire_current()
                self._current = chunk
            block = int.__new__(self._block_type, addr)
            _gc_untrack(block)
            self._blocks[addr] = _BlockRecord(id(block), len(code), chunk, keep, permanent)
            return block

    def live_blocks(self) -> int:
        """How many blocks are installed and not yet released (permanent ones included)."""
        return len(self._blocks)

    def is_live(self, address: int) -> bool:
        """Is code installed at ``address`` and not released?"""
        return address in self._blocks

    def _record(self, block: CodeBlock) -> _BlockRecord:
        record = self._blocks.get(int(block))
        if record is None or record.owner_id != id(block):
            raise ValueError(f"{block!r} is not live in this arena")
        return record

    def _new_chunk(self, size: int) -> Chunk:
        length = max(self._chunk_size, (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE)
        address = self._memory.map(length)
        self.mapped_bytes += length
        return Chunk(address, length)

    def _retire_current(self) -> None:
        old = self._current
        self._current = None
        if old is not None and old.live == 0:
            self._unmap(old)

    def _unmap(self, chunk: Chunk) -> None:
        self._memory.unmap(chunk.address, chunk.size)
        self.mapped_bytes -= chunk.size

    def _release(self, block: CodeBlock) -> None:
        """The owner is being deallocated: free its space (unless permanent) and its kept objects."""
        with self._lock:
            record = self._blocks.get(int(block))
            if record is None or record.owner_id != id(block) or record.permanent:
                return
            del self._blocks[int(block)]
            chunk = record.chunk
            chunk.live -= 1
            if chunk.live:
                return
            if chunk is self._current and not chunk.broken:
                chunk.used = 0  # empty again: reuse from the start
            else:
                self._unmap(chunk)


_default_arena: CodeArena | None = None
_default_arena_lock = threading.Lock()


def default_arena() -> CodeArena:
    """The process-wide arena (created on first use, once even when threads race)."""
    global _default_arena
    if _default_arena is None:
        with _default_arena_lock:
            if _default_arena is None:
                _default_arena = CodeArena()
    return _default_arena
