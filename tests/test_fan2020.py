"""Fan et al. 2020 by stage: the model (presence matrix, similarity level, attention pooling),
training (pairs, the grouped multi-model), evaluation (mAP_s@K, cached against naive
retrieval), the experiment (tower frames, findings) and its settings (profiles, paper counts)."""

import keras
import numpy as np
import pandas as pd
import pytest

from vocalsearch_tf import config as settings
from vocalsearch_tf.config import RECORDING_LOGMEL
from vocalsearch_tf.datasets.sonyc_ust import COARSE
from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.evaluation import presence as E
from vocalsearch_tf.experiments import fan2020 as X
from vocalsearch_tf.experiments import paper
from vocalsearch_tf.models import fan2020 as M
from vocalsearch_tf.training import fan2020 as T

#            engine mach. non-m. saw alert music voice dog
FIG2_FIRST = [1, 0, 0, 1, 0, 0, 1, 0]
FIG2_SECOND = [1, 1, 0, 0, 0, 0, 1, 0]


def test_presence_matrix_and_similarity_level_by_hand():
    matrix = M.presence_matrix(FIG2_FIRST, FIG2_SECOND)
    #           both     neither  one
    expected = [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
    assert matrix.tolist() == expected
    assert M.similarity_level(matrix) == 6
    assert M.similarity_level(M.presence_matrix(FIG2_FIRST, FIG2_FIRST)) == 8
    assert M.similarity_level(M.presence_matrix([1] * 8, [0] * 8)) == 0
    # the level equals the number of identical labels (r_{i,q} of eq. 2)
    assert metrics.identical_labels(np.array([FIG2_FIRST]), np.array([FIG2_SECOND, FIG2_FIRST])).tolist() == [[6, 8]]
    # on predicted probabilities the level counts categories whose most probable situation is both/neither
    probabilities = np.full((8, 3), [0.2, 0.2, 0.6])
    probabilities[:5] = [0.5, 0.3, 0.2]
    assert M.similarity_level(probabilities) == 5


def test_ranking_is_the_summed_probability_of_both_and_neither():
    """3.1: the level of similarity of a predicted matrix sums its first two columns. A
    clip with seven near-certain agreements and one confident "one" outranks a clip whose
    eight categories lean "both" only slightly; the argmax count (the old rule, kept as an
    ablation) ranks them the other way round."""
    a = np.full((8, 3), [0.7, 0.2, 0.1])  # count 8, summed 7.2
    b = np.full((8, 3), [0.35, 0.1, 0.55])
    b[0] = [0.5, 0.1, 0.4]  # count 1, summed 7 * 0.45 + 0.6 = 3.75
    c = np.full((8, 3), [0.0, 0.0, 1.0])
    c[:7] = [0.99, 0.01, 0.0]  # count 7, summed 7.0
    d = np.full((8, 3), [0.45, 0.1, 0.45])  # argmax "both" (first of a tie): count 8, summed 4.4
    probabilities = np.stack([d, c, b, a])
    assert M.ranking_scores(probabilities) == pytest.approx([4.4, 7.0, 3.75, 7.2])
    assert M.rank(M.ranking_scores(probabilities)).tolist() == [3, 1, 0, 2]
    old = M.argmax_ranking_scores(probabilities)
    assert np.floor(old).tolist() == [8, 7, 1, 8]
    assert M.rank(old).tolist() == [3, 0, 1, 2]  # count first, then the summed probability
    assert M.rank(np.array([1.0, 2.0, 1.0])).tolist() == [1, 0, 2]  # equal scores keep database order


def test_map_s_at_k_on_hand_worked_lists():
    ranked = np.array([[8, 6, 8, 7, 5],   # s=8: hits at 1, 3
                       [6, 6, 7, 8, 8],   # s=8: hits at 4, 5
                       [5, 5, 5, 5, 5]])  # no hits
    # eq. 3, K=3: (1/1 + 2/3) / 2 for the first list; 0 for the others (no hit in the top 3)
    assert metrics.average_precision_at_k(ranked >= 8, 3) == pytest.approx([5 / 6, 0, 0])
    # K=5: second list (1/4 + 2/5) / 2
    assert metrics.average_precision_at_k(ranked >= 8, 5) == pytest.approx([5 / 6, 0.325, 0])
    # s=7, K=5: first list hits at 1, 3, 4: (1 + 2/3 + 3/4) / 3
    assert metrics.average_precision_at_k(ranked >= 7, 5)[0] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert metrics.map_s_at_k(ranked, 8, 5) == pytest.approx((5 / 6 + 0.325) / 3)
    assert metrics.map_s_at_k(ranked, 8, 1) == pytest.approx(1 / 3)
    # K beyond the list's length reads the whole list
    assert metrics.map_s_at_k(ranked, 8, 100) == metrics.map_s_at_k(ranked, 8, 5)


def test_map_table_groups_single_and_multi_label_queries():
    database = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]])
    queries = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0], [0] * 8])
    order = np.array([[0, 2, 1], [1, 2, 0], [0, 1, 2]])
    table = E.map_table(order, queries, database).set_index(["queries", "s", "K"]).mAP
    assert table["single", 8, 1] == 1.0  # its identical clip comes first
    assert table["multi", 8, 1] == 0.0 and table["multi", 8, 5] == pytest.approx(1 / 2)  # found at rank 2
    assert table["multi", 7, 1] == 1.0  # one label off counts at s = 7
    assert set(table.index.get_level_values("K")) == set(E.K_VALUES)
    assert {k: v.tolist() for k, v in E.query_groups(queries).items()} == {"single": [0], "multi": [1]}


