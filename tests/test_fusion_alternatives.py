"""The built-in fusion's likelihood fit against rank fusion and MRR-chosen weights
(search/fusion_alternatives.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_development_check import hand_made_check, scores_where
from vocalsearch_tf.search import fusion_alternatives


def test_rank_scores_rank_each_imitation_among_the_sounds_it_ranks_only():
    check = hand_made_check(per_cell=3)
    matrix = np.random.default_rng(0).normal(size=(len(check.imitations), len(check.sounds)))
    ranked = fusion_alternatives.rank_scores(check, matrix, k=60)
    first = check.imitations.iloc[0]
    own = ((check.sounds.part == first.part) & (check.sounds.category == first.category)).to_numpy()
    row = ranked[0, own]
    assert sorted(row) == pytest.approx(sorted(1 / (60 + np.arange(1, own.sum() + 1))))
    assert np.argmax(row) == np.argmax(matrix[0, own])
    assert np.isnan(ranked[0, ~own]).all()


def test_weights_chosen_for_the_tuning_mrr_drop_a_part_that_only_adds_noise():
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    matrices = {"iminet": scores_where(check, rows[rows % 3 != 0], seed=1),
                "imisound": np.random.default_rng(2).normal(0, 20, (len(rows), len(check.sounds)))}
    best = fusion_alternatives.mrr_fit(check, matrices, {"iminet": 1.0, "imisound": 1.0})
    assert best == {"iminet": 1.0, "imisound": 0.0}
    compared = fusion_alternatives.compare(check, matrices, {"iminet": 1.0, "imisound": 1.0})
    fit, chosen = compared["likelihood fit (the built-in)"], compared["weights for the tuning MRR (1.00 / 0.00)"]
    assert fit["tuning"]["minus_fit"]["difference"] == 0.0
    assert chosen["tuning"]["mrr"] > fit["tuning"]["mrr"] and chosen["tuning"]["mrr"] == compared["iminet alone"]["tuning"]["mrr"]
    assert "reciprocal-rank fusion" in fusion_alternatives.table(compared)
