"""Methods that Python wraps implicitly when they are *plain functions* in a class body.

``type.__new__`` turns a plain-function ``__init_subclass__`` or
``__class_getitem__`` into a ``classmethod`` and a plain-function ``__new__``
into a ``staticmethod``.  A native object is not a plain function, so
swapping one of these for native code would silently drop that wrapping:
``__init_subclass__`` would be called without ``cls`` and ``Bits[4]`` would
bind ``4`` to ``cls``.  The rule is therefore the simplest exact one: neither
the hook nor ``@jit`` ever replaces these three names in a class body.  (An
explicit ``@classmethod`` / ``@staticmethod`` around a native works, because
then Python does not wrap anything itself.)

Kept in its own tiny module so that ``jitimport.api.jit`` can read the rule
without loading the AST transform.
"""
from __future__ import annotations

#: name -> the wrapper ``type.__new__`` applies when the class body binds a plain function to it.
IMPLICIT_WRAPPERS: dict[str, str] = {
    "__init_subclass__": "classmethod",
    "__class_getitem__": "classmethod",
    "__new__": "staticmethod",
}


def implicit_wrapper(name: str, in_class_body: bool) -> str | None:
    """``"classmethod"``/``"staticmethod"`` when Python wraps a plain function named ``name`` implicitly."""
    return IMPLICIT_WRAPPERS.get(name) if in_class_body else None


def qualname_in_class_body(qualname: str) -> bool:
    """True when a function's ``__qualname__`` says it was defined directly in a class body.

    ``K.__new__`` and ``f.<locals>.K.__new__`` are; ``__new__`` (module level)
    and ``f.<locals>.__new__`` (a nested function) are not.
    """
    parts = qualname.split(".")
    return len(parts) >= 2 and parts[-2] != "<locals>"


def left_alone_reason(name: str, wrapper: str) -> str:
    """The report / ``info()`` reason for an implicit method that stays Python."""
    return f"{name} is an implicit {wrapper} in a class body: left alone"
