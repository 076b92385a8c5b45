"""Run a script in a fresh interpreter, so that a crash fails one test instead of the run."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jitimport

SRC = str(Path(jitimport.__file__).resolve().parent.parent)


def run_child(code: str, *args: str, timeout: float = 120.0,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -c code args...`` with jitimport importable and native code enabled."""
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    if env is None or "JITIMPORT_DISABLE" not in env:
        full_env.pop("JITIMPORT_DISABLE", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def describe(proc: subprocess.CompletedProcess) -> str:
    return f"exit status {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
