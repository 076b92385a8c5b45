"""The persistent machine-code cache: a warm import of a pragma module compiles nothing.

Where: one file per module source file, next to its bytecode cache, named like
the pyc with ``.jitimport-code-v2.bin`` in place of ``.pyc``
(``__pycache__/geometry.cpython-312.jitimport-code-v2.bin``).  The path comes
from :func:`importlib.util.cache_from_source`, so ``PYTHONPYCACHEPREFIX`` /
``sys.pycache_prefix`` apply; with ``PYTHONDONTWRITEBYTECODE`` (``-B``,
``sys.dont_write_bytecode``) the file is read but never written, and a
directory that cannot be written is skipped without a word, as for pyc files.
Deleting the file (or the ``__pycache__`` directory) clears it.

What an entry holds (plain data only, :mod:`marshal` of tuples, bytes, str,
int, float and None — never pickle): for a native function its machine code,
its relocations (offset of each 8-byte address immediate and the symbol it
stands for, see ``backend.codegen.RELOCATION_SYMBOLS``), the (mode, name) of
each guard record, the words of each constant table, the cause of each call
counter, and what ``info()`` shows cheaply; for a refused function
the :class:`~jitimport.NotCompilable` reason and place (a warm import does not
even try again).

Keys, so that a stale entry is never used.  The *environment* key covers
the cache format, jitimport's version, the size and modification time of
every module of the installed jitimport package (a changed compiler is a new
compiler, even without a version bump), and the interpreter (``sys.version``
with its build date and compiler, ``cache_tag``, ``hexversion``, ABI flags,
debug build).  The *function* key is a BLAKE2b digest of the environment key,
the code object (bytecode, constants recursively, names, variable names,
argument counts, flags, qualname, file, line table, exception table), the
defaults, and a fingerprint of every name in ``co_names`` as seen from the
function right now: unbound; an ``int``/``bool`` in the globals (type and
value: the code embeds it); a native function (its own key: a changed callee
invalidates its callers); a builtin (whether it is the genuine one); or any
other object (its type).  So a module constant rebound before the import, a
changed source, another Python build or another jitimport all miss.

Integrity: the file starts with a magic number and a BLAKE2b checksum of all
the rest; a truncated, corrupted or foreign file fails the check (or the
shape checks after it) and is ignored: the functions are compiled as if there
were no cache, and the file is rewritten.  It is always written whole, to a
temporary name then ``os.replace``, as CPython writes pyc files.

Loading an entry: the code is copied, each relocation patched with this
process's address (``native.runtime_fields()``, the original function and its
``__defaults__`` tuple, its globals and builtins dicts, the rebuilt guard
records and tables, a fresh call-counter buffer sized by the entry's causes),
and installed like freshly compiled code; the native is registered with
:mod:`jitimport.callstats` so ``jitimport.stats()`` reads its counters.
Guard records are rebuilt from (mode, name): a builtin guard expects the
builtin of that name, a global guard the object the module binds to the name
*now* (the fingerprint in the key guarantees it has
the type and value the code was compiled with).  ``info(f).from_cache`` is
True for such a function; the rest of its info (IR, listing, timings of a real
compile) is computed on first request, by compiling it again (its listing is
generated with the loaded code's buffers, so it shows the installed bytes).

Only the import hook uses this cache (``runtime.compile_or_keep``);
``compile_native`` and ``@jit`` always compile.
"""
from __future__ import annotations

import marshal
import os
import sys
from _thread import allocate_lock

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython 3.11+ build has it
    from hashlib import blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import CodeType, FunctionType
    from typing import Any, Callable

#: Bumped whenever the file layout or an entry's shape changes.
FORMAT_VERSION = 2
SUFFIX = f".jitimport-code-v{FORMAT_VERSION}.bin"
MAGIC = b"JITCODE\x01"
_DIGEST = 16
_HEADER = len(MAGIC) + _DIGEST

