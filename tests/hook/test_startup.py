"""Lazy activation (issue 12): ``install()`` and ``JITIMPORT=1`` put the finder in place and nothing more.

Activation runs in every interpreter that ``JITIMPORT=1`` reaches, so what it
imports is part of the contract: only jitimport's own light modules (the
package, ``config``, the finder, the pragma check, the report store), nothing
that ``python -c pass`` does not load already.  The compiler, the C-API glue
and the platform probe load at the first pragma module; wrapt only for
``include=``.  No timing here (see ``benchmarks/startup.py``): the module sets
are what is checked.
"""
from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from jitimport.hook.pragma import is_marker_line, is_skip_comment

from ._util import base_env, run, run_code

#: jitimport modules that activation may load; everything else waits for the first pragma module.
LIGHT = {
    "jitimport", "jitimport.config", "jitimport.hook", "jitimport.hook._startup", "jitimport.hook.activate",
    "jitimport.hook.finder", "jitimport.hook.pragma",
}

LIST_MODULES = "import json, sys; print(json.dumps(sorted(sys.modules)))"

GEO = '''
# minijit: native
"""Integer geometry."""


def area(w, h):
    return w * h
'''


def _modules(result) -> set[str]:
    return set(json.loads(result.ok().stdout.splitlines()[-1]))


def _plain_modules(cwd, python: str) -> set[str]:
    # json (and what it needs) is loaded by the listing itself: the baseline lists it too.
    return _modules(run_code(LIST_MODULES, cwd, base_env(), python=python))


def test_env_activation_loads_only_the_light_modules(tree, pth_python: str) -> None:
    cwd = tree({"geo.py": GEO})
    plain = _plain_modules(cwd, pth_python)
    active = run_code("import jitimport.hook.activate as a; assert a.is_installed(); " + LIST_MODULES, cwd,
                      base_env(JITIMPORT="1"), python=pth_python)
    extra = _modules(active) - plain
    assert extra <= LIGHT, sorted(extra - LIGHT)  # no ctypes, logging, typing, re, threading, compiler, ...
    assert "jitimport.hook.finder" in extra
    assert active.stderr == ""


def test_install_in_code_loads_only_the_light_modules(tree) -> None:
    cwd = tree({"geo.py": GEO})
    plain = _modules(run_code(LIST_MODULES, cwd))
    code = "import jitimport; h = jitimport.install(); assert h.active; " + LIST_MODULES
    extra = _modules(run_code(code, cwd)) - plain
    assert extra <= LIGHT, sorted(extra - LIGHT)
    # The first pragma module loads the compiler, and its functions are native.
    native = run_code("import jitimport, sys; jitimport.install(); import geo; "
                      "print(jitimport.is_native(geo.area), 'jitimport.compiler' in sys.modules)", cwd).ok()
    assert native.stdout == "True True\n"


def test_modules_without_the_pragma_load_nothing_more(tree) -> None:
    cwd = tree({"plain.py": "def area(w, h):\n    return w * h\n", "geo.py": GEO})
    plain = _modules(run_code(LIST_MODULES, cwd))
    extra = _modules(run_code("import jitimport; jitimport.install(); import plain; " + LIST_MODULES, cwd))
    assert extra - plain - {"plain"} <= LIGHT


def test_include_loads_wrapt_only_when_used(tree) -> None:
    cwd = tree({"plain.py": "def area(w, h):\n    return w * h\n"})
    without = run_code("import jitimport, sys; jitimport.install(); print('wrapt' in sys.modules)", cwd).ok()
    assert without.stdout == "False\n"
    with_include = run_code("import jitimport, sys; jitimport.install(include=['plain']); import plain; "
                            "print('wrapt' in sys.modules, jitimport.is_native(plain.area))", cwd).ok()
    assert with_include.stdout == "True True\n"


UNAVAILABLE_LATER = '''
import os, sys
import jitimport
handle = jitimport.install()
print(handle.active, "jitimport.support" in sys.modules)
os.environ["JITIMPORT_DISABLE"] = "1"  # the probe, asked at the first pragma module, now says no
import geo, geo2
print(handle.active, jitimport.is_native(geo.area), jitimport.is_native(geo2.area), geo.area(6, 7))
print([r for r in jitimport.report() if r.module.startswith("geo")])
'''


def test_unavailable_native_code_is_found_at_the_first_pragma_module(tree) -> None:
    cwd = tree({"geo.py": GEO, "geo2.py": GEO, "child.py": UNAVAILABLE_LATER})
    result = run(["child.py"], cwd, base_env(JITIMPORT_REPORT="1")).ok()
    assert result.lines == ["True False", "False False False 42", "[]"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("jitimport:")]
    assert warnings == ["jitimport: native code is not available here (disabled by JITIMPORT_DISABLE); "
                        "everything runs as plain Python"]
    assert "note: native code unavailable: disabled by JITIMPORT_DISABLE" in result.stderr


def test_already_imported_pragma_module_meets_the_probe(tree) -> None:
    """A pragma module imported before install() is compiled at install (the probe runs then)."""
    cwd = tree({"geo.py": GEO})
    result = run_code("import geo, jitimport; f = geo.area; jitimport.install(); "
                      "print(jitimport.is_native(geo.area), jitimport.is_native(f))", cwd).ok()
    assert result.stdout == "True False\n"
    assert "references taken earlier still run Python" in result.stderr


# --- the hand-written pragma matcher is the regular expression it replaced -------------------------

_OLD_PRAGMA = re.compile(rb"#[ \t]*minijit[ \t]*:[ \t]*native[ \t]*(?:#.*)?\Z")
_OLD_SKIP = re.compile(r"#[ \t]*minijit[ \t]*:[ \t]*skip[ \t]*(?:#.*)?\Z")
_PIECES = ["#", " ", "\t", "minijit", "minijt", ":", "native", "nativ", "skip", "skipped", "x", "\r", "\f", "é"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=10))
def test_marker_matcher_equals_the_old_regex(pieces: list[str]) -> None:
    line = "".join(pieces)
    data = line.encode("utf-8")
    assert is_marker_line(data, b"native") == bool(_OLD_PRAGMA.match(data)), line
    assert is_skip_comment(line) == bool(_OLD_SKIP.match(line.strip())), line
