"""Smoke test for ``benchmarks/startup.py``: it runs and prints every row (no timing is checked)."""
from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "startup.py")


def test_startup_benchmark_prints_its_rows() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JITIMPORT")}
    import jitimport

    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(jitimport.__file__)))
    proc = subprocess.run([sys.executable, SCRIPT, "--rounds", "1"], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    labels = [row.split("|")[1].strip() for row in rows]
    assert labels[0] == "measurement"
    assert labels[1:] == [
        "`python -c pass`: without / with `JITIMPORT=1`",
        "import of a 20-function pragma module, cold",
        "import of a 20-function pragma module, warm bytecode, no machine-code cache",
        "import of a 20-function pragma module, warm, machine-code cache filled",
        "`import jitimport; jitimport.install()` (in-process)",
    ]
    for row in rows[1:5]:
        assert row.count(" ms ") == 2 and "×" in row
    assert " ms" in rows[5]
    assert "20/20, 20 from the machine-code cache" in proc.stdout
