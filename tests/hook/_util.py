"""Helpers for the import-hook tests: fresh interpreters and source trees.

Subprocess tests run ``sys.executable`` with the jitimport under test on the
path (``src/`` when running from a checkout with PYTHONPATH=src, or the
installed copy under tox) and with every JITIMPORT* variable removed unless a
test sets it.
"""
from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import jitimport

PACKAGE_PARENT = Path(jitimport.__file__).resolve().parent.parent
REPO = Path(__file__).resolve().parents[2]


def _installed() -> bool:
    """True when jitimport is imported from a site-packages directory (tox, pip install)."""
    dirs = {Path(p).resolve() for p in site.getsitepackages() + [site.getusersitepackages()]}
    return PACKAGE_PARENT in dirs


INSTALLED = _installed()


def base_env(**extra: str) -> dict[str, str]:
    """The environment for a child interpreter: no JITIMPORT*, no pyc writing, jitimport importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JITIMPORT")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    paths = [] if INSTALLED else [str(PACKAGE_PARENT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    for key, value in list(env.items()):
        if value is None:
            del env[key]
    return env


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create ``files`` (relative path -> source, dedented) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


class Result:
    """A finished child process, with assertion-friendly accessors."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def ok(self) -> "Result":
        assert self.returncode == 0, f"exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return self

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def __repr__(self) -> str:
        return f"<Result rc={self.returncode} stdout={self.stdout!r} stderr={self.stderr!r}>"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
        python: str = sys.executable, timeout: float = 60) -> Result:
    """Run ``python *args`` in ``cwd``."""
    proc = subprocess.run([python, *args], cwd=cwd, env=env or base_env(), capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc)


def run_code(code: str, cwd: Path, env: dict[str, str] | None = None, python: str = sys.executable) -> Result:
    """Run a dedented snippet with ``python -c`` in ``cwd`` (cwd is on sys.path)."""
    return run(["-c", textwrap.dedent(code)], cwd, env, python)


