"""Retrieval metrics (TASLP VI-B)."""

from __future__ import annotations

import numpy as np


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target among its candidates, higher score first.

    `scores` is `(queries, candidates)`, `targets` the target column of each query. Ties
    are broken pessimistically: a candidate scoring the same as the target ranks above
    it, so a constant scorer earns no credit.
    """
    scores = np.asarray(scores, dtype=float)
    target_scores = scores[np.arange(len(scores)), targets]
    return np.sum(scores >= target_scores[:, None], axis=1)  # the target counts itself


def mean_reciprocal_rank(ranks) -> float:
    """MRR = mean of 1 / rank (TASLP eq. 1)."""
    ranks = np.asarray(ranks, dtype=float)
    return float(np.mean(1.0 / ranks))


def chance_mrr(n_candidates: int) -> float:
    """Expected MRR of a random ranking of n candidates: mean of 1/k, k = 1..n."""
    return float(np.mean(1.0 / np.arange(1, n_candidates + 1)))
