"""Calibrated fusion (search/fusion.py): fitted weights recover a known temperature, a part
that ranks at chance is flattened, and a fusion is not worse than its best part on held-out
imitations, where the paper's product of likelihoods is."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.search import fusion
from vocalsearch_tf.search.scorers import Scorer

CANDIDATES, QUERIES = 30, 600


def mrr(rows, targets) -> float:
    # pessimistic ties: every candidate scoring as high as the target counts before it
    return metrics.mean_reciprocal_rank([int((row >= row[t]).sum()) for row, t in zip(rows, targets)])


def informative(rng, strength, n=QUERIES):
    """Evidence rows where the target stands out by `strength` (in noise units), and targets."""
    targets = rng.integers(0, CANDIDATES, n)
    rows = rng.normal(size=(n, CANDIDATES))
    rows[np.arange(n), targets] += strength
    return list(rows), list(targets)


def test_the_fitted_inverse_temperature_is_the_one_the_targets_were_drawn_with():
    rng = np.random.default_rng(0)
    beta = 2.5
    evidence = rng.normal(size=(4000, CANDIDATES))
    targets = [rng.choice(CANDIDATES, p=softmax(beta * row)) for row in evidence]
    assert fusion.fit_inverse_temperature(list(evidence), targets) == pytest.approx(beta, rel=0.08)
    # and the same on another scale: a temperature is a property of the model, not of its units
    assert fusion.fit_inverse_temperature(list(100 * evidence), targets) == pytest.approx(beta / 100, rel=0.08)


def test_a_part_that_ranks_at_chance_gets_a_weight_near_zero():
    rng = np.random.default_rng(1)
    rows, targets = informative(rng, 0.0)
    spread = np.median([row.std() for row in rows])
    assert fusion.fit_inverse_temperature(rows, targets) * spread < 0.1


def test_calibrated_fusion_is_not_worse_than_its_best_part_where_the_product_is():
    """An informative, low-confidence part (as IMISOUND's cosine softmax) fused with an
    overconfident chance-level one (as a sigmoid network that learnt nothing that carries):
    weights fitted on a tuning half, measured on the other half."""
    rng = np.random.default_rng(2)
    rows, targets = informative(rng, 1.5, 2 * QUERIES)
    noise = [8.0 * rng.normal(size=CANDIDATES) for _ in targets]  # confident logits, no information
    cosine = [np.tanh(0.3 * r) for r in rows]  # bounded like a cosine
    tune, confirm = slice(0, QUERIES), slice(QUERIES, None)
    betas = fusion.fit_weights([cosine[tune], noise[tune]], targets[tune])
    fused = [fusion.calibrated_posterior([c, n], betas) for c, n in zip(cosine[confirm], noise[confirm])]
    best_part = mrr(cosine[confirm], targets[confirm])
    assert mrr(fused, targets[confirm]) >= best_part - 0.01
    product = [softmax(c - 1.0) * expit(n) for c, n in zip(cosine[confirm], noise[confirm])]  # TASLP eq. 4
    assert mrr(product, targets[confirm]) < best_part - 0.05


def test_two_informative_independent_parts_fuse_better_than_either():
    rng = np.random.default_rng(3)
    targets = list(rng.integers(0, CANDIDATES, 2 * QUERIES))
    parts = []
    for strength, scale in ((1.2, 1.0), (1.0, 40.0)):
        rows = rng.normal(size=(len(targets), CANDIDATES))
        rows[np.arange(len(targets)), targets] += strength
        parts.append(list(scale * rows))
    tune, confirm = slice(0, QUERIES), slice(QUERIES, None)
    betas = fusion.fit_weights([p[tune] for p in parts], targets[tune])
    fused = [fusion.calibrated_posterior([a, b], betas) for a, b in zip(parts[0][confirm], parts[1][confirm])]
    assert mrr(fused, targets[confirm]) > max(mrr(p[confirm], targets[confirm]) for p in parts) + 0.02


def test_with_groups_every_group_weighs_the_same_as_if_the_small_one_were_repeated():
    """Group weights 1/size: one query of group 'drums' counts as much as the three of 'fonts',
    exactly as the unweighted fit of the same data with the drums query written three times."""
    rng = np.random.default_rng(4)
    rows, targets = informative(rng, 1.0, 40)
    other, _ = informative(rng, 0.5, 40)
    groups = ["drums"] * 10 + ["fonts"] * 30
    weighted = fusion.fit_weights([rows, other], targets, groups)
    repeated = [q for q in range(10) for _ in range(3)] + list(range(10, 40))
    unweighted = fusion.fit_weights([[rows[q] for q in repeated], [other[q] for q in repeated]],
                                    [targets[q] for q in repeated])
    assert weighted == pytest.approx(unweighted, rel=1e-3, abs=1e-6)  # two optimiser runs: their tolerance
    assert weighted != pytest.approx(fusion.fit_weights([rows, other], targets), rel=2e-2)  # 8 % apart
    assert fusion.group_weights(None, 3).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="2 group labels for 40 targets"):
        fusion.fit_weights([rows], targets, ["a", "b"])


class Fixed(Scorer):
    """A part whose evidence is its score doubled and whose likelihood is its score."""

    def __init__(self, key, beta=None):
        self.name = self.key = self.fingerprint = self.description = self.trained_on = key
        self.synthetic, self.inverse_temperature = False, beta

    def evidence(self, best):
        return 2.0 * np.asarray(best, np.float64)


def test_a_fusion_is_calibrated_only_when_every_part_has_a_weight():
    a, b = np.array([0.2, 0.9, 0.5]), np.array([0.7, 0.1, 0.4])
    calibrated = fusion.Fusion([Fixed("a", 1.0), Fixed("b", 3.0)])
    assert calibrated.calibrated and "calibrated" in calibrated.description
    np.testing.assert_allclose(calibrated.combine([a, b]), softmax(2 * a + 6 * b))
    product = fusion.Fusion([Fixed("a", 1.0), Fixed("b")])
    assert not product.calibrated and "not calibrated" in product.description
    np.testing.assert_allclose(product.combine([a, b]), a * b)
    joint = fusion.Fusion([Fixed("a"), Fixed("b")], betas=[0.5, 0.0])  # a fusion's own weights
    np.testing.assert_allclose(joint.combine([a, b]), softmax(a))


def test_an_ensemble_ranks_by_its_members_mean_evidence_at_its_own_temperature():
    a, b = np.array([0.2, 0.9, 0.5]), np.array([0.7, 0.1, 0.4])
    ensemble = fusion.Ensemble([Fixed("seed1"), Fixed("seed3")], name="iminet", description="two seeds",
                               trained_on="test", inverse_temperature=3.0)
    np.testing.assert_allclose(ensemble.mean_evidence([a, b]), a + b)  # evidence is 2 x the score
    np.testing.assert_allclose(ensemble.combine([a, b]), softmax(3.0 * (a + b)))
    assert [c.inverse_temperature for c in ensemble.components] == [1.5, 1.5]
    assert ensemble.shares == [0.5, 0.5] and ensemble.description == "two seeds"


def test_an_ensemble_in_a_fusion_counts_as_one_model_split_over_its_members():
    a, b, c = np.array([0.2, 0.9, 0.5]), np.array([0.7, 0.1, 0.4]), np.array([0.3, 0.3, 0.6])
    members = [Fixed("seed1"), Fixed("seed3")]
    ensemble = fusion.Ensemble(members, name="iminet", description="two seeds", trained_on="test")
    product = fusion.Fusion([ensemble, Fixed("imisound")])  # no weights: the paper's product
    assert product.shares == [0.5, 0.5, 1.0] and not product.calibrated
    np.testing.assert_allclose(product.combine([a, b, c]), np.sqrt(a * b) * c)
    weighted = fusion.Fusion([ensemble, Fixed("imisound")], betas=[0.5 * 4.0, 0.5 * 4.0, 1.0])
    np.testing.assert_allclose(weighted.combine([a, b, c]), softmax(4.0 * ensemble.mean_evidence([a, b]) + 2 * c))
    with pytest.raises(Exception, match="itself"):
        fusion.Fusion([ensemble, Fixed("seed1")])


def test_rank_agreement_is_spearmans_per_row_and_zero_for_a_constant_row():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(5, 40))
    b[0] = a[0] + 0.1 * b[0]
    expected = [stats.spearmanr(x, y).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(fusion.rank_agreement(a, b), expected)
    assert fusion.rank_agreement(a[0], -a[0]) == pytest.approx(-1.0)
    assert fusion.rank_agreement(a[0], np.ones(40)) == 0.0


def test_the_guard_opens_beyond_what_unrelated_rankings_reach_by_chance():
    from vocalsearch_tf.search.config import GUARD

    # 150 sounds: unrelated rankings agree with sd 1/sqrt(149); full trust from z of them plus the width
    low = GUARD.z / np.sqrt(149)
    np.testing.assert_allclose(fusion.guard_gate(np.array([0.0, low, low + GUARD.width / 2, 0.9, -0.9, -low]), 150),
                               [0.0, 0.0, 0.5, 1.0, 1.0, 0.0])  # related either way: not a ranking at chance
    # however large the library, faint agreement is not trust
    assert fusion.guard_gate(np.array(GUARD.floor), 10**6) == 0.0
    assert fusion.guard_gate(np.array(0.9), 2) == 0.0  # two sounds: no ranking to agree on


def test_a_guarded_learned_part_drops_out_at_chance_and_counts_where_it_agrees():
    """The failure the guard is for: a confident learned part that ranks at chance drowns a
    training-free part in a plain calibrated fusion; guarded, it drops out."""
    rng = np.random.default_rng(1)
    rows, targets = informative(rng, 2.0, n=400)
    training_free = np.stack(rows)
    at_chance = 20 * rng.normal(size=training_free.shape)
    carries = training_free + 0.5 * rng.normal(size=training_free.shape)  # right, and agreeing with it
    carries[np.arange(400), targets] += 2.0
    plain = mrr(list(at_chance + training_free), targets)
    guarded = mrr(list(fusion.guarded_logits(at_chance, training_free)), targets)
    assert plain < mrr(rows, targets) - 0.4
    assert guarded == pytest.approx(mrr(rows, targets), abs=0.03)  # a chance part passes by chance ~2.5 % of the time
    np.testing.assert_allclose(fusion.guarded_logits(carries, training_free), carries + training_free)
    assert mrr(list(carries + training_free), targets) > mrr(rows, targets)


def test_a_guarded_fusion_applies_the_guard_to_its_flagged_parts_only():
    rng = np.random.default_rng(2)
    learned, free = rng.normal(size=50), rng.normal(size=50)
    guarded = fusion.Fusion([Fixed("iminet"), Fixed("cqt")], betas=[1.0, 1.0], guarded=[True, False])
    assert "guarded" in guarded.description and guarded.guarded == [True, False]
    # unrelated: the learned part is left out; evidence is 2 x the score
    np.testing.assert_allclose(guarded.combine([learned, free]),
                               softmax(fusion.guarded_logits(2 * learned, 2 * free)))
    np.testing.assert_allclose(guarded.combine([learned, free]), softmax(2 * free))
    plain = fusion.Fusion([Fixed("iminet"), Fixed("cqt")], betas=[1.0, 1.0])
    np.testing.assert_allclose(plain.combine([learned, free]), softmax(2 * learned + 2 * free))
    members = fusion.Ensemble([Fixed("seed1"), Fixed("seed3")], name="iminet", description="two seeds", trained_on="t")
    assert fusion.Fusion([members, Fixed("cqt")], betas=[0.5, 0.5, 1.0], guarded=[True, False]).guarded == [True, True, False]


def probe_bank_query(rng, carries: bool, library=10, bank=226):
    """A query's training-free evidence over a small library and a bank of recordings, and a
    learned part that either follows it loosely (Spearman about .5) or ranks at chance."""
    free = rng.normal(size=library + bank)
    learned = free + 1.5 * rng.normal(size=library + bank) if carries else rng.normal(size=library + bank)
    return learned, free


def test_with_a_probe_bank_the_guard_keeps_a_learned_part_that_carries_on_a_small_library():
    """10 sounds: agreement needs |Spearman| > .67 there, so the guard shuts out a part that
    carries; over the library and a 226-recording bank it keeps it and still drops one at chance."""
    rng = np.random.default_rng(3)
    kept = {True: [], False: []}
    for carries in (True, False) * 100:
        learned, free = probe_bank_query(rng, carries)
        lib = slice(0, 10)
        on = fusion.probe_agreement_on([learned[lib], free[lib]], [learned[10:], free[10:]], [True, False])
        np.testing.assert_allclose(on[0], learned)
        np.testing.assert_allclose(on[1], free)
        with_bank = fusion.guarded_logits(learned[lib], free[lib], agreement_on=on)
        library_only = fusion.guarded_logits(learned[lib], free[lib])
        kept[carries].append((np.allclose(with_bank, learned[lib] + free[lib]), np.allclose(library_only, free[lib])))
    carrying, at_chance = np.mean(kept[True], axis=0), np.mean(kept[False], axis=0)
    assert carrying[0] > 0.9 and carrying[1] > 0.5  # the bank keeps it; the library alone mostly drops it
    assert at_chance[0] < 0.1  # at chance it drops out with the bank as without


def test_the_bank_is_used_only_where_it_holds_every_guarded_part_and_another():
    lib, bank = [np.ones(3), np.zeros(3), np.ones(3)], [np.ones(5), None, np.zeros(5)]
    learned, others = fusion.probe_agreement_on(lib, bank, [True, False, False])
    assert learned.shape == others.shape == (8,)  # the third part, the one the bank holds, is the reference
    assert fusion.probe_agreement_on(lib, [None, np.ones(5), np.ones(5)], [True, False, False]) is None
    assert fusion.probe_agreement_on(lib, [np.ones(5), None, None], [True, False, False]) is None
    rows = fusion.probe_agreement_on([np.ones((4, 3))] * 2, [np.ones((4, 5))] * 2, [True, False])
    assert rows[0].shape == (4, 8)  # (queries, sounds + bank) for a check's matrices


def test_a_guarded_fusion_tests_its_guard_on_the_bank_of_its_own_weights():
    rng = np.random.default_rng(4)
    learned, free = probe_bank_query(rng, carries=True)
    vectors = {"iminet": ("iminet", np.zeros((226, 2), np.float32)), "cqt": ("old weights", np.zeros((226, 2), np.float32))}
    guarded = fusion.Fusion([Fixed("iminet"), Fixed("cqt")], betas=[1.0, 1.0], guarded=[True, False], probe=vectors)
    assert guarded.probe[0] is not None and guarded.probe[1] is None  # cqt's vectors were made by other weights
    assert fusion.Fusion([Fixed("iminet"), Fixed("cqt")], betas=[1.0, 1.0], guarded=[True, False]).probe_evidence([0, 0]) is None
    probe = [learned[10:], free[10:]]  # Fixed's evidence: 2 x the score, over the bank as over the library
    expected = fusion.guarded_logits(2 * learned[:10], 2 * free[:10], agreement_on=(2 * learned, 2 * free))
    np.testing.assert_allclose(guarded.combine([learned[:10], free[:10]], [2 * p for p in probe]), softmax(expected))
    assert not np.allclose(softmax(expected), softmax(2 * free[:10]))  # the bank kept the learned part here
