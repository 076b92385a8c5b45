"""The CI recipes in ``examples/`` (and quoted in the README) say what makes the hook reach the tests.

Running tox on the example would need the network and minutes; instead the
file is parsed as tox parses it (an ini file) and the settings that matter
are checked: ``pass_env`` lets every ``JITIMPORT*`` variable through (tox 4
matches ``pass_env`` entries as shell-style patterns), jitimport is
*installed* in the environment (its ``.pth`` line is what reads
``JITIMPORT=1``), and the plugin options used exist.
"""
from __future__ import annotations

import configparser
import fnmatch
import re
from pathlib import Path

import jitimport.pytest_plugin

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
VARIABLES = ["JITIMPORT", "JITIMPORT_VERIFY", "JITIMPORT_REPORT", "JITIMPORT_DISABLE"]


def _values(setting: str) -> list[str]:
    """A tox multi-line or comma-separated setting, without comments and blank lines."""
    items = []
    for line in setting.splitlines():
        line = line.split("#", 1)[0].strip()
        items.extend(part.strip() for part in line.split(",") if part.strip())
    return items


def _tox_ini() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string((EXAMPLES / "tox.ini").read_text())
    return parser


def test_example_tox_ini_passes_every_jitimport_variable() -> None:
    testenv = _tox_ini()["testenv"]
    patterns = _values(testenv["pass_env"])
    for variable in VARIABLES:
        assert any(fnmatch.fnmatchcase(variable, pattern) for pattern in patterns), variable
    assert "jitimport" in _values(testenv["deps"])  # installed, so the .pth start-up line is there
    assert _values(testenv["commands"])[0].startswith("pytest")


def test_example_tox_ini_plugin_environment_uses_existing_options() -> None:
    native = _tox_ini()["testenv:native"]
    assert "jitimport" in _values(native["deps"])
    options = re.findall(r"--[\w-]+", native["commands"])
    assert options == ["--jitimport", "--jitimport-report"]
    plugin_source = Path(jitimport.pytest_plugin.__file__).read_text()
    for option in options:
        assert f'"{option}"' in plugin_source, option


def test_github_actions_example_sets_the_variables_and_is_quoted_in_the_readme() -> None:
    workflow = (EXAMPLES / "github-actions.yml").read_text()
    env = dict(re.findall(r'^\s+(JITIMPORT\w*): "(\w+)"', workflow, re.M))
    assert env == {"JITIMPORT": "1", "JITIMPORT_VERIFY": "1", "JITIMPORT_REPORT": "1"}
    assert re.search(r"pip install .*\bjitimport\b", workflow)
    readme = (REPO / "README.md").read_text()
    assert workflow in readme, "README's GitHub Actions snippet differs from examples/github-actions.yml"
    assert "pass_env = JITIMPORT*" in readme and "examples/tox.ini" in readme
