"""AST rewrite that swaps each function for its native version as soon as its ``def`` runs.

Doing the swap at definition time (instead of after the module has executed)
matters: module-level tables (``OPS = {"area": area}``), aliases, default
arguments and a script's own ``main()`` all capture the object that the name
holds *when that line runs*.  So every candidate ``def`` gets an injected
innermost decorator::

    @staticmethod              # kept, still outermost
    @(MARK, "swap")            # injected constant, bound to runtime.swap
    def area(w, h): ...

**How the injected decorators reach the runtime.**  The decorator is not a
name but a *constant* (a marker tuple, see ``MARK``) embedded in the code
object.  A name would be looked up in whatever the code runs in: a class body's namespace
comes from its metaclass's ``__prepare__`` and can answer anything (a
``defaultdict(int)`` answers ``0``), and a module global would be visible to
the module while it runs.  A constant involves no lookup at all.  The marker
tuples are what the cached ``.pyc`` holds (they marshal);
:func:`bind_runtime` replaces them with the runtime's functions right before
the code runs (``JitSourceFileLoader.get_code`` does it, and so must anything
else that executes transformed code).  A marker is a tuple whose first item
starts with a NUL character: a literal equal to one would have to be written
on purpose.

Candidates are undecorated functions (or functions whose only decorator is
``@staticmethod``) at module level and in class bodies, including those under
module-level ``if``/``try``/``with`` blocks, and in function bodies: a
``def`` inside a function gets a per-site ``instance`` marker instead of the
swap marker (bound to a ``runtime.InstanceSite``, which compiles its code
object once).  Every lambda is wrapped as ``(MARK, "instance", n).__call__(lambda ...)``
(annotations excepted).  ``__init_subclass__``, ``__class_getitem__`` and
``__new__`` in a class body are never swapped (see :mod:`.classbody`).  Functions that are left alone on
purpose (``# minijit: skip`` on the def line, other decorators, ``async def``,
those three names) get an innermost *identity* decorator (a ``keep`` marker
carrying the qualname and the reason) that only records why, so the report
can list them even when the module comes from the pyc cache.  All injected
nodes reuse the ``def`` line, so tracebacks, ``inspect.getsource`` and line
tracing are unchanged.
"""
from __future__ import annotations

import ast
import io
import tokenize
from types import CodeType

from .classbody import implicit_wrapper, left_alone_reason
from .markers import INSTANCE, KEEP, MARK, SWAP_MARKER, TRANSFORM_VERSION, bind_runtime
from .pragma import is_skip_comment

