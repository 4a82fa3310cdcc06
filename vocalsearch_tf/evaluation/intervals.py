"""Bootstrap intervals for retrieval metrics: resampling queries (imitations), as the
development check of transfer reports them (MRR per category with a 95 % interval, and a
system's difference from a baseline on the same imitations)."""

from __future__ import annotations

import numpy as np

RESAMPLES = 2000
LEVEL = 95.0


def _draws(n: int, seed: int, resamples: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, (resamples, n))


def mean_interval(values, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, float]:
    """The mean of `values` (e.g. reciprocal ranks) and its percentile bootstrap interval."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    means = values[_draws(len(values), seed, resamples)].mean(axis=1)
    low, high = np.percentile(means, [(100 - LEVEL) / 2, (100 + LEVEL) / 2])
    return {"mean": float(values.mean()), "low": float(low), "high": float(high), "n": int(values.size)}


def paired_difference(a, b, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, float]:
    """mean(a - b) over the same queries, with its bootstrap interval (the same draws for
    both: the interval of a paired difference is narrower than either mean's)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in shape: {a.shape} and {b.shape}")
    result = mean_interval(a - b, seed, resamples)
    return {"difference": result["mean"], "low": result["low"], "high": result["high"], "n": result["n"]}


def balanced_paired_difference(a, b, groups, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, float]:
    """mean(a - b) with every group weighing the same (the mean of the groups' means), and
    its interval from resampling the queries within each group (a stratified bootstrap):
    a group holding most queries does not decide alone."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    groups = np.asarray(groups)
    if d.shape != groups.shape:
        raise ValueError(f"{groups.shape} groups for {d.shape} paired values")
    rng = np.random.default_rng(seed)
    names = sorted(set(groups.tolist()))
    point, means = 0.0, np.zeros(resamples)
    for name in names:
        x = d[groups == name]
        point += x.mean() / len(names)
        means += x[rng.integers(0, len(x), (resamples, len(x)))].mean(axis=1) / len(names)
    low, high = np.percentile(means, [(100 - LEVEL) / 2, (100 + LEVEL) / 2])
    return {"difference": float(point), "low": float(low), "high": float(high), "n": int(d.size)}


def verdict(difference: dict[str, float]) -> str:
    """'better' / 'worse' when the interval excludes 0, else 'tie'."""
    if difference["low"] > 0:
        return "better"
    if difference["high"] < 0:
        return "worse"
    return "tie"
