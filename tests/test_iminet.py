"""IMINET: architecture, weight sharing, retrieval, metrics, fusion, the runner, strategies."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from vocalsearch_tf.evaluation import metrics, scoring
from vocalsearch_tf.evaluation.retrieval import Retriever, pairwise_scores, towers
from vocalsearch_tf.evaluation.scoring import CategoryScores
from vocalsearch_tf.models.iminet import build_iminet
from vocalsearch_tf.training import recipes, runs

# hand-computed: conv k*k*in*out + out; dense in*out + out
CONV = [3 * 3 * 1 * 12 + 12, 3 * 3 * 12 * 12 + 12, 3 * 3 * 12 * 6 + 6, 3 * 3 * 6 * 6 + 6]  # 120 1308 654 330
HEAD = (432 * 432 + 432) + (432 * 32 + 32) + (32 * 1 + 1)


def test_mrr_on_hand_worked_rankings():
    scores = np.array([
        [0.9, 0.1, 0.5],  # target 0 ranked 1st
        [0.2, 0.3, 0.8],  # target 1 ranked 2nd
        [0.7, 0.6, 0.1],  # target 2 ranked 3rd
    ])
    ranks = metrics.target_ranks(scores, np.array([0, 1, 2]))
    assert ranks.tolist() == [1, 2, 3]
    assert metrics.mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_ties_rank_the_target_last_among_equals():
    scores = np.array([[0.5, 0.5, 0.5, 0.1], [0.4, 0.9, 0.4, 0.4]])
    assert metrics.target_ranks(scores, np.array([0, 2])).tolist() == [3, 4]
    assert metrics.chance_mrr(4) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


@pytest.mark.parametrize("sharing, tower_params", [
    ("tied", sum(CONV)), ("partial", sum(CONV) + CONV[0] + CONV[1]), ("untied", 2 * sum(CONV))])
def test_parameter_counts_equal_hand_computed_values(sharing, tower_params):
    model = build_iminet(sharing)
    assert model.count_params() == tower_params + HEAD
    assert model.get_layer("imitation_features").output.shape[-1] == 216


def tower_variables(model, tower):
    imitation, recording = towers(model)
    return {id(v) for v in {"imitation": imitation, "recording": recording}[tower].trainable_weights}


def test_tied_model_has_one_set_of_tower_variables():
    model = build_iminet("tied")
    assert tower_variables(model, "imitation") == tower_variables(model, "recording")
    assert len(tower_variables(model, "imitation")) == 8


def test_partial_model_shares_exactly_conv3_and_conv4():
    model = build_iminet("partial")
    shared = tower_variables(model, "imitation") & tower_variables(model, "recording")
    names = sorted(v.path for v in model.trainable_weights if id(v) in shared)
    assert names == ["shared_conv3/bias", "shared_conv3/kernel", "shared_conv4/bias", "shared_conv4/kernel"]


@pytest.mark.parametrize("sharing", ["tied", "partial", "untied"])
def test_keras_file_restores_weights_and_sharing(tmp_path, sharing):
    keras.utils.set_random_seed(2)
    model = build_iminet(sharing)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    x = [np.random.default_rng(0).standard_normal((3, 72, 129, 1)).astype(np.float32)] * 2
    np.testing.assert_allclose(model.predict(x, verbose=0), restored.predict(x, verbose=0), rtol=1e-6)
    assert restored.count_params() == model.count_params()
    assert (tower_variables(restored, "imitation") & tower_variables(restored, "recording")) or sharing == "untied"


def test_untied_model_shares_nothing():
    model = build_iminet("untied")
    assert not tower_variables(model, "imitation") & tower_variables(model, "recording")


def test_cached_retrieval_equals_pairwise_evaluation():
    keras.utils.set_random_seed(0)
    model = build_iminet("partial")
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((4, 72, 129, 1)).astype(np.float32)
    library = rng.standard_normal((30, 72, 129, 1)).astype(np.float32)
    retriever = Retriever(model, memory_bytes=3 * 30 * 432 * 4)  # forces several query blocks
    np.testing.assert_allclose(retriever.index(library).scores(queries),
                               pairwise_scores(model, queries, library), rtol=1e-5, atol=1e-6)
    smaller = library[:7]
    np.testing.assert_allclose(retriever.index(smaller).scores(queries),  # re-indexing takes effect
                               pairwise_scores(model, queries, smaller), rtol=1e-5, atol=1e-6)


def systems():
    """Two systems' log-likelihoods, as `CategoryScores` hold them."""
    a = {"AI": CategoryScores(np.log([[0.9, 0.2], [0.5, 0.4]]), np.array([0, 1]), np.array([1, 2]), np.array([7, 8]))}
    b = {"AI": CategoryScores(np.log([[0.1, 0.5], [0.5, 0.6]]), np.array([0, 1]), np.array([1, 2]), np.array([7, 8]))}
    return a, b


