"""The built-in fusion's likelihood fit against the other ways issue 23 names to fuse: ranks
instead of calibrated likelihoods, and weights chosen for the tuning part's MRR itself.

    python -m vocalsearch_tf.search.fusion_alternatives --data data/transfer_check \\
        --scores data/transfer_check_scores.npz [--report reference/transfer_check]

Each alternative is fitted on the tuning part (pooled over the independent processes) and
compared, paired, with the likelihood fit on both parts; the confirmation part only reports.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from vocalsearch_tf.evaluation import intervals
from vocalsearch_tf.experiments import transfer_check as check_module
from vocalsearch_tf.search import choose_default

RRF_K = 60  # reciprocal-rank fusion's constant (Cormack et al. 2009)
RATIOS = (0, 0.25, 0.5, 0.75, 1, 1.5, 2)  # each other part's weight, relative to the first part's


def rank_scores(check: check_module.CheckSet, matrix: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """1 / (k + rank) of each sound among those an imitation ranks (its category in its part)."""
    out = np.full(matrix.shape, np.nan)
    for s, q in choose_default.ranked_blocks(check):
        ranks = (-matrix[np.ix_(q, s)]).argsort(axis=1).argsort(axis=1) + 1
        out[np.ix_(q, s)] = 1.0 / (k + ranks)
    return out


def reciprocal_ranks(check: check_module.CheckSet, matrix: np.ndarray, part: str) -> np.ndarray:
    """Each independent imitation's reciprocal rank in `part`, in a fixed order."""
    ranks = check_module.reciprocal_ranks(check, check_module.part_scores(check, lambda s, q: matrix[np.ix_(q, s)]))
    return ranks.rr[(ranks.part == part) & ranks.process.isin(check.independent)].to_numpy()


def mrr_fit(check: check_module.CheckSet, matrices: dict[str, np.ndarray], weights: dict[str, float]) -> dict[str, float]:
    """The weights (the first part's kept, the others' at `RATIOS` of it) whose fusion ranks
    the tuning imitations best."""
    names = list(weights)
    first = weights[names[0]]
    tried = {ratios: reciprocal_ranks(check, sum(r * first * matrices[n] for r, n in zip((1, *ratios), names)),
                                      "tuning").mean()
             for ratios in itertools.product(RATIOS, repeat=len(names) - 1)}
    best = max(tried, key=tried.get)
    return {n: r * first for r, n in zip((1, *best), names)}


def compare(check: check_module.CheckSet, matrices: dict[str, np.ndarray], weights: dict[str, float]) -> dict:
    """Per alternative and part: its MRR and its paired difference from the likelihood fit
    (`weights`: `choose_default.measure`'s), over the independent processes' imitations."""
    names = list(weights)
    weighted = lambda w: sum(w[n] * matrices[n] for n in names)  # noqa: E731
    best = mrr_fit(check, matrices, weights)
    fusions = {"likelihood fit (the built-in)": weighted(weights),
               f"weights for the tuning MRR ({' / '.join(f'{best[n]:.2f}' for n in names)})": weighted(best),
               "reciprocal-rank fusion": sum(rank_scores(check, matrices[n]) for n in names),
               **{f"{n} alone": matrices[n] for n in names}}
    parts = ("tuning", "confirmation")
    fit = {part: reciprocal_ranks(check, fusions["likelihood fit (the built-in)"], part) for part in parts}
    out = {}
    for label, matrix in fusions.items():
        out[label] = {}
        for part in parts:
            ranks = reciprocal_ranks(check, matrix, part)
            difference = intervals.paired_difference(ranks, fit[part])
            out[label][part] = {"mrr": float(ranks.mean()), "minus_fit": {**difference, "verdict": intervals.verdict(difference)}}
    return out


def table(compared: dict) -> str:
    rows = {label: {f"{part} MRR": f"{cell['mrr']:.3f}" for part, cell in cells.items()}
            | {f"{part} − likelihood fit": (f"{cell['minus_fit']['difference']:+.3f} [{cell['minus_fit']['low']:+.3f}, "
                                             f"{cell['minus_fit']['high']:+.3f}] {cell['minus_fit']['verdict']}")
               for part, cell in cells.items()}
            for label, cells in compared.items()}
    return ("### ways to fuse the search models, fitted on the tuning part (all categories, the independent "
            "processes; paired 95 % intervals)\n\n" + pd.DataFrame(rows).T.to_markdown())


def _analyse(check, matrices, probe, baseline) -> tuple[str, dict, str]:
    _, content = choose_default.measure(check, matrices, baseline, probe)
    compared = compare(check, matrices, content["fusion_weights"])
    return "ways to fuse the search models, fitted on the tuning part", {"alternatives": compared}, table(compared)


def main(argv=None) -> int:
    return choose_default.saved_scores_main(argv, "python -m vocalsearch_tf.search.fusion_alternatives", __doc__,
                                            "fusion_alternatives", _analyse)


if __name__ == "__main__":
    import sys

    sys.exit(main())
