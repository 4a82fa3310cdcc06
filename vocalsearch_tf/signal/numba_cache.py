"""librosa's cached gufuncs, compiled once, alone, before anything runs in parallel.

librosa compiles its `guvectorize` functions (pitch tracking, peak picking, beat tracking,
the zero-crossing helper) when their modules are imported, and caches them beside its code.
Two processes that do that at once can leave a mismatched pair of cache files, after which
every process that loads them segfaults (numba issue 10128, open in numba 0.68.1). Seen here
2026-12-07: a fresh environment's unit tests on two workers died in `librosa.yin` and in every
process pool; two fresh processes compiling them together reproduced it in 1 of 9 tries.
`make setup` runs `warm` once, so the cache exists before any worker starts.

    python -m vocalsearch_tf.signal.numba_cache
"""

from __future__ import annotations

import importlib

MODULES = ("librosa.util.utils", "librosa.core.pitch", "librosa.core.audio", "librosa.beat")  # their gufuncs


def warm() -> tuple[str, ...]:
    """Import the librosa modules that compile gufuncs, so their cache files are written now."""
    import vocalsearch_tf  # noqa: F401  (Numba's CPU name, set before numba loads)

    for module in MODULES:
        importlib.import_module(module)
    return MODULES


if __name__ == "__main__":
    print("compiled and cached the gufuncs of " + ", ".join(warm()))
