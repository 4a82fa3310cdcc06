"""Notebook 10's package code: a random dual encoder's batch norms calibrated on data; the table of
today's systems beside notebook 05's runs and a random ranking; findings computed from it; notebook
09's folds read only when they are these folds; the retrieval example's ranks, ties against."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.experiments import field_table, field_today, vimsketch
from vocalsearch_tf.experiments.taslp import Split
from vocalsearch_tf.models import dual_encoder


def tiny_split() -> Split:
    """Two test sounds in AI, three in ED; two test imitations of each; one training sound."""
    sounds = pd.DataFrame({"sound_id": [1, 2, 3, 4, 5, 6], "label": list("abcdef"),
                           "category": ["acoustic instruments"] * 2 + ["everyday sounds"] * 3 + ["everyday sounds"],
                           "split": ["test"] * 5 + ["train"], "path": [f"{k}.wav" for k in range(6)]})
    sound_of = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    category = dict(zip(sounds.sound_id, sounds.category))
    imitations = pd.DataFrame({"imitation_id": np.arange(100, 111), "sound_id": sound_of,
                               "category": [category[s] for s in sound_of], "role": ["test"] * 10 + ["train"],
                               "path": [f"i{k}.wav" for k in range(11)]})
    return Split(sounds, imitations, {})


def our_record(run: int, ai: float, ed: float, mrr: float) -> dict:
    return {"run": run, "mrr": {"AI": ai, "ED": ed},
            "qvim": {"mrr": mrr, "ndcg": 0.5, "recall@1": 0.1, "recall@5": 0.6, "recall@10": 1.0}}


@pytest.fixture
def results(tmp_path):
    rows = [("Baseline", "IMISOUND", 0, "AI", 0.6), ("Baseline", "IMISOUND", 0, "ED", 0.4),
            ("IMINET", "Tied", 0, "AI", 0.8), ("IMINET", "Tied", 0, "ED", 0.5),
            ("IMINET", "Tied", 1, "AI", 0.7), ("IMINET", "Tied", 1, "ED", 0.6),
            ("IMINET", "Untied", 0, "AI", 0.1), ("IMINET", "Untied", 0, "ED", 0.1)]
    pd.DataFrame(rows, columns=["block", "configuration", "run", "category", "mrr"]).to_csv(
        tmp_path / "table1_runs.csv", index=False)
    return tmp_path


def test_a_random_towers_batch_norms_take_the_statistics_of_their_inputs():
    keras.utils.set_random_seed(0)
    model = dual_encoder.build_dual_encoder(params=dual_encoder.DualEncoderParams(frozen_blocks=3))
    x = np.random.default_rng(0).uniform(0, 0.7, (16, 96, 100, 1)).astype("float32")
    field_today.calibrate_batch_norms(model, x, x[::-1])
    for side in dual_encoder.SIDES:
        network = dual_encoder.tower(model, side).get_layer("aisfx_network")
        conv = np.asarray(network.get_layer("conv_block1_conv1")(x))
        norm = network.get_layer("conv_block1_bn1")
        np.testing.assert_allclose(norm.moving_mean, conv.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(norm.moving_variance, conv.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-7)
        assert not norm.trainable and norm.momentum == pytest.approx(0.9)  # frozen again, as built


def test_the_table_puts_ours_beside_notebook_05s_runs_and_a_random_ranking(results):
    split = tiny_split()
    ours = {field_today.PRETRAINED: [our_record(0, 0.9, 0.5, 0.6), our_record(1, 0.7, 0.7, 0.4)]}
    long = field_table.long_table(ours, field_table.taslp_runs(results), split)
    table = field_table.formatted(long).set_index("system")
    assert list(table.index) == [field_table.CHANCE, "IMISOUND", "IMINET tied", field_today.PRETRAINED]
    assert table.loc["IMINET tied", "AI"] == f"0.750 ± {np.std([0.8, 0.7], ddof=1):.3f}"
    assert table.loc["IMINET tied", "mean"] == f"0.650 ± {np.std([0.65, 0.65], ddof=1):.3f}"
    assert table.loc["IMISOUND", "QVIM MRR"] == "—" and table.loc["IMISOUND", "runs"] == 1
    assert table.loc[field_today.PRETRAINED, "QVIM MRR"] == f"0.500 ± {np.std([0.6, 0.4], ddof=1):.3f}"
    assert table.loc[field_table.CHANCE, "AI"] == f"{metrics.chance_mrr(2):.3f}"
    assert table.loc[field_table.CHANCE, "ED"] == f"{metrics.chance_mrr(3):.3f}"
    assert table.loc[field_table.CHANCE, "QVIM MRR"] == f"{metrics.chance_mrr(5):.3f}"


def test_findings_are_computed_from_the_table(results):
    split = tiny_split()
    ours = {field_today.FROZEN: [our_record(0, 0.7, 0.6, 0.3)], field_today.PRETRAINED: [our_record(0, 0.9, 0.5, 0.6)],
            field_today.RANDOM: [our_record(0, 0.5, 0.5, 0.2)]}
    lines = field_table.findings(field_table.long_table(ours, field_table.taslp_runs(results), split), synthetic=True)
    assert lines[0].startswith(f"best system by TASLP MRR (mean over categories): **{field_today.PRETRAINED}** (0.700")
    assert any("random initialisation" in line and "+0.200 TASLP MRR" in line and "higher in 1 of 2" in line
               and "QVIM MRR +0.400" in line for line in lines)
    assert any("aisfx frozen against IMISOUND: +0.150" in line for line in lines)
    assert any(f"against IMINET tied: {0.7 - 0.65:+.3f}" in line for line in lines)
    assert "embedded synthetic data" in lines[-1]


def test_notebook_05_must_have_run_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="05_table1"):
        field_table.taslp_runs(tmp_path)


def coarse_folds() -> list:
    sounds = pd.DataFrame({"sound_id": np.arange(20), "group": ["x"] * 20})
    imitations = pd.DataFrame({"imitation_id": np.arange(100, 160), "sound_id": np.repeat(np.arange(20), 3)})
    return vimsketch.make_folds(sounds, imitations, vimsketch.draw_folds(sounds, 10, 0), 1, 0)


def test_notebook_09s_folds_are_read_only_when_they_are_these(tmp_path):
    folds = coarse_folds()
    (tmp_path / "coarse" / "imisound").mkdir(parents=True)
    pd.DataFrame([{"system": "IMISOUND", "fold": 0, "mrr": 0.8}, {"system": "IMISOUND", "fold": 1, "mrr": 0.1},
                  {"system": "IMINET tied", "fold": 0, "mrr": 0.7}]).to_csv(tmp_path / "coarse" / "coarse_folds.csv",
                                                                           index=False)
    record = tmp_path / "coarse" / "imisound" / "run_00.json"
    record.write_text(json.dumps({"fingerprint": {"split": vimsketch.folds_digest(folds)}}))
    assert field_table.coarse_runs_of_09(tmp_path, folds) == {"IMISOUND": [{"fold": 0, "mrr": 0.8}],
                                                              "IMINET tied": [{"fold": 0, "mrr": 0.7}]}
    record.write_text(json.dumps({"fingerprint": {"split": "another"}}))
    with pytest.raises(ValueError, match="other folds"):
        field_table.coarse_runs_of_09(tmp_path, folds)


def test_the_retrieval_example_ranks_by_cosine_with_ties_against_the_own_sound(tmp_path):
    split = tiny_split()
    sounds, queries = split.test_tables()
    similarity = np.tile([0.9, 0.2, 0.9, 0.1, 0.5], (len(queries), 1)).astype("float32")
    field_today.save_library(tmp_path / "library_00.npz", similarity, queries.imitation_id, sounds.sound_id)
    seed = next(s for s in range(100) if np.random.default_rng(s).integers(len(queries)) in (4, 5))  # imitates sound 3
    query, hits, rank = field_table.retrieval_example(tmp_path, split, seed, top=2)
    assert query.sound_id == 3 and rank == 2  # tied with sound 1 at 0.9: counted against it
    assert hits.sound_id.tolist() == [1, 3] and hits.own_sound.tolist() == [False, True]
    assert hits.cosine.tolist() == pytest.approx([0.9, 0.9])
