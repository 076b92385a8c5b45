"""The marker constants the transform injects, and binding them to the runtime.

Kept apart from :mod:`.transform` (which needs ``ast``, ``tokenize`` and ``typing``): a warm
import of a pragma module, whose transformed bytecode comes from its ``.pyc``, only binds the
markers: it must not load what the transform needs.
"""
from __future__ import annotations

from types import CodeType

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

#: First item of every injected marker constant (a NUL: never in a literal of real source).
MARK = "\x00jitimport"
#: The marker decorator of a function to swap; bound to ``runtime.swap``.
SWAP_MARKER = (MARK, "swap")
#: ``(MARK, "keep", qualname, reason)``: bound to ``runtime.keep(qualname, reason)``.
KEEP = "keep"
#: ``(MARK, "instance", n)``: a def inside a function, or a lambda (site ``n`` of the module);
#: bound to a fresh ``runtime.InstanceSite`` per site and per execution of the module.
INSTANCE = "instance"
#: Bump whenever the generated code changes: it is part of the pyc cache tag.
TRANSFORM_VERSION = 4


def bind_runtime(code: CodeType) -> CodeType:
    """``code`` with every marker constant replaced by the runtime function it stands for.

    Code without markers (plain Python, or a module whose transform failed) is
    returned as it is.  The result cannot be marshalled: bind right before
    executing, never before caching.
    """
    from . import runtime

    def bind(marker: tuple[Any, ...]) -> object | None:
        if marker == SWAP_MARKER:
            return runtime.swap
        if len(marker) == 4 and marker[1] == KEEP:
            return runtime.keep(marker[2], marker[3])
        if len(marker) == 3 and marker[1] == INSTANCE:
            return runtime.InstanceSite()
        return None

    return _replace_markers(code, bind)


def _replace_markers(code: CodeType, bind: Callable[[tuple[Any, ...]], object | None]) -> CodeType:
    # Markers sit in module and class-body code objects, which can be nested in
    # any other code object (a class in a function, a 3.12 generic class's
    # annotation scope): walk them all.
    consts = list(code.co_consts)
    changed = False
    for i, const in enumerate(consts):
        if type(const) is tuple and const and const[0] == MARK:
            bound = bind(const)
            if bound is not None:
                consts[i] = bound
                changed = True
        elif type(const) is CodeType:
            inner = _replace_markers(const, bind)
            if inner is not const:
                consts[i] = inner
                changed = True
    return code.replace(co_consts=tuple(consts)) if changed else code
