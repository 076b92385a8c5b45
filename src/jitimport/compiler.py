"""The pipeline, end to end: function -> IR -> optimized IR -> machine code -> native object.

:func:`compile_native` runs these stages in order, each a function whose
result the next one takes, each timed (``info(f).stage_seconds``); an
unexpected error inside a stage is re-raised as :class:`CompilerError`
naming it:

=========  =========================================================  =======================
stage      what                                                       module
=========  =========================================================  =======================
frontend   bytecode -> control-flow graph in SSA form                 ``frontend``
optimize   folding, algebra, CSE, branch folding, pruning, DCE        ``optimizer``
check      refuse a function whose every path exits to Python         here
analyze    representation (signed/unsigned/modular) and type per value ``analysis``
allocate   linear-scan registers over the block layout                ``backend.regalloc``
generate   machine code: vectorcall entry, blocks, exits              ``backend.codegen``
install    copy into W^X executable memory                            ``execmem``
=========  =========================================================  =======================

The user-facing helpers built on it (:func:`jit`, :func:`info`,
:func:`disassemble`) live in :mod:`jitimport.api`.
"""
from __future__ import annotations

import time
import types
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from . import callstats, native, versions
from .analysis import Representation, analyze
from .backend.codegen import CodeBuffers, GuardTarget, MachineCode, generate
from .backend.regalloc import Allocation, allocate
from .errors import CompilerError, NotCompilable, UnsupportedPlatform
from .execmem import CodeBlock, ExecMemoryError, default_arena
from .frontend import build_ir, builtins_of
from .ir import Exit, Function
from .optimizer import optimize
from .support import unsupported_reason

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

STAGES = ("frontend", "optimize", "check", "analyze", "allocate", "generate", "install")


@dataclass
class CompileInfo:
    """What :func:`info` reports about one function."""

    compiled: bool
    reason: str | None = None
    name: str = ""
    nargs: int = 0
    code_size: int = 0
    compile_seconds: float = 0.0
    #: Seconds spent in each stage of the pipeline, in order.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    checked_params: tuple[str, ...] = ()
    #: Values proven unsigned/small/modular by the representation analysis, e.g.
    #: ``{"%x": "modular", "%3": "unsigned"}`` (the rest are signed 64-bit, overflow-checked).
    representations: dict[str, str] = field(default_factory=dict)
    address: int = 0
    #: A weak reference to the Python function, the unoptimized IR is rebuilt from it on demand
    #: (weak: the info must not count as a reference to the original held elsewhere).
    source_ref: Callable[[], types.FunctionType | None] | None = field(default=None, repr=False)
    optimized_function: Function | None = field(default=None, repr=False)
    original_address: int = 0
    #: Global names the function reads that were unbound when it was compiled (a helper
    #: defined further down the module): the hook compiles it again once the module has run.
    unbound_globals: frozenset[str] = frozenset()
    #: The code's writable memory (call counters, guard records, tables), see :mod:`.stats`.
    buffers: CodeBuffers | None = field(default=None, repr=False)
    #: What each call counter counts (calls, then exits by cause).
    causes: list[str] = field(default_factory=list, repr=False)
    #: Loaded from the persistent machine-code cache (``hook.codecache``) instead of compiled.
    from_cache: bool = False
    #: (offset, symbol) of each address in the code, and (mode, name) of each guard record
    #: (``MachineCode.relocations`` / ``.guards``): what the cache needs to relocate the code.
    relocations: tuple[tuple[int, tuple[Any, ...]], ...] = field(default=(), repr=False)
    guards: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    tables: tuple[tuple[int, ...], ...] = field(default=(), repr=False)

    @property
    def source(self) -> types.FunctionType | None:
        return self.source_ref() if self.source_ref is not None else None

    @property
    def listing(self) -> list[tuple[int, bytes, str]]:
        """(offset, bytes, Intel text) per instruction.  Code generation is deterministic,
        so it is regenerated on demand rather than kept for every function."""
        source = self.source
        if self.optimized_function is None or source is None:
            return []
        fn = self.optimized_function
        rep = analyze(fn)
        # (the ignores here and in ir_function: mypy types a property's FunctionType result as a
        # MethodType, as if it were bound)
        return generate(fn, _table().long_layout, native.runtime(), self.original_address,
                        _guard_target(source), rep,  # type: ignore[arg-type]
                        allocate(fn, fn.has_loops()), self.buffers).listing()

    @property
    def ir_function(self) -> Function | None:
        """The control-flow graph as the frontend built it (rebuilt: the optimizer works in place)."""
        source = self.source
        return build_ir(source, _table(), inline_source) if source is not None else None  # type: ignore[arg-type]

    @property
    def ir(self) -> str:
        """The IR as the frontend built it (rendered on demand: printing is not free)."""
        fn = self.ir_function
        return str(fn) if fn is not None else ""

    @property
    def optimized_ir(self) -> str:
        """The IR after optimization, as the backend compiled it."""
        return str(self.optimized_function) if self.optimized_function is not None else ""


