"""install()/uninstall() semantics, in-process (the meta_path is restored after each test)."""
from __future__ import annotations

import logging
import sys

import pytest

import jitimport
from jitimport import config
from jitimport.__main__ import main
from jitimport.hook import activate
from jitimport.hook.finder import JitFinder


@pytest.fixture(autouse=True)
def clean_hook(monkeypatch: pytest.MonkeyPatch):
    for var in ("JITIMPORT", "JITIMPORT_DISABLE", "JITIMPORT_REPORT"):
        monkeypatch.delenv(var, raising=False)
    activate.uninstall()
    saved = list(sys.meta_path)
    yield
    activate.uninstall()
    sys.meta_path[:] = saved


def finders() -> list[object]:
    return [f for f in sys.meta_path if isinstance(f, JitFinder)]


def test_install_is_idempotent_and_handles_are_counted() -> None:
    h1 = jitimport.install()
    h2 = jitimport.install()
    assert len(finders()) == 1 and sys.meta_path[0] is finders()[0]
    assert h1.active and h2.active
    h1.uninstall()
    h1.uninstall()  # releasing twice does not release someone else's activation
    assert len(finders()) == 1 and activate.is_installed()
    h2.uninstall()
    assert finders() == [] and not activate.is_installed()


def test_context_manager_and_global_uninstall() -> None:
    with jitimport.install() as handle:
        assert activate.is_installed() and handle.active
    assert not activate.is_installed()
    outer = jitimport.install()
    with jitimport.install():
        pass
    assert activate.is_installed()  # the inner block does not switch off the outer activation
    jitimport.uninstall()
    assert not activate.is_installed() and not outer.active
    outer.uninstall()  # stale handle: harmless
    assert finders() == []


@pytest.mark.parametrize("value", ["1", "yes", "oops"])
def test_kill_switch(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("JITIMPORT_DISABLE", value)
    handle = jitimport.install()
    assert not handle.active and finders() == []


def test_unsupported_platform_warns_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(activate, "_unsupported_reason", lambda: "not x86-64 (test)")
    monkeypatch.setattr(config, "_warned", {})
    with caplog.at_level(logging.WARNING, logger="jitimport"):
        assert not jitimport.install().active
        assert not jitimport.install().active
    assert finders() == []
    assert [r.getMessage() for r in caplog.records].count(
        "jitimport: native code is not available here (not x86-64 (test)); everything runs as plain Python") == 1


def test_cli_help_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("--report", "-m module", "JITIMPORT=1", "JITIMPORT_DISABLE", "JITIMPORT_REPORT", "# minijit: native"):
        assert word in out
    assert main([]) == 2
    assert "usage: python -m jitimport" in capsys.readouterr().err
    assert main(["--frobnicate", "x.py"]) == 2
    assert "unknown option: --frobnicate" in capsys.readouterr().err
    assert main(["-m"]) == 2
