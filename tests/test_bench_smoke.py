"""Smoke tests for the benchmark scripts: tiny iteration counts, whatever peers are installed.

They keep the benchmark scripts from rotting, not measure anything: compare.py
must write its table with a CPython row, a jitimport row and the correctness
column for every kernel (straight-line, loop and branchy ones), list peers that
are not installed as skipped, and bench_core.py must print a row for every
kernel — timed, or ``not native: <reason>`` — and stop with an ERROR when a
native result differs from CPython's.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "compare.py")
BENCH_CORE = os.path.join(REPO, "benchmarks", "bench_core.py")
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import cases  # noqa: E402
import kernels  # noqa: E402
from peers import contenders, sources  # noqa: E402

NEW_KERNELS = cases.LOOPS + cases.BRANCHY


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
        [sys.executable, SCRIPT, "--kernels", "foo,loops,branchy", "--iterations", "20", "--rounds", "2",
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


def test_every_new_kernel_has_a_row_per_contender(run: tuple[subprocess.CompletedProcess[str], str]) -> None:
    _, table = run
    active = [p.label for p in contenders.ALL if p.missing() is None]
    for name in NEW_KERNELS:
        rows = _rows(table, name)
        assert set(rows) == set(active), (name, sorted(rows))
        assert rows["CPython"][6] == "reference"
        assert rows["jitimport"][6].startswith("✓"), (name, rows["jitimport"])  # native or fallback: exact
        assert f"| {name} | " in table.split("## Details")[0]  # and in the summary table
    assert "| *loops: geometric mean* |" in table
    for name in cases.LOOPS:  # the per-parameter edge values are listed
        assert f"\n- {name}: {{" in table


def test_loop_kernel_edge_cases_end_quickly_in_cpython_and_reach_past_64_bits() -> None:
    """A loop's trip count comes from its arguments: every edge case must end, and some must not fit in int64."""
    table = sources.kernel_functions(kernels)
    assert list(table) == cases.STRAIGHT + cases.LOOPS + cases.BRANCHY == list(cases.TIMING_ARGS)
    assert len(cases.LOOPS) >= 10
    for name in cases.LOOPS:
        fn = table[name]
        edge = cases.kernel_cases(name, fn.__code__.co_argcount)
        assert any(not -2**63 <= a < 2**63 for args in edge for a in args), name
        for args in [cases.TIMING_ARGS[name]] + edge:
            assert cases.outcome(fn, args)[0] in ("ok", "raise")  # ends (a hang fails the run)


def test_bench_core_prints_a_row_for_every_kernel() -> None:
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    proc = subprocess.run([sys.executable, BENCH_CORE, "--number", "5", "--rounds", "1"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    import bench_core
    for kernel in [k for members in bench_core.SETS.values() for k in members]:
        row = [line for line in lines if line.startswith(f"{kernel.name} ")]
        assert len(row) == 1, (kernel.name, proc.stdout)
        assert " ok" in row[0] or "MISSED" in row[0] or "not native: " in row[0], row[0]
    assert any(line.startswith("loop set: geometric mean") for line in lines)
    assert "0 ERRORS" in lines[-1]


def test_bench_core_reports_a_native_result_that_differs(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The exactness check runs before timing: a wrong "native" function is an ERROR, not a timing."""
    import bench_core

    def off_by_one_beyond_2_31(fn):  # stands in for a miscompiled kernel
        return lambda *args: fn(*args) + (1 if any(abs(a) > 2**31 for a in args) else 0)

    monkeypatch.setattr(bench_core.jitimport, "compile_native", off_by_one_beyond_2_31)
    status = bench_core.main(["--kernels", "gcd,clamp", "--number", "2", "--rounds", "1", "--in-process"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "ERROR: native result differs from CPython's on" in out
    assert "ERROR gcd: " in err and "ERROR clamp: " in err
    assert "2 ERRORS" in out


def test_bench_core_reports_native_code_that_hangs_and_runs_to_the_end(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Native code is checked in a child process: one that never returns is killed and reported,
    and the check goes on with the next kernel in a new child."""
    import bench_core
    monkeypatch.setattr(bench_core.jitimport, "compile_native", lambda fn: fn)
    hang_on_third_case = ("import json, sys, time\n"
                          "start = int(sys.argv[1])\n"
                          "for i in range(start, start + 3):\n"
                          "    print(json.dumps({'start': i}), flush=True)\n"
                          "    if i == start + 2: time.sleep(60)\n"
                          "    print(json.dumps({'index': i, 'outcome': ['ok', 'int', '1']}), flush=True)\n")
    monkeypatch.setattr(bench_core, "child_argv",
                        lambda names, start: [sys.executable, "-c", hang_on_third_case, str(start)])
    status = bench_core.main(["--kernels", "fib,sign", "--number", "2", "--rounds", "1", "--case-timeout", "0.5"])
    out, _ = capsys.readouterr()
    assert status == 1
    assert "ERROR: native code hung on fib(0) (no result in 0.5 s)" in out
    assert "ERROR: native code hung on sign(1) (no result in 0.5 s)" in out
    assert "2 ERRORS" in out


def test_bench_core_geometric_mean_says_what_it_covers() -> None:
    import bench_core
    loops = bench_core.LOOP_SET[:3]
    results = [bench_core.Result(k, py_ns=1000.0, native_ns=ns, compile_us=100.0)
               for k, ns in zip(loops, (10.0, 40.0, 160.0))]
    assert "geometric mean 0.0400 over 3/3 kernels" in bench_core.geomean_line(results)
    assert ": ok;" in bench_core.geomean_line(results)
    results[2] = bench_core.Result(loops[2], py_ns=1000.0, not_native="line 3: no")
    line = bench_core.geomean_line(results)
    assert "over 2/3 kernels (the others not native)" in line and "MISSED" in line
    assert "n/a, no kernel native (0/1)" in bench_core.geomean_line([results[2]])


def test_a_hanging_or_crashing_child_is_reported() -> None:
    import isolation
    hang = "import time; print('{\"start\": 0}', flush=True); time.sleep(60)"
    run = isolation.run_worker([sys.executable, "-c", hang], case_timeout=0.5)
    assert run.hung and run.records == [{"start": 0}] and run.status() == "hung"
    crash = ("import os, signal; print('noise'); print('{\"start\": 3}', flush=True); "
             "os.kill(os.getpid(), signal.SIGSEGV)")
    run = isolation.run_worker([sys.executable, "-c", crash], case_timeout=30)
    assert not run.hung and run.last_started == 3 and run.status() == "crashed (signal 11)"


def test_peer_sources_of_the_loop_kernels() -> None:
    text = open(kernels.__file__, encoding="utf-8").read()
    typed = sources.typed_cython(text, ["nested_pairs", "crc32_byte"])
    assert "cdef long long i\n" in typed and "cdef long long j\n" in typed and "cdef long long _\n" in typed
    annotated = sources.annotated(text, ["is_leap", "sign", "gcd"])
    assert "def is_leap(y: int) -> bool:" in annotated  # -> int would turn True into 1
    assert "def sign(x: int) -> int:" in annotated and "def gcd(a: int, b: int) -> int:" in annotated


def test_bench_core_reports_a_compile_that_does_not_end(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import bench_core

    def never_ends(fn):
        while True:
            pass

    monkeypatch.setattr(bench_core.jitimport, "compile_native", never_ends)
    status = bench_core.main(["--kernels", "fib", "--number", "2", "--rounds", "1", "--compile-timeout", "0.2"])
    out, _ = capsys.readouterr()
    assert status == 0
    assert "not native: compiler error: no result in 0.2 s" in out
