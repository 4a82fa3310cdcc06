"""IMISOUND pieces, eq. 3 fusion, and Table I assembly from saved runs."""

import numpy as np
import pytest
from scipy import stats

from vocalsearch_tf import evaluation, table1
from vocalsearch_tf.evaluation import CategoryScores
from vocalsearch_tf.models import imisound


def test_patches_are_525_ms_with_half_overlap():
    spec = np.arange(72 * 129, dtype=float).reshape(72, 129)
    p = imisound.patches(spec)
    assert p.shape == (11, 72 * 20)  # starts 0, 10, ..., 100
    np.testing.assert_array_equal(p[1].reshape(72, 20), spec[:, 10:30])


def test_clip_statistics_on_a_known_input():
    codes = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    # delta (np.gradient): column 0 -> [2, 2, 2]; column 1 -> [2, 2.5, 3]
    s = imisound.clip_statistics(codes).reshape(6, 4)  # max, min, mean, median, std, iqr
    np.testing.assert_allclose(s[0], [5, 7, 2, 3])
    np.testing.assert_allclose(s[1], [1, 2, 2, 2])
    np.testing.assert_allclose(s[2], [3, 13 / 3, 2, 2.5])
    np.testing.assert_allclose(s[3], [3, 4, 2, 2.5])
    np.testing.assert_allclose(s[4], [np.std([1, 3, 5]), np.std([2, 4, 7]), 0, np.std([2, 2.5, 3])])
    np.testing.assert_allclose(s[5], [stats.iqr([1, 3, 5]), stats.iqr([2, 4, 7]), 0, stats.iqr([2, 2.5, 3])])
    assert imisound.clip_statistics(np.zeros((11, 600))).shape == (7200,)


def test_sae_reconstruction_loss_decreases_and_clips_become_7200_values():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((72, 1))
    specs = np.stack([base * rng.uniform(0.5, 1.5) + 0.1 * rng.standard_normal((72, 129)) for _ in range(12)])[..., None]
    params = imisound.ImisoundParams(hidden=(64, 32), epochs=15, batch_size=32)
    model = imisound.Imisound(params).fit(specs, seed=0)
    loss = model.history["loss"]
    assert loss[-1] < 0.7 * loss[0]
    assert model.embed(specs[:3]).shape == (3, 12 * 32)
    full = imisound.build_autoencoder(1440)[1]
    assert full.output.shape[-1] == 600  # 600 codes -> 1200 with deltas -> 7200 statistics


def test_imisound_likelihood_is_a_softmax_of_minus_the_cosine_distance():
    similarity = np.array([[1.0, 0.0, 0.5]])
    expected = np.exp([0.0, -1.0, -0.5]) / np.exp([0.0, -1.0, -0.5]).sum()
    np.testing.assert_allclose(imisound.likelihood(similarity), [expected])
    np.testing.assert_allclose(imisound.likelihood(similarity).sum(axis=1), 1.0)


def write_runs(folder, runs):
    folder.mkdir(parents=True)
    for k, scores in enumerate(runs):
        evaluation.save_scores(folder / f"scores_{k:02d}.npz",
                               {"AI": CategoryScores(np.array(scores), np.array([0, 1]), np.array([10, 11]), np.array([1, 2]))})


def test_table_i_assembly_from_saved_runs(tmp_path):
    # two queries, two candidates; targets are candidate 0 for query 0 and 1 for query 1
    write_runs(tmp_path / "imisound", [[[0.6, 0.4], [0.6, 0.4]], [[0.6, 0.4], [0.3, 0.7]]])  # MRR .75, 1
    write_runs(tmp_path / "iminet" / "tied", [[[0.2, 0.9], [0.1, 0.8]], [[0.9, 0.2], [0.1, 0.8]]])  # .75, 1
    write_runs(tmp_path / "iminet" / "untied", [[[0.9, 0.1], [0.9, 0.1]]])  # one run only: MRR .75
    long = table1.assemble(tmp_path)
    mrr = long.groupby("configuration").mrr.apply(list).to_dict()
    assert mrr["IMISOUND"] == [0.75, 1.0] and mrr["Tied"] == [0.75, 1.0] and mrr["Untied"] == [0.75]
    # run 0 fused: [[.12, .36], [.06, .32]] -> ranks 2, 1; run 1: [[.54, .08], [.03, .56]] -> 1, 1
    assert mrr["Tied + IMISOUND"] == [0.75, 1.0]
    assert mrr["Untied + IMISOUND"] == [0.75]  # only the runs both systems have
    assert "Partial" not in mrr and "Untied + Partial + Tied" not in mrr  # a missing system: no row

    table = table1.formatted(long).set_index("configuration")
    assert table.loc["IMISOUND", "AI"] == "**0.875 ± 0.177**"
    assert table.loc["Untied", "AI"] == "0.750 (1 run)"
    assert table.loc["Tied", "AI"] == "**0.875 ± 0.177**"  # best of its block
    assert table.loc["Tied", "AI (paper)"] == "0.401 ± 0.028"

    p = table1.significance(long)
    assert p.loc["Tied vs IMISOUND", "AI"] == pytest.approx(1.0)
    assert np.isnan(p.loc["Untied + IMISOUND vs Untied", "AI"])  # one run a side: no test
    findings = dict(table1.findings(long))
    assert findings["IMINET (tied) outperforms IMISOUND"] == "0 of 1 categories"