_NATIVE, _REFUSED = 1, 0
#: ``stubs.GUARD_*``: a guard record is 7 words (tags, dicts, name, expected object, mode).
_RECORD_WORDS = 7
_GUARD_MODE_GLOBAL = 1
_UINT64 = (1 << 64) - 1
_MISSING = object()

_lock = allocate_lock()
#: Source path -> its store, while the module runs (dropped once flushed).
_stores: dict[str, _Store] = {}
#: Source paths whose store was written in this process.
_flushed: set[str] = set()
_environment: bytes | None = None
_atexit_registered = False


# -- keys ------------------------------------------------------------------------------------------

def environment_key() -> bytes:
    """What every entry depends on besides the function: the cache format, jitimport, CPython."""
    global _environment
    if _environment is None:
        # The package is loaded (this is one of its modules): read it, do not import it from below.
        jitimport = sys.modules[__package__.rpartition(".")[0]]
        parts = [str(FORMAT_VERSION), jitimport.__version__, sys.version, sys.implementation.cache_tag or "",
                 str(sys.hexversion), getattr(sys, "abiflags", ""), str(hasattr(sys, "gettotalrefcount"))]
        parts.extend(_package_stamp(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        _environment = blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=_DIGEST).digest()
    return _environment


def _package_stamp(root: str) -> list[str]:
    """(relative path, size, mtime) of jitimport's modules: any change is another compiler."""
    stamp = []
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                stamp.append(f"{entry.path[len(root):]}:{st.st_size}:{st.st_mtime_ns}")
            elif entry.name != "__pycache__" and entry.is_dir():
                pending.append(entry.path)
    return stamp


def _canonical(value: object) -> object:
    """A deterministic, process-independent rendering of a constant (for ``repr`` then hashing)."""
    t = type(value)
    if t is tuple:
        return ("T", tuple(_canonical(v) for v in value))  # type: ignore[attr-defined]
    if t is frozenset:
        return ("S", tuple(sorted(repr(_canonical(v)) for v in value)))  # type: ignore[attr-defined]
    if t is float:
        return ("F", value.hex())  # type: ignore[attr-defined]
    if t.__name__ == "code":
        return _code_parts(value)  # type: ignore[arg-type]
    if t in (int, bool, str, bytes, complex) or value is None or value is Ellipsis:
        return (t.__name__, value)
    return (t.__module__, t.__qualname__, repr(value))


def _code_parts(code: CodeType) -> tuple[object, ...]:
    return ("C", code.co_code, _canonical(code.co_consts), code.co_names, code.co_varnames,
            code.co_cellvars, code.co_freevars, code.co_argcount, code.co_posonlyargcount,
            code.co_kwonlyargcount, code.co_nlocals, code.co_flags, code.co_stacksize,
            getattr(code, "co_qualname", code.co_name), code.co_filename, code.co_firstlineno,
            getattr(code, "co_linetable", b""), getattr(code, "co_exceptiontable", b""))


def _builtins_of(fn: FunctionType) -> dict[str, Any]:
    # FunctionType.__builtins__ is in typeshed, but mypy loses it when it reads the types module from its cache
    # (an error only then, hence unused-ignore)
    builtins = fn.__builtins__  # type: ignore[attr-defined, unused-ignore]
    return builtins if isinstance(builtins, dict) else builtins.__dict__


def _value_fingerprint(name: str, value: object, builtin: bool, seen: set[int]) -> object:
    t = type(value)
    if t is int or t is bool:
        return (t.__name__, value)
    if builtin:
        import builtins

        return ("builtin", getattr(builtins, name, _MISSING) is value, t.__qualname__)
    native = sys.modules.get("jitimport.native")
    if native is not None and native.is_native(value):
        original = native.original(value)
        if type(original).__name__ == "function":
            return ("native", function_key(original, seen))
    if t is tuple and all(type(v) in (int, bool) for v in value):  # type: ignore[attr-defined]
        return ("tuple", tuple((type(v).__name__, v) for v in value))  # type: ignore[attr-defined]
    return ("object", t.__module__, t.__qualname__)


def global_fingerprints(fn: FunctionType, seen: set[int] | None = None) -> tuple[tuple[object, ...], ...]:
    """How each name the code may look up resolves from ``fn`` now (see the module docstring)."""
    seen = set() if seen is None else seen
    globals_ = fn.__globals__
    builtins_ = _builtins_of(fn)
    prints: list[tuple[object, ...]] = []
    for name in fn.__code__.co_names:
        value = globals_.get(name, _MISSING)
        if value is not _MISSING:
            prints.append(("g", name, _value_fingerprint(name, value, False, seen)))
            continue
        value = builtins_.get(name, _MISSING)
        if value is not _MISSING:
            prints.append(("b", name, _value_fingerprint(name, value, True, seen)))
        else:
            prints.append(("-", name))
    return tuple(prints)


def function_key(fn: FunctionType, seen: set[int] | None = None) -> bytes:
    """The cache key of ``fn`` as it would be compiled now (a 32-byte digest)."""
    seen = set() if seen is None else seen
    if id(fn) in seen:  # mutual recursion through native callees: the code alone
        prints: tuple[object, ...] = ("cycle",)
    else:
        seen.add(id(fn))
        prints = global_fingerprints(fn, seen)
    material = repr((_code_parts(fn.__code__), _canonical(fn.__defaults__),
                     _canonical(tuple(sorted((fn.__kwdefaults__ or {}).items()))), prints))
    h = blake2b(environment_key(), digest_size=32)
    h.update(material.encode("utf-8", "surrogatepass"))
    return h.digest()


# -- files -------------------------------------------------------------------------------------------

def cache_path(source_path: str) -> str | None:
    """``pkg/m.py`` -> ``pkg/__pycache__/m.cpython-312.jitimport-code-v2.bin`` (None: no cache)."""
    if not source_path.endswith(".py") or not os.path.isabs(source_path):
        return None
    from importlib.util import cache_from_source

    try:
        standard = cache_from_source(source_path)
    except (NotImplementedError, ValueError):
        return None
    return standard[:-4] + SUFFIX


def read_entries(path: str) -> dict[bytes, tuple[Any, ...]]:
    """The entries of a cache file, or {} when it is missing, foreign, damaged or stale."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    if len(data) < _HEADER or data[:len(MAGIC)] != MAGIC:
        return {}
    payload = memoryview(data)[_HEADER:]
    if blake2b(payload, digest_size=_DIGEST).digest() != data[len(MAGIC):_HEADER]:
        return {}
    try:
        environment, entries = marshal.loads(payload)
    except Exception:
        return {}
    if environment != environment_key() or type(entries) is not tuple:
        return {}
    table = {}
    for item in entries:
        if type(item) is tuple and len(item) == 2 and type(item[0]) is bytes and type(item[1]) is tuple:
            table[item[0]] = item[1]
    return table


def write_entries(path: str, entries: dict[bytes, tuple[Any, ...]]) -> bool:
    """Write the whole file atomically (temporary file, then ``os.replace``); False if it could not be."""
    payload = marshal.dumps((environment_key(), tuple(entries.items())), 4)
    data = MAGIC + blake2b(payload, digest_size=_DIGEST).digest() + payload
    directory = os.path.dirname(path)
    temporary = f"{path}.{os.getpid()}.{id(entries)}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        try:
            with open(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
    except OSError:
        return False
    return True


class _Store:
    """The cache of one source file while its module runs: what the file held, what was used.

    The file is rewritten with the entries used or added in this run, so entries of an edited
    function do not pile up; a store opened again after a flush in the same process (a function
    compiled after its module ran) keeps everything the file holds."""

    def __init__(self, path: str, reopened: bool) -> None:
        self.path = path
        self.entries = read_entries(path)
        #: Entries to write back: the ones used in this run and the new ones.
        self.kept: dict[bytes, tuple[Any, ...]] = dict(self.entries) if reopened else {}
        self.dirty = False

    def add(self, key: bytes, entry: tuple[Any, ...]) -> None:
        self.kept[key] = entry
        self.dirty = True
        _register_atexit()

    def flush(self) -> None:
        if self.dirty and not sys.dont_write_bytecode:
            write_entries(self.path, self.kept)
        self.dirty = False


def _store_for(fn: FunctionType) -> _Store | None:
    source = fn.__code__.co_filename
    with _lock:
        store = _stores.get(source)
        if store is None:
            path = cache_path(source)
            if path is None:
                return None
            store = _stores[source] = _Store(path, source in _flushed)
        return store


def flush(source_path: str) -> None:
    """Write what the module at ``source_path`` compiled (the loader calls it after the module ran)."""
    with _lock:
        store = _stores.pop(source_path, None)
        _flushed.add(source_path)
    if store is not None:
        store.flush()


def flush_all() -> None:
    with _lock:
        stores = list(_stores.values())
        _flushed.update(_stores)
        _stores.clear()
    for store in stores:
        store.flush()


def _register_atexit() -> None:
    """Functions compiled outside a module's execution (install()'s pass) are written at exit."""
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        import atexit

        atexit.register(flush_all)


# -- entries -------------------------------------------------------------------------------------------

def native_entry(native: Any) -> tuple[Any, ...] | None:
    """The cache entry of a freshly compiled native, or None when it cannot be relocated safely."""
    from jitimport import native as _native

    info = _native.metadata(native).get("info")
    relocations = getattr(info, "relocations", None)
    if info is None or relocations is None:
        return None
    fn = _native.original(native)
    code = _native.code_block(native).read()
    if not _relocatable(code, relocations, fn, info.buffers):
        return None
    return (_NATIVE, code, tuple(relocations), tuple(info.guards), tuple(info.tables),
            tuple(sorted(info.unbound_globals)), float(info.compile_seconds), tuple(info.causes),
            str(info.name))


def _relocatable(code: bytes, relocations: tuple[tuple[int, tuple[Any, ...]], ...], fn: FunctionType,
                 buffers: Any) -> bool:
    """Every relocation slot holds what its symbol means here, and no other address this process
    put in the code remains (a load of an address not routed through ``CodeGen.address``)."""
    import ctypes

    from jitimport import native as _native

    fields = _native.runtime_fields()
    masked = bytearray(code)
    counters = ctypes.addressof(buffers.counters) if buffers is not None else None
    # Every object of this process the code could plausibly point at: the function and what
    # hangs off it, and whatever its names resolve to, and the code's own writable buffers.
    known = {id(fn), id(fn.__globals__), id(_builtins_of(fn)), id(fn.__code__)}
    if buffers is not None:
        assert counters is not None  # set above from the same buffers
        known.update(counters + 8 * slot for slot in range(len(buffers.counters)))
        known.add(ctypes.addressof(buffers.guards))
        known.update(ctypes.addressof(words) for words in buffers.tables.values())
    if fn.__defaults__ is not None:
        known.add(id(fn.__defaults__))
        known.update(id(v) for v in fn.__defaults__)
    for name in fn.__code__.co_names:
        for namespace in (fn.__globals__, _builtins_of(fn)):
            if name in namespace:
                known.add(id(namespace[name]))
    known.update(v for k, v in fields.items() if k != "decoders")
    known.update(fields["decoders"].values())
    for offset, symbol in relocations:
        value = int.from_bytes(code[offset:offset + 8], "little")
        if symbol[0] in ("guard_record", "table"):
            known.add(value)
        elif value != _resolve(symbol, fields, fn, fn.__globals__, _builtins_of(fn), None, None, counters):
            return False
        masked[offset:offset + 8] = bytes(8)
    for address in known:
        if address and (address.to_bytes(8, "little") in masked
                        or (address < (1 << 32) and address.to_bytes(4, "little") in masked)):
            return False
    return True


def _resolve(symbol: tuple[Any, ...], fields: dict[str, Any], fn: FunctionType, globals_: dict[str, Any],
             builtins_: dict[str, Any],
             guard_base: int | None, tables: list[int] | None = None, counters: int | None = None,
             counter_slots: int | None = None) -> int:
    """This process's value of a relocation symbol (``backend.codegen.CodeGen.resolve``)."""
    # symbol[1] (a name or an index, from marshal) and the fields are Any: the ignores below
    kind = symbol[0]
    if kind == "runtime" and symbol[1] != "decoders":
        return fields[symbol[1]]  # type: ignore[no-any-return]
    if kind == "decoder":
        return fields["decoders"][symbol[1]]  # type: ignore[no-any-return]
    if kind == "original":
        return id(fn)
    if kind == "defaults":   # the tuple the code compares the original's __defaults__ with
        if fn.__defaults__ is None:
            raise KeyError(symbol)
        return id(fn.__defaults__)
    if kind == "counters" and counters is not None and (
            counter_slots is None or 0 <= symbol[1] < counter_slots):
        return counters + 8 * symbol[1]  # type: ignore[no-any-return]
    if kind == "globals":
        return id(globals_)
    if kind == "builtins":
        return id(builtins_)
    if kind == "global":   # KeyError when unbound: the entry is not used
        return id(globals_[symbol[1]])
    if kind == "guard_record" and guard_base is not None:
        return guard_base + 8 * _RECORD_WORDS * symbol[1]  # type: ignore[no-any-return]
    if kind == "table" and tables is not None:
        return tables[symbol[1]]  # type: ignore[no-any-return]
    raise KeyError(symbol)


