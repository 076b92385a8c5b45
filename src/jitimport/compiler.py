"""The pipeline, end to end: function -> IR -> optimized IR -> machine code -> native object.

The user-facing helpers built on it (:func:`jit`, :func:`info`,
:func:`disassemble`) live in :mod:`jitimport.api`.
"""
from __future__ import annotations

import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from . import native, versions
from .backend.codegen import generate
from .errors import NotCompilable, UnsupportedPlatform
from .execmem import ExecMemoryError, default_arena
from .frontend import build_ir
from .ir import Function
from .optimizer import optimize
from .support import unsupported_reason

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CompileInfo:
    """What :func:`info` reports about one function."""

    compiled: bool
    reason: str | None = None
    name: str = ""
    nargs: int = 0
    code_size: int = 0
    compile_seconds: float = 0.0
    checked_params: tuple[str, ...] = ()
    #: Values proven unsigned/small/modular by the representation analysis, e.g.
    #: ``{"%x": "modular", "%3": "unsigned"}`` (the rest are signed 64-bit, overflow-checked).
    representations: dict[str, str] = field(default_factory=dict)
    address: int = 0
    ir_function: Function | None = field(default=None, repr=False)
    optimized_function: Function | None = field(default=None, repr=False)

    original_address: int = 0

    @property
    def listing(self) -> list[tuple[int, bytes, str]]:
        """(offset, bytes, Intel text) per instruction.  Code generation is deterministic,
        so it is regenerated on demand rather than kept for every function."""
        if self.optimized_function is None:
            return []
        table = versions.current()
        assert table is not None
        return generate(self.optimized_function, table.long_layout, native.runtime(),
                        self.original_address).listing()

    @property
    def ir(self) -> str:
        """The IR as the frontend built it (rendered on demand: printing is not free)."""
        return str(self.ir_function) if self.ir_function is not None else ""

    @property
    def optimized_ir(self) -> str:
        """The IR after optimization, as the backend compiled it."""
        return str(self.optimized_function) if self.optimized_function is not None else ""


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
    table = versions.current()
    assert table is not None
    started = time.perf_counter()
    ir_fn = build_ir(fn, table)
    optimized = optimize(ir_fn)
    try:
        machine = generate(optimized, table.long_layout, native.runtime(), id(fn))
        block = default_arena().install(machine.code)
    except ExecMemoryError as exc:
        raise UnsupportedPlatform(f"executable memory is not available: {exc}", *_where(fn)) from None
    elapsed = time.perf_counter() - started
    details = CompileInfo(
        compiled=True, name=fn.__qualname__, nargs=len(ir_fn.params), code_size=len(machine.code),
        compile_seconds=elapsed,
        checked_params=tuple(p.name for p in ir_fn.params if p.index in ir_fn.read_params),
        representations=machine.representation.describe(optimized),
        address=block.address, original_address=id(fn), ir_function=ir_fn, optimized_function=optimized,
    )
    return native.make_native(fn, block, block.address, {"info": details})  # type: ignore[return-value]
