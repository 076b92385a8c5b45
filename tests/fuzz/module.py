"""Module jobs: a generated module around a control-flow function, changed between calls.

A module job is what a user of the import hook has: a module whose code reads its own
int constants (``K0 = 0xFFFFFFFFFFFFFFFF``), indexes its tables (``T0 = (3, -1, 2**64 - 1)``,
or a list), calls builtins (``min``/``max``/``abs``/``divmod``/``pow(b, e[, m])``,
``x.bit_length()``/``x.bit_count()``), calls helpers of the same module (``h0``, ``h1``
returning ints, ``h2`` returning a pair, ``r0`` recursing on its first argument), unpacks
tuples (a tuple parameter, ``q, r = divmod(a, b)``) and returns them; sometimes it shadows a
builtin (``min = max``, its own ``def abs(x)``).

The child runs the module source twice as real modules (their dict is the functions'
globals): once as the reference, once compiled with ``compile_native`` on each listed function,
each swapped into the module's globals at once (so a caller sees the native helper under the
helper's name) -- either after the module has run (helpers first, or the caller first), or
statement by statement as the hook does at definition time (a caller defined before its
helper is compiled while the helper's name is unbound).  Then it replays the job's events on
both modules: calls of ``f`` (outcomes compared; a ``RecursionError`` by type only, its message
says where the limit was hit) and changes in between: a constant rebound (to another int, a
bool, a non-int) or deleted (``NameError``), a table replaced or, when it is a list, an item
set, a helper replaced by a plain Python function with other behaviour (or another arity, or a
non-int result) or deleted, a shadowing name deleted or rebound, a builtin patched in the
module's builtins (a private copy of the builtins dict, or ``builtins`` itself, restored at
the end of the job), and ``restore`` events binding a name back to what it was right after
compiling (the native function, the very same constant object).

A function that does not compile stays Python; the job still runs when any function of the
module compiled (a Python caller of a native helper is a case too).  What compiled is reported
per construct (:data:`FEATURES`) by the runner.

Recursion depths are either <= 255 or >= 2000 (see ``Generator.recursion_depth``): near the
recursion limit the outcome depends on how many frames the caller already has, and the native
caller has fewer than CPython's (it is not a Python frame).
"""
from __future__ import annotations

import builtins
import operator
from dataclasses import dataclass, field
from typing import Any

from .child import MyInt, _copied, apply_event
from .gen import (_STEPS, GUARD_NAMESPACE, LOCAL_NAMES, Assign, Binary, Call, Compare, Const,
                  FuncSpec, Generator, If, Method, ModuleContext, Return, Subscript, TooBig,
                  TooLong, TupleExpr, Var)

CONST_NAMES = ("K0", "K1", "K2")
TABLE_NAMES = ("T0", "T1")
INT_HELPERS = ("h0", "h1")
PAIR_HELPER = "h2"
RECURSIVE = "r0"
HELPER_PARAMS = ("x", "y", "z")

#: Module constants: the hash constants, 64-bit edges, bools, and a few that never fit.
CONST_VALUES = (0xFFFFFFFFFFFFFFFF, 0x100000001B3, 0x9E3779B97F4A7C15, 0xFFFFFFFF, 2**63 - 1,
                -(2**63), 1, 0, -1, 7, 31, 63, 1000003, -12345, True, False, 2**64, 2**100 + 1,
                -(2**64) - 5)
NON_INTS = (1.5, -0.0, None, "7", (1, 2), float("inf"))
TABLE_ITEMS = (0, 1, -1, 2, 3, 7, 255, 65535, 2**31 - 1, -(2**31), 2**32 - 1, 2**63 - 1, -(2**63),
               2**64 - 1, 1000003, -7, 12345678901)
#: Builtins a module may patch (in its builtins dict) or shadow (with a global), and what the
#: patch puts there: picklable callables with another behaviour.
PATCHES: dict[str, tuple[Any, ...]] = {
    "min": (max, operator.sub), "max": (min, operator.add), "abs": (operator.neg, operator.pos, hex),
    "pow": (operator.pow, max), "divmod": (operator.floordiv, operator.mod),
}
#: Shadowing definitions: (module-level source, compilable with compile_native?).
SHADOWS: dict[str, tuple[tuple[str, bool], ...]] = {
    "min": (("min = max\n", False), ("def min(x, y, *rest):\n    return x - y\n", False)),
    "max": (("max = min\n", False), ("def max(*args):\n    return len(args)\n", False)),
    "abs": (("def abs(x):\n    return x * 2 + 1\n", True), ("abs = hex\n", False)),
    "pow": (("def pow(b, e, m=None):\n    return b + e\n", False),),
    "divmod": (("def divmod(x, y):\n    return y, x\n", True),),
}

