"""``python -m jitimport annotate module.py``: the module's source, annotated with what the compiler made of it.

Like Cython's ``cython -a``: one self-contained HTML page (or ``--text`` for
the terminal) where each function is marked native or Python, the reason a
function stays Python sits at the line that blocks it, and each native
function has its optimized IR and machine code folded under its ``def``.

How the facts are gathered (:func:`analyze_file`): the module runs once, as
plain Python, in a fresh module object under its dotted name (so relative
imports and ``dataclasses`` work); what it adds to ``sys.modules`` and
``sys.path`` is taken out again afterwards (jitimport's own modules stay: they
hold the shared native type and code arena).  Then every function the import
hook would consider (``hook.transform.plan_functions``: module level, class
bodies, ``if``/``try`` blocks) is looked up by its qualname and compiled with
:func:`jitimport.compile_native`, the same compiler the hook calls, after the
module has run (as the hook's second pass does for a function that read a
global bound further down).  Functions left alone on purpose (``# minijit:
skip``, other decorators, ``async def``) carry the hook's own reason.

Rendering (:func:`render_html`, :func:`render_text`) is pure: facts in, text
out.  The compiler is imported lazily, in :func:`analyze_file` only.
"""
from __future__ import annotations

import argparse
import ast
import html
import io
import json
import sys
import tokenize
import types
from dataclasses import dataclass, field
from pathlib import Path

PROG = "python -m jitimport annotate"

STATS_HELP = (
    'JSON file of call counts per function, {"qualname": {"native": N, "fallback": M}, ...}: '
    "N calls ran natively, M fell back to the Python original (shown under each def); an optional "
    '"fallbacks": {cause: count} gives the causes, and keys may be "module:qualname" (what '
    "`python -m jitimport --stats-out FILE script.py` and jitimport.callstats.write_json write)"
)


class AnnotateError(Exception):
    """Bad input (missing file, not a .py, syntax error, bad stats file): a usage message, exit status 2."""


@dataclass(frozen=True)
class CallCounts:
    """Calls of one function in a run: how many ran natively, how many fell back to Python, and why."""

    native: int
    fallback: int
    #: (cause, count) of the fallbacks, most frequent first, when the file gives them.
    fallbacks: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        total = self.native + self.fallback
        share = f" ({100 * self.fallback // total}% fell back)" if total else ""
        text = f"calls: {self.native} native, {self.fallback} fell back{share}"
        if self.fallbacks:
            text += " — " + "; ".join(f"{count} {cause}" for cause, count in self.fallbacks[:3])
            if len(self.fallbacks) > 3:
                text += f"; {len(self.fallbacks) - 3} more cause(s)"
        if total and 2 * self.fallback >= total:  # callstats.MOSTLY_FALLING_BACK
            text += ". Runs slower than Python: most calls fall back"
        return text


@dataclass
class FunctionFacts:
    """What the compiler made of one function, and where it sits in the source."""

    qualname: str
    #: The ``def`` line, the first line (a decorator's, when decorated), the last line, and the
    #: last line of the header (the signature): the folded code goes right after it.
    def_line: int
    first_line: int
    end_line: int
    header_end: int
    native: bool = False
    #: Why it stays Python (None when native) and the line the reason is shown at.
    reason: str | None = None
    reason_line: int | None = None
    code_size: int = 0
    optimized_ir: str = ""
    disassembly: str = ""
    stats: CallCounts | None = None

    @property
    def exit_count(self) -> int:
        """Paths of the native code that exit to the Python original (``exit`` terminators in the IR)."""
        return sum(1 for line in self.optimized_ir.splitlines() if line.strip().startswith("exit"))

    def native_summary(self) -> str:
        exits = self.exit_count
        paths = "1 path exits" if exits == 1 else f"{exits} paths exit"
        more = f"; {paths} to Python (see the IR)" if exits else ""
        return f"native {self.qualname}: {self.code_size} bytes of machine code{more}"

    @property
    def anchor(self) -> str:
        return "fn-" + self.qualname.replace(".", "-")


