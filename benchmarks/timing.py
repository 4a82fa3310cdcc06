"""Shared timing helper of the benchmark scripts."""

import statistics
import time


def median_seconds(run, repetitions: int) -> float:
    """Median wall time of `run()` over `repetitions` calls, after one warm-up call
    (graph tracing, kernel construction, caches)."""
    run()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
