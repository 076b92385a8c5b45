"""Fuzzer regression (error), minimised; found by tests/fuzz (long mode, Python 3.12.1).

    ERROR: ValueError: negative shift count raised by codegen itself (1 << y) at compile time (fixed)
      call: f(5)
      minimised source:
        def f(a):
            t1 = (a << (-1))
            return 0
The call runs in a child interpreter so a crash fails this test instead of
killing the test run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import jitimport
from jitimport.support import unsupported_reason

SOURCE = 'def f(a):\n    t1 = (a << (-1))\n    return 0\n'
CALL = '((5, ), {})'

CHILD = """
import sys
import jitimport

class MyInt(int):
    pass

def outcome(fn, args, kwargs):
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:
        return ("raise", type(exc).__qualname__, str(exc))
    return ("ok", type(value).__qualname__, hex(value) if isinstance(value, int) else repr(value))

ns = {}
exec(sys.argv[1], ns)
fn = ns['f']
native = jitimport.compile_native(fn)
args, kwargs = eval(sys.argv[2], {"MyInt": MyInt})
expected = outcome(fn, args, kwargs)
got = outcome(native, args, kwargs)
print(expected == got, expected, got)
"""


def test_fuzz_error_2b08fd3635() -> None:
    if unsupported_reason() is not None:
        pytest.skip(unsupported_reason())
    src = str(Path(jitimport.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", CHILD, SOURCE, CALL], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"child died ({proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("True"), proc.stdout
