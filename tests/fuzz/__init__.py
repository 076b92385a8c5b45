"""Differential fuzzer for jitimport: random eligible functions, native vs. CPython.

``python -m tests.fuzz --seconds 600 --seed N`` (from the repository root, with
``PYTHONPATH=src``) runs the long mode; ``tests/test_fuzz_quick.py`` runs a
fixed-seed slice of it in the normal suite.  See :mod:`.gen` for what is
generated (straight-line and control-flow functions, and why some calls are
skipped), :mod:`.child` for what runs in the child processes, and
:mod:`.runner` for how crashes and hangs are isolated, minimised and turned
into tests under ``tests/regressions/``.
"""
