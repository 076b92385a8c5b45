"""What ``pip show`` and a user's tools see: license, author, changelog, the typed marker, ``-V``."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_license_file_matches_the_metadata() -> None:
    project = _pyproject()["project"]
    assert project["license"] == {"text": "MIT"}
    assert "License :: OSI Approved :: MIT License" in project["classifiers"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def test_author_and_changelog() -> None:
    project = _pyproject()["project"]
    assert project["authors"] and all(a.get("name") for a in project["authors"])
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## {project['version']}" in changelog


def test_installed_wheel_ships_py_typed_and_license() -> None:
    try:
        dist = importlib.metadata.distribution("jitimport")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("jitimport is not installed (running against the source tree): no wheel to inspect")
    files = {str(f) for f in dist.files or ()}
    assert "jitimport/py.typed" in files
    assert any(f.endswith("LICENSE") for f in files)
    assert dist.metadata["License"] == "MIT"


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flag(flag: str) -> None:
    result = subprocess.run([sys.executable, "-m", "jitimport", flag], capture_output=True, text=True,
                            env={**os.environ, "JITIMPORT": "", "JITIMPORT_REPORT": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("jitimport ")
    assert result.stderr == ""