def test_random_baseline_is_near_its_expectation():
    rng = np.random.default_rng(0)
    database = (rng.random((300, 8)) < 0.15).astype(int)
    queries = database[:40]
    table = E.random_baseline(queries, database, seed=1, draws=10).set_index(["queries", "s", "K"]).mAP
    levels = metrics.identical_labels(queries, database)
    single = queries.sum(1) == 1
    # AP@100 of a random order is about the share of relevant clips
    assert table["single", 7, 100] == pytest.approx((levels[single] >= 7).mean(), abs=0.08)


def test_attention_weights_sum_to_one_and_pick_the_right_step():
    pooling = M.AttentionPooling(categories=2, groups=1, attention=True)
    steps = np.zeros((1, 4, 1, 3), np.float32)
    steps[0, :, 0, 0] = [0.0, 0.0, 1.0, 0.0]  # unit 0 marks step 2
    steps[0, :, 0, 1] = [0.0, 1.0, 2.0, 3.0]  # unit 1 tells the steps apart
    pooling.build(steps.shape)
    # v: a large weight on unit 0 for both categories; f: category logits from unit 1
    pooling.attention_layer.kernel.assign(np.array([[[20.0, 20.0], [0, 0], [0, 0]]], np.float32))
    kernel = np.zeros((1, 3, 6), np.float32)
    kernel[0, 1] = [1, 0, -1, -1, 0, 1]
    pooling.classifier.kernel.assign(kernel)
    weights = np.asarray(pooling.weights_over_time(steps))
    assert weights.shape == (1, 4, 1, 2)
    assert weights.sum(axis=1) == pytest.approx(np.ones((1, 1, 2)))
    assert np.argmax(weights[0, :, 0, 0]) == 2 and weights[0, 2, 0, 0] > 0.99
    pooled = np.asarray(pooling(steps))
    per_step = np.asarray(pooling.step_predictions(steps))  # (1, T, 1, 2, 3)
    assert pooled.shape == (1, 2, 3)
    assert pooled[0] == pytest.approx(per_step[0, 2, 0], abs=1e-3)  # step 2's prediction, and no other's
    assert pooled[0].sum(-1) == pytest.approx([1, 1])
    # without attention every step weighs 1/T
    mean = M.AttentionPooling(categories=2, groups=1, attention=False)
    mean.build(steps.shape)
    mean.classifier.kernel.assign(kernel)
    assert np.asarray(mean(steps))[0] == pytest.approx(per_step[0, :, 0].mean(0), abs=1e-6)


