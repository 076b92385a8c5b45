"""Run a child process that reports case by case, and kill it when one case hangs.

The correctness checks of ``compare.py`` (peers) and ``bench_core.py`` (our
own native code) run their calls in a child process: a crash there is a
result to report, not the end of the benchmark.  A hang is one too — a
contender computing in 64 bits can turn a loop that ends in CPython into one
that never ends, and a miscompiled loop may never exit — but native code
does not return to the interpreter to be interrupted, so the child is killed
from outside.

Protocol: the child prints one JSON object per line on stdout,
``{"start": i}`` before case ``i`` and a record with the result after it.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class WorkerRun:
    """What one child process printed before it ended, crashed, or was killed for hanging."""

    records: list[dict[str, Any]]
    returncode: int
    stderr: str
    hung: bool

    @property
    def last_started(self) -> int:
        """The index of the last case the child started, or -1."""
        starts = [record["start"] for record in self.records if "start" in record]
        return starts[-1] if starts else -1

    def status(self) -> str:
        """How the child ended, in words."""
        if self.hung:
            return "hung"
        if self.returncode < 0:
            return f"crashed (signal {-self.returncode})"
        return f"exit status {self.returncode}"


def run_worker(argv: list[str], case_timeout: float, setup_timeout: float = 900.0,
               env: dict[str, str] | None = None) -> WorkerRun:
    """Run ``argv``, killing it when one case takes longer than ``case_timeout`` seconds.

    The setup before the first case (Numba compiles, extension imports, our
    compiler) gets ``setup_timeout``.  Lines that are not JSON objects
    (something the child's libraries printed) are ignored.
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=env)
        assert proc.stdout is not None
        records: list[dict[str, Any]] = []
        pending = b""
        deadline = time.monotonic() + setup_timeout
        hung = False
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                hung = True
                proc.kill()
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
            started = bool(records) and "start" in records[-1]
            deadline = time.monotonic() + (case_timeout if started else setup_timeout)
        proc.stdout.close()
        returncode = proc.wait()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    return WorkerRun(records, returncode, stderr, hung)