def materialize(fn: FunctionType, entry: tuple[Any, ...], started: float) -> Any:
    """A native for ``fn`` from a cache entry (raises NotCompilable for a cached refusal), or None
    when the entry cannot be used here (it is then compiled as if there were no entry)."""
    if entry[0] == _REFUSED:
        from ..errors import NotCompilable

        refusal = NotCompilable(entry[1], entry[2], entry[3])
        refusal.unbound_globals = frozenset(entry[4])
        raise refusal
    import ctypes

    from jitimport import native as _native
    from jitimport.execmem import default_arena

    _, code, relocations, guards, tables, unbound, compile_seconds, causes, qualname = entry
    fields = _native.runtime_fields()
    globals_, builtins_ = fn.__globals__, _builtins_of(fn)
    buffer = (ctypes.c_uint64 * max(1, len(guards) * _RECORD_WORDS))()
    base = ctypes.addressof(buffer)
    names, objects = [], []
    for index, (mode, name) in enumerate(guards):
        expected = (globals_ if mode == _GUARD_MODE_GLOBAL else builtins_).get(name, _MISSING)
        if expected is _MISSING:
            return None
        names.append(name)
        objects.append(expected)
        buffer[index * _RECORD_WORDS:(index + 1) * _RECORD_WORDS] = [
            _UINT64, _UINT64, id(globals_), id(builtins_), id(name), id(expected), mode]
    table_words = [(ctypes.c_uint64 * max(1, len(words)))(*words) for words in tables]
    table_addresses = [ctypes.addressof(words) for words in table_words]
    # A fresh set of call counters (calls, then exits by cause), as the compiler allocates.
    counters = (ctypes.c_uint64 * len(causes))()
    counters_base = ctypes.addressof(counters)
    patched = bytearray(code)
    size = len(patched)
    for offset, symbol in relocations:
        if not 0 <= offset <= size - 8:
            return None
        patched[offset:offset + 8] = (_resolve(symbol, fields, fn, globals_, builtins_, base, table_addresses,
                                               counters_base, len(causes)) & _UINT64).to_bytes(8, "little")
    # As ``CodeGen.generate`` keeps: the tables, the defaults tuple the code compares with (so
    # its address is not reused while the code lives), the counters, the guard records.
    keep: tuple[object, ...] = (*table_words, fn.__defaults__, counters)
    if guards:
        keep += (buffer, *names, *objects)
    block = default_arena().install(bytes(patched), keep=keep)
    from time import perf_counter

    buffers = _LoadedBuffers(counters, buffer, table_words)
    loaded = _CachedInfo(fn, block.address, size, perf_counter() - started, buffers, list(causes), qualname)
    native = _native.make_native(fn, block, block.address,
                                 {"info_factory": loaded.info, "unbound_globals": frozenset(unbound)})
    from jitimport import callstats

    callstats.register(native, loaded)
    return native


