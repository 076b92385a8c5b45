"""The pytest plugin, run as a user runs it: ``pytest --jitimport`` in a subprocess on a small project.

Installed (tox), pytest finds the plugin through the ``pytest11`` entry point;
against the source tree it is loaded with ``-p jitimport.pytest_plugin``.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import jitimport

SRC = Path(jitimport.__file__).resolve().parent.parent
REPO = Path(__file__).resolve().parents[1]


def _entry_point_installed() -> bool:
    return any(ep.value == "jitimport.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))


PROJECT = {
    "mylib.py": """
        # minijit: native
        def foo(a, b):
            return a * a - b * b
    """,
    "conftest.py": """
        # minijit: native
        def cube(x):
            return x * x * x
    """,
    "test_a.py": """
        # minijit: native
        import jitimport
        import mylib
        import conftest


        def sq(x):
            return x * x


        def test_code_under_test():
            assert jitimport.is_native(mylib.foo)


        def test_conftest():
            assert jitimport.is_native(conftest.cube)


        def test_pragma_test_module():
            assert jitimport.is_native(sq)
            assert sq(7) == 49


        def test_assertion_rewriting():
            assert sq(3) == 10
    """,
}


def run_pytest(tmp_path: Path, *args: str, files: dict[str, str] = PROJECT) -> subprocess.CompletedProcess[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JITIMPORT", "PYTEST_"))}
    plugin: list[str] = []
    if not _entry_point_installed():
        plugin = ["-p", "jitimport.pytest_plugin"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", "-q", "-rfE", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_option_makes_code_under_test_conftest_and_pragma_test_modules_native(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--jitimport")
    assert outcome(result).startswith("1 failed, 3 passed"), result.stdout + result.stderr
    assert "FAILED test_a.py::test_assertion_rewriting" in result.stdout
    # pytest's assertion rewriting still explains the failure in the pragma test module
    assert "assert 9 == 10" in result.stdout and "where 9 = sq(3)" in result.stdout


def test_without_the_option_nothing_is_compiled(tmp_path: Path) -> None:
    result = run_pytest(tmp_path)
    assert outcome(result).startswith("4 failed"), result.stdout + result.stderr


def test_ini_option(tmp_path: Path) -> None:
    files = {**PROJECT, "pytest.ini": "[pytest]\njitimport = true\n"}
    result = run_pytest(tmp_path, files=files)
    assert outcome(result).startswith("1 failed, 3 passed"), result.stdout + result.stderr


def test_report_section(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--jitimport", "--jitimport-report")
    text = result.stdout
    section = text[text.index("= jitimport ="):]
    assert "3 function(s) native, 4 kept in Python" in section
    native_part = section[section.index("native:"):section.index("kept in Python:")]
    assert {"mylib.foo", "conftest.cube", "test_a.sq"} <= {line.split()[0] for line in native_part.splitlines()}
    # call statistics (tests/test_callstats.py)
    assert "test_a.sq 2 calls: all native" in {" ".join(line.split()) for line in native_part.splitlines()}
    # The reason is the compiler's (calls of natives compile now; what blocks it is pytest's rewritten assert).
    assert "test_a.test_assertion_rewriting  line 25: " in section


def test_report_without_the_hook_says_so(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--jitimport-report")
    assert "the import hook was not active" in result.stdout


def test_help_lists_the_options(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--help", files={})
    for option in ("--jitimport ", "--jitimport-report", "--jitimport-verify", "jitimport (bool)"):
        assert option in result.stdout


def test_xdist_workers(tmp_path: Path) -> None:
    if importlib.util.find_spec("xdist") is None:
        pytest.skip("pytest-xdist is not installed: the xdist worker test needs it")
    result = run_pytest(tmp_path, "--jitimport", "--jitimport-report", "-n", "2")
    assert outcome(result).startswith("1 failed, 3 passed"), result.stdout + result.stderr
    assert "where 9 = sq(3)" in result.stdout
    assert "3 function(s) native, 4 kept in Python" in result.stdout  # the workers' rows, on the controller


def test_entry_point_is_declared() -> None:
    with open(REPO / "pyproject.toml", "rb") as fh:
        entry_points = tomllib.load(fh)["project"]["entry-points"]
    assert entry_points["pytest11"] == {"jitimport": "jitimport.pytest_plugin"}
    try:
        importlib.metadata.distribution("jitimport")
    except importlib.metadata.PackageNotFoundError:
        return  # the source tree: nothing installed to look at
    assert _entry_point_installed()


def test_pytest_option_turns_verify_mode_on(tmp_path: Path) -> None:
    files = {
        "mylib.py": "# minijit: native\ndef foo(a, b):\n    return a * a - b * b\n",
        "test_v.py": textwrap.dedent("""
            import os, types
            import jitimport
            import mylib

            def test_verified():
                assert os.environ["JITIMPORT_VERIFY"] == "1"
                assert type(mylib.foo) is types.FunctionType and jitimport.is_native(mylib.foo)
                assert mylib.foo(3, 2) == 5
        """),
    }
    result = run_pytest(tmp_path, "--jitimport", "--jitimport-verify", files=files)
    assert outcome(result).startswith("1 passed"), result.stdout + result.stderr
