"""Can native code run in this interpreter?  Checked once, with probes, before any is made.

Anything unexpected (architecture, OS, version, a free-threaded build, a
different int layout, refused executable memory, the kill switch) yields a
reason string; jitimport then leaves everything as plain Python.

``ctypes`` is imported only by the probe itself: it cannot be loaded
everywhere (a 3.12 isolated subinterpreter refuses ``_ctypes``), and there
the answer is a reason, not an ImportError.
"""
from __future__ import annotations

import os
import struct
import sys
from functools import lru_cache

from . import versions

DISABLE_ENV = "JITIMPORT_DISABLE"
_DISABLE_VALUES = ("1", "true", "yes", "on")


def disabled_by_environment() -> bool:
    """``JITIMPORT_DISABLE=1``: the documented kill switch (e.g. to measure coverage).

    Parsed by ``jitimport.config`` like every other entry point: an
    unrecognised value warns once and counts as set.
    """
    from . import config

    return config.flag(config.DISABLE)


def _config_var(name: str) -> object:
    """``sysconfig.get_config_var(name)`` where it matters: on a build that is not a plain
    release build (ABI flags set, or a debug build); elsewhere these variables are unset and
    importing ``sysconfig`` would cost a warm start-up a few milliseconds."""
    if not getattr(sys, "abiflags", "") and not hasattr(sys, "gettotalrefcount"):
        return None
    import sysconfig

    return sysconfig.get_config_var(name)


def _platform_reason() -> str | None:
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name} is not CPython"
    if not sys.platform.startswith("linux"):
        return f"platform {sys.platform} is not Linux"
    machine = os.uname().machine   # what platform.machine() returns on Linux, without importing platform
    if machine.lower() not in ("x86_64", "amd64"):
        return f"architecture {machine} is not x86-64"
    if struct.calcsize("P") != 8:
        return "not a 64-bit interpreter"
    if versions.current() is None:
        return f"CPython {sys.version_info[0]}.{sys.version_info[1]} is not supported (3.11-3.13 are)"
    # The ABI flags say what sysconfig's Py_GIL_DISABLED says ("t"), without importing sysconfig.
    if "t" in getattr(sys, "abiflags", "") or _config_var("Py_GIL_DISABLED"):
        return "free-threaded CPython builds are not supported"
    if hasattr(sys, "gettotalrefcount") and _config_var("Py_TRACE_REFS"):
        return "Py_TRACE_REFS builds have a different object layout"
    if sys.int_info.bits_per_digit != 30 or sys.int_info.sizeof_digit != 4:
        return "int digits are not 30-bit"
    try:
        import ctypes  # noqa: F401  (the C-API glue is built on it)
    except ImportError as exc:
        return f"ctypes is not available here ({exc})"
    return None


def decode_int(address: int, layout: versions.LongLayout) -> int | None:
    """Read an int object's value from memory the way the machine code does."""
    import ctypes
    head = ctypes.c_ssize_t.from_address(address + layout.size_offset).value
    if layout.kind == "signed_size":
        negative, ndigits = head < 0, abs(head)
    else:
        sign, ndigits = head & 3, head >> 3
        negative = sign == 2
        if sign == 1:
            return 0
    digits = (ctypes.c_uint32 * max(ndigits, 1)).from_address(address + layout.digits_offset)
    value = sum(digits[i] << (layout.digit_bits * i) for i in range(ndigits))
    return -value if negative else value


def _layout_reason() -> str | None:
    import ctypes
    table = versions.current()
    assert table is not None
    if ctypes.c_void_p.from_address(id(7) + 8).value != id(int):
        return "object header layout is not the expected one"
    probes = [0, 1, -1, 5, -7, 2**30 - 1, 2**30, -(2**45) - 3, 2**62 + 12345, -(2**63)]
    for value in probes:
        if decode_int(id(value), table.long_layout) != value:
            return "int object layout is not the expected one"
    # Builtin guards compare dict version tags: each mutation must change the tag.
    probe: dict[str, int] = {}
    tags = []
    for step in range(3):
        probe["x"] = step
        tags.append(ctypes.c_uint64.from_address(id(probe) + table.dict_version_offset).value)
    if len(set(tags)) != 3:
        return "dict version tags are not where the version table says"
    return None


@lru_cache(maxsize=1)
def _static_reason() -> str | None:
    reason = _platform_reason()
    if reason is None:
        reason = _layout_reason()
    if reason is None:
        try:
            from .native import ensure_type_ready
            ensure_type_ready()
        except OSError as exc:
            reason = f"executable memory is not available ({exc})"
        except Exception as exc:  # a probe must never take the host down
            reason = f"native call glue could not be set up ({type(exc).__name__}: {exc})"
    return reason


def unsupported_reason() -> str | None:
    """None when native code can run here; otherwise why not."""
    if disabled_by_environment():
        return f"disabled by {DISABLE_ENV}"
    return _static_reason()
