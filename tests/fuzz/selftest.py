"""Deliberately broken "compilers" that prove the runner catches what it must.

``--compiler <package>.selftest:wrong_compile`` returns a callable that is
wrong for negative results; ``crashing_compile`` kills its own process with
SIGSEGV when the first argument is 3.  Both still refuse what jitimport
refuses, so the campaign statistics stay comparable.
"""
from __future__ import annotations

import os
import signal
from typing import Any, Callable

import jitimport


def wrong_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    native = jitimport.compile_native(fn)

    def miscompiled(*args: Any, **kwargs: Any) -> Any:
        value = native(*args, **kwargs)
        return value + 1 if type(value) is int and value < 0 else value
    return miscompiled


def crashing_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    native = jitimport.compile_native(fn)

    def crashing(*args: Any, **kwargs: Any) -> Any:
        if args and type(args[0]) is int and args[0] == 3:
            os.kill(os.getpid(), signal.SIGSEGV)
        return native(*args, **kwargs)
    return crashing
