"""Reading the JITIMPORT* environment variables: recognised values or one clear warning.

Start-up code (the ``.pth`` file) runs this, so it must never raise; an
unrecognised value is reported once per variable and treated as "do not
activate".
"""
from __future__ import annotations

import logging
import os

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})

VARIABLES = {
    "JITIMPORT": "1 activates the import hook at interpreter start (via the installed jitimport.pth)",
    "JITIMPORT_DISABLE": "1 is a kill switch: install(), python -m jitimport and JITIMPORT=1 leave everything in Python",
    "JITIMPORT_REPORT": "1 prints at exit which functions became native and which stayed Python, and why",
}

log = logging.getLogger("jitimport")
_warned: set[str] = set()


def env_flag(name: str, unrecognised: bool = False) -> bool:
    """Value of boolean variable ``name``; an unrecognised value warns once and yields ``unrecognised``.

    For the kill switch the caller passes ``unrecognised=True``: when in doubt,
    do not activate.
    """
    raw = os.environ.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    if name not in _warned:
        _warned.add(name)
        consequence = "treated as set: the hook stays off" if unrecognised else "ignored: the hook is not activated"
        if name == "JITIMPORT_REPORT":
            consequence = "ignored: no report is printed"
        log.warning(
            "jitimport: %s=%r is not recognised (use 1/true/yes/on or 0/false/no/off); %s",
            name, raw, consequence,
        )
    return unrecognised
