"""Scale-out: worker processes get the hook from ``JITIMPORT=1`` in the environment they inherit.

``concurrent.futures`` / ``multiprocessing`` workers started with *spawn* or
*forkserver* are fresh interpreters: they never run the parent's
``install()``, they get the hook the way any interpreter does, through the
``jitimport.pth`` start-up line reading ``JITIMPORT=1``.  So the tests run a
parent program with the venv python whose site-packages holds the real
``.pth`` (the ``pth_python`` fixture, as ``test_startup.py`` does), and each
worker reports whether a pragma module's function is native *there*.  The
same for Dask ``distributed`` workers (``LocalCluster(processes=True)``),
when distributed is installed (``pip install ".[dask]"``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ._util import base_env, run

KERNEL = '''
# minijit: native
"""A pragma module the workers import."""


def area(w, h):
    return w * h
'''

PROBE = '''
"""No pragma: what each worker runs (importable by reference, so it pickles)."""
import os


def native_in_worker():
    import jitimport
    import kern
    return jitimport.is_native(kern.area), kern.area(6, 7), os.getpid()
'''

POOLS = '''
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import probe

if __name__ == "__main__":
    for method in ("spawn", "forkserver"):
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(method)) as pool:
            native, value, pid = pool.submit(probe.native_in_worker).result(timeout=120)
        print(method, native, value, pid != os.getpid())
    print("parent imported kern:", "kern" in sys.modules)
'''

DASK = '''
import os
import sys

import probe

if __name__ == "__main__":
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \\
            Client(cluster) as client:
        native, value, pid = client.submit(probe.native_in_worker, pure=False).result(timeout=120)
    print("dask", native, value, pid != os.getpid())
    print("parent imported kern:", "kern" in sys.modules)
'''


def _project(tree) -> Path:
    return tree({"kern.py": KERNEL, "probe.py": PROBE, "pools.py": POOLS, "dask_run.py": DASK})


def _env(cwd: Path, extra_path: str | None = None, **variables: str) -> dict[str, str]:
    env = base_env(**variables)
    paths = [str(cwd), *([extra_path] if extra_path else []), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def test_spawn_and_forkserver_workers_inherit_jitimport_1(tree, pth_python: str) -> None:
    cwd = _project(tree)
    result = run(["pools.py"], cwd, _env(cwd, JITIMPORT="1"), python=pth_python, timeout=240).ok()
    assert result.lines == ["spawn True 42 True", "forkserver True 42 True", "parent imported kern: False"]


def test_workers_stay_python_without_jitimport_1(tree, pth_python: str) -> None:
    cwd = _project(tree)
    result = run(["pools.py"], cwd, _env(cwd), python=pth_python, timeout=240).ok()
    assert result.lines[:2] == ["spawn False 42 True", "forkserver False 42 True"]


def test_dask_local_cluster_workers_inherit_jitimport_1(tree, pth_python: str) -> None:
    distributed = pytest.importorskip("distributed", reason="Dask distributed is an optional test extra: "
                                                            'pip install ".[dask]"')
    cwd = _project(tree)
    site = str(Path(distributed.__file__).resolve().parent.parent)  # the venv python sees this interpreter's packages
    result = run(["dask_run.py"], cwd, _env(cwd, site, JITIMPORT="1"), python=pth_python, timeout=300)
    assert result.returncode == 0, result
    assert result.lines[-2:] == ["dask True 42 True", "parent imported kern: False"]