def test_pairs_counts_partners_and_no_duplicates():
    rng = np.random.default_rng(3)
    labels = (rng.random((30, 8)) < 0.3).astype(int)
    labels[:, 3] = 0
    labels[0, 3] = 1  # category 3: one clip has it, so "same situation" partners run short for it
    targets = np.arange(30)
    draws = T.draw_pairs(labels, targets, targets, 4, seed=0)
    assert not (draws["first"] == draws["second"]).any()
    for (target, k), group in draws.groupby(["first", "category"]):
        others = np.delete(np.arange(30), target)
        same = (labels[others, k] == labels[target, k]).sum()
        situations = M.situations(labels[target], labels[group.second])[:, k]
        assert (situations < 2).sum() == min(4, same) and (situations == 2).sum() == min(4, 29 - same)
        assert group.second.is_unique
    assert len(draws[(draws["first"] == 0) & (draws.category == 3)]) == 4  # nobody else has category 3
    pairs = T.unique_pairs(draws)
    keys = {tuple(sorted(p)) for p in pairs[["first", "second"]].to_numpy()}
    assert len(keys) == len(pairs) < len(draws)  # (a, b) and (b, a) are one pair
    assert keys == {tuple(sorted(p)) for p in draws[["first", "second"]].to_numpy()}
    for k in range(8):
        assert len(T.category_pairs(draws, k)) <= (draws.category == k).sum()
    assert T.draw_pairs(labels, targets, targets, 4, seed=0).equals(draws)
    first = T.draw_pairs(labels, [5], targets, 2, seed=0, order="first")
    same = [p for p in targets if p != 5 and labels[p, 0] == labels[5, 0]][:2]
    assert first[first.category == 0].second.tolist()[:2] == same


def _randomise_batch_norms(model, rng):
    """Give every batch norm non-trivial inference statistics, as after training."""
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, size).astype(np.float32))
            layer.beta.assign(rng.normal(0, 0.3, size).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0, 0.5, size).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size).astype(np.float32))


@pytest.mark.parametrize("variant", ["single-siamese-attention", "multi-plain-mean", "multi-siamese-attention"])
def test_cached_retrieval_agrees_with_naive_pairwise_scores(variant, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((23, 6, 5)).astype(np.float32)
    model, _ = M.build_fan(M.VARIANTS[variant], (6, 5), T.moments_of(x))
    _randomise_batch_norms(model, rng)
    naive = E.pairwise_probabilities(model, x[:4], x[4:])
    # small chunks and query blocks: several database chunks, the last one padded, and a
    # padded last query block
    cached = E.PresenceRetriever(model, rows=3 * 6 * 5, query_block=3).index(x[4:]).probabilities(x[:4])
    assert cached.shape == naive.shape == (4, 19, 8, 3)
    assert cached == pytest.approx(naive, abs=2e-5)
    assert M.ranking_scores(cached) == pytest.approx(M.ranking_scores(naive), abs=1e-4)
    # the benchmark's like-for-like naive path: the whole model on in-graph pairs, XLA-compiled
    compiled = E.compiled_pairwise_probabilities(model, x[:4], x[4:], query_block=3, clips_per_chunk=5)
    assert compiled == pytest.approx(naive, abs=2e-5)
    model.save(tmp_path / "m.keras")  # the custom layers round-trip through a .keras file
    again = keras.models.load_model(tmp_path / "m.keras")
    assert E.pairwise_probabilities(again, x[:2], x[4:9]) == pytest.approx(naive[:2, :5], abs=1e-6)


def test_multi_model_trains_each_category_on_its_own_pairs():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 5, 4)).astype(np.float32)
    labels = (rng.random((40, 8)) < 0.3).astype(int)
    config = M.VARIANTS["multi-siamese-attention"]
    draws = T.draw_pairs(labels, np.arange(40), np.arange(40), 2, seed=0)
    parts = T._pair_parts(config, labels, draws)
    (first, second), target = next(iter(T._dataset(x, parts, 16, seed=None, repeat=True)))
    assert first.shape == (16, 5, 8, 4) and target.shape == (16, 8, 3)
    for k, (rows_a, rows_b, _) in enumerate(parts):
        assert np.asarray(first[:, :, k]) == pytest.approx(x[rows_a[:16]])
        assert np.asarray(target[:, k]) == pytest.approx(M.presence_matrix(labels[rows_a[:16]], labels[rows_b[:16]])[:, k])
    recipe = settings.FanRecipe(max_epochs=2, patience=1, retrain=True)
    result = T.fit(config, x, labels, np.arange(40), recipe, partners=2, seed=0)
    assert result.epochs in (1, 2) and len(result.history["val_loss"]) >= 1
    assert result.pairs == sum(len(T.category_pairs(T.draw_pairs(labels, np.arange(40), np.arange(40), 2, 2), k))
                               for k in range(8))
    out = E.PresenceRetriever(result.model).index(x[30:]).probabilities(x[:3])
    assert out.shape == (3, 10, 8, 3) and out.sum(-1) == pytest.approx(np.ones((3, 10, 8)), abs=1e-5)


