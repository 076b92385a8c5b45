"""The pytest plugin (entry point ``pytest11``: loaded by every pytest run where jitimport is installed).

It does nothing unless asked:

* ``pytest --jitimport`` (or ``jitimport = true`` in the ini file) installs the
  import hook in ``pytest_load_initial_conftests``, before pytest imports any
  conftest file or test module, so the code under test and pragma test modules
  go native for the whole session;
* ``--jitimport-report`` adds a terminal summary section: which functions went
  native, which stayed Python and why (from ``jitimport.report()``), and for
  each native that was called, its calls, how many fell back and why, flagged
  when most calls fall back (``jitimport.stats()``); with pytest-xdist, the
  workers' rows are gathered on the controller and their counts added up;
* ``--jitimport-verify`` turns on verify mode (``JITIMPORT_VERIFY=1``) for the
  session: every native call also runs the Python original and compares.

**Assertion rewriting.**  pytest loads test modules (and conftest files, and
modules given to ``register_assert_rewrite``) through its own loader, which
rewrites their ``assert`` statements; our finder passes such specs through
untouched (it only takes over the stock ``SourceFileLoader``).  Two
AST-rewriting loaders cannot both compile one module, so for those modules the
plugin lets pytest load them and then swaps their eligible functions in the
module namespace (``hook.activate.compile_module_namespace``), as
``install()`` does for pragma modules imported before it.  Assertions keep
pytest's messages; what the module's own top-level code captured while it ran
(a list of its functions, a ``parametrize`` argument) keeps the Python
function, and a warning names such references.  Test functions themselves are
never eligible (they call and assert), so what goes native there are the
module's helper functions.

With pytest-xdist every worker is a pytest process of its own that loads this
plugin with the same options, so it installs the hook itself.
"""
from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any, Callable

import pytest

_REPORT_KEY = "jitimport_report"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jitimport", "jitimport (native code for '# minijit: native' modules)")
    group.addoption(
        "--jitimport", action="store_true", default=False,
        help="activate the jitimport import hook for the session (before conftest files and test modules are "
             "imported): eligible functions of '# minijit: native' modules run as native code",
    )
    group.addoption(
        "--jitimport-report", action="store_true", default=False,
        help="add a terminal summary section: which functions went native, which stayed Python and why, and "
             "for each native its calls and how many fell back to Python (and why)",
    )
    group.addoption(
        "--jitimport-verify", action="store_true", default=False,
        help="verify mode (as JITIMPORT_VERIFY=1): every native call also runs the Python original and raises "
             "jitimport.VerificationError when the outcomes differ",
    )
    parser.addini("jitimport", type="bool", default=False, help="activate the jitimport import hook (as --jitimport)")


def _wanted(config: pytest.Config) -> bool:
    return bool(config.known_args_namespace.jitimport or config.getini("jitimport")) \
        if hasattr(config, "known_args_namespace") else False


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Runs before pytest imports the first conftest file: the earliest a plugin can act."""
    if getattr(early_config.known_args_namespace, "jitimport_verify", False):
        os.environ["JITIMPORT_VERIFY"] = "1"  # read through jitimport.config; inherited by subprocesses
    if not _wanted(early_config):
        return
    import jitimport

    handle = jitimport.install()
    session = _Session(handle)
    session.patch_assertion_rewriter()
    early_config.stash[_session_key] = session


_session_key: pytest.StashKey[_Session] = pytest.StashKey()


class _Session:
    """What the plugin changed for this session, so that ``pytest_unconfigure`` can undo it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        #: (rewriting hook, the ``exec_module`` we put on the instance).
        self.patched: list[tuple[Any, Callable[[ModuleType], None]]] = []

    def patch_assertion_rewriter(self) -> None:
        """Make pytest's rewriting loader hand its pragma modules to the hook once they ran."""
        try:
            from _pytest.assertion.rewrite import AssertionRewritingHook
        except ImportError:  # a pytest without assertion rewriting: nothing to cooperate with
            return
        for finder in sys.meta_path:
            if isinstance(finder, AssertionRewritingHook) and "exec_module" not in vars(finder):
                wrapper = _swap_after(finder.exec_module)
                finder.exec_module = wrapper  # type: ignore[method-assign,assignment]  # patches this instance
                self.patched.append((finder, wrapper))

    def undo(self) -> None:
        for finder, wrapper in self.patched:
            if vars(finder).get("exec_module") is wrapper:
                del finder.exec_module
        self.patched.clear()
        self.handle.uninstall()


