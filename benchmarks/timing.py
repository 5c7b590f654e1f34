"""Timing shared by the benchmark scripts (run as `python benchmarks/bench_<stage>.py`)."""
import time


def best_seconds(run, repeat: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest run; CPU time barely moves when other jobs share the cores."""
    times = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(times)


def use_test_support() -> None:
    """Puts the repository's ``tests/`` on ``sys.path``, for ``support.*``: fixtures that tests and benchmarks share."""
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