#: Constructs counted per function by the runner (how many of the functions that have it
#: compiled natively): see :meth:`ModuleJob.features`.
FEATURES = ("const", "const_rebind", "table_tuple", "table_list", "table_rebind", "min_max",
            "abs", "divmod", "pow2", "pow3", "bit_length", "bit_count", "shadow",
            "builtin_patch", "helper", "helper_rebind", "recursion", "pair_helper",
            "tuple_return", "tuple_param", "order_definition", "order_caller_first")

MODULE_SHARE = 0.3          # of the flow-mode functions: module jobs
EVENT_SHARE = 0.3           # after a call: a change to the module before the next one


@dataclass(frozen=True)
class ModuleSpec:
    """One generated module: its items, the function under test (``main``, named ``f``), and
    how it is compiled."""

    constants: tuple[tuple[str, Any], ...]
    tables: tuple[tuple[str, str, tuple[Any, ...]], ...]   # name, "tuple" or "list", items
    helpers: tuple[FuncSpec, ...]
    shadow: tuple[str, str, bool] | None                   # builtin name, source, compilable
    main: FuncSpec
    layout: tuple[str, ...]           # top-level names in source order
    compile_order: tuple[str, ...]    # functions compiled, in this order ("after" mode)
    compile_mode: str                 # "after": the module runs, then compiled; "definition"
    real_builtins: bool               # patches go to ``builtins`` itself, else a private dict

    def item_source(self, name: str, guarded: bool = False) -> str:
        for const, value in self.constants:
            if const == name:
                return f"{name} = {value!r}\n"
        for table, kind, items in self.tables:
            if table == name:
                return f"{name} = {repr(tuple(items) if kind == 'tuple' else list(items))}\n"
        if self.shadow is not None and self.shadow[0] == name:
            return self.shadow[1]
        if name == self.main.name:
            return self.main.source(guarded)
        for helper in self.helpers:
            if helper.name == name:
                return helper_source(helper, guarded)
        raise KeyError(name)

    def source(self, guarded: bool = False) -> str:
        return "\n".join(self.item_source(name, guarded) for name in self.layout)

    def functions(self) -> tuple[FuncSpec, ...]:
        return self.helpers + (self.main,)


def helper_source(spec: FuncSpec, guarded: bool) -> str:
    """A helper's source; its guarded copy counts its calls (recursion inside loops)."""
    text = spec.source(guarded)
    if not guarded:
        return text
    head, _, rest = text.partition("\n")
    return f"{head}\n    _C()\n{rest}"