def test_tower_frames_repeat_each_frame_to_fill_the_input():
    columns = X.TOWER_CLIP_LOGMEL.n_frames
    spectrogram = np.broadcast_to(np.arange(columns, dtype=np.float32), (2, 128, columns))[..., None]
    frames = X.tower_frames(np.ascontiguousarray(spectrogram), frames=10)
    assert frames.shape == (20, 128, RECORDING_LOGMEL.n_frames, 1) and columns == 431
    width = round(X.FRAME_SECONDS * RECORDING_LOGMEL.sample_rate / RECORDING_LOGMEL.hop_length)
    third = frames[3, 0, :, 0]  # clip 0, frame 3: columns 124..164, repeated
    start = round(3 * X.FRAME_SECONDS * RECORDING_LOGMEL.sample_rate / RECORDING_LOGMEL.hop_length)
    assert third[:width].tolist() == list(range(start, start + width))
    assert third[width:2 * width].tolist() == third[:width].tolist()
    assert frames[13].tolist() == frames[3].tolist()  # clip 1 is the same spectrogram


def findings_table(attention_everywhere: bool = False) -> pd.DataFrame:
    """mAP cells shaped like the paper's findings: attention helps except in multi-label
    mAP_8@K (or everywhere)."""
    rows = []
    for variant in M.VARIANTS:
        config = M.VARIANTS[variant]
        for queries in ("single", "multi"):
            for s in E.THRESHOLDS:
                hard = queries == "multi" and s == 8
                for k in E.K_VALUES:
                    attention = 0.05 if attention_everywhere or not hard else -0.05
                    value = 0.5 + 0.1 * config.siamese + attention * config.attention - 0.3 * hard
                    value += 0.02 * config.multi_model * (queries == "multi")
                    rows += [{"feature": "emb", "variant": variant, "queries": queries, "s": s, "K": k, "mAP": value},
                             {"feature": "mel", "variant": variant, "queries": queries, "s": s, "K": k,
                              "mAP": value - 0.1}]
    for queries in ("single", "multi"):
        for s in E.THRESHOLDS:
            for k in E.K_VALUES:
                rows.append({"feature": "-", "variant": "random", "queries": queries, "s": s, "K": k, "mAP": 0.01})
    return pd.DataFrame(rows)


