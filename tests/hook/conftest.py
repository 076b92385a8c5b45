"""Fixtures for the import-hook tests (helpers live in ``_util``)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ._util import INSTALLED, PACKAGE_PARENT, REPO, write_tree


@pytest.fixture
def tree(tmp_path: Path):
    """``tree({"mod.py": "..."})`` writes files under a fresh tmp dir and returns it."""
    def make(files: dict[str, str]) -> Path:
        return write_tree(tmp_path, files)
    return make


@pytest.fixture(scope="session")
def pth_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A scratch venv whose site-packages holds the real ``jitimport.pth``.

    jitimport and wrapt are made importable with a path-only .pth (like an
    editable install), so no network and no build are needed; the start-up
    line itself is the one the wheel installs (the installed copy when
    jitimport is installed, else ``src/jitimport.pth``).
    """
    import wrapt

    root = tmp_path_factory.mktemp("pthvenv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    paths = {str(PACKAGE_PARENT), str(Path(wrapt.__file__).resolve().parent.parent)}
    Path(purelib, "_jitimport_test_paths.pth").write_text("\n".join(sorted(paths)) + "\n")
    installed_pth = PACKAGE_PARENT / "jitimport.pth"
    source = installed_pth if INSTALLED and installed_pth.exists() else REPO / "src" / "jitimport.pth"
    Path(purelib, "jitimport.pth").write_text(source.read_text())
    return python
