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


def iminet_training_step(batch: int, seed: int = 0):
    """One tied-IMINET training step (forward, backward, Adam update) on a fixed batch of `batch`
    random log-CQT pairs, as a callable, and the batch's (imitations, recordings)."""
    import keras
    import numpy as np

    from vocalsearch_tf.models.iminet import INPUT_SHAPE, build_iminet

    rng = np.random.default_rng(seed)
    imitations, recordings = (rng.normal(-8, 3, (batch, *INPUT_SHAPE)).astype(np.float32) for _ in range(2))
    labels = rng.integers(0, 2, (batch, 1)).astype(np.float32)
    model = build_iminet("tied")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return (lambda: model.train_on_batch([imitations, recordings], labels)), (imitations, recordings)