def _table() -> versions.VersionTable:
    table = versions.current()
    assert table is not None
    return table


def _guard_target(fn: types.FunctionType) -> GuardTarget:
    return GuardTarget(fn.__globals__, builtins_of(fn), _table().dict_version_offset)


def inline_source(obj: object) -> types.FunctionType | None:
    """The Python function whose body a call of ``obj`` inlines: a native function's original
    (immutable once compiled, so a guard on the name's binding is enough).  Plain Python
    functions are not inlined: their ``__code__`` and defaults can be reassigned."""
    if native.is_native(obj):
        source = native.original(obj)
        return source if isinstance(source, types.FunctionType) else None
    return None


def require_native_path(fn: Function) -> Function:
    """The ``check`` stage: a function whose every path exits to the original would only
    ever run Python, slower; it is refused with the first construct that blocks it."""
    if fn.returns():
        return fn
    exits = [b.terminator for b in fn.blocks if isinstance(b.terminator, Exit)]
    if not exits:
        raise NotCompilable("the function never returns", fn.filename, fn.firstlineno)
    first = min(exits, key=lambda e: (e.lineno if e.lineno is not None else 1 << 30))
    raise NotCompilable(first.reason, fn.filename, first.lineno)


class _Timer:
    """Runs the stages, timing each and tagging unexpected errors with the stage's name."""

    def __init__(self, fn: types.FunctionType) -> None:
        self.fn = fn
        self.seconds: dict[str, float] = {}

    def run(self, stage: str, step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            result = step(*args, **kwargs)
        except (NotCompilable, ExecMemoryError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CompilerError(stage, f"{type(exc).__name__}: {exc}", *_where(self.fn)) from exc
        self.seconds[stage] = time.perf_counter() - started
        return result


def _where(fn: object) -> tuple[str | None, int | None]:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None, None
    return code.co_filename, code.co_firstlineno


def compile_native(fn: F) -> F:
    """Return a native version of ``fn``, or raise :class:`NotCompilable` saying why.

    The native callable computes exactly what ``fn`` computes: whenever the
    machine code cannot (an argument that is not an exact int or does not fit
    in 64 bits, an overflow, a zero divisor, a negative shift, keyword
    arguments, a wrong argument count) it calls ``fn`` with the same
    arguments.  ``fn.__defaults__`` are read once, here.
    """
    reason = unsupported_reason()
    if reason is not None:
        raise UnsupportedPlatform(f"native code is not available: {reason}", *_where(fn))
    if isinstance(fn, staticmethod):
        return staticmethod(compile_native(fn.__func__))  # type: ignore[return-value]
    if native.is_native(fn):
        return fn
    if not isinstance(fn, types.FunctionType):
        raise NotCompilable(f"{type(fn).__name__} object is not a Python function")
    table = _table()
    timer = _Timer(fn)
    run = timer.run
    ir_fn: Function = run("frontend", build_ir, fn, table, inline_source)
    optimized: Function = run("optimize", optimize, ir_fn)
    try:
        run("check", require_native_path, optimized)
    except NotCompilable as exc:  # the hook tries again once these names are bound
        exc.unbound_globals = ir_fn.unbound_globals
        raise
    rep: Representation = run("analyze", analyze, optimized)
    alloc: Allocation = run("allocate", allocate, optimized, optimized.has_loops())
    try:
        machine: MachineCode = run("generate", generate, optimized, table.long_layout, native.runtime(),
                                   id(fn), _guard_target(fn), rep, alloc)
        block: CodeBlock = run("install", default_arena().install, machine.code, keep=machine.keep)
    except ExecMemoryError as exc:
        raise UnsupportedPlatform(f"executable memory is not available: {exc}", *_where(fn)) from None
    details = CompileInfo(
        compiled=True, name=fn.__qualname__, nargs=optimized.argcount, code_size=len(machine.code),
        compile_seconds=sum(timer.seconds.values()), stage_seconds=timer.seconds,
        checked_params=tuple(p.ref()[1:] for p in optimized.params if optimized.is_checked(p)),
        representations=rep.describe(optimized),
        address=block.address, original_address=id(fn), source_ref=weakref.ref(fn),
        optimized_function=optimized, unbound_globals=ir_fn.unbound_globals,
        buffers=machine.buffers, causes=machine.causes,
        relocations=machine.relocations, guards=machine.guards, tables=machine.tables,
    )
    result = native.make_native(fn, block, block.address, {"info": details})
    callstats.register(result, details)
    return result  # type: ignore[return-value]  # the native stands in for fn (same calls, same results)