@dataclass
class ModuleFacts:
    """One annotated module: its source lines, its functions in source order, and notes for the reader."""

    path: str
    module_name: str
    lines: list[str]
    has_pragma: bool
    functions: list[FunctionFacts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def native_count(self) -> int:
        return sum(1 for fn in self.functions if fn.native)


# ---------------------------------------------------------------------------------------------
# Input


def read_source(path: str) -> tuple[str, ast.Module]:
    """The module's text and syntax tree; :class:`AnnotateError` for anything that is not a Python module."""
    file = Path(path)
    if not path.endswith(".py"):
        raise AnnotateError(f"{path}: not a Python source file (expected a path ending in .py)")
    if not file.exists():
        raise AnnotateError(f"{path}: no such file")
    if not file.is_file():
        raise AnnotateError(f"{path}: not a file")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise AnnotateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        tree = ast.parse(data, filename=path)
    except SyntaxError as exc:
        raise AnnotateError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # NUL bytes
        raise AnnotateError(f"{path}: cannot parse: {exc}") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)  # a coding declaration, a BOM
        text = io.TextIOWrapper(io.BytesIO(data), encoding).read()  # universal newlines, as Python reads it
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise AnnotateError(f"{path}: cannot decode: {exc}") from None
    return text, tree


def load_stats(path: str) -> dict[str, CallCounts]:
    """Parse a ``--stats`` file (format: :data:`STATS_HELP`); :class:`AnnotateError` when it does not fit."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnnotateError(f"--stats {path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AnnotateError(f"--stats {path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise AnnotateError(f'--stats {path}: expected an object {{"qualname": {{"native": N, "fallback": M}}}}')
    counts: dict[str, CallCounts] = {}
    for qualname, entry in raw.items():
        if not isinstance(entry, dict):
            raise AnnotateError(f"--stats {path}: {qualname!r}: expected an object with 'native' and 'fallback'")
        values = [entry.get("native", 0), entry.get("fallback", 0)]
        if not all(type(v) is int and v >= 0 for v in values):
            raise AnnotateError(f"--stats {path}: {qualname!r}: 'native' and 'fallback' must be counts (ints >= 0)")
        causes = entry.get("fallbacks", {})
        if not isinstance(causes, dict) or not all(
                isinstance(cause, str) and type(count) is int and count >= 0 for cause, count in causes.items()):
            raise AnnotateError(f"--stats {path}: {qualname!r}: 'fallbacks' must map causes to counts (ints >= 0)")
        ranked = tuple(sorted(((c, n) for c, n in causes.items() if n), key=lambda item: (-item[1], item[0])))
        counts[qualname] = CallCounts(values[0], values[1], ranked)
    return counts


def stats_for(stats: dict[str, CallCounts], module_name: str, qualname: str) -> CallCounts | None:
    """The counts of one function: a plain ``qualname`` key, else ``module:qualname`` for this module,
    else ``__main__:qualname`` when the file has no key of this module (it ran as the main script)."""
    if qualname in stats:
        return stats[qualname]
    found = stats.get(f"{module_name}:{qualname}")
    if found is None and not any(key.startswith(f"{module_name}:") for key in stats):
        found = stats.get(f"__main__:{qualname}")
    return found


# ---------------------------------------------------------------------------------------------
# Facts


_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers")


def _def_nodes(body: list[ast.stmt], prefix: str = "") -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualname, node) for each def the hook considers, in the order ``plan_functions`` lists them."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((prefix + stmt.name, stmt))
        elif isinstance(stmt, ast.ClassDef):
            found.extend(_def_nodes(stmt.body, f"{prefix}{stmt.name}."))
        elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)) or (
            hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)
        ):
            for name in _BLOCK_FIELDS:
                block = getattr(stmt, name, None) or []
                for item in block:
                    if isinstance(item, ast.ExceptHandler):
                        found.extend(_def_nodes(item.body, prefix))
                found.extend(_def_nodes([s for s in block if isinstance(s, ast.stmt)], prefix))
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                found.extend(_def_nodes(case.body, prefix))
    return found


def _facts_for(qualname: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> FunctionFacts:
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    body_start = node.body[0].lineno if node.body else node.lineno
    return FunctionFacts(qualname=qualname, def_line=node.lineno, first_line=first,
                         end_line=node.end_lineno or node.lineno, header_end=max(node.lineno, body_start - 1))


def module_name_for(path: Path) -> tuple[str, str, bool, Path]:
    """(dotted name, ``__package__``, is a package, directory to import it from) for a file in a source tree."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.name.isidentifier():
        parts.insert(0, directory.name)
        directory = directory.parent
    if not parts:  # an __init__.py outside any package tree
        parts = [path.parent.name or "module"]
    name = ".".join(parts)
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    return name, package, is_package, directory


