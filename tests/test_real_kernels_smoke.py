"""Smoke test for ``benchmarks/real_kernels.py`` on the standard-library kernels of its csv.

The yardstick itself needs fifteen third-party packages; the standard-library rows need none,
so they run here, in-process: every row gets a result, the natives agree with the originals
on the smoke arguments, and no fewer kernels compile than did on 2026-11-30 (a regression
check on real code, not only a check that the script runs).
"""
from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import real_kernels  # noqa: E402

pytestmark = pytest.mark.skipif(real_kernels.native_available() is not None, reason="native code is not available here")


@pytest.fixture(scope="module")
def stdlib_results() -> list[real_kernels.KernelResult]:
    rows = [row for row in real_kernels.load_rows() if row.is_stdlib]
    return real_kernels.run(rows)


def test_the_csv_has_standard_library_rows() -> None:
    rows = real_kernels.load_rows()
    assert len(rows) == 116
    stdlib = [row for row in rows if row.is_stdlib]
    assert 20 <= len(stdlib) < len(rows)
    assert not any(row.module.startswith(("sympy", "ecdsa", "reedsolo")) for row in stdlib)
    assert {row.module.split(".")[0] for row in rows if not row.is_stdlib} == real_kernels.THIRD_PARTY


def test_every_standard_library_row_gets_a_result(stdlib_results: list[real_kernels.KernelResult]) -> None:
    rows = [row for row in real_kernels.load_rows() if row.is_stdlib]
    assert [result.row.name for result in stdlib_results] == [row.name for row in rows]
    for result in stdlib_results:
        # unresolved: this version's module lacks the function (fractions._hash_algorithm is 3.12+)
        assert result.status in (real_kernels.COMPILED, real_kernels.REFUSED, real_kernels.MISSING,
                                 real_kernels.UNRESOLVED), f"{result.row.name}: {result.status} {result.reason}"
        if result.status == real_kernels.REFUSED:
            assert result.reason, result.row.name
            assert result.where.endswith(tuple(f":{n}" for n in range(1, 100_000))) or "not a Python function" \
                in result.reason, f"{result.row.name}: no file:line for {result.reason!r}"
    # A module that ships with every supported version is never missing (some are newer: _pydatetime is 3.12+).
    present = {"calendar", "ipaddress", "uuid", "zipfile", "_pydecimal", "random", "statistics", "fractions"}
    assert not [r.row.name for r in stdlib_results if r.row.module in present and r.status == real_kernels.MISSING]


def test_no_fewer_compile_than_on_2026_11_30(stdlib_results: list[real_kernels.KernelResult]) -> None:
    available = [r for r in stdlib_results if r.status not in (real_kernels.MISSING, real_kernels.UNRESOLVED)]
    baseline = sum(r.row.compiled_then for r in available)
    compiled = sum(r.status == real_kernels.COMPILED for r in available)
    regressed = [r.row.name + ": " + r.reason for r in available if r.row.compiled_then and r.status != real_kernels.COMPILED]
    assert baseline >= 1
    assert not regressed
    assert compiled >= baseline


def test_natives_agree_with_the_originals(stdlib_results: list[real_kernels.KernelResult]) -> None:
    summary = real_kernels.summarize(stdlib_results)
    assert not summary.mismatches
    assert summary.errors == 0
    compiled = [r for r in stdlib_results if r.status == real_kernels.COMPILED]
    assert all(r.smoke is not None and r.smoke.checked > 0 for r in compiled), \
        [r.row.name for r in compiled if r.smoke is None or r.smoke.checked == 0]


def test_callees_are_compiled_in_a_copy_of_the_namespace() -> None:
    """The callee is compiled and bound natively for the caller, and the imported module is left as it was."""
    import types

    import zoneinfo._zoneinfo as module

    before = dict(vars(module))
    row = real_kernels.KernelRow("zoneinfo._zoneinfo", "_CalendarOffset._ymd2ord", "date", False, [],
                                 ["_post_epoch_days_before_year"], "no", "")
    result = real_kernels.evaluate(row)
    assert result.status in (real_kernels.COMPILED, real_kernels.REFUSED)
    assert "_post_epoch_days_before_year" in result.callees_compiled + result.callees_refused
    assert vars(module).keys() == before.keys()
    assert all(vars(module)[name] is value for name, value in before.items())
    assert type(module._post_epoch_days_before_year) is types.FunctionType


def test_the_summary_groups_reasons() -> None:
    assert real_kernels.group_reason("call to pow() is not supported") == "call to …() is not supported"
    assert real_kernels.group_reason("in f(): global variable 'Q' is not supported (it is a int)") \
        == "global variable '…' is not supported"
    results = [
        real_kernels.KernelResult(real_kernels.KernelRow("m", name, "d", False, [], [], "no", ""), real_kernels.REFUSED,
                                  reason=f"call to {callee}() is not supported", where="m.py:1")
        for name, callee in (("a", "pow"), ("b", "int"), ("c", "pow"))
    ]
    text = real_kernels.format_text(results)
    assert "0 of 3 compile" in text
    assert "3  call to …() is not supported" in text
    assert "call to pow() 2, call to int() 1" in text
