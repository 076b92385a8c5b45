"""Smoke test for benchmarks/compare.py: one kernel, a tiny iteration count, whatever peers are installed.

It keeps the benchmark script from rotting: the table must come out with a
CPython row, a jitimport row and the correctness column, and peers that are
not installed must be listed as skipped rather than break the run.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "compare.py")
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

from peers import contenders  # noqa: E402


def _rows(table: str, kernel: str) -> dict[str, list[str]]:
    """Details rows of ``kernel``, by contender label, as lists of cells."""
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] == kernel:
            rows[cells[1]] = cells
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], str]:
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--kernels", "foo", "--iterations", "200", "--rounds", "2",
         "--import-runs", "1", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=600, env=env)
    path = out / "compare.md"
    return proc, path.read_text(encoding="utf-8") if path.exists() else ""


def test_script_produces_the_table(run: tuple[subprocess.CompletedProcess[str], str]) -> None:
    proc, table = run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "exact on edge args" in table
    assert "| foo | CPython |" in proc.stdout  # printed as well as written
    rows = _rows(table, "foo")
    assert set(rows) >= {"CPython", "jitimport"}
    assert rows["CPython"][4] == "1.00×" and rows["CPython"][6] == "reference"
    assert float(rows["jitimport"][2]) > 0


def test_jitimport_is_exact_on_the_edge_arguments(run: tuple[subprocess.CompletedProcess[str], str]) -> None:
    _, table = run
    from jitimport.support import unsupported_reason
    if unsupported_reason() is not None:
        pytest.skip(f"no native code here: {unsupported_reason()}")
    cell = _rows(table, "foo")["jitimport"][6]
    assert cell.startswith("✓"), cell
    assert "refused" not in _rows(table, "foo")["jitimport"][5]


def test_missing_peers_are_listed_as_skipped(run: tuple[subprocess.CompletedProcess[str], str]) -> None:
    _, table = run
    rows = _rows(table, "foo")
    for peer in contenders.ALL:
        reason = peer.missing()
        if reason is None:
            assert peer.label in rows, f"{peer.label} is installed but has no row"
        else:
            assert f"- {peer.label}: {reason}" in table
            assert peer.label not in rows


def test_edge_cases_cover_the_contract_values() -> None:
    import compare
    pairs = compare.edge_cases(2)
    for value in (2**63 - 1, -(2**63), 2**64, 2**70):
        assert (value, 1) in pairs and (1, value) in pairs
    assert any(b < 0 for _, b in pairs)  # negative divisors
    assert len(compare.edge_cases(6)) > 6 * len(compare.EDGES)
