"""Activation from ``jitimport.pth`` when ``JITIMPORT`` is set; must never crash start-up."""
from __future__ import annotations


def run() -> None:
    """Install the hook if ``JITIMPORT`` says so (the .pth only imports us when it is non-empty)."""
    try:
        from .env import env_flag

        if env_flag("JITIMPORT"):
            from .activate import install

            install()
    except Exception as exc:  # pragma: no cover - defensive: never break interpreter start
        import sys

        try:
            sys.stderr.write(f"jitimport: JITIMPORT is set but the import hook could not start: {exc!r}\n")
        except Exception:
            pass
