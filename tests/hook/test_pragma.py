"""The header pragma: only a real comment line before the first statement counts."""
from __future__ import annotations

from pathlib import Path

import pytest

from jitimport.hook.pragma import has_pragma, is_skip_comment, source_has_pragma
from jitimport.hook.transform import plan_functions

YES = [
    "# minijit: native\ndef f(a): return a\n",
    "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# minijit: native\n\"\"\"Doc.\"\"\"\n",
    "\n\n   # minijit: native\nx = 1\n",
    "#minijit:native\n",
    "# minijit: native  # integer hot paths\nx = 1\n",
    "\ufeff# minijit: native\r\nx = 1\r\n",
    "# minijit: native",  # no trailing newline
    "# license line\n" * 300 + "# minijit: native\nx = 1\n",  # header longer than one read
]

NO = [
    "",
    "x = 1\n# minijit: native\n",
    '"""Doc."""\n# minijit: native\n',  # after the docstring: the header is over
    's = "# minijit: native"\n',
    "x = '''\n# minijit: native\n'''\n",
    "# minijit: nativeish\n",
    "# minijit: skip\n",
    "# see '# minijit: native' in the docs\n",
    "# license line\n" * 300 + "x = 1\n# minijit: native\n",
]


@pytest.mark.parametrize("text", YES)
def test_pragma_detected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(text.encode("utf-8"))
    assert has_pragma(str(path))
    assert source_has_pragma(text.encode("utf-8"))


@pytest.mark.parametrize("text", NO)
def test_pragma_not_detected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(text.encode("utf-8"))
    assert not has_pragma(str(path))
    assert not source_has_pragma(text.encode("utf-8"))


def test_missing_file_is_no_pragma(tmp_path: Path) -> None:
    assert not has_pragma(str(tmp_path / "absent.py"))


def test_skip_comment_rules() -> None:
    assert is_skip_comment("# minijit: skip")
    assert is_skip_comment("#minijit:skip  # reason")
    assert not is_skip_comment("# minijit: skipped")


def test_plan_marks_skip_decorated_and_async() -> None:
    source = b'''
def a(x): return x
def b(x):  # minijit: skip
    return x
def c(
    x,  # minijit: skip
):
    return x
def d(x):
    s = "# minijit: skip"
    return x
@property
def e(self): return 1
async def f(x): return x
class K:
    @staticmethod
    def g(x): return x
    @classmethod
    def h(cls, x): return x
    class Inner:
        def i(self, x): return x
if True:
    def j(x): return x
def outer():
    def nested(x): return x
    return nested
'''
    plan = dict(plan_functions(source))
    assert plan["a"] is None and plan["d"] is None and plan["j"] is None
    assert plan["K.g"] is None and plan["K.Inner.i"] is None and plan["outer"] is None
    assert "skip" in plan["b"] and "skip" in plan["c"]
    assert "@property" in plan["e"] and "@classmethod" in plan["K.h"]
    assert "async" in plan["f"]
    assert "nested" not in plan and "outer.nested" not in plan
