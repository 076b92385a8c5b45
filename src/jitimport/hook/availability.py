"""Can native code run here?  Asked at the first pragma module, not at ``install()``.

The answer comes from ``jitimport.support`` (the platform and int-layout
probes, executable memory, the C-API glue), which loads ``ctypes`` and most
of the compiler's modules: far too much for ``install()``, which
``JITIMPORT=1`` runs in every interpreter that starts.  So ``install()`` only
uses the answer when jitimport has already loaded the probe (``@jit`` or
``compile_native`` ran before); otherwise the finder asks here when it meets
the first module with the pragma, and the ``include=``/already-imported pass
asks before it compiles anything.  When the answer is no, :func:`check` logs
the one process-wide warning (shared with ``@jit``) and a report note, and the
module runs as plain Python.
"""
from .. import config


def probe() -> "str | None":
    """None when native code can run here; otherwise why not (never raises)."""
    try:
        from jitimport.support import unsupported_reason
    except ImportError:
        return None  # the core decides per function (NotCompilable)
    try:
        return unsupported_reason()
    except Exception as exc:  # a broken probe must not break the host
        return f"platform check failed: {type(exc).__name__}: {exc}"


def warn_unavailable(reason: str) -> None:
    """The one warning per process and the report note for "native code cannot run here"."""
    from . import reporting

    config.warn_once(
        config.UNAVAILABLE, f"jitimport: native code is not available here ({reason}); everything runs as plain Python",
    )
    reporting.note(f"native code unavailable: {reason}")


def check() -> "str | None":
    """:func:`probe`, warning (once) when the answer is no."""
    reason = probe()
    if reason is not None:
        warn_unavailable(reason)
    return reason