class _LoadedBuffers:
    """The writable memory of code loaded from the cache, shaped like ``codegen.CodeBuffers``
    (which is not imported here: a warm import does not load the code generator); the tables
    are in ``("table", k)`` order until :meth:`_CachedInfo.info` learns their keys."""

    def __init__(self, counters: Any, guards: Any, tables: list[Any]) -> None:
        self.counters = counters
        self.guards = guards
        self.table_list = tables
        self.tables: dict[int, Any] = dict(enumerate(tables))


class _CachedInfo:
    """``info()`` of a function loaded from the cache, built on first request (by compiling the
    function again: its IR and listing are what that compile gives, since codegen is deterministic)."""

    def __init__(self, fn: FunctionType, address: int, size: int, seconds: float, buffers: _LoadedBuffers,
                 causes: list[str], name: str) -> None:
        import weakref

        self.source = weakref.ref(fn)
        self.address, self.size, self.seconds = address, size, seconds
        #: What ``callstats`` reads of a ``CompileInfo``: the counters are the loaded code's.
        self.buffers, self.causes, self.name = buffers, causes, name

    def info(self) -> Any:
        import dataclasses

        from jitimport import compiler
        from jitimport.backend.codegen import CodeBuffers

        fn = self.source()
        if fn is None:
            return compiler.CompileInfo(compiled=True, from_cache=True, address=self.address,
                                        code_size=self.size, name=self.name, causes=self.causes)
        details = _info(compiler.compile_native(fn))
        # The loaded code's buffers, so that the listing (generated again with them) shows the
        # installed bytes; the tables by the keys the new compile gave them (same order).
        fresh = details.buffers
        tables = self.buffers.table_list
        buffers = CodeBuffers(self.buffers.counters, self.buffers.guards,
                              dict(zip(fresh.tables, tables)) if fresh is not None and
                              len(fresh.tables) == len(tables) else {})
        return dataclasses.replace(details, from_cache=True, address=self.address, buffers=buffers,
                                   causes=self.causes, compile_seconds=self.seconds,
                                   stage_seconds={"cache": self.seconds})


