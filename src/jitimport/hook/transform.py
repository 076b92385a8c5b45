"""AST rewrite that swaps each function for its native version as soon as its ``def`` runs.

Doing the swap at definition time (instead of after the module has executed)
matters: module-level tables (``OPS = {"area": area}``), aliases, default
arguments and a script's own ``main()`` all capture the object that the name
holds *when that line runs*.  So every candidate ``def`` gets an injected
innermost decorator::

    @staticmethod            # kept, still outermost
    @__jitimport_swap__      # injected: compile_native(fn) or fn unchanged
    def area(w, h): ...

Candidates are undecorated functions (or functions whose only decorator is
``@staticmethod``) at module level and in class bodies, including those under
module-level ``if``/``try``/``with`` blocks.  Nested functions are never
touched.  Functions that are left alone on purpose (``# minijit: skip`` on the
def line, other decorators, ``async def``) get an *identity* decorator
``__jitimport_keep__`` that only records why, so the report can list them even
when the module comes from the pyc cache.  All injected nodes reuse existing
line numbers, so tracebacks and ``inspect.getsource`` are unchanged.
"""
from __future__ import annotations

import ast
import io
import tokenize

from .pragma import is_skip_comment

SWAP_NAME = "__jitimport_swap__"
KEEP_NAME = "__jitimport_keep__"
RUNTIME_MODULE = "jitimport.hook.runtime"
#: Bump whenever the generated code changes: it is part of the pyc cache tag.
TRANSFORM_VERSION = 2

# Block statements whose bodies still run at module / class-body level.
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers")


def skip_lines(source: bytes) -> set[int]:
    """Line numbers carrying a ``# minijit: skip`` comment (real comments only)."""
    lines: set[int] = set()
    if b"minijit" not in source:
        return lines
    try:
        for tok in tokenize.tokenize(io.BytesIO(source).readline):
            if tok.type == tokenize.COMMENT and is_skip_comment(tok.string):
                lines.add(tok.start[0])
    except (tokenize.TokenError, SyntaxError):
        pass
    return lines


def _def_has_skip(node: ast.FunctionDef | ast.AsyncFunctionDef, skips: set[int]) -> bool:
    """A skip comment counts on any line of the ``def`` header (multi-line signatures)."""
    first_body = node.body[0].lineno if node.body else node.lineno
    last = max(node.lineno, first_body - 1)
    if first_body == node.lineno:
        last = node.lineno
    return any(line in skips for line in range(node.lineno, last + 1))


def _is_staticmethod(dec: ast.expr) -> bool:
    return isinstance(dec, ast.Name) and dec.id == "staticmethod"


def _describe(dec: ast.expr) -> str:
    try:
        return "@" + ast.unparse(dec)
    except Exception:  # pragma: no cover - unparse handles every expression
        return "a decorator"


class _Rewriter:
    """Walks module and class bodies, decorating candidate functions in place."""

    def __init__(self, skips: set[int], mutate: bool = True) -> None:
        self.skips = skips
        self.mutate = mutate
        self.swapped = 0
        self.kept = 0
        #: (qualname, reason) per def seen; reason None means "swap it".
        self.plan: list[tuple[str, str | None]] = []

    def visit_body(self, body: list[ast.stmt], prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.visit_def(stmt, prefix)
            elif isinstance(stmt, ast.ClassDef):
                self.visit_body(stmt.body, f"{prefix}{stmt.name}.")
            elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)) or (
                hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)
            ):
                for field in _BLOCK_FIELDS:
                    block = getattr(stmt, field, None) or []
                    for item in block:
                        if isinstance(item, ast.ExceptHandler):
                            self.visit_body(item.body, prefix)
                    self.visit_body([s for s in block if isinstance(s, ast.stmt)], prefix)
            elif isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    self.visit_body(case.body, prefix)

    def visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef, prefix: str) -> None:
        qualname = prefix + node.name
        decorators = node.decorator_list
        reason: str | None = None
        if _def_has_skip(node, self.skips):
            reason = "skipped by '# minijit: skip'"
        elif isinstance(node, ast.AsyncFunctionDef):
            reason = "async def is not compiled"
        else:
            others = [d for d in decorators if not _is_staticmethod(d)]
            if others:
                reason = f"decorated with {_describe(others[0])}: left alone"
        self.plan.append((qualname, reason))
        if not self.mutate:
            return
        if reason is None:
            swap = ast.Name(id=SWAP_NAME, ctx=ast.Load())
            ast.copy_location(swap, node)
            swap.end_lineno, swap.end_col_offset = node.lineno, node.col_offset
            decorators.append(swap)  # last == innermost, applied first
            self.swapped += 1
            return
        anchor = decorators[0] if decorators else node
        keep = ast.Call(
            func=ast.Name(id=KEEP_NAME, ctx=ast.Load()),
            args=[ast.Name(id="__name__", ctx=ast.Load()), ast.Constant(qualname), ast.Constant(reason)],
            keywords=[],
        )
        for sub in ast.walk(keep):
            ast.copy_location(sub, anchor)
            sub.end_lineno, sub.end_col_offset = anchor.lineno, anchor.col_offset
        decorators.insert(0, keep)  # first == outermost: sees the final object
        self.kept += 1


def _insert_index(body: list[ast.stmt]) -> int:
    """Index after the docstring and ``from __future__`` imports."""
    i = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        i = 1
    while i < len(body) and isinstance(body[i], ast.ImportFrom) and body[i].module == "__future__":
        i += 1
    return i


def transform_tree(tree: ast.Module, source: bytes) -> bool:
    """Rewrite ``tree`` in place; returns False when there was nothing to do."""
    rewriter = _Rewriter(skip_lines(source))
    rewriter.visit_body(tree.body, "")
    if not (rewriter.swapped or rewriter.kept):
        return False
    body = tree.body
    idx = _insert_index(body)
    anchor = body[idx] if idx < len(body) else body[-1]
    imp = ast.ImportFrom(
        module=RUNTIME_MODULE,
        names=[ast.alias(name="swap", asname=SWAP_NAME), ast.alias(name="keep", asname=KEEP_NAME)],
        level=0,
    )
    last = body[-1]
    delete = ast.Delete(targets=[ast.Name(id=SWAP_NAME, ctx=ast.Del()), ast.Name(id=KEEP_NAME, ctx=ast.Del())])
    for node, where in ((imp, anchor), (delete, last)):
        # The start line of a statement that runs anyway: the last statement's *end* line
        # can be a native function's body, which line tracing (coverage) must not see run.
        line = where.lineno
        for sub in ast.walk(node):
            if hasattr(sub, "lineno") or isinstance(sub, (ast.stmt, ast.expr, ast.alias)):
                sub.lineno = sub.end_lineno = line
                sub.col_offset = sub.end_col_offset = 0
    body.insert(idx, imp)
    body.append(delete)
    return True


def plan_functions(source: bytes | str) -> list[tuple[str, str | None]]:
    """For an already-imported module: which defs would be swapped (reason None) or kept, and why."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    tree = compile(data, "<plan>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    rewriter = _Rewriter(skip_lines(data), mutate=False)
    rewriter.visit_body(tree.body, "")
    return rewriter.plan


def compile_transformed(source: bytes, filename: str, optimize: int = -1):
    """Parse, rewrite and compile ``source``; raises on any problem (caller falls back)."""
    tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True, optimize=optimize)
    transform_tree(tree, source)
    return compile(tree, filename, "exec", dont_inherit=True, optimize=optimize)
