"""Minimised failures found by the differential fuzzer (``tests/fuzz``), kept as regression tests.

The cases are data (``fuzz_cases.json``: source, call, what went wrong); the fuzzer
appends to it.  Each call runs in a child interpreter so that a crash or a hang
fails the test instead of killing or stopping the test run.  A case with ``"xfail": true`` is a known,
not yet fixed failure (strict: it must start passing when fixed; ``"xfail_strict": false`` when
it fails on some Python versions only).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jitimport
from jitimport.support import unsupported_reason

CASES = json.loads((Path(__file__).with_name("fuzz_cases.json")).read_text())

CHILD = """
import sys
import warnings
import jitimport

warnings.simplefilter("ignore")   # as in the fuzzer: warnings are not compared

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
fn = ns[sys.argv[3]]
native = jitimport.compile_native(fn)
args, kwargs = eval(sys.argv[2], {"MyInt": MyInt})
expected = outcome(fn, args, kwargs)
got = outcome(native, args, kwargs)
print(expected == got, expected, got)
"""


def _params():
    for case in CASES:
        # "xfail_strict": false for a failure seen on some versions only (its bytecode differs)
        strict = case.get("xfail_strict", True)
        marks = [pytest.mark.xfail(strict=strict, reason=case["detail"][:300])] if case.get("xfail") else []
        yield pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_fuzz_regression(case: dict) -> None:
    if unsupported_reason() is not None:
        pytest.skip(unsupported_reason())
    src = str(Path(jitimport.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, case["source"], case["call"], case["name"]],
                              capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:   # a "hang" case: the native code never returned
        pytest.fail("child hung (killed after 60 s)")
    assert proc.returncode == 0, f"child died ({proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("True"), proc.stdout
