"""Fan et al. 2020's pairwise presence matrix (3.1, Fig. 2), the level of similarity, and the ranking by it.

The level of similarity of a pair is the number of categories predicted "both" or
"neither"; the database is ranked by it. Ties are broken by the summed probability of
"both" and "neither" over the categories (the paper is silent), then by database order.
"""

from __future__ import annotations

import numpy as np

SITUATIONS = ("both", "neither", "one")  # the presence matrix's columns (Fig. 2)
# SONYC-UST's 8 coarse categories (`datasets.sonyc_ust.COARSE`, which a model builder may not
# import; tests/test_fan2020.py checks the two agree)
N_CATEGORIES = 8


def situations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per category: 0 both clips have it, 1 neither has it, 2 only one has it."""
    first, second = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    return np.where(first & second, 0, np.where(~first & ~second, 1, 2))


def presence_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The one-hot pairwise presence matrix `(..., categories, 3)` of two label sets."""
    return np.eye(len(SITUATIONS), dtype=np.float32)[situations(first, second)]


def similarity_level(matrix: np.ndarray) -> np.ndarray:
    """Categories whose (most probable) situation is "both" or "neither" (3.1): the sum of
    the matrix's first two columns, for one-hot or predicted matrices alike."""
    return np.sum(np.argmax(matrix, axis=-1) < 2, axis=-1)


def ranking_scores(probabilities: np.ndarray) -> np.ndarray:
    """The level of similarity plus a tie-break below 1: the summed probability of "both"
    and "neither" over the categories, divided by (categories + 1)."""
    agreement = probabilities[..., 0] + probabilities[..., 1]
    return similarity_level(probabilities) + agreement.sum(-1) / (probabilities.shape[-2] + 1)


def rank(scores: np.ndarray) -> np.ndarray:
    """Database indices by falling score; equal scores keep database order."""
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")
