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
