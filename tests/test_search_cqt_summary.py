"""The CQT-summary search model (`scorers.CqtSummaryScorer`): the development check's
baseline as a searchable model with fixed statistics of real recordings, and the built-in
fusion that includes it (a part weighted 0 left out)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.evaluation import baselines
from vocalsearch_tf.search import models, train_default
from vocalsearch_tf.search.config import ModelLoadError
from vocalsearch_tf.search.scorers import CqtSummaryScorer, save_cqt_summary


def tones(rng, n):
    """`n` 4 s clips at 16 kHz: decaying tones of random pitch in noise."""
    t = np.arange(IMINET_CQT.clip_samples) / IMINET_CQT.sample_rate
    return np.stack([(np.sin(2 * np.pi * rng.uniform(100, 2000) * t) * np.exp(-t * rng.uniform(0.5, 4))
                      + rng.normal(0, 0.02, len(t))).astype(np.float32) for _ in range(n)])


def test_with_the_candidates_own_statistics_it_scores_as_the_baseline_does(tmp_path):
    rng = np.random.default_rng(0)
    candidates, queries = tones(rng, 6), tones(rng, 3)
    features = baselines.cqt_summary(candidates)
    scorer = CqtSummaryScorer(save_cqt_summary(features, tmp_path / "stats.npz", trained_on="six tones"))
    vectors = scorer.candidate_vectors(candidates)
    found = np.stack([scorer.window_scores(scorer.query_vector(q), vectors) for q in queries])
    expected = baselines.summary_scores(baselines.cqt_summary(queries), features)
    np.testing.assert_allclose(found, expected, atol=2e-5)
    assert scorer.dim == 2 * IMINET_CQT.n_bins and not scorer.synthetic and scorer.trained_on == "six tones"


def test_statistics_that_cannot_standardise_are_refused_and_a_bad_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="finite"):
        save_cqt_summary(np.full((4, 8), np.nan), tmp_path / "nan.npz", trained_on="x")
    with pytest.raises(ValueError, match="clips >= 2"):
        save_cqt_summary(np.ones((1, 8)), tmp_path / "one.npz", trained_on="x")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="broken.npz"):
        CqtSummaryScorer(broken)


def test_its_statistics_are_fitted_on_the_real_reference_recordings(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "real" / "sound_recordings"
    folder.mkdir(parents=True)
    clips = tones(rng, 4)
    for k, clip in enumerate(clips):
        sf.write(folder / f"sound{k}.wav", clip, IMINET_CQT.sample_rate, subtype="FLOAT")
    path = train_default.fit_cqt_summary(tmp_path / "real", tmp_path / "cqt_summary.npz")
    with np.load(path) as stats:
        features = baselines.cqt_summary(clips)
        np.testing.assert_allclose(stats["mean"], features.mean(axis=0), rtol=1e-4, atol=1e-4)
        assert "4 real recordings" in str(stats["trained_on"])
    with pytest.raises(FileNotFoundError, match="make real-references"):
        train_default.fit_cqt_summary(tmp_path / "nowhere")


def test_a_statistics_file_given_by_path_loads_as_a_cqt_summary_and_imisound_s_as_imisound(tmp_path):
    path = save_cqt_summary(np.random.default_rng(2).normal(size=(5, 144)), tmp_path / "mine.npz", trained_on="five")
    assert isinstance(models.resolve(str(path)), CqtSummaryScorer)
    assert not isinstance(models.resolve(str(models.IMISOUND_FILE)), CqtSummaryScorer)


def test_the_shipped_model_is_listed_with_what_it_learnt_from():
    scorer = models.resolve("cqt-summary")
    assert isinstance(scorer, CqtSummaryScorer) and scorer.key == "cqt-summary-shipped"
    assert "real recordings" in scorer.trained_on and not scorer.synthetic
    entries = {entry.name: entry for entry in models.available_models()}
    assert not entries["cqt-summary"].synthetic  # the list does not call it trained on the embedded data
    assert entries["iminet"].synthetic and entries["fusion"].synthetic


def test_the_fusion_leaves_out_a_part_its_fit_weighted_zero(tmp_path, monkeypatch):
    measured = json.loads(models.MEASURED.read_text())
    measured["fusion_weights"] = {"iminet": 1.0, "imisound": 0.0, "cqt-summary": 2.0}
    monkeypatch.setattr(models, "MEASURED", tmp_path / "measured.json")
    models.MEASURED.write_text(json.dumps(measured))
    fused = models.resolve("fusion")
    members = len(models.iminet_members())
    assert [part.key for part in fused.components][-1] == "cqt-summary-shipped"
    assert len(fused.components) == members + 1 and "imisound-shipped" not in {p.key for p in fused.components}
    assert fused.betas == pytest.approx([1.0 / members] * members + [2.0])


def test_the_guarded_fusion_is_the_fusion_with_its_iminet_guarded():
    fused, guarded = models.resolve("fusion"), models.resolve("fusion-guarded")
    assert [c.key for c in guarded.components] == [c.key for c in fused.components]
    assert guarded.betas == fused.betas and not any(fused.guarded)
    assert guarded.guarded == [c.key.startswith("iminet") for c in guarded.components]
    assert guarded.name == "fusion-guarded" and "guarded" in guarded.description
    assert "fusion-guarded" in {entry.name for entry in models.available_models()}
