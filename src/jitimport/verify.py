"""Verify mode (``JITIMPORT_VERIFY=1``, ``pytest --jitimport-verify``): every native call checked against Python.

Meant for CI.  The natives the hook and ``@jit`` hand out are wrapped, only in
this mode, in a plain Python function that calls the native and then the
Python original with the same arguments and compares the two outcomes: the
value (``==``) and its exact type, or the exception's exact type and message.
Eligible functions are pure, so running them twice is harmless.  A difference
raises :class:`VerificationError` naming the function, the arguments and both
outcomes; otherwise the native's outcome is returned or re-raised.

With verify mode off nothing here is imported (the callers check the flag
first) and the natives are handed out unwrapped: the normal call path does
not change.  ``is_native``, ``original``,
``info`` and ``disassemble`` see through the wrapper (:func:`unwrap`).
"""
from __future__ import annotations

import functools
from types import FunctionType
from typing import Any, Callable

#: Attribute of a verify wrapper holding the native it checks.
NATIVE_ATTRIBUTE = "__jitimport_verified_native__"


class VerificationError(Exception):
    """A native function's outcome differs from its Python original's (verify mode)."""

    def __init__(self, function: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 native: Outcome, python: Outcome) -> None:
        self.function = function
        self.args_given = args
        self.kwargs_given = kwargs
        self.native = native
        self.python = python
        call = ", ".join([*map(_short_repr, args), *(f"{k}={_short_repr(v)}" for k, v in kwargs.items())])
        super().__init__(
            f"{function}({call}): native and Python outcomes differ: native {native}, Python {python}"
        )


class Outcome:
    """What one call did: returned a value or raised an exception."""

    def __init__(self, raised: bool, value: Any) -> None:
        self.raised = raised
        #: The return value, or the exception raised.
        self.value = value

    def same_as(self, other: Outcome) -> bool:
        """Same value and exact type, or same exception type and message."""
        if self.raised != other.raised or type(self.value) is not type(other.value):
            return False
        if self.raised:
            return str(self.value) == str(other.value) and self.value.args == other.value.args
        if self.value is other.value:
            return True
        try:
            return bool(self.value == other.value)
        except Exception:  # an odd result type: compare what can be compared
            return repr(self.value) == repr(other.value)

    def __str__(self) -> str:
        if self.raised:
            return f"raised {type(self.value).__qualname__}({str(self.value)!r})"
        return f"returned {_short_repr(self.value)} ({type(self.value).__qualname__})"


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
    try:
        return Outcome(False, fn(*args, **kwargs))
    except Exception as exc:  # KeyboardInterrupt and SystemExit are not outcomes to compare
        return Outcome(True, exc)


def wrap(native: Any, original: Callable[..., Any]) -> Any:
    """A function that calls ``native`` and ``original`` and insists they agree."""
    name = f"{getattr(original, '__module__', '?')}.{getattr(original, '__qualname__', repr(original))}"

    @functools.wraps(original)
    def verified(*args: Any, **kwargs: Any) -> Any:
        native_outcome = _call(native, args, kwargs)
        python_outcome = _call(original, args, kwargs)
        if not native_outcome.same_as(python_outcome):
            raise VerificationError(name, args, kwargs, native_outcome, python_outcome)
        if native_outcome.raised:
            raise native_outcome.value
        return native_outcome.value

    setattr(verified, NATIVE_ATTRIBUTE, native)
    return verified


def unwrap(obj: Any) -> Any:
    """The native a verify wrapper checks (also through a staticmethod); anything else as it is."""
    target = obj.__func__ if isinstance(obj, staticmethod) else obj
    if type(target) is not FunctionType:
        return obj
    return target.__dict__.get(NATIVE_ATTRIBUTE, obj)


def verified(native: Any, python: Callable[..., Any]) -> Any:
    """The verify wrapper of ``native``, checked against ``python`` (the function that was compiled).

    Callers import this module only in verify mode (``config.flag(config.VERIFY)``, read at each
    compile), so the normal path loads nothing from here.
    """
    if isinstance(python, staticmethod):
        python = python.__func__
    return wrap(native, python)