def _swap_after(exec_module: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
    """``exec_module`` of pytest's rewriting loader, followed by the swap for pragma modules."""

    def exec_then_swap(module: ModuleType) -> None:
        exec_module(module)
        _swap_pragma_module(module)

    return exec_then_swap


def _swap_pragma_module(module: ModuleType) -> None:
    """Compile a rewritten module's eligible functions if it has the pragma; never raises."""
    try:
        from .hook.activate import compile_module_namespace, is_installed
        from .hook.pragma import has_pragma

        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not is_installed() or not has_pragma(path):
            return
        compile_module_namespace(module, path, context="was loaded by pytest's assertion rewriter")
    except Exception as exc:  # a broken swap costs speed, never a test module
        import logging

        logging.getLogger("jitimport").warning(
            "jitimport: could not compile test module %s (%s: %s)", getattr(module, "__name__", module),
            type(exc).__name__, exc,
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_session_key, None)
    if session is not None:
        session.undo()
        del config.stash[_session_key]


# --- the report -------------------------------------------------------------------------------

#: One report row: (module, qualname, native, reason, call counts or None).  The counts are
#: ``CallStats.as_dict()`` (plain data: xdist sends the rows from its workers through execnet).
Row = tuple[str, str, bool, "str | None", "dict[str, Any] | None"]


def _rows() -> list[Row]:
    if "jitimport.hook.reporting" not in sys.modules:
        return []
    import jitimport

    counts: dict[tuple[str, str], Any] = {}
    if "jitimport.callstats" in sys.modules:  # loaded by the compiler: natives exist
        from . import callstats

        counts = callstats.merged(callstats.stats())
    rows: list[Row] = []
    for module, qualname, native, reason in jitimport.report():
        found = counts.get((module, qualname)) if native else None
        rows.append((module, qualname, native, reason, found.as_dict() if found is not None else None))
    return rows


def _merge_rows(into: dict[tuple[str, str], Row], rows: Any) -> None:
    """Add ``rows`` (this process's or a worker's) to ``into``: the call counts of one function in
    several processes are added up."""
    for row in rows:
        module, qualname, native, reason, counts = (*row, None)[:5]
        previous = into.get((module, qualname))
        if previous is not None and previous[4] is not None and counts is not None:
            from .callstats import CallStats

            counts = CallStats.from_dict(previous[4]).merge(CallStats.from_dict(counts)).as_dict()
        elif previous is not None and counts is None:
            counts = previous[4]
        into[module, qualname] = (module, qualname, native, reason, counts)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand this process's report rows to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if isinstance(workeroutput, dict) and session.config.getoption("jitimport_report"):
        workeroutput[_REPORT_KEY] = _rows()


_worker_rows: dict[tuple[str, str], Row] = {}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: gather a finished worker's rows (hook specified by xdist)."""
    _merge_rows(_worker_rows, getattr(node, "workeroutput", {}).get(_REPORT_KEY, ()))


def format_summary(rows: list[Row], active: bool) -> list[str]:
    """The lines of the terminal summary section."""
    if not rows:
        if not active:
            return ["the import hook was not active (use --jitimport, 'jitimport = true' in the ini file, "
                    "or JITIMPORT=1): no function was compiled on import"]
        return ["no '# minijit: native' module was imported"]
    native = [r for r in rows if r[2]]
    python = [r for r in rows if not r[2]]
    lines = [f"{len(native)} function(s) native, {len(python)} kept in Python"]
    if native:
        lines.append("native:")
        width = max(len(f"{r[0]}.{r[1]}") for r in native)
        for module, qualname, _, _, counts in native:
            lines.extend(_native_lines(f"{module}.{qualname}", width, counts))
    if python:
        lines.append("kept in Python:")
        width = max(len(f"{r[0]}.{r[1]}") for r in python)
        lines.extend(f"  {(r[0] + '.' + r[1]).ljust(width)}  {r[3]}" for r in python)
    return lines


def _native_lines(name: str, width: int, counts: dict[str, Any] | None) -> list[str]:
    """A native's line: its calls (with the top fallback causes, and a flag when most calls fall back)."""
    if counts is None or not counts.get("calls"):
        return [f"  {name}"]
    from .callstats import CallStats

    stats = CallStats.from_dict(counts)
    pad = " " * (4 + width)
    lines = [f"  {name.ljust(width)}  {stats.summary()}"]
    lines.extend(f"{pad}{cause}" for cause in stats.cause_lines())
    warning = stats.warning()
    if warning:
        lines.append(f"{pad}! {warning}")
    return lines


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.getoption("jitimport_report"):
        return
    rows: dict[tuple[str, str], Row] = {}
    _merge_rows(rows, _rows())
    _merge_rows(rows, _worker_rows.values())
    active = _session_key in config.stash or _hook_installed() or bool(_worker_rows)
    terminalreporter.write_sep("=", "jitimport")
    for line in format_summary(list(rows.values()), active):
        terminalreporter.write_line(line)


def _hook_installed() -> bool:
    activate = sys.modules.get("jitimport.hook.activate")
    return bool(activate is not None and activate.is_installed())
