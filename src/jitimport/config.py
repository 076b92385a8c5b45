"""The ``JITIMPORT*`` environment variables: declared once, read by one parser.

Every entry point (the ``jitimport.pth`` start-up line, ``install()``,
``python -m jitimport``, ``compile_native`` and ``@jit`` through
``support.disabled_by_environment``) asks this module, so a value means the
same thing everywhere and an unrecognised one gets one warning that says what
*every* entry point does with it.

Accepted values are ``1/true/yes/on`` and ``0/false/no/off`` (case and
surrounding blanks ignored; empty counts as unset).  Anything else warns once
and falls back to the variable's safe side: the kill switch counts as set,
everything else as unset.

The ``.pth`` line only checks that ``JITIMPORT`` or ``JITIMPORT_REPORT`` is
non-empty before importing anything (one or two dictionary lookups when both
are unset); the value itself is parsed here.  This module is then imported at
interpreter start, so it imports nothing but ``os`` (already loaded by then);
``logging`` is imported only when there is something to warn about.  To add a variable (e.g.
``JITIMPORT_VERIFY``), declare a :class:`Flag` and add it to ``FLAGS``.
"""
import os

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})


class Flag:
    """One boolean environment variable: its name, what it does, and what an unrecognised value means."""

    def __init__(self, name: str, meaning: str, if_unrecognised: bool, consequence: str) -> None:
        self.name = name
        self.meaning = meaning
        #: The value an unrecognised setting stands for (the safe side).
        self.if_unrecognised = if_unrecognised
        #: Said in the warning about an unrecognised value.
        self.consequence = consequence

    def __repr__(self) -> str:
        return f"<jitimport flag {self.name}>"


ACTIVATE = Flag(
    "JITIMPORT",
    "1 activates the import hook at interpreter start (via the installed jitimport.pth)",
    False, "ignored: the import hook is not activated",
)
DISABLE = Flag(
    "JITIMPORT_DISABLE",
    "1 is a kill switch: the import hook, @jit and compile_native leave everything in Python",
    True, "treated as set: everything stays Python (the import hook, @jit and compile_native)",
)
REPORT = Flag(
    "JITIMPORT_REPORT",
    "1 prints at exit which functions became native and which stayed Python, and why",
    False, "ignored: no report is printed",
)
VERIFY = Flag(
    "JITIMPORT_VERIFY",
    "1 is verify mode: every call of a native made by the hook or @jit also runs the Python original and "
    "raises jitimport.VerificationError when the outcomes differ",
    False, "ignored: verify mode is off",
)
FLAGS: dict[str, Flag] = {flag.name: flag for flag in (ACTIVATE, DISABLE, REPORT, VERIFY)}


def parse_bool(raw: str) -> bool | None:
    """The one parser: True / False for an accepted value, None for anything else."""
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return None


def flag(which: Flag | str) -> bool:
    """The current value of a boolean variable (read from ``os.environ`` on every call).

    Unset or empty is False.  An unrecognised value warns once (per variable
    and value) and yields the variable's safe side.
    """
    spec = which if isinstance(which, Flag) else FLAGS[which]
    raw = os.environ.get(spec.name)
    if raw is None:
        return False
    parsed = parse_bool(raw)
    if parsed is not None:
        return parsed
    warn_once(
        f"unrecognised {spec.name}={raw}",
        f"jitimport: {spec.name}={raw!r} is not recognised (use 1/true/yes/on or 0/false/no/off); "
        f"{spec.consequence}",
    )
    return spec.if_unrecognised


_warned: dict[str, object] = {}


def warn_once(key: str, message: str) -> bool:
    """Log ``message`` on the ``jitimport`` logger the first time ``key`` is seen; True if it was logged.

    Shared by every entry point so that one cause (an unrecognised value,
    native code being unavailable) gives one clear warning per process, not
    one per function or per entry point.
    """
    token = object()
    if _warned.setdefault(key, token) is not token:  # atomic under the GIL: one thread wins
        return False
    import logging

    logging.getLogger("jitimport").warning(message)
    return True


#: The :func:`warn_once` key of "native code cannot run here" (the kill switch, an unsupported
#: interpreter, executable memory refused): whichever entry point (the hook, ``@jit``) meets it
#: first says it, once per process.
UNAVAILABLE = "native code unavailable"
