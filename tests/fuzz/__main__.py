"""Long mode: ``python -m tests.fuzz --seconds 600 --seed N [--mode mixed|straight|flow|module]``.

Prints the campaign summary on stdout (progress and each failure, minimised, on
stderr); exits with 1 when any mismatch, crash, hang or compile error was found.
``--show N`` only prints N generated functions (to read what the generator makes; with
``--mode module``, N modules with their compile order and events).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from .gen import MODES, Generator
from .module import ModuleGenerator
from .runner import CAMPAIGN_MODES, DEFAULT_COMPILER, STALL_TIMEOUT, Campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="wall-clock budget")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time-based)")
    parser.add_argument("--mode", choices=CAMPAIGN_MODES, default="mixed",
                        help="straight-line functions, control-flow functions (30 %% of them "
                             "module jobs: constants, tables, builtins, helpers, tuples, changed "
                             "between calls), only module jobs, or all (mixed: a quarter "
                             "straight-line; the default)")
    parser.add_argument("--functions", type=int, default=None, help="stop after this many functions")
    parser.add_argument("--calls", type=int, default=40, help="argument tuples per function")
    parser.add_argument("--batch", type=int, default=100, help="functions per child process")
    parser.add_argument("--regressions", type=Path,
                        default=Path(__file__).resolve().parent.parent / "regressions",
                        help="where minimised failures are written as tests")
    parser.add_argument("--no-write", action="store_true", help="do not write regression tests")
    parser.add_argument("--minimise-seconds", type=float, default=90.0)
    parser.add_argument("--stall-seconds", type=float, default=STALL_TIMEOUT,
                        help="a child silent this long hangs: it is killed and reported")
    parser.add_argument("--compiler", default=DEFAULT_COMPILER, help="module:function under test")
    parser.add_argument("--show", type=int, default=0, metavar="N",
                        help="print N generated functions of --mode and exit")
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else int(time.time())
    if options.show and options.mode == "module":
        modgen = ModuleGenerator(Generator(random.Random(seed)))
        for _ in range(options.show):
            job = modgen.job(options.calls)
            print(job.spec.source())
            print(f"# compiled: {job.spec.compile_mode}, order {job.spec.compile_order}; "
                  f"constructs: {', '.join(sorted(job.features()))}")
            print("# events: " + "; ".join(repr(e) for e in job.events if e[0] != "call"))
            print()
        return 0
    if options.show:
        gen = Generator(random.Random(seed))
        modes = MODES if options.mode == "mixed" else (options.mode,)
        for k in range(options.show):
            print(gen.function(modes[k % len(modes)]).source())
        return 0
    log = (lambda text: None) if options.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    campaign = Campaign(seed, options.compiler, options.calls, options.batch,
                        None if options.no_write else options.regressions,
                        options.minimise_seconds, log, mode=options.mode,
                        stall_timeout=options.stall_seconds)
    started = time.monotonic()
    stats = campaign.run_for(options.seconds, options.functions)
    print(f"seed {seed}, mode {options.mode}, {time.monotonic() - started:.0f} s")
    print(stats.report())
    for failure in stats.failures:
        print(failure.describe())
        if failure.regression_file:
            print(f"  regression test: {failure.regression_file}")
    return 1 if stats.mismatches or stats.crashes or stats.hangs or stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