def test_findings_are_computed_from_the_table():
    table = findings_table()
    found = X.findings(table, "emb", "mel").set_index("finding (Fan et al. 2020, 6)")
    assert found["holds here"].all()
    assert found.loc["multi-label mAP_8@K is the lowest of the four curves", "evidence"] == (
        "16 of 16 (feature, variant) models, by each curve's mean over K")
    attention = "attention is better except in multi-label mAP_8@K, where it is worse"
    assert found.loc[attention, "evidence"] == "4 of 4 (query group, s) panels whose majority of cells goes the paper's way"
    everywhere = X.findings(findings_table(attention_everywhere=True), "emb", "mel").set_index(
        "finding (Fan et al. 2020, 6)")
    assert not everywhere.loc[attention, "holds here"] and everywhere.loc[attention, "evidence"].startswith("3 of 4")
    table.loc[(table.variant == "single-siamese-attention") & (table.feature == "emb"), "mAP"] = 0.0
    found = X.findings(table, "emb", "mel").set_index("finding (Fan et al. 2020, 6)")
    assert not found.loc["the Siamese structure always performs better than without it", "holds here"]
    assert found.loc["the Siamese structure always performs better than without it", "evidence"] == (
        "168 of 192 (variant pair, query group, s, K) cells")
    assert not found.loc["pretrained embeddings beat log-mel in all tests", "holds here"]
    only_emb = X.findings(table[table.feature != "mel"], "emb", "mel").set_index("finding (Fan et al. 2020, 6)")
    assert only_emb.loc["pretrained embeddings beat log-mel in all tests", "evidence"] == "not run at this profile"


def test_the_model_s_categories_are_sonyc_ust_s():
    assert M.N_CATEGORIES == len(COARSE) == M.FanConfig().categories


def test_every_profile_has_its_fan_settings_naming_real_variants():
    assert set(settings.FAN_PROFILES) == set(settings.PROFILES)
    for plan in settings.FAN_PROFILES.values():
        for logmel in (False, True):
            names = X.variant_names(plan, logmel)
            assert names and set(names) <= set(M.VARIANTS)
    assert X.variant_names(settings.FAN_PROFILES["ci"], logmel=False) == list(settings.FAN_CI_VARIANTS)
    assert X.variant_names(settings.FAN_PROFILES["paper"], logmel=True) == list(M.VARIANTS)
    # the ci variants take every option once each way
    chosen = [M.VARIANTS[n] for n in settings.FAN_CI_VARIANTS]
    for option in ("siamese", "multi_model", "attention"):
        assert {getattr(c, option) for c in chosen} == {True, False}
    assert settings.FAN_PROFILES["paper"].partners == paper.FAN2020_PARTNERS
    assert settings.FAN_PROFILES["paper"].recipe == settings.FanRecipe()


def test_the_paper_s_pair_counts_agree_with_each_other():
    # 4.2: partners in each of two situations, for every category and training clip
    assert paper.FAN2020_DRAWS == paper.FAN2020_CLIPS["train"] * M.N_CATEGORIES * 2 * paper.FAN2020_PARTNERS
    assert paper.FAN2020_PAIRS < paper.FAN2020_DRAWS
    assert paper.FAN2020_QUERIES["single"] + paper.FAN2020_QUERIES["multi"] <= paper.FAN2020_QUERIES["all"]
    assert settings.PROFILES["paper"].sonyc_ust_clips == (paper.FAN2020_CLIPS["train"], paper.FAN2020_CLIPS["validate"])


def test_convergence_flags_runs_still_improving_at_the_cap_and_the_rule_ablation_pairs_rules():
    def record(val_loss, epochs, table_main, table_argmax):
        return {"history": {"val_loss": val_loss}, "epochs": epochs, "max_epochs": 4,
                "map": table_main, "map_by_rule": {"summed probability": table_main, "argmax count": table_argmax}}

    cell = lambda value: [{"queries": "single", "s": 8, "K": k, "mAP": value} for k in (1, 5)]
    results = {("emb", "a"): [record([0.9, 0.7, 0.6, 0.5], 4, cell(0.4), cell(0.3))],
               ("emb", "b"): [record([0.9, 0.7, 0.8, 0.85], 2, cell(0.2), cell(0.2))]}
    table = X.convergence(results).set_index("variant")
    assert table.loc["a", "still falling at the cap"] and not table.loc["b", "still falling at the cap"]
    assert table.loc["a", "last epoch's fall in validation loss"] == pytest.approx(0.1 / 0.6)
    ablation = X.rule_ablation(results).set_index("variant")
    assert ablation.loc["a", "difference"] == pytest.approx(0.1) and ablation.loc["b", "difference"] == 0