def test_fusion_is_the_product_of_likelihoods():
    a, b = systems()
    fused = scoring.fuse(a, b)["AI"]
    np.testing.assert_allclose(np.exp(fused.scores), [[0.09, 0.10], [0.25, 0.24]])
    # alone, a ranks query 2's target second; b ranks query 1's target second; fused: 1/2 + 1/2
    assert a["AI"].mrr() == 0.75 and b["AI"].mrr() == 0.75 and fused.mrr() == pytest.approx(0.5 * (0.5 + 0.5))


def test_a_model_whose_sigmoid_saturates_ranks_without_float_ties():
    keras.utils.set_random_seed(0)
    model = build_iminet("tied")
    fc3 = model.get_layer("fc3")
    fc3.set_weights([fc3.get_weights()[0] * 400.0, fc3.get_weights()[1] + 60.0])  # logits far past saturation
    rng = np.random.default_rng(2)
    library = rng.standard_normal((12, 72, 129, 1)).astype(np.float32)
    queries = rng.standard_normal((4, 72, 129, 1)).astype(np.float32)
    retriever = Retriever(model).index(library)
    assert np.all(retriever.scores(queries) == 1.0)  # float32 sigmoids: every candidate ties
    log_likelihoods = retriever.log_likelihoods(queries)
    assert log_likelihoods.dtype == np.float64
    assert all(len(set(row)) == len(row) for row in log_likelihoods)
    np.testing.assert_array_equal(np.argsort(log_likelihoods, axis=1), np.argsort(retriever.logits(queries), axis=1))
    targets = np.arange(4)
    assert metrics.tied_targets(retriever.scores(queries), targets) == 4
    assert metrics.tied_targets(log_likelihoods, targets) == 0


def test_real_ties_still_count_against_the_target():
    scores = np.array([[0.5, 0.5, 0.1], [0.9, 0.5, 0.1]])
    assert list(metrics.target_ranks(scores, np.array([0, 0]))) == [2, 1]
    assert metrics.tied_targets(scores, np.array([0, 0])) == 1


def test_fusion_refuses_mismatched_queries():
    a, b = systems()
    b["AI"].query_ids = np.array([1, 3])
    with pytest.raises(ValueError, match="different queries"):
        scoring.fuse(a, b)


def test_scores_round_trip(tmp_path):
    a, _ = systems()
    scoring.save_scores(tmp_path / "s.npz", a)
    back = scoring.load_scores(tmp_path / "s.npz")
    np.testing.assert_array_equal(back["AI"].scores, a["AI"].scores)
    assert back["AI"].mrr() == a["AI"].mrr()


def test_summary_table_mean_and_sample_std():
    table = scoring.summary_table({"tied": [{"AI": 0.4}, {"AI": 0.6}], "one": [{"AI": 0.5}]})
    assert table.loc["tied", "AI"] == "0.500 ± 0.141"
    assert table.loc["one", "AI"] == "0.500 ± n/a"


