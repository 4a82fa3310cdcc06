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
    sounds, imitations = check.sounds, check.imitations
    for part in check.parts:
        for category in sounds.category.unique():
            s = sounds.index[(sounds.part == part) & (sounds.category == category)].to_numpy()
            q = imitations.index[(imitations.part == part) & (imitations.category == category)].to_numpy()
            if len(s) and len(q):
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
    out = {}
    for label, matrix in fusions.items():
        out[label] = {}
        for part in ("tuning", "confirmation"):
            ranks, fit = reciprocal_ranks(check, matrix, part), reciprocal_ranks(check, fusions[next(iter(fusions))], part)
            difference = intervals.paired_difference(ranks, fit)
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


def main(argv=None) -> int:
    import argparse
    import datetime
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.search.fusion_alternatives",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/transfer_check", help="the check set (`make transfer-check`)")
    parser.add_argument("--scores", required=True, help="its score matrices (`choose_default --save-scores`)")
    parser.add_argument("--report", default=None, help="a folder to write fusion_alternatives.{json,md} in")
    args = parser.parse_args(argv)
    check = check_module.load_check(args.data)
    matrices, probe, baseline = choose_default.load_scores(Path(args.scores), check)
    _, content = choose_default.measure(check, matrices, baseline, probe)
    compared = compare(check, matrices, content["fusion_weights"])
    text = table(compared)
    if args.report:  # a record beside the check's others (`transfer_check.recorded`); it has no IMINET runs
        what = (f"ways to fuse the search models on {args.data}, fitted on the tuning part "
                f"({datetime.date.today().isoformat()})")
        check_module.write_record(Path(args.report), "fusion_alternatives",
                                  {"what": what, "mrr": {}, "alternatives": compared}, text)
    print(text)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
