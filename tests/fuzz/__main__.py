"""Long mode: ``python -m tests.fuzz --seconds 600 --seed N``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .runner import DEFAULT_COMPILER, Campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="wall-clock budget")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time-based)")
    parser.add_argument("--functions", type=int, default=None, help="stop after this many functions")
    parser.add_argument("--calls", type=int, default=40, help="argument tuples per function")
    parser.add_argument("--batch", type=int, default=100, help="functions per child process")
    parser.add_argument("--regressions", type=Path,
                        default=Path(__file__).resolve().parent.parent / "regressions",
                        help="where minimised failures are written as tests")
    parser.add_argument("--no-write", action="store_true", help="do not write regression tests")
    parser.add_argument("--minimise-seconds", type=float, default=90.0)
    parser.add_argument("--compiler", default=DEFAULT_COMPILER, help="module:function under test")
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else int(time.time())
    log = (lambda text: None) if options.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    campaign = Campaign(seed, options.compiler, options.calls, options.batch,
                        None if options.no_write else options.regressions,
                        options.minimise_seconds, log)
    started = time.monotonic()
    stats = campaign.run_for(options.seconds, options.functions)
    print(f"seed {seed}, {time.monotonic() - started:.0f} s")
    print(stats.report())
    for failure in stats.failures:
        print(failure.describe())
        if failure.regression_file:
            print(f"  regression test: {failure.regression_file}")
    return 1 if stats.mismatches or stats.crashes or stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
