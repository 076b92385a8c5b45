"""The annotated page in a real browser: headless Chromium loads it, lists every function, and shows a
native function's code when it is expanded.

A copy of the page gets two test-only scripts: one in ``<head>`` that records
script errors, one at the end of ``<body>`` that clicks each function's
summary and the "Expand all"/"Collapse all" buttons, measures whether the IR
and the disassembly are laid out (visible) or not, and writes what it found
into the DOM as JSON; ``chromium --headless --dump-dom`` prints that DOM.
``.ci/run`` installs Debian's ``chromium`` when apt can; without a browser the
test is skipped, saying so.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jitimport

PACKAGE_PARENT = Path(jitimport.__file__).resolve().parent.parent

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

MODULE = '''\
# minijit: native
"""Two native functions, one refused, one skipped."""


def area(w, h):
    return w * h


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def size(items):
    return len(items)


def kept(x):  # minijit: skip
    return x
'''

RECORD_ERRORS = """<script>
window.pageErrors = [];
window.addEventListener('error', function (e) { window.pageErrors.push(String(e.message)); });
</script>"""

CHECK = """<script>
(function () {
  // checkVisibility(): false inside a closed <details> (its content is skipped, though it still has a box)
  function shown(el) { return !!el && el.checkVisibility() && el.getBoundingClientRect().height > 0; }
  var details = Array.prototype.slice.call(document.querySelectorAll('details.fn'));
  var result = {errors: window.pageErrors, rows: [], functions: []};
  result.rows = Array.prototype.map.call(document.querySelectorAll('tr.fn-row'),
                                         function (r) { return r.dataset.qualname; });
  result.hiddenAtFirst = details.every(function (d) { return !d.open && !shown(d.querySelector('pre.ir')); });
  details.forEach(function (d) {
    var summary = d.querySelector('summary');
    summary.click();
    result.functions.push({name: d.dataset.qualname, open: d.open,
                           ir: shown(d.querySelector('pre.ir')) ? d.querySelector('pre.ir').innerText : '',
                           asm: shown(d.querySelector('pre.asm')) ? d.querySelector('pre.asm').innerText : ''});
    summary.click();
  });
  result.closedAgain = details.every(function (d) { return !d.open; });
  document.getElementById('expand-all').click();
  result.expandAll = details.length > 0 && details.every(function (d) { return shown(d.querySelector('pre.asm')); });
  document.getElementById('collapse-all').click();
  result.collapseAll = details.every(function (d) { return !d.open && !shown(d.querySelector('pre.asm')); });
  var out = document.createElement('pre');
  out.id = 'browser-check';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
})();
</script>"""


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def test_page_in_headless_chromium(tmp_path: Path) -> None:
    browser = find_browser()
    if browser is None:
        pytest.skip("no headless browser: install Debian's chromium (apt-get install chromium; .ci/run does it "
                    "when apt is usable) to run the annotated page in a real browser")
    source = tmp_path / "kernels.py"
    source.write_text(MODULE)
    page = tmp_path / "kernels.html"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JITIMPORT")}
    environ["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT), environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    made = subprocess.run([sys.executable, "-m", "jitimport", "annotate", str(source), "-o", str(page)],
                          env=environ, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    text = page.read_text()
    assert text.count("<head>") == 1 and text.count("</body>") == 1
    checked = tmp_path / "checked.html"
    checked.write_text(text.replace("<head>", "<head>" + RECORD_ERRORS).replace("</body>", CHECK + "</body>"))
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the check script did not run (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["errors"] == []
    assert result["rows"] == ["area", "gcd", "size", "kept"]
    assert result["hiddenAtFirst"] and result["closedAgain"]
    assert [fn["name"] for fn in result["functions"]] == ["area", "gcd"]
    for fn in result["functions"]:
        assert fn["open"], fn
        assert fn["ir"].startswith(f"def {fn['name']}(%"), fn
        assert re.search(r"^\s*0:\s+([0-9a-f]{2} )+", fn["asm"], re.M), fn
    assert "branch" in result["functions"][1]["ir"]  # gcd's loop
    assert result["expandAll"] and result["collapseAll"]
