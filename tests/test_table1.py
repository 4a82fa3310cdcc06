"""IMISOUND pieces, eq. 3 fusion, and Table I assembly from saved runs."""

import numpy as np
import pytest
import soundfile as sf
from scipy import stats

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.evaluation import scoring
from vocalsearch_tf.evaluation.scoring import CategoryScores
from vocalsearch_tf.experiments import table1
from vocalsearch_tf.models import imisound
from vocalsearch_tf.training.imisound import Imisound


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
    model = Imisound(params).fit(specs, seed=0)
    loss = model.history["loss"]
    assert loss[-1] < 0.7 * loss[0]
    assert model.embed(specs[:3]).shape == (3, 12 * 32)
    full = imisound.build_autoencoder(1440)[1]
    assert full.output.shape[-1] == 600  # 600 codes -> 1200 with deltas -> 7200 statistics


def assert_same_cqt(a: np.ndarray, b: np.ndarray):
    """Two log-CQT arrays, `log(|CQT| + offset)`, equal up to float32 rounding on any processor.

    A batched, zero-padded transform and a single-clip one may take different float32
    kernels (oneDNN picks them per processor), so |CQT| differs by rounding: each bin sums
    a few thousand products, an error of order 1e-7 times the clip's peak magnitude per
    term, far below 1e-5 of the peak. In the log domain that error is divided by
    |CQT| + offset, up to 1e4 times near the floor, so the comparison is made on |CQT|
    itself, against the clip's peak. Padding that leaked into a clip's own frames changes
    them by a large part of the peak, and fails it.
    """
    offset = IMINET_CQT.log_offset
    magnitude_a, magnitude_b = np.exp(a) - offset, np.exp(b) - offset
    np.testing.assert_allclose(magnitude_a, magnitude_b, rtol=0, atol=1e-5 * np.abs(magnitude_b).max())


def test_a_short_clips_statistics_come_from_its_own_frames_only(tmp_path):
    from vocalsearch_tf.config import IMINET_CQT
    from vocalsearch_tf.signal import spectra
    from vocalsearch_tf.signal.features import ConstantQ

    rng = np.random.default_rng(0)
    t = np.arange(16_000) / 16_000
    short = (0.3 * np.sin(2 * np.pi * 440 * t[:12_000]) * np.linspace(1, 0.2, 12_000)).astype(np.float32)  # 0.75 s
    long = (0.2 * rng.standard_normal(80_000)).astype(np.float32)  # 5 s: longer than IMINET's 3.36 s
    for name, clip in (("short", short), ("long", long)):
        sf.write(tmp_path / f"{name}.wav", clip, 16_000, subtype="FLOAT")
    layer = ConstantQ(IMINET_CQT)
    whole = spectra.full_length_spectrograms([tmp_path / "short.wav", tmp_path / "long.wav"], layer, batch=2)
    own = np.asarray(layer.full_length(short[None]))[0, ..., 0]  # the short clip alone, unpadded
    assert whole[0].shape == own.shape
    assert_same_cqt(whole[0], own)
    assert whole[0].shape[1] == 1 + (12_000 - 1) // 420 < IMINET_CQT.n_frames
    assert whole[1].shape[1] == 1 + (80_000 - 1) // 420 > IMINET_CQT.n_frames
    assert_same_cqt(imisound.patches(whole[0]), imisound.patches(own))

    model = Imisound(imisound.ImisoundParams(hidden=(16, 8), epochs=1, batch_size=8)).fit(whole, seed=0)
    codes = model.encoder((imisound.patches(whole[0]) - model.mean) / model.scale).numpy()
    np.testing.assert_allclose(model.embed([whole[0]])[0], imisound.clip_statistics(codes), rtol=1e-5, atol=1e-6)
    fixed = np.asarray(layer(short[None]))[0]  # IMINET's fixed 129 frames, padded with silence
    assert not np.allclose(model.embed([fixed])[0], model.embed([whole[0]])[0])


def test_a_clip_shorter_than_one_patch_repeats_its_own_frames():
    spec = np.arange(72 * 7, dtype=float).reshape(72, 7)
    p = imisound.patches(spec)
    assert p.shape == (1, 72 * 20)
    assert set(np.unique(p)) == set(np.unique(spec))


def test_fused_imisound_likelihood_sums_to_one_over_the_whole_test_library():
    import pandas as pd

    from vocalsearch_tf.experiments.taslp import Spectrograms, imisound_scores

    rng = np.random.default_rng(1)
    sounds = pd.DataFrame({"sound_id": range(6), "category": ["acoustic instruments"] * 3 + ["everyday sounds"] * 3})
    queries = pd.DataFrame({"imitation_id": [10, 11, 12], "sound_id": [0, 4, 5],
                            "category": ["acoustic instruments", "everyday sounds", "everyday sounds"]})
    specs = Spectrograms([rng.standard_normal((72, n)) for n in (30, 50, 40, 25, 60, 45)],
                         [rng.standard_normal((72, n)) for n in (35, 28, 70)],
                         {k: k for k in range(6)}, {10: 0, 11: 1, 12: 2})
    model = Imisound(imisound.ImisoundParams(hidden=(16, 8), epochs=1, batch_size=8)).fit(specs.imitations)
    library, scores = imisound_scores(model, sounds, queries, specs)
    assert library.shape == (3, 6)  # every test sound, of both categories
    np.testing.assert_allclose(np.exp(library).sum(axis=1), 1.0)
    np.testing.assert_array_equal(scores["AI"].scores, library[[0]][:, [0, 1, 2]])
    np.testing.assert_array_equal(scores["ED"].scores, library[[1, 2]][:, [3, 4, 5]])
    assert np.exp(scores["ED"].scores).sum(axis=1).max() < 1.0  # a category is part of the library


def test_imisound_likelihood_is_a_softmax_of_minus_the_cosine_distance():
    similarity = np.array([[1.0, 0.0, 0.5]])
    expected = np.exp([0.0, -1.0, -0.5]) / np.exp([0.0, -1.0, -0.5]).sum()
    np.testing.assert_allclose(scoring.likelihood(similarity), [expected])
    np.testing.assert_allclose(scoring.likelihood(similarity).sum(axis=1), 1.0)


def write_runs(folder, runs):
    """Runs of likelihoods, saved as the log-likelihoods `CategoryScores` hold."""
    folder.mkdir(parents=True)
    for k, scores in enumerate(runs):
        scoring.save_scores(folder / f"scores_{k:02d}.npz",
                               {"AI": CategoryScores(np.log(scores), np.array([0, 1]), np.array([10, 11]), np.array([1, 2]))})


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