def test_runner_writes_each_run_and_resumes(tmp_path):
    calls = []

    def run(index, seed):
        calls.append(index)
        if index == 2 and len(calls) == 3:
            raise RuntimeError("crash in run 2")
        return {"mrr": {"AI": index / 10}}

    with pytest.raises(RuntimeError, match="crash in run 2"):
        runs.run_many(tmp_path, 4, run, base_seed=3, log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_00.json", "run_01.json"]
    assert json.loads((tmp_path / "run_01.json").read_text())["seed"] == 3001
    results = runs.run_many(tmp_path, 4, run, base_seed=3, log=lambda m: None)
    assert calls == [0, 1, 2, 2, 3]  # runs 0 and 1 were read back, not rerun
    assert [r["mrr"]["AI"] for r in results] == [0.0, 0.1, 0.2, 0.3]
    assert len({r["seed"] for r in results}) == 4


def tiny_pairs(n_sounds=6, per_sound=4, seed=0):
    rng = np.random.default_rng(seed)
    sounds = rng.standard_normal((n_sounds, 72, 129, 1)).astype(np.float32)
    imitations = np.repeat(sounds, per_sound, axis=0) + 0.3 * rng.standard_normal((n_sounds * per_sound, 72, 129, 1)).astype(np.float32)
    owner = np.repeat(np.arange(n_sounds), per_sound)
    rows = [(i, owner[i], 1) for i in range(len(owner))] + [(i, (owner[i] + 1) % n_sounds, 0) for i in range(len(owner))]
    return sounds, imitations, pd.DataFrame(rows, columns=["imitation_id", "sound_id", "label"])


def test_training_lowers_the_loss_and_restores_the_best_weights():
    sounds, imitations, pairs = tiny_pairs()
    rows_i, rows_s = {i: i for i in range(len(imitations))}, {s: s for s in range(len(sounds))}
    runs.set_seed(1)
    data = recipes.pair_dataset(pairs, rows_i, rows_s, imitations, sounds, batch_size=16, shuffle_seed=1)
    recipe = recipes.AdamRecipe(patience=2, max_epochs=12)
    model, history = recipes.fit_pair_model(lambda: build_iminet("tied"), data, data, recipe)
    assert history["loss"][-1] < history["loss"][0]
    best = min(history["val_loss"])
    assert model.evaluate(data, verbose=0)[0] == pytest.approx(best, rel=1e-3)


def test_fit_under_mirrored_strategy_on_two_logical_cpus():
    """Runs in a fresh process: logical devices must be set before TensorFlow starts."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from vocalsearch_tf.training import recipes
        from vocalsearch_tf.models.iminet import build_iminet
        from tests.test_iminet import tiny_pairs
        sounds, imitations, pairs = tiny_pairs()
        data = recipes.pair_dataset(pairs, {i: i for i in range(len(imitations))},
                                     {s: s for s in range(len(sounds))}, imitations, sounds, 16, 0)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        model, history = recipes.fit_pair_model(lambda: build_iminet("tied"), data, data,
                                                 recipes.AdamRecipe(max_epochs=3), strategy=strategy)
        print("replicas", strategy.num_replicas_in_sync, "epochs", len(history["loss"]),
              "finite", bool(np.isfinite(history["loss"]).all()))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replicas 2 epochs 3 finite True" in out.stdout


def test_time_pooled_towers_keep_the_maximum_over_the_towers_time_positions():
    import keras
    import numpy as np

    from vocalsearch_tf.models.iminet import INPUT_SHAPE, build_iminet

    keras.utils.set_random_seed(0)
    pooled = build_iminet("tied", time_pooled=True)
    plain = build_iminet("tied")
    assert pooled.get_layer("imitation_features").output.shape[-1] == 12 * 6
    assert pooled.get_layer("fc1").kernel.shape == (2 * 72, 432)
    for name in ("shared_conv1", "shared_conv2", "shared_conv3", "shared_conv4"):
        plain.get_layer(name).set_weights(pooled.get_layer(name).get_weights())
    x = np.random.default_rng(0).normal(size=(2, *INPUT_SHAPE)).astype("float32")
    features = keras.Model(pooled.inputs[0], pooled.get_layer("imitation_features").output)
    tower = keras.Model(plain.inputs[0], plain.get_layer("imitation_features").output)
    unpooled = tower.predict(x, verbose=0).reshape(2, 12, 3, 6)  # frequency, time, channels
    np.testing.assert_allclose(features.predict(x, verbose=0), unpooled.max(axis=2).reshape(2, -1), rtol=1e-5, atol=1e-6)


def test_level_invariant_towers_ignore_a_gain_and_survive_saving(tmp_path):
    """A gain is a constant added to a log-CQT clip; with `level_invariant` the model's
    output does not move with it (each side its own gain), and the `.keras` file keeps that."""
    import keras
    import numpy as np

    from vocalsearch_tf.models.iminet import INPUT_SHAPE, build_iminet

    keras.utils.set_random_seed(0)
    model = build_iminet("tied", keras.layers.Normalization(axis=None, mean=-5.0, variance=4.0), level_invariant=True)
    rng = np.random.default_rng(0)
    imitations, recordings = (rng.normal(-5, 2, (4, *INPUT_SHAPE)).astype("float32") for _ in range(2))
    before = model.predict([imitations, recordings], verbose=0)
    after = model.predict([imitations + 3.0, recordings - 2.0], verbose=0)
    np.testing.assert_allclose(after, before, atol=1e-5)
    plain = build_iminet("tied", keras.layers.Normalization(axis=None, mean=-5.0, variance=4.0))
    plain.set_weights(model.get_weights())  # same weights, no level removal: the gain counts
    assert np.abs(plain.predict([imitations + 3.0, recordings], verbose=0)
                  - plain.predict([imitations, recordings], verbose=0)).max() > 1e-3
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict([imitations + 3.0, recordings - 2.0], verbose=0), before, atol=1e-5)


def test_the_summary_branch_adds_each_bins_mean_and_variance_over_time_and_survives_saving(tmp_path):
    """`summary`: the tower's 216 values, then the standardised clip's 72 per-bin means and
    72 per-bin variances over time; the search's tower split and a `.keras` file keep them."""
    import keras
    import numpy as np

    from vocalsearch_tf.evaluation.retrieval import towers
    from vocalsearch_tf.models.iminet import INPUT_SHAPE, build_iminet

    keras.utils.set_random_seed(0)
    model = build_iminet("tied", keras.layers.Normalization(axis=None, mean=-5.0, variance=4.0), summary=True)
    clips = np.random.default_rng(0).normal(-5, 2, (3, *INPUT_SHAPE)).astype("float32")
    _, recording_tower = towers(model)
    features = recording_tower.predict(clips, verbose=0)
    assert features.shape == (3, 216 + 2 * 72)
    standardised = (clips[..., 0] + 5.0) / 2.0  # (clips, bins, frames)
    np.testing.assert_allclose(features[:, 216:288], standardised.mean(axis=2), atol=1e-4)
    np.testing.assert_allclose(features[:, 288:], standardised.var(axis=2), atol=1e-3)
    shifted = np.roll(clips, 40, axis=2)  # where in time: the statistics do not move
    np.testing.assert_allclose(recording_tower.predict(shifted, verbose=0)[:, 216:], features[:, 216:], atol=1e-3)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict([clips, clips], verbose=0), model.predict([clips, clips], verbose=0),
                               atol=1e-6)
