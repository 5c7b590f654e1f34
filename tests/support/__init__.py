"""Fixtures that tests and benchmarks share, outside the installed package.

    from support.synthetic_training_examples import write_synthetic_splits   # tests/ is on sys.path under pytest

A benchmark puts ``tests/`` on ``sys.path`` first (``benchmarks/timing.py``: ``use_test_support()``).
"""
