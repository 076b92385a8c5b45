"""``python -m jitimport annotate``: the annotated view of a module (HTML page and ``--text``).

The command line runs in a subprocess, as a user runs it; the facts behind
it (:func:`jitimport.annotate.analyze_file`) are also checked in-process,
including that annotating leaves ``sys.modules`` and ``sys.path`` as they
were.  The page in a real browser: ``test_annotate_browser.py``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jitimport
from jitimport.annotate import analyze_file, load_stats, render_html, render_text, AnnotateError

PACKAGE_PARENT = Path(jitimport.__file__).resolve().parent.parent
REPO = Path(__file__).resolve().parents[1]

#: Line numbers below are asserted: keep MODULE's layout.
MODULE = '''\
# minijit: native
"""A module with every kind of function the annotated view distinguishes."""
MASK = 0xFFFF


def area(w, h):
    return w * h


def count(items):
    total = 0
    total += len(items)
    return total


def kept(x):  # minijit: skip
    return x + 1


class Box:
    @staticmethod
    def volume(a, b, c):
        return a * b * c & MASK

    def cells(self, width, height):
        return width * height

    @property
    def size(self):
        return 3


def splat(*args):
    return 0


def sometimes(n):
    if n < 0:
        raise ValueError("negative")
    return n * 2
'''

LINE_OF_LEN = 12
ALL = ["area", "count", "kept", "Box.volume", "Box.cells", "Box.size", "splat", "sometimes"]
NATIVE = {"area", "Box.volume", "Box.cells", "sometimes"}


def env() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JITIMPORT")}
    environ["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT), environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


def jitimport_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jitimport", *args], cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "shapes.py"
    path.write_text(MODULE)
    return path


def test_facts_every_function_native_or_python_with_the_blocking_line(module: Path) -> None:
    facts = analyze_file(str(module))
    by_name = {fn.qualname: fn for fn in facts.functions}
    assert list(by_name) == ALL
    assert {name for name, fn in by_name.items() if fn.native} == NATIVE
    assert (by_name["count"].reason, by_name["count"].reason_line) == ("call to len() is not supported", LINE_OF_LEN)
    assert by_name["kept"].reason == "skipped by '# minijit: skip'" and by_name["kept"].reason_line == 16
    assert by_name["Box.size"].reason == "decorated with @property: left alone"
    assert by_name["Box.size"].reason_line == 29  # the def line, not the decorator's
    assert "args" in by_name["splat"].reason and by_name["splat"].reason_line == 33
    for name in NATIVE:
        fn = by_name[name]
        assert fn.reason is None and fn.code_size > 0
        assert f"def {name.split('.')[-1]}(" in fn.optimized_ir
        assert re.search(r"^\s+[0-9a-f]+:\s+([0-9a-f]{2} )+\s*\w+", fn.disassembly, re.M)  # offset, bytes, mnemonic
    assert by_name["sometimes"].exit_count == 1 and by_name["area"].exit_count == 0
    assert facts.has_pragma and facts.notes == [] and facts.module_name == "shapes"


def test_html_page_lists_every_function_with_reasons_ir_and_code(module: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = jitimport_cli("annotate", str(module), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "4 of 8 functions native" in result.stdout
    page = out.read_text()
    # self-contained: no external script, style sheet, image or font
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|url\(|https?://", page)
    for name in ALL:
        assert f'<tr class="fn-row" data-qualname="{name}">' in page
    for name in NATIVE:
        details = re.search(rf'<details class="fn" id="[^"]+" data-qualname="{re.escape(name)}">(.*?)</details>',
                            page, re.S)
        assert details, name
        assert '<pre class="ir">def ' in details.group(1) and re.search(r'<pre class="asm">; .*\n\s+0:', details.group(1))
    assert page.count("<details") == len(NATIVE)
    # the reason is shown right under the line that blocks the function, and that line is marked
    blocked = re.search(rf'<div class="line blocked" id="L{LINE_OF_LEN}">.*?</div>\n<div class="why">(.*?)</div>',
                        page)
    assert blocked and "call to len() is not supported" in blocked.group(1) and "count" in blocked.group(1)
    # the folded code comes right after its def line
    assert re.search(r'id="L6"><span class="ln">6</span><span class="mk">N</span><code>def area\(w, h\):</code>'
                     r'</div>\n<details class="fn"', page)
    assert 'class="line def-python" id="L10"' in page


def test_default_output_is_next_to_the_source(module: Path, tmp_path: Path) -> None:
    result = jitimport_cli("annotate", "shapes.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "shapes.html").read_text().startswith("<!DOCTYPE html>")
    assert "wrote shapes.html" in result.stdout


def test_text_mode(module: Path, tmp_path: Path) -> None:
    result = jitimport_cli("annotate", str(module), "--text", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "4 of 8 functions native" in lines[0]
    assert " 6  N  def area(w, h):" in lines
    assert "10  P  def count(items):" in lines
    blocked = lines.index(f"{LINE_OF_LEN}  !      total += len(items)")
    assert lines[blocked + 1].strip() == "^ count stays Python: call to len() is not supported"
    area = lines.index(" 6  N  def area(w, h):")
    assert lines[area + 1].strip().startswith("native area:")
    assert lines[area + 2].strip() == "optimized IR:" and lines[area + 3].strip() == "def area(%w, %h):"
    asm = next(i for i in range(area, len(lines)) if lines[i].strip() == "machine code:")
    assert re.match(r"\s+; area: \d+ bytes", lines[asm + 1]) and re.match(r"\s+0:\s", lines[asm + 2])
    assert lines[asm + 2].startswith(" " * 10)  # indented under the source
    sometimes = next(line for line in lines if "native sometimes" in line)
    assert "1 path exits to Python" in sometimes


def test_stats_are_shown_under_each_def(module: Path, tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"area": {"native": 90, "fallback": 10}, "Box.volume": {"native": 5, "fallback": 0},
                                 "elsewhere": {"native": 1, "fallback": 1}}))
    text = jitimport_cli("annotate", str(module), "--text", "--stats", str(stats), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    area = lines.index(" 6  N  def area(w, h):")
    assert lines[area + 1].strip() == "calls: 90 native, 10 fell back (10% fell back)"
    assert "calls: 5 native, 0 fell back (0% fell back)" in text.stdout
    page = tmp_path / "p.html"
    html = jitimport_cli("annotate", str(module), "-o", str(page), "--stats", str(stats), cwd=tmp_path)
    assert html.returncode == 0, html.stderr
    assert '<div class="stats">calls: 90 native, 10 fell back (10% fell back)</div>' in page.read_text()


def test_stats_format_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for content, message in [("[1, 2]", "expected an object"), ("{", "not valid JSON"),
                             ('{"f": {"native": -1}}', "must be counts"), ('{"f": 3}', "expected an object")]:
        bad.write_text(content)
        with pytest.raises(AnnotateError, match=message):
            load_stats(str(bad))


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "missing.py: no such file"),
    (["notes.txt"], "not a Python source file"),
    (["broken.py"], "broken.py:2: syntax error"),
    (["pkgdir.py"], "not a file"),
    (["shapes.py", "--stats", "nostats.json"], "--stats nostats.json: cannot read"),
    ([], "the following arguments are required: path"),
    (["shapes.py", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_is_a_usage_error_without_traceback(module: Path, tmp_path: Path, args: list[str],
                                                      message: str) -> None:
    (tmp_path / "notes.txt").write_text("def f(): pass\n")
    (tmp_path / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    (tmp_path / "pkgdir.py").mkdir()
    result = jitimport_cli("annotate", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: python -m jitimport annotate")
    assert message in result.stderr and "Traceback" not in result.stderr


def test_module_that_raises_while_running_is_annotated_up_to_there(tmp_path: Path) -> None:
    (tmp_path / "half.py").write_text("def first(a):\n    return a + 1\n\nraise RuntimeError('boom')\n\n\n"
                                      "def second(a):\n    return a - 1\n")
    result = jitimport_cli("annotate", "half.py", "--text", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "running the module raised RuntimeError: boom at line 4" in result.stderr
    assert "1  N  def first(a):" in result.stdout
    assert "^ second stays Python: not defined when the module ran" in result.stdout
    assert "no '# minijit: native' pragma" in result.stdout  # and it says the module has no pragma


def test_annotating_leaves_sys_modules_and_sys_path_alone(tmp_path: Path) -> None:
    package = tmp_path / "annpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "consts.py").write_text("K = 3\n")
    (package / "calc.py").write_text("# minijit: native\nfrom .consts import K\nimport colorsys\n\n\n"
                                     "def scale(x):\n    return x * K\n")
    modules_before, path_before = set(sys.modules), list(sys.path)
    facts = analyze_file(str(package / "calc.py"))
    assert facts.module_name == "annpkg.calc"
    assert [(fn.qualname, fn.native) for fn in facts.functions] == [("scale", True)]
    assert "guard" in facts.functions[0].optimized_ir or "mul" in facts.functions[0].optimized_ir
    new = {name for name in set(sys.modules) - modules_before if not name.startswith("jitimport")}
    assert new == set() and sys.path == path_before


def test_module_without_pragma_says_so(tmp_path: Path) -> None:
    path = tmp_path / "plain.py"
    path.write_text("def f(a):\n    return a * 2\n")
    facts = analyze_file(str(path))
    assert not facts.has_pragma and facts.functions[0].native
    assert "no '# minijit: native' pragma" in render_text(facts)
    assert "no &#x27;# minijit: native&#x27; pragma" in render_html(facts)


def test_the_bare_word_annotate_is_the_subcommand_and_annotate_py_a_script(module: Path, tmp_path: Path) -> None:
    (tmp_path / "annotate.py").write_text("import sys\nprint('script annotate.py ran', sys.argv[1:])\n")
    (tmp_path / "annotate").write_text("print('script annotate ran')\n")
    script = jitimport_cli("annotate.py", "x", cwd=tmp_path)
    assert script.returncode == 0 and script.stdout == "script annotate.py ran ['x']\n"
    plain = jitimport_cli("--", "annotate", cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout == "script annotate ran\n"
    sub = jitimport_cli("annotate", "shapes.py", "--text", cwd=tmp_path)
    assert sub.returncode == 0 and "def area" in sub.stdout
    helptext = jitimport_cli("--help", cwd=tmp_path).stdout
    assert "python -m jitimport annotate path/to/module.py" in helptext
    assert '{"qualname": {"native": N, "fallback": M}}' in helptext and "annotate.py` runs that" in helptext
    sub_help = jitimport_cli("annotate", "--help", cwd=tmp_path)
    assert sub_help.returncode == 0 and '"native": N, "fallback": M' in sub_help.stdout


def test_sample_pkg_module_annotates(tmp_path: Path) -> None:
    out = tmp_path / "geometry.html"
    result = jitimport_cli("annotate", str(REPO / "sample_pkg" / "geometry.py"), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert 'data-qualname="Torus.describe"' in page and "skipped by" in page
    assert 'data-qualname="gcd"><summary>native gcd' in page
    # the command the sample_pkg demo suggests, as typed from the repository root
    text = jitimport_cli("annotate", "sample_pkg/geometry.py", "--text", cwd=REPO)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    blocked = next(i for i, line in enumerate(lines) if line.endswith("!      n = len(xs)"))
    assert lines[blocked + 1].strip() == "^ polygon_area2 stays Python: call to len() is not supported"
