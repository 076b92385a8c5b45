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
is released and a chunk that holds no live block is unmapped.
"""
from __future__ import annotations

import ctypes
import mmap as _mmap_consts
import os
import threading

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
        return addr

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

    _installer = None

    def _errno(self) -> int:
        location = getattr(self._libc, "__errno_location")  # (a literal would be name-mangled)
        location.restype = ctypes.POINTER(ctypes.c_int)
        return location().contents.value

    def _make_installer(self):
        """Generate the installer routine into a chunk of its own (never written again)."""
        from .backend.stubs import installer_stub
        mprotect = ctypes.cast(self._mprotect, ctypes.c_void_p).value
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


class CodeBlock:
    """Installed machine code; its memory lives exactly as long as this object."""

    __slots__ = ("address", "size", "_chunk", "_arena", "__weakref__")

    def __init__(self, address: int, size: int, chunk: Chunk, arena: CodeArena) -> None:
        self.address = address
        self.size = size
        self._chunk = chunk
        self._arena = arena

    def read(self) -> bytes:
        """The installed bytes (for disassembly and tests)."""
        return ctypes.string_at(self.address, self.size)

    def __del__(self) -> None:
        arena = self._arena
        if arena is not None:
            self._arena = None
            try:
                arena._release(self._chunk)
            except Exception:  # interpreter shutdown: the memory goes with the process
                pass


class CodeArena:
    """Hands out :class:`CodeBlock` s packed into W^X chunks."""

    def __init__(self, memory: LibcMemory | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        self._memory = memory if memory is not None else LibcMemory()
        self._chunk_size = chunk_size
        self._current: Chunk | None = None
        self._lock = threading.RLock()
        self.mapped_bytes = 0

    def install(self, code: bytes) -> CodeBlock:
        """Copy ``code`` into executable memory and return its owner.

        The space is reserved (``used`` bumped, the block counted live) before any
        Python-level call, so an install re-entered on this thread (a signal handler,
        a finalizer) gets other space, and a release cannot recycle this one.  A fresh
        chunk becomes the current one only once it is executable.
        """
        size = max(len(code), 1)
        with self._lock:
            chunk = self._current
            fresh = chunk is None or chunk.broken or chunk.used + size > chunk.size
            if fresh:
                chunk = self._new_chunk(size)
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
            return CodeBlock(addr, len(code), chunk, self)

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

    def _release(self, chunk: Chunk) -> None:
        with self._lock:
            chunk.live -= 1
            if chunk.live:
                return
            if chunk is self._current and not chunk.broken:
                chunk.used = 0  # empty again: reuse from the start
            else:
                self._unmap(chunk)


_default_arena: CodeArena | None = None


def default_arena() -> CodeArena:
    """The process-wide arena (created on first use)."""
    global _default_arena
    if _default_arena is None:
        _default_arena = CodeArena()
    return _default_arena
