"""``jitimport.config``: the one parser of the JITIMPORT* variables (issue 9, defect 7)."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from jitimport import config


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch: pytest.MonkeyPatch):
    for name in config.FLAGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "_warned", {})


@pytest.mark.parametrize("raw", ["1", "true", "yes", "on", "TRUE", " On ", "Yes\n"])
def test_true_values(raw: str) -> None:
    assert config.parse_bool(raw) is True


@pytest.mark.parametrize("raw", ["", "0", "false", "no", "off", "OFF", " 0 "])
def test_false_values(raw: str) -> None:
    assert config.parse_bool(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled", "1 1", "-1"])
def test_anything_else_is_unrecognised(raw: str) -> None:
    assert config.parse_bool(raw) is None


def test_every_variable_is_declared_once() -> None:
    assert set(config.FLAGS) == {"JITIMPORT", "JITIMPORT_DISABLE", "JITIMPORT_REPORT", "JITIMPORT_VERIFY"}
    assert config.flag("JITIMPORT") is config.flag(config.ACTIVATE) is False  # unset
    with pytest.raises(KeyError):
        config.flag("JITIMPORT_NO_SUCH_THING")


@pytest.mark.parametrize("flag, safe_side", [(config.ACTIVATE, False), (config.DISABLE, True), (config.REPORT, False), (config.VERIFY, False)])
def test_unrecognised_value_warns_once_and_takes_the_safe_side(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, flag: config.Flag, safe_side: bool,
) -> None:
    monkeypatch.setenv(flag.name, "maybe")
    with caplog.at_level(logging.WARNING, logger="jitimport"):
        assert [config.flag(flag) for _ in range(3)] == [safe_side] * 3
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [f"jitimport: {flag.name}='maybe' is not recognised (use 1/true/yes/on or 0/false/no/off); "
                        f"{flag.consequence}"]
    monkeypatch.setenv(flag.name, "1")
    assert config.flag(flag) is True  # read on every call


def test_warn_once_is_per_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="jitimport"):
        assert config.warn_once("a", "first") and not config.warn_once("a", "again")
        assert config.warn_once("b", "other")
    assert [r.getMessage() for r in caplog.records] == ["first", "other"]


def test_support_uses_the_same_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from jitimport import support

    for raw, disabled in (("1", True), ("yes", True), ("maybe", True), ("off", False), ("", False)):
        monkeypatch.setenv("JITIMPORT_DISABLE", raw)
        assert support.disabled_by_environment() is disabled, raw


def test_importing_config_is_cheap() -> None:
    """It is imported at every interpreter start with JITIMPORT set: no ctypes, no logging."""
    code = "import sys, jitimport.config; print(sorted({'ctypes', 'logging', 'threading'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
                         capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"