def run_module(path: Path, text: str) -> tuple[dict[str, object], str, str | None]:
    """Run the module once as plain Python; returns (its namespace, its dotted name, a note if it raised).

    ``sys.modules`` and ``sys.path`` are as before afterwards, except for
    jitimport's own modules (shared state: the native type, the code arena).
    """
    name, package, is_package, root = module_name_for(path)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__package__ = package
    if is_package:
        module.__path__ = [str(path.parent)]
    saved_modules = dict(sys.modules)
    saved_path = list(sys.path)
    saved_argv = list(sys.argv)
    sys.path.insert(0, str(root))
    sys.modules[name] = module
    note: str | None = None
    try:
        code = compile(text, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt of its top-level code included
        note = _raised_note(exc, str(path))
    finally:
        for key in list(sys.modules):
            if key not in saved_modules and (key == name or not key.startswith("jitimport")):
                del sys.modules[key]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        sys.argv[:] = saved_argv
    return module.__dict__, name, note


def _raised_note(exc: BaseException, filename: str) -> str:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f" at line {line}" if line else ""
    return (f"running the module raised {type(exc).__name__}: {exc}{where}; "
            "functions it had not defined by then are shown as not defined")


def _lookup(namespace: dict[str, object], qualname: str) -> object:
    obj: object = namespace.get(qualname.split(".")[0])
    for part in qualname.split(".")[1:]:
        if not isinstance(obj, type):
            return None
        obj = vars(obj).get(part)
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    return obj


def _compile_facts(facts: FunctionFacts, fn: types.FunctionType, filename: str) -> None:
    """Compile ``fn`` and record the outcome in ``facts`` (a refusal at the line that blocks it)."""
    from . import api
    from .errors import NotCompilable

    try:
        native = api.compile_native(fn)
    except NotCompilable as exc:
        facts.reason = exc.reason
        inside = exc.lineno is not None and facts.first_line <= exc.lineno <= facts.end_line
        same_file = exc.filename in (None, filename)
        facts.reason_line = exc.lineno if inside and same_file else facts.def_line
        return
    except Exception as exc:  # a compiler bug: shown, never raised (the hook keeps the function Python too)
        facts.reason = f"compiler error: {type(exc).__name__}: {exc}"
        facts.reason_line = facts.def_line
        return
    details = api.info(native)
    facts.native = True
    facts.code_size = details.code_size
    facts.optimized_ir = details.optimized_ir
    facts.disassembly = api.disassemble(native)


def analyze_file(path: str, stats: dict[str, CallCounts] | None = None) -> ModuleFacts:
    """Everything the page shows about the module at ``path`` (runs the module once, see the module doc)."""
    from .hook.pragma import source_has_pragma
    from .hook.transform import plan_functions

    text, tree = read_source(path)
    file = Path(path).resolve()
    data = text.encode("utf-8")
    facts = ModuleFacts(path=path, module_name="", lines=text.splitlines(), has_pragma=source_has_pragma(data))
    if not facts.has_pragma:
        facts.notes.append("this module has no '# minijit: native' pragma: the import hook leaves it alone. "
                           "Shown: what would be compiled if it had one (or with install(include=[...])).")
    nodes = _def_nodes(tree.body)
    plan = plan_functions(data)  # the hook's own decisions: (qualname, reason to leave it alone or None)
    if [qualname for qualname, _ in plan] == [qualname for qualname, _ in nodes]:
        left_alone = [reason for _, reason in plan]
    else:  # the hook's walk changed: match by name
        by_name = dict(reversed(plan))
        left_alone = [by_name.get(qualname) for qualname, _ in nodes]
    namespace, facts.module_name, raised = run_module(file, text)
    if raised:
        facts.notes.append(raised)
    from .support import unsupported_reason

    unavailable = unsupported_reason()
    if unavailable:
        facts.notes.append(f"native code is not available here ({unavailable}): every function stays Python")
    for index, (qualname, node) in enumerate(nodes):
        fn_facts = _facts_for(qualname, node)
        facts.functions.append(fn_facts)
        if stats is not None:
            fn_facts.stats = stats_for(stats, facts.module_name, qualname)
        if left_alone[index]:
            fn_facts.reason, fn_facts.reason_line = left_alone[index], fn_facts.def_line
            continue
        obj = _lookup(namespace, qualname)
        code = getattr(obj, "__code__", None)
        if type(obj) is not types.FunctionType or code is None or code.co_filename != str(file) \
                or code.co_firstlineno not in (fn_facts.first_line, fn_facts.def_line):
            why = "not defined when the module ran" if obj is None else \
                f"{qualname} holds another object when the module has run (redefined or rebound)"
            fn_facts.reason, fn_facts.reason_line = why, fn_facts.def_line
            continue
        if unavailable:
            fn_facts.reason, fn_facts.reason_line = f"native code is not available: {unavailable}", fn_facts.def_line
            continue
        _compile_facts(fn_facts, obj, str(file))
    return facts


# ---------------------------------------------------------------------------------------------
# Rendering (pure)


def _summary(facts: ModuleFacts) -> str:
    return f"{facts.native_count} of {len(facts.functions)} functions native"


def _reasons_by_line(facts: ModuleFacts) -> dict[int, list[FunctionFacts]]:
    by_line: dict[int, list[FunctionFacts]] = {}
    for fn in facts.functions:
        if not fn.native and fn.reason_line is not None:
            by_line.setdefault(fn.reason_line, []).append(fn)
    return by_line


def render_text(facts: ModuleFacts) -> str:
    """The terminal view: source lines with a marker column, reasons under their line, IR and code indented.

    Markers: ``N`` a native function's def, ``P`` a def that stays Python,
    ``!`` the line that keeps a function Python.
    """
    out = [f"jitimport annotate: {facts.path} ({facts.module_name}): {_summary(facts)}",
           "markers: N = def of a native function, P = def of a function that stays Python, "
           "! = the line that keeps it Python"]
    out.extend(f"note: {note}" for note in facts.notes)
    out.append("")
    by_def = {fn.def_line: fn for fn in facts.functions}
    by_header = {fn.header_end: fn for fn in facts.functions}
    reasons = _reasons_by_line(facts)
    width = len(str(len(facts.lines)))
    pad = " " * (width + 6)
    for number, line in enumerate(facts.lines, 1):
        fn = by_def.get(number)
        marker = ("N" if fn.native else "P") if fn is not None else ("!" if number in reasons else " ")
        out.append(f"{number:>{width}}  {marker}  {line}".rstrip())
        for blocked in reasons.get(number, []):
            out.append(f"{pad}^ {blocked.qualname} stays Python: {blocked.reason}")
        header = by_header.get(number)
        if header is not None:
            if header.stats is not None:
                out.append(f"{pad}{header.stats.describe()}")
            if header.native:
                out.append(f"{pad}{header.native_summary()}")
                out.append(f"{pad}optimized IR:")
                out.extend(f"{pad}    {ir}" for ir in header.optimized_ir.splitlines())
                out.append(f"{pad}machine code:")
                out.extend(f"{pad}    {asm}" for asm in header.disassembly.splitlines())
    return "\n".join(out) + "\n"


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.note { background: #fff6d6; border-left: 4px solid #e0b400; padding: .3em .6em; margin: .4em 0; }
table.index { border-collapse: collapse; margin: .8em 0 1.2em; }
table.index td, table.index th { padding: .15em .8em .15em 0; text-align: left; vertical-align: top; }
.badge { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 3px; font-size: .85em; }
.badge.native { background: #d5f5d5; color: #145214; }
.badge.python { background: #f7dede; color: #7a1a1a; }
.src { font: 13px/1.35 ui-monospace, Menlo, Consolas, monospace; border: 1px solid #ddd; }
.line { display: flex; white-space: pre; }
.line .ln { width: 4em; text-align: right; color: #999; padding-right: .6em; user-select: none; flex: none; }
.line .mk { width: 1.5em; text-align: center; flex: none; font-weight: bold; }
.line.def-native { background: #e9fbe9; } .line.def-native .mk { color: #1c7a1c; }
.line.def-python { background: #fdeeee; } .line.def-python .mk { color: #a32020; }
.line.blocked { background: #ffe2c2; } .line.blocked .mk { color: #b35900; }
.why, .stats { margin: 0 0 0 6.1em; padding: .1em .5em; font: 12px system-ui, sans-serif; white-space: normal; }
.why { color: #8a3a00; border-left: 3px solid #e07b00; background: #fff4e8; }
.stats { color: #333; border-left: 3px solid #6a8bd6; background: #eef2fc; }
details.fn { margin: .1em 0 .3em 6.1em; font: 12px system-ui, sans-serif; }
details.fn summary { cursor: pointer; color: #1c5a1c; }
details.fn pre { font: 12px/1.3 ui-monospace, Menlo, Consolas, monospace; background: #f6f8f6;
                 border: 1px solid #dde5dd; padding: .5em; margin: .3em 0; overflow-x: auto; }
button { font-size: .85em; margin-right: .4em; }
"""

_JS = """
function setAll(open) {
  document.querySelectorAll('details.fn').forEach(function (d) { d.open = open; });
}
document.getElementById('expand-all').addEventListener('click', function () { setAll(true); });
document.getElementById('collapse-all').addEventListener('click', function () { setAll(false); });
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(facts: ModuleFacts) -> str:
    """One self-contained page (inline CSS and script, no external asset) of the annotated module."""
    reasons = _reasons_by_line(facts)
    by_def = {fn.def_line: fn for fn in facts.functions}
    by_header = {fn.header_end: fn for fn in facts.functions}
    title = f"jitimport annotate: {facts.path}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>module <code>{_e(facts.module_name)}</code>: <b>{_e(_summary(facts))}</b>. "
        "Green <code>def</code>: runs as native x86-64 code; red: stays Python, with the reason at the line "
        "that blocks it (orange). Expand a native function to see its optimized IR and machine code.</p>",
    ]
    parts.extend(f'<p class="note">{_e(note)}</p>' for note in facts.notes)
    parts.append('<p><button id="expand-all" type="button">Expand all</button>'
                 '<button id="collapse-all" type="button">Collapse all</button></p>')
    parts.append('<table class="index"><tr><th>function</th><th></th><th>line</th><th>details</th></tr>')
    for fn in facts.functions:
        kind = "native" if fn.native else "python"
        detail = f"{fn.code_size} bytes" if fn.native else f"line {fn.reason_line}: {fn.reason}"
        if fn.stats is not None:
            detail += f"; {fn.stats.describe()}"
        parts.append(f'<tr class="fn-row" data-qualname="{_e(fn.qualname)}"><td><a href="#{_e(fn.anchor)}">'
                     f"<code>{_e(fn.qualname)}</code></a></td><td><span class=\"badge {kind}\">{kind}</span></td>"
                     f'<td><a href="#L{fn.def_line}">{fn.def_line}</a></td><td>{_e(detail)}</td></tr>')
    parts.append('</table><div class="src">')
    for number, line in enumerate(facts.lines, 1):
        defined = by_def.get(number)
        classes, marker, ident = ["line"], "", f' id="L{number}"'
        if defined is not None:
            classes.append("def-native" if defined.native else "def-python")
            marker = "N" if defined.native else "P"
        elif number in reasons:
            classes.append("blocked")
            marker = "!"
        parts.append(f'<div class="{" ".join(classes)}"{ident}><span class="ln">{number}</span>'
                     f'<span class="mk">{marker}</span><code>{_e(line) or " "}</code></div>')
        for blocked in reasons.get(number, []):
            parts.append(f'<div class="why"><b>{_e(blocked.qualname)}</b> stays Python: {_e(blocked.reason)}</div>')
        header = by_header.get(number)
        if header is None:
            continue
        if header.stats is not None:
            parts.append(f'<div class="stats">{_e(header.stats.describe())}</div>')
        if header.native:
            parts.append(
                f'<details class="fn" id="{_e(header.anchor)}" data-qualname="{_e(header.qualname)}">'
                f"<summary>{_e(header.native_summary())} (click: optimized IR and disassembly)</summary>"
                f'<div class="code"><b>optimized IR</b><pre class="ir">{_e(header.optimized_ir)}</pre>'
                f'<b>machine code</b><pre class="asm">{_e(header.disassembly)}</pre></div></details>')
        else:
            parts.append(f'<span id="{_e(header.anchor)}"></span>')
    parts.append(f"</div><script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write the module's source annotated with what jitimport compiles: each function native or "
                    "Python, the reason at the line that keeps a function Python, and the optimized IR and "
                    "machine code of each native function. The module is run once (as plain Python, like an "
                    "import) to get its functions.")
    parser.add_argument("path", help="the module's source file (.py)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="where to write (default: the source path with .html, or stdout for --text; "
                             "'-' for stdout)")
    parser.add_argument("--text", action="store_true", help="plain text for the terminal instead of HTML")
    parser.add_argument("--stats", metavar="FILE", help=STATS_HELP)
    return parser


def main(argv: list[str]) -> int:
    """The ``annotate`` subcommand; returns the exit status (2 for bad input, never a traceback)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage (or --help)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        stats = load_stats(args.stats) if args.stats else None
        facts = analyze_file(args.path, stats)
    except AnnotateError as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    for note in facts.notes:
        sys.stderr.write(f"{PROG}: note: {note}\n")
    rendered = render_text(facts) if args.text else render_html(facts)
    output = args.output or ("-" if args.text else str(Path(args.path).with_suffix(".html")))
    if output == "-":
        sys.stdout.write(rendered)
        return 0
    try:
        Path(output).write_text(rendered, encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"{PROG}: error: cannot write {output}: {exc.strerror or exc}\n")
        return 2
    sys.stdout.write(f"{PROG}: wrote {output} ({_summary(facts)})\n")
    return 0
