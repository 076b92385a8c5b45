"""Start-up cost of jitimport (issue 12), side by side in one run.

Rows (each a pair of whole-process runs, A and B alternating, the CPU time of
the child process, user + system; the ratio is the median of the per-pair
ratios, the most robust number on a shared machine):

* ``python -c pass`` without and with ``JITIMPORT=1`` (target: within 1.1x);
* ``python -c "import pragma20"`` (a generated module with the pragma and 20
  eligible functions) without and with ``JITIMPORT=1``: cold (the module's
  ``__pycache__`` removed before every run), warm with only the bytecode
  caches filled (the machine-code cache removed before every run: every
  function compiled), and warm with the machine-code cache filled too
  (target: within 1.5x);
* ``import jitimport; jitimport.install()`` timed inside a child (wall clock
  and process CPU time, medians; target: <= 2 ms).

``JITIMPORT=1`` needs ``jitimport.pth`` in site-packages, so the runs use a
scratch venv (no pip, made in a temp dir) whose site-packages holds the real
``.pth`` line and a path entry for the jitimport being measured (as an
editable install would).

    PYTHONPATH=src python benchmarks/startup.py [--rounds 21]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jitimport

FUNCTIONS = 20
TEMPLATE = '''\
def f{i}(a, b):
    t = (a * {k} + b) ^ (a >> {s})
    u = (t & 0xFFFF) * (b | {i}) - (a % {k})
    return u + (t << 2) - b * b
'''


def pragma_module() -> str:
    """Source of a module with the pragma and FUNCTIONS eligible functions."""
    body = "\n\n".join(TEMPLATE.format(i=i, k=i + 3, s=i % 7 + 1) for i in range(FUNCTIONS))
    return f'# minijit: native\n"""Generated: {FUNCTIONS} integer functions."""\n\n\n{body}'


def make_venv(root: Path) -> str:
    """A scratch venv whose site-packages holds jitimport.pth and a path entry to this jitimport."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    package_parent = Path(jitimport.__file__).resolve().parent.parent
    Path(purelib, "_jitimport_bench_paths.pth").write_text(f"{package_parent}\n")
    installed = package_parent / "jitimport.pth"
    source = installed if installed.exists() else Path(__file__).resolve().parent.parent / "src" / "jitimport.pth"
    Path(purelib, "jitimport.pth").write_text(source.read_text())
    return python


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JITIMPORT") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONSTARTUP")}
    env.update(extra)
    return env


def cpu_of(cmd: list[str], env: dict[str, str], cwd: str, before=None) -> float:
    """CPU seconds (user + system) of one child process running ``cmd``."""
    if before is not None:
        before()
    start = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    end = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)


class Row:
    """One paired comparison: A (without) and B (with), alternating order each round."""

    def __init__(self, label: str, cmd: list[str], cwd: str, env_a: dict[str, str], env_b: dict[str, str],
                 target: str = "", before=None) -> None:
        self.label, self.cmd, self.cwd, self.target, self.before = label, cmd, cwd, target, before
        self.env_a, self.env_b = env_a, env_b
        self.a: list[float] = []
        self.b: list[float] = []

    def round(self, index: int) -> None:
        order = (False, True) if index % 2 == 0 else (True, False)
        for hooked in order:
            env = self.env_b if hooked else self.env_a
            (self.b if hooked else self.a).append(cpu_of(self.cmd, env, self.cwd, self.before))

    def line(self) -> str:
        ratio = statistics.median(b / a for a, b in zip(self.a, self.b) if a > 0)
        return (f"| {self.label} | {statistics.median(self.a) * 1e3:.1f} ms | {statistics.median(self.b) * 1e3:.1f} ms "
                f"| {ratio:.2f}× | {self.target} |")


INSTALL_TIMER = ("import time; t, c = time.perf_counter(), time.process_time(); import jitimport; "
                 "h = jitimport.install(); print(time.perf_counter() - t, time.process_time() - c); assert h.active")
NATIVE_COUNT = ("import jitimport, pragma20; fs = [getattr(pragma20, f'f{i}') for i in range(%d)]; "
                "print(sum(map(jitimport.is_native, fs)), sum(r.reason == 'from cache' for r in jitimport.report()))"
                % FUNCTIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="pairs per row (default 21)")
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)

    with tempfile.TemporaryDirectory(prefix="jitimport-startup-") as tmp:
        root = Path(tmp)
        python = make_venv(root)
        work = root / "work"
        work.mkdir()
        (work / "pragma20.py").write_text(pragma_module())
        cwd = str(work)
        plain, hooked = child_env(), child_env(JITIMPORT="1")
        # Warm every bytecode cache once (jitimport's own, the stdlib's, the module's plain and hooked pyc).
        for env in (plain, hooked):
            subprocess.run([python, "-c", "import pragma20"], env=env, cwd=cwd, check=True)
        natives, cached = subprocess.run([python, "-c", NATIVE_COUNT], env=hooked, cwd=cwd, check=True,
                                         capture_output=True, text=True).stdout.split()

        def drop_pycache() -> None:
            shutil.rmtree(work / "__pycache__", ignore_errors=True)

        def drop_code_cache() -> None:
            for path in (work / "__pycache__").glob("*.jitimport-code-*.bin"):
                path.unlink()

        def fill_code_cache() -> None:
            if not any((work / "__pycache__").glob("*.jitimport-code-*.bin")):
                subprocess.run([python, "-c", "import pragma20"], env=hooked, cwd=cwd, check=True)

        rows = [
            Row("`python -c pass`: without / with `JITIMPORT=1`", [python, "-c", "pass"], cwd, plain, hooked,
                "≤ 1.1×"),
            Row(f"import of a {FUNCTIONS}-function pragma module, cold", [python, "-c", "import pragma20"], cwd,
                plain, hooked, before=drop_pycache),
            Row(f"import of a {FUNCTIONS}-function pragma module, warm bytecode, no machine-code cache",
                [python, "-c", "import pragma20"], cwd, plain, hooked, "", before=drop_code_cache),
            Row(f"import of a {FUNCTIONS}-function pragma module, warm, machine-code cache filled",
                [python, "-c", "import pragma20"], cwd, plain, hooked, "≤ 1.5×", before=fill_code_cache),
        ]
        for index in range(rounds):
            for row in rows:
                row.round(index)
        install_wall, install_cpu = [], []
        for _ in range(rounds):
            out = subprocess.run([python, "-c", INSTALL_TIMER], env=plain, cwd=cwd, check=True,
                                 capture_output=True, text=True).stdout.split()
            install_wall.append(float(out[0]))
            install_cpu.append(float(out[1]))

    try:
        load = "%.2f" % os.getloadavg()[0]
    except OSError:
        load = "?"
    print(f"jitimport start-up, Python {sys.version.split()[0]}, jitimport {jitimport.__version__}, "
          f"{rounds} paired rounds, load average at end {load} ({os.cpu_count()} CPUs)")
    print("CPU time of the child process (user + system), median; ratio = median of per-pair ratios B/A")
    print()
    print("| measurement | without hook | with hook | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print(row.line())
    print(f"| `import jitimport; jitimport.install()` (in-process) | | "
          f"{statistics.median(install_wall) * 1e3:.2f} ms wall, {statistics.median(install_cpu) * 1e3:.2f} ms CPU "
          f"| | ≤ 2 ms |")
    print()
    print(f"functions native in the hooked warm import: {natives}/{FUNCTIONS}, {cached} from the machine-code cache")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    print(f"(run took {time.perf_counter() - started:.1f} s)")
    sys.exit(status)
