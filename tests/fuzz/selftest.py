"""Deliberately broken "compilers" that prove the runner catches what it must.

``--compiler <package>.selftest:wrong_compile`` returns a callable that is
wrong for negative results; ``crashing_compile`` kills its own process with
SIGSEGV when the first argument is 3.  These two still refuse what jitimport
refuses, so the campaign statistics stay comparable.  ``hanging_compile``
never returns when the first argument is 3, and accepts every function.

``wrong_flow_compile`` accepts functions with control flow even where
jitimport refuses them (as the compiler of issue 10 will): its "native" code is
the function recompiled with one classic branch bug, the ordering comparisons
of ``if``/``elif`` tests and conditional expressions done on the operands'
unsigned 64-bit patterns (``jb`` where ``jl`` was needed), so a negative
operand compares as huge.  Functions without such a test get jitimport's
result.
"""
from __future__ import annotations

import ast
import inspect
import os
import signal
import time
from typing import Any, Callable

import jitimport

from .gen import FOR_NAMES, STEP_LIMIT, WHILE_NAMES, TooBig, TooLong, _apply, _Stop

LOOP_VARIABLES = frozenset(FOR_NAMES + WHILE_NAMES)


def wrong_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    native = jitimport.compile_native(fn)

    def miscompiled(*args: Any, **kwargs: Any) -> Any:
        value = native(*args, **kwargs)
        return value + 1 if type(value) is int and value < 0 else value
    return miscompiled


def crashing_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    native = jitimport.compile_native(fn)

    def crashing(*args: Any, **kwargs: Any) -> Any:
        if args and type(args[0]) is int and args[0] == 3:
            os.kill(os.getpid(), signal.SIGSEGV)
        return native(*args, **kwargs)
    return crashing


def hanging_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Accepts every function (the original stands in where jitimport refuses)."""
    try:
        native = jitimport.compile_native(fn)
    except jitimport.NotCompilable:
        native = fn

    def hanging(*args: Any, **kwargs: Any) -> Any:
        if args and type(args[0]) is int and args[0] == 3:
            while True:            # a native loop that never ends looks the same from outside
                time.sleep(3600)
        return native(*args, **kwargs)
    return hanging


class _UnsignedTests(ast.NodeTransformer):
    """Ordering comparisons in ``if`` tests and ``x if c else y`` made unsigned 64-bit."""

    ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)

    def __init__(self) -> None:
        self.changed = 0

    def _unsigned(self, test: ast.expr) -> None:
        for node in ast.walk(test):
            if isinstance(node, ast.Compare) and any(isinstance(op, self.ORDERING)
                                                     for op in node.ops) \
                    and not self._reads_loop_variable(node):
                wrap = lambda e: ast.Call(ast.Name("_unsigned", ast.Load()), [e], [])  # noqa: E731
                node.left = wrap(node.left)
                node.comparators = [wrap(c) for c in node.comparators]
                self.changed += 1

    @staticmethod
    def _reads_loop_variable(node: ast.AST) -> bool:
        """Left alone: a loop's way out (``if k > 9: break``) must keep working, or the
        mutant would hang instead of giving wrong results."""
        return any(isinstance(n, ast.Name) and n.id in LOOP_VARIABLES for n in ast.walk(node))

    def visit_If(self, node: ast.If) -> ast.AST:
        self._unsigned(node.test)
        return self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self._unsigned(node.test)
        return self.generic_visit(node)


class _GuardedArithmetic(ast.NodeTransformer):
    """Arithmetic through the guard's ``_apply``, loops counted: the mutant may take a path
    CPython does not (say, ``x << (a << 31)``, or past a loop's way out), and must not spend
    minutes building a gigabyte int or looping there."""

    SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%",
               ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&",
               ast.BitOr: "|", ast.BitXor: "^", ast.Div: "/"}

    def _call(self, op: ast.operator, left: ast.expr, right: ast.expr) -> ast.expr:
        return ast.Call(ast.Name("_checked", ast.Load()),
                        [ast.Constant(self.SYMBOLS[type(op)]), left, right], [])

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        return self._call(node.op, node.left, node.right)

    def _ticked(self, node: ast.For | ast.While) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, ast.Expr(ast.Call(ast.Name("_tick", ast.Load()), [], [])))
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        return self._ticked(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        return self._ticked(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        """``t op= _sized(op, t, e)``: the size is checked, the operation (and the message
        of its TypeError, which names ``op=``) stays Python's."""
        self.generic_visit(node)
        assert isinstance(node.target, ast.Name)
        node.value = ast.Call(ast.Name("_sized", ast.Load()), [
            ast.Constant(self.SYMBOLS[type(node.op)]), ast.Name(node.target.id, ast.Load()),
            node.value], [])
        return node


def _checked(op: str, left: Any, right: Any) -> Any:
    """``left op right``, or :class:`TooBig` when the result would be enormous."""
    try:
        return _apply(op, left, right)
    except _Stop:           # a shift CPython refuses at once: let it raise its own error
        return left << right


def _sized(op: str, left: Any, right: Any) -> Any:
    """``right``, once ``_apply`` has said ``left op right`` is not too big to compute."""
    try:
        _apply(op, left, right)
    except TooBig:
        raise
    except Exception:   # noqa: BLE001 - the real operation raises it again, with its message
        pass
    return right


class _Steps:
    """Loop iterations of the current mutant call."""

    limit = 2 * STEP_LIMIT

    def __init__(self) -> None:
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.count > self.limit:
            raise TooLong


def _unsigned(value: Any) -> Any:
    return value % 2**64 if type(value) is int else value


def wrong_flow_compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    tree = ast.parse(inspect.getsource(fn))
    mutator = _UnsignedTests()
    tree = mutator.visit(tree)
    if not mutator.changed:
        return jitimport.compile_native(fn)
    tree = ast.fix_missing_locations(_GuardedArithmetic().visit(tree))
    steps = _Steps()
    namespace: dict[str, Any] = {"_unsigned": _unsigned, "_checked": _checked, "_sized": _sized,
                                 "_tick": steps.tick}
    exec(compile(tree, fn.__code__.co_filename, "exec"), namespace)
    mutant = namespace[fn.__name__]

    def miscompiled(*args: Any, **kwargs: Any) -> Any:
        steps.count = 0
        try:
            return mutant(*args, **kwargs)
        except (TooBig, TooLong):
            raise ArithmeticError("the mutant went where CPython did not") from None
    return miscompiled