@dataclass
class ModuleJob:
    """A module and the events replayed on it: ``("call", args, kwargs)`` and changes
    (:func:`.child.apply_event`)."""

    spec: ModuleSpec
    events: list[tuple[Any, ...]] = field(default_factory=list)
    #: The guarded copy of each plain helper a ``def`` event defines (source -> source).
    guarded_defs: dict[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        spec = self.spec
        return {"kind": "module", "source": spec.source(), "main": spec.main.name,
                "compile": list(spec.compile_order), "compile_mode": spec.compile_mode,
                "real_builtins": spec.real_builtins, "events": self.events}

    def calls(self) -> list[tuple[int, tuple[Any, ...], dict[str, Any]]]:
        return [(j, e[1], e[2]) for j, e in enumerate(self.events) if e[0] == "call"]

    def features(self) -> frozenset[str]:
        spec = self.spec
        found: set[str] = set()
        constants = {name for name, _ in spec.constants}
        tables = {name: kind for name, kind, _ in spec.tables}
        used_builtins: set[str] = set()
        for function in spec.functions():
            for node in function.nodes():
                if isinstance(node, Var) and node.name in constants:
                    found.add("const")
                elif isinstance(node, Subscript):
                    found.add(f"table_{tables.get(node.table, 'tuple')}")
                elif isinstance(node, Call):
                    used_builtins.add(node.func)
                    if node.func in ("min", "max"):
                        found.add("min_max")
                    elif node.func in ("abs", "divmod"):
                        found.add(node.func)
                    elif node.func == "pow":
                        found.add(f"pow{len(node.args)}")
                elif isinstance(node, Method):
                    found.add(node.name)
        for node in spec.main.nodes():
            if isinstance(node, Call):
                if node.func in INT_HELPERS:
                    found.add("helper")
                elif node.func == RECURSIVE:
                    found.add("recursion")
                elif node.func == PAIR_HELPER:
                    found.add("pair_helper")
        if isinstance(spec.main.result, TupleExpr) or any(
                isinstance(s, Return) and isinstance(s.value, TupleExpr) for s in spec.main.statements()):
            found.add("tuple_return")
        if spec.main.tuple_params:
            found.add("tuple_param")
        if spec.shadow is not None and spec.shadow[0] in used_builtins:
            found.add("shadow")
        if spec.compile_mode == "definition":
            found.add("order_definition")
        elif spec.compile_order and spec.compile_order[0] == spec.main.name and len(spec.compile_order) > 1:
            found.add("order_caller_first")
        helper_names = {h.name for h in spec.helpers}
        for event in self.events:
            kind, name = event[0], event[1] if len(event) > 1 else None
            if kind in ("set", "del") and name in constants:
                found.add("const_rebind")
            elif kind in ("set", "setitem") and name in tables:
                found.add("table_rebind")
            elif kind in ("def", "del") and name in helper_names:
                found.add("helper_rebind")
            elif kind == "bset":
                found.add("builtin_patch")
        return frozenset(found)


class ModuleGenerator:
    """Draws :class:`ModuleJob` s with the functions of a :class:`~.gen.Generator`."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.rng = gen.rng

    # -- the module ---------------------------------------------------------------------
    def spec(self) -> ModuleSpec:
        rng = self.rng
        constants = tuple((name, rng.choice(CONST_VALUES))
                          for name in CONST_NAMES[:rng.randint(1, 3)])
        tables = tuple((name, "list" if rng.random() < 0.25 else "tuple", self.table_items())
                       for name in TABLE_NAMES[:rng.choice((0, 1, 1, 2))])
        base = ModuleContext([n for n, _ in constants], [(n, len(i)) for n, _, i in tables],
                             [], [], [])
        helpers: list[FuncSpec] = []
        if rng.random() < 0.65:
            for name in INT_HELPERS[:rng.randint(1, 2)]:
                helpers.append(self.helper(name, rng.randint(1, 3), base))
            if rng.random() < 0.3:
                helpers.append(self.helper(PAIR_HELPER, 2, base, pair=True))
            if rng.random() < 0.3:
                helpers.append(self.recursive_helper(base))
        context = ModuleContext(base.constants, base.tables,
                                [(h.name, len(h.params)) for h in helpers if h.name in INT_HELPERS],
                                [(h.name, len(h.params)) for h in helpers if h.name == PAIR_HELPER],
                                [h.name for h in helpers if h.name == RECURSIVE])
        main = self.gen.module_function(context)
        used = {n.func for f in helpers + [main] for n in f.nodes() if isinstance(n, Call)}
        shadow: tuple[str, str, bool] | None = None
        candidates = sorted(used & set(SHADOWS))
        if candidates and rng.random() < 0.25:
            name = rng.choice(candidates)
            source, compilable = rng.choice(SHADOWS[name])
            shadow = (name, source, compilable)
        # Layout: data first (one constant sometimes after the functions), functions in any order.
        data = [n for n, _ in constants] + [n for n, _, _ in tables]
        late: list[str] = []
        if rng.random() < 0.15:
            late.append(data.pop(rng.randrange(len(data))))
        functions = [h.name for h in helpers]
        if rng.random() < 0.5:
            functions.append(main.name)
        else:
            functions.insert(rng.randint(0, len(functions)), main.name)
        layout = data + ([shadow[0]] if shadow else []) + functions + late
        compiled = [h.name for h in helpers if rng.random() < 0.85]
        if shadow is not None and shadow[2] and rng.random() < 0.5:
            compiled.append(shadow[0])
        r = rng.random()
        if r < 0.5:
            order = compiled + [main.name]
        elif r < 0.8:
            order = [main.name] + compiled
        else:
            order = compiled + [main.name]
            rng.shuffle(order)
        mode = "definition" if rng.random() < 0.35 else "after"
        if mode == "definition":
            order = [name for name in layout if name in order]
        return ModuleSpec(constants, tables, tuple(helpers), shadow, main, tuple(layout),
                          tuple(order), mode, rng.random() < 0.3)

    def table_items(self) -> tuple[Any, ...]:
        rng = self.rng
        items = [rng.choice(TABLE_ITEMS) if rng.random() < 0.6 else self.gen.int_arg()
                 for _ in range(rng.choice((1, 2, 4, 8, 8, 10)))]
        if rng.random() < 0.05:
            items[rng.randrange(len(items))] = rng.choice((True, 2**100, -(2**70)))
        return tuple(items)

    def helper(self, name: str, arity: int, context: ModuleContext, pair: bool = False) -> FuncSpec:
        """A small function of the module, itself compilable: assignments, maybe an early
        return, an int (or a pair) result; it may read the module's constants and tables."""
        gen, rng = self.gen, self.rng
        saved = (gen._allow_huge, gen._flow_leaves, gen._shift_const_share, gen._module)
        gen._allow_huge, gen._flow_leaves, gen._shift_const_share = False, True, 0.7
        gen._module = ModuleContext(context.constants, context.tables, [], [], [])
        try:
            params = HELPER_PARAMS[:arity]
            names = list(params)
            body: list[Any] = []
            for index in range(rng.randint(0, 2)):
                target = LOCAL_NAMES[index]
                body.append(Assign(target, gen.expr(names, rng.randint(1, 3))))
                names.append(target)
            if rng.random() < 0.3:
                body.append(If(gen.comparison(names, 1), (Return(gen.expr(names, 2)),)))
            result: Any = TupleExpr((gen.expr(names, 2), gen.expr(names, 2))) if pair \
                else gen.expr(names, rng.randint(1, 3))
            return FuncSpec(params, tuple(body), result, name=name)
        finally:
            gen._allow_huge, gen._flow_leaves, gen._shift_const_share, gen._module = saved

    def recursive_helper(self, context: ModuleContext) -> FuncSpec:
        """``r0(n, x)``: returns a value of ``x`` when ``n <= 0``, else recurses on ``n - 1``
        (a tail call, or the recursive result combined with ``x``)."""
        gen, rng = self.gen, self.rng
        saved = (gen._allow_huge, gen._flow_leaves, gen._module)
        gen._allow_huge, gen._flow_leaves = False, False
        gen._module = ModuleContext(context.constants, context.tables, [], [], [])
        try:
            names = ["n", "x"]
            base = gen.expr(["x"], rng.randint(0, 2))
            step = gen.expr(names, rng.randint(1, 2))
            if rng.random() < 0.5:
                step = Binary("&", step, Const(rng.choice((2**64 - 1, 2**32 - 1, 1023))))
            down = Binary("-", Var("n"), Const(1))
            if rng.random() < 0.5:
                result: Any = Call(RECURSIVE, (down, step))
            else:
                result = Binary(rng.choice(("+", "^", "-")), Call(RECURSIVE, (down, Var("x"))), step)
            body = (If(Compare((Var("n"), Const(0)), ("<=",)), (Return(base),)),)
            return FuncSpec(("n", "x"), body, result, name=RECURSIVE)
        finally:
            gen._allow_huge, gen._flow_leaves, gen._module = saved

    # -- the events ---------------------------------------------------------------------
    def job(self, calls: int) -> ModuleJob:
        job = ModuleJob(self.spec())
        for _ in range(calls):
            args, kwargs = self.gen.call(job.spec.main)
            job.events.append(("call", args, kwargs))
            if self.rng.random() < EVENT_SHARE:
                event = self.change(job)
                if event is not None:
                    job.events.append(event)
        return job

    def change(self, job: ModuleJob) -> tuple[Any, ...] | None:
        """One change to the module between two calls."""
        rng = self.rng
        spec = job.spec
        kinds = ["const"]
        if spec.tables:
            kinds.append("table")
        if spec.helpers:
            kinds += ["helper", "helper"]
        if spec.shadow is not None:
            kinds.append("shadow")
        patchable = sorted({n.func for f in spec.functions() for n in f.nodes()
                            if isinstance(n, Call)} & set(PATCHES))
        if patchable:
            kinds.append("builtin")
        kind = rng.choice(kinds)
        r = rng.random()
        if kind == "const":
            name = rng.choice(spec.constants)[0]
            if r < 0.5:
                return ("set", name, self.const_value())
            return ("del", name) if r < 0.62 else ("restore", name)
        if kind == "table":
            name, _, items = rng.choice(spec.tables)
            if r < 0.3:
                return ("set", name, self.table_value(len(items)))
            if r < 0.6:
                index = rng.randint(-len(items) - 1, len(items))
                value = self.gen.int_arg() if rng.random() < 0.9 else rng.choice(NON_INTS)
                return ("setitem", name, index, value)
            return ("del", name) if r < 0.65 else ("restore", name)
        if kind == "helper":
            helper = rng.choice(spec.helpers)
            if r < 0.45:
                source, guarded = self.helper_variant(helper, spec)
                job.guarded_defs[source] = guarded
                return ("def", helper.name, source)
            return ("del", helper.name) if r < 0.55 else ("restore", helper.name)
        if kind == "shadow":
            assert spec.shadow is not None
            name = spec.shadow[0]
            if r < 0.4:
                return ("del", name)
            if r < 0.6:
                return ("set", name, rng.choice(PATCHES[name]))
            return ("restore", name)
        name = rng.choice(patchable)
        return ("bset", name, rng.choice(PATCHES[name])) if r < 0.55 else ("brestore", name)

    def const_value(self) -> Any:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return self.gen.int_arg()
        if r < 0.6:
            return rng.choice(CONST_VALUES)
        if r < 0.7:
            return rng.choice((True, False))
        if r < 0.82:
            return rng.choice(NON_INTS)
        if r < 0.9:
            return MyInt(rng.choice((0, 1, 7, 2**63 - 1)))
        return rng.choice((2**64, 2**64 - 1, -(2**63) - 1, 2**200))

    def table_value(self, length: int) -> Any:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return self.table_items()
        if r < 0.65:
            return list(self.table_items())
        if r < 0.75:
            return ()
        if r < 0.85:
            return range(rng.randint(0, 12))
        return rng.choice((None, "abcdefgh", (1.5,) * max(length, 1), 7))

    def helper_variant(self, helper: FuncSpec, spec: ModuleSpec) -> tuple[str, str]:
        """A plain Python function under the helper's name, with other behaviour: another body
        (mostly), a non-int result, an exception, another arity."""
        rng = self.rng
        r = rng.random()
        params = ", ".join(helper.params)
        if r < 0.65:
            context = ModuleContext([n for n, _ in spec.constants],
                                    [(n, len(i)) for n, _, i in spec.tables], [], [], [])
            if helper.name == RECURSIVE and rng.random() < 0.5:
                other = self.recursive_helper(context)
            else:
                other = self.helper(helper.name, len(helper.params), context,
                                    pair=helper.name == PAIR_HELPER)
            return other.source(), helper_source(other, True)
        if r < 0.75:
            text = f"def {helper.name}({params}):\n    return str({helper.params[0]})\n"
        elif r < 0.85:
            text = f"def {helper.name}({params}):\n    raise KeyError('replaced')\n"
        elif r < 0.93:
            fewer = ", ".join(helper.params[:-1]) if len(helper.params) > 1 else "x, extra"
            text = f"def {helper.name}({fewer}):\n    return 1\n"
        else:
            text = f"def {helper.name}({params}):\n    return ({params},)\n"   # a tuple
        return text, text


# -- the guard --------------------------------------------------------------------------

def guard_job(job: ModuleJob) -> tuple[int, int]:
    """Replays ``job`` on a guarded copy of its module and drops the calls that would make
    CPython build enormous ints or run too long (see :func:`.gen.check`); returns how many
    were dropped as too big and as too long.  The changes are kept: they are cheap."""
    import warnings
    namespace: dict[str, Any] = dict(GUARD_NAMESPACE)
    private = dict(builtins.__dict__)
    namespace["__builtins__"] = private
    exec(compile(job.spec.source(guarded=True), "<guarded module>", "exec"), namespace)
    initial = dict(namespace)
    initial_builtins = dict(private)

    def define(source: str) -> None:
        exec(compile(job.guarded_defs.get(source, source), "<guarded def>", "exec"), namespace)

    kept: list[tuple[Any, ...]] = []
    big = long = 0
    main = job.spec.main.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for event in job.events:
            if event[0] != "call":
                apply_event(event, namespace, private, initial, initial_builtins, define)
                kept.append(event)
                continue
            _STEPS.count = _STEPS.work = _STEPS.calls = 0
            try:
                args, kwargs = _copied(event[1], event[2])
                namespace[main](*args, **kwargs)
            except (TooBig, MemoryError):   # an allocation that may succeed in the child
                big += 1
                continue
            except TooLong:
                long += 1
                continue
            except Exception:  # noqa: BLE001 - raises early: cheap
                pass
            kept.append(event)
    job.events = kept
    return big, long


# -- reproduction ---------------------------------------------------------------------------

def _literal(value: Any) -> str:
    """Source for an event value (ints, floats, strings, tuples, lists, ranges, MyInt, the
    builtins and operator functions patches use)."""
    if isinstance(value, MyInt):
        return f"MyInt({int(value)})"
    if isinstance(value, float):
        return f"float({str(value)!r})" if value != value or value in (float("inf"), float("-inf")) \
            else repr(value)
    if type(value) in (tuple, list):
        inner = ", ".join(_literal(v) for v in value) + ("," if type(value) is tuple and len(value) == 1 else "")
        return f"({inner})" if type(value) is tuple else f"[{inner}]"
    if callable(value) and not isinstance(value, type):
        module = "operator" if value.__module__ in ("_operator", "operator") else value.__module__
        return f"{module}.{value.__qualname__}"
    return repr(value)


def repro_script(payload: dict[str, Any]) -> str:
    """A standalone script that replays a module job and prints each call's outcome on both
    sides (``MISMATCH`` where they differ)."""
    lines = [
        "import ast, builtins, operator, types, jitimport",
        "class MyInt(int): pass",
        f"SOURCE = {payload['source']!r}",
        "def outcome(fn, *args, **kwargs):",
        "    try:",
        "        return ('ok', repr(fn(*args, **kwargs)))",
        "    except Exception as exc:",
        "        return ('raise', type(exc).__name__, str(exc)[:80])",
        "def module(native):",
        "    m = types.ModuleType('m')",
        f"    m.__builtins__ = {'builtins.__dict__' if payload['real_builtins'] else 'dict(builtins.__dict__)'}",
        f"    order = {payload['compile']!r}",
        "    def compile_one(name):",
        "        try:",
        "            m.__dict__[name] = jitimport.compile_native(m.__dict__[name])",
        "        except jitimport.NotCompilable as exc:",
        "            print('refused', name, exc)",
    ]
    if payload["compile_mode"] == "definition":
        lines += ["    for stmt in ast.parse(SOURCE).body:   # compiled once defined, as the hook does",
                  "        exec(compile(ast.Module([stmt], []), '<m>', 'exec'), m.__dict__)",
                  "        if native and isinstance(stmt, ast.FunctionDef) and stmt.name in order:",
                  "            compile_one(stmt.name)"]
    else:
        lines += ["    exec(SOURCE, m.__dict__)",
                  "    for name in order if native else ():",
                  "        compile_one(name)"]
    lines += ["    return m, dict(m.__dict__)",
              "ref, nat = module(False), module(True)",
              "B = (ref[0].__dict__['__builtins__'], nat[0].__dict__['__builtins__'])",
              "B0 = dict(B[0])"]
    for event in payload["events"]:
        kind = event[0]
        if kind == "call":
            args = ", ".join([_literal(a) for a in event[1]]
                             + [f"{k}={_literal(v)}" for k, v in event[2].items()])
            lines += [f"e, g = outcome(ref[0].{payload['main']}, {args}), "
                      f"outcome(nat[0].{payload['main']}, {args})",
                      f"print('MISMATCH' if e != g else 'ok      ', {payload['main']!r} + "
                      f"{'(' + args + ')'!r}, e, g)"]
        elif kind == "set":
            lines.append(f"for m, _ in (ref, nat): m.{event[1]} = {_literal(event[2])}")
        elif kind == "del":
            lines.append(f"for m, _ in (ref, nat): m.__dict__.pop({event[1]!r}, None)")
        elif kind == "restore":
            lines.append(f"for m, init in (ref, nat): m.__dict__[{event[1]!r}] = init[{event[1]!r}]"
                         f"  # bound again to what it was after compiling")
        elif kind == "def":
            lines.append(f"for m, _ in (ref, nat): exec({event[2]!r}, m.__dict__)")
        elif kind == "setitem":
            lines.append(f"for m, _ in (ref, nat): t = m.__dict__.get({event[1]!r}); "
                         f"(type(t) is list and -len(t) <= {event[2]} < len(t)) and "
                         f"t.__setitem__({event[2]}, {_literal(event[3])})")
        elif kind == "bset":
            lines.append(f"for b in B: b[{event[1]!r}] = {_literal(event[2])}")
        elif kind == "brestore":
            lines.append(f"for b in B: b[{event[1]!r}] = B0[{event[1]!r}]")
    if payload["real_builtins"]:
        lines.append("builtins.__dict__.update(B0)")
    return "\n".join(lines) + "\n"