def _info(native: Any) -> Any:
    from jitimport import native as _native

    return _native.metadata(native)["info"]


# -- the hook's entry point ------------------------------------------------------------------------

def load_or_compile(fn: FunctionType, compile: Callable[[Any], Any]) -> tuple[Any, bool]:
    """(native, from_cache): the cached native of ``fn`` when there is a usable entry, else
    ``compile(fn)`` (whose result, or refusal, is added to the cache).  Raises what ``compile``
    raises, or a cached refusal as NotCompilable."""
    from time import perf_counter

    started = perf_counter()
    try:
        store = _store_for(fn)
        key = function_key(fn) if store is not None else None
    except Exception:  # an unhashable oddity: no cache for this function
        store = key = None
    if store is None or key is None:
        return compile(fn), False
    entry = store.entries.get(key)
    if entry is not None:
        try:
            native = materialize(fn, entry, started)
        except Exception as exc:
            from ..errors import NotCompilable

            if type(exc) is NotCompilable:
                store.kept[key] = entry
                raise
            native = None
        if native is not None:
            store.kept[key] = entry
            return native, True
    from ..errors import NotCompilable

    try:
        native = compile(fn)
    except NotCompilable as exc:
        if type(exc) is NotCompilable:  # not UnsupportedPlatform: that is about this process
            store.add(key, (_REFUSED, exc.reason, exc.filename, exc.lineno,
                            tuple(sorted(getattr(exc, "unbound_globals", None) or ()))))
        raise
    try:
        fresh = native_entry(native)
    except Exception:
        fresh = None
    if fresh is not None:
        store.add(key, fresh)
    return native, False
