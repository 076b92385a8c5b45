"""Build helpers for the peers of ``compare.py``: generated sources, run-time builds, contenders.

Extension modules are built into a temporary directory on each run and
never committed; a peer that is not installed is reported as skipped.
"""
