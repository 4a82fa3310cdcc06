"""Seeding, atomic writes and parallel rendering shared by the generators."""

from __future__ import annotations

import multiprocessing
import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm


def rng_for(seed: int, *keys) -> np.random.Generator:
    """A generator determined by the seed and the item's keys alone, so an item renders
    the same whatever order or process renders it."""
    key = "/".join(str(k) for k in keys).encode()
    return np.random.default_rng([seed, zlib.crc32(key)])


def random_id(rng: np.random.Generator) -> int:
    """A 16-digit id like VocalSketch's (Google App Engine keys)."""
    return int(rng.integers(4_500_000_000_000_000, 6_500_000_000_000_000))


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write 16-bit PCM atomically: a crash never leaves a half-written clip behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.asarray(samples, dtype=np.float64)
    if not np.all(np.isfinite(samples)) or not np.any(samples):
        raise ValueError(f"{path}: generator produced a silent or non-finite clip")
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), np.clip(samples, -1, 1).astype(np.float32), rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def parallel_map(function, items: list, workers: int, description: str, fresh_processes: bool = False) -> list:
    """`[function(item) for item in items]` over `workers` processes, with a progress bar.

    Processes are spawned, not forked, so this is safe from a session that has already
    started TensorFlow threads; a script that calls it must guard its entry point with
    `if __name__ == "__main__":`, as spawning requires. `fresh_processes` gives every item a process of its own
    (for libraries with hidden global state).
    """
    if not items:
        return []
    if not fresh_processes and (workers <= 1 or len(items) < 4):
        return [function(item) for item in tqdm(items, desc=description, leave=False)]
    context = multiprocessing.get_context("spawn")
    options = {"max_tasks_per_child": 1} if fresh_processes else {}
    chunksize = 1 if fresh_processes else max(1, len(items) // (max(workers, 1) * 8))
    with ProcessPoolExecutor(max(workers, 1), mp_context=context, **options) as pool:
        return list(tqdm(pool.map(function, items, chunksize=chunksize),
                         total=len(items), desc=description, leave=False))