__all__ = ["INSTANCE", "KEEP", "MARK", "SWAP_MARKER", "TRANSFORM_VERSION", "bind_runtime",
           "compile_transformed", "plan_functions", "transform_to_code", "transform_tree"]

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
    """Walks the module, decorating candidate functions and wrapping lambdas in place.

    A *scope* is the qualname prefix of the code being walked plus whether it
    runs inside a function (then each def or lambda can be executed many
    times, so it gets a per-site ``instance`` marker, see ``runtime.InstanceSite``).
    """

    def __init__(self, skips: set[int], mutate: bool = True) -> None:
        self.skips = skips
        self.mutate = mutate
        self.swapped = 0
        self.kept = 0
        self.sites = 0
        #: (qualname, reason) per module- or class-level def seen; reason None means "swap it".
        self.plan: list[tuple[str, str | None]] = []

    def visit_body(self, body: list[ast.stmt], prefix: str, in_function: bool = False,
                   in_class: bool = False) -> None:
        for stmt in body:
            self.visit_stmt(stmt, prefix, in_function, in_class)

    def visit_stmt(self, stmt: ast.stmt, prefix: str, in_function: bool, in_class: bool) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.visit_def(stmt, prefix, in_function, in_class)
            return
        if type(stmt).__name__ == "TypeAlias":  # 3.12 ``type X = ...``: a lazy annotation scope
            return
        if isinstance(stmt, ast.ClassDef):
            for field in ("decorator_list", "bases", "keywords"):
                items = getattr(stmt, field)
                items[:] = [self.visit_node(item, prefix, in_function, in_class) for item in items]
            self.visit_body(stmt.body, f"{prefix}{stmt.name}.", in_function, in_class=True)
            return
        for name, value in ast.iter_fields(stmt):
            if name == "annotation":  # never evaluated here, or kept as a string (future import)
                continue
            if isinstance(value, list):
                value[:] = [self.visit_node(item, prefix, in_function, in_class) for item in value]
            elif isinstance(value, ast.AST):
                setattr(stmt, name, self.visit_node(value, prefix, in_function, in_class))

    def visit_node(self, item: object, prefix: str, in_function: bool, in_class: bool) -> object:
        if isinstance(item, ast.stmt):
            self.visit_stmt(item, prefix, in_function, in_class)
        elif isinstance(item, ast.expr):
            return self.visit_expr(item, in_function)
        elif isinstance(item, ast.AST):  # handlers, match cases, with items, keywords, ...
            for name, value in ast.iter_fields(item):
                if isinstance(value, list):
                    for i, sub in enumerate(value):
                        value[i] = self.visit_node(sub, prefix, in_function, in_class)
                elif isinstance(value, ast.AST):
                    setattr(item, name, self.visit_node(value, prefix, in_function, in_class))
        return item

    def visit_expr(self, expr: ast.expr, in_function: bool) -> ast.expr:
        """``expr`` with every lambda in it wrapped (children first)."""
        if isinstance(expr, ast.Lambda):
            return self.wrap_lambda(expr, in_function)
        for name, value in ast.iter_fields(expr):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.expr):
                        value[i] = self.visit_expr(item, in_function)
                    elif isinstance(item, ast.AST):  # comprehension, keyword
                        self.visit_node(item, "", in_function, False)
            elif isinstance(value, ast.expr):
                setattr(expr, name, self.visit_expr(value, in_function))
            elif isinstance(value, ast.AST):
                self.visit_node(value, "", in_function, False)
        return expr

    def wrap_lambda(self, node: ast.Lambda, in_function: bool) -> ast.expr:
        """``lambda ...`` -> ``(MARK, "instance", n).__call__(lambda ...)``.

        Not ``(MARK, ...)(lambda ...)`` nor a subscript: the compiler warns about
        calling a tuple constant or indexing one with a function, never about an attribute.
        """
        args = node.args
        args.defaults = [self.visit_expr(d, in_function) for d in args.defaults]
        args.kw_defaults = [d if d is None else self.visit_expr(d, in_function) for d in args.kw_defaults]
        node.body = self.visit_expr(node.body, True)
        if not self.mutate:
            return node
        if node.lineno in self.skips:
            marker: tuple[object, ...] = (MARK, KEEP, "<lambda>", "skipped by '# minijit: skip'")
            self.kept += 1
        else:
            marker = self.instance_marker()
            self.swapped += 1
        # a tuple constant is valid AST (the compiler folds tuples into them); typeshed omits tuple
        method = ast.Attribute(value=ast.Constant(marker), attr="__call__", ctx=ast.Load())  # type: ignore[arg-type]
        wrapped = ast.Call(func=method, args=[node], keywords=[])
        for part in (wrapped, method, method.value):
            ast.copy_location(part, node)
        return wrapped

    def instance_marker(self) -> tuple[object, ...]:
        """Unique per site: equal constants are merged within a code object, sites must not be."""
        self.sites += 1
        return (MARK, INSTANCE, self.sites)

    def visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef, prefix: str, in_function: bool,
                  in_class: bool) -> None:
        qualname = prefix + node.name
        decorators = node.decorator_list
        args = node.args
        decorators[:] = [self.visit_expr(d, in_function) for d in decorators]
        args.defaults = [self.visit_expr(d, in_function) for d in args.defaults]
        args.kw_defaults = [d if d is None else self.visit_expr(d, in_function) for d in args.kw_defaults]
        reason: str | None = None
        wrapper = implicit_wrapper(node.name, in_class_body=in_class)
        if _def_has_skip(node, self.skips):
            reason = "skipped by '# minijit: skip'"
        elif isinstance(node, ast.AsyncFunctionDef):
            reason = "async def is not compiled"
        elif wrapper is not None:
            reason = left_alone_reason(node.name, wrapper)
        else:
            others = [d for d in decorators if not _is_staticmethod(d)]
            if others:
                reason = f"decorated with {_describe(others[0])}: left alone"
        if not in_function:
            self.plan.append((qualname, reason))
        self.visit_body(node.body, f"{qualname}.<locals>.", in_function=True)
        if not self.mutate:
            return
        if reason is not None:
            marker: tuple[object, ...] = (MARK, KEEP, qualname, reason)
        else:
            marker = self.instance_marker() if in_function else SWAP_MARKER
        decorator = ast.Constant(marker)  # type: ignore[arg-type]  # a tuple constant: as in wrap_lambda
        ast.copy_location(decorator, node)
        decorator.end_lineno, decorator.end_col_offset = node.lineno, node.col_offset
        decorators.append(decorator)  # last == innermost, applied first, to the plain function
        if reason is None:
            self.swapped += 1
        else:
            self.kept += 1


def transform_tree(tree: ast.Module, source: bytes) -> bool:
    """Rewrite ``tree`` in place; returns False when there was nothing to do."""
    rewriter = _Rewriter(skip_lines(source))
    rewriter.visit_body(tree.body, "")
    return bool(rewriter.swapped or rewriter.kept)


def plan_functions(source: bytes | str) -> list[tuple[str, str | None]]:
    """For an already-imported module: which defs would be swapped (reason None) or kept, and why."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    tree = compile(data, "<plan>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    assert isinstance(tree, ast.Module)  # mode "exec"
    rewriter = _Rewriter(skip_lines(data), mutate=False)
    rewriter.visit_body(tree.body, "")
    return rewriter.plan


def transform_to_code(source: bytes, filename: str, optimize: int = -1) -> CodeType:
    """Parse, rewrite and compile ``source`` with *unbound* markers (what the pyc cache stores).

    Raises on any problem (the loader falls back to the plain compile).
    """
    tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True, optimize=optimize)
    assert isinstance(tree, ast.Module)  # mode "exec"
    transform_tree(tree, source)
    return compile(tree, filename, "exec", dont_inherit=True, optimize=optimize)


def compile_transformed(source: bytes, filename: str, optimize: int = -1) -> CodeType:
    """Parse, rewrite, compile and bind ``source``: code ready to ``exec`` (never to marshal)."""
    return bind_runtime(transform_to_code(source, filename, optimize))
