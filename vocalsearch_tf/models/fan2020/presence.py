"""Fan et al. 2020's pairwise presence matrix (3.1, Fig. 2), the level of similarity, and the ranking by it.

The level of similarity of a pair of labelled clips is the number of categories both have
or neither has: the sum of the presence matrix's first two columns. For a predicted matrix
the paper sums the same two columns (3.1: "by summing the first and the second column of the
matrix, we obtain the level of similarity"): the summed probability of "both" and "neither"
over the categories, by which the database is ranked. The count of categories whose most
probable situation is "both" or "neither" (with the summed probability as its tie-break) is
kept as an ablation: `argmax_ranking_scores`.
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
    """Categories whose situation is "both" or "neither": for a one-hot matrix (two clips'
    labels) the sum of its first two columns, the paper's r; for a predicted matrix the
    count of categories whose most probable situation is one of those two."""
    return np.sum(np.argmax(matrix, axis=-1) < 2, axis=-1)


def ranking_scores(probabilities: np.ndarray) -> np.ndarray:
    """The paper's level of similarity of a predicted matrix: the first two columns summed
    over the categories (3.1), the summed probability of "both" and "neither"."""
    return np.sum(probabilities[..., 0] + probabilities[..., 1], axis=-1)


def argmax_ranking_scores(probabilities: np.ndarray) -> np.ndarray:
    """Ablation: the count of `similarity_level`, ties broken by the summed probability of
    "both" and "neither" divided by (categories + 1), so it stays below 1."""
    return similarity_level(probabilities) + ranking_scores(probabilities) / (probabilities.shape[-2] + 1)


RANKING_RULES = {"summed probability": ranking_scores, "argmax count": argmax_ranking_scores}


def rank(scores: np.ndarray) -> np.ndarray:
    """Database indices by falling score; equal scores keep database order."""
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")
