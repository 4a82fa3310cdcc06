"""The QVIM challenge's measures on hand-worked rankings, and the dev-set loader on a fixture
written in the dev set's layout (`DEV Dataset.csv`, `Items/<Class>/`, `Queries/<Class>/`)."""

import itertools

import numpy as np
import pytest

from vocalsearch_tf.datasets import qvim as qvim_data
from vocalsearch_tf.evaluation import metrics, qvim
from vocalsearch_tf.signal import audio

# Five items: 0 and 1 are dogs, 2 and 3 cars, 4 a bell. Three imitations:
#   A imitates item 1 (dog) and ranks the items 0, 1, 2, 3, 4
#   B imitates item 2 (car) and ranks them   4, 3, 0, 1, 2
#   C imitates item 4 (bell) and ranks them  4, 0, 1, 2, 3
ITEM_CLASSES = np.array(["dog", "dog", "car", "car", "bell"])
QUERY_CLASSES = np.array(["dog", "car", "bell"])
TARGETS = np.array([1, 2, 4])
RANKINGS = [(0, 1, 2, 3, 4), (4, 3, 0, 1, 2), (4, 0, 1, 2, 3)]


def scores_of(rankings, n_items=5) -> np.ndarray:
    """Scores that put each row's items in the given order (first = highest)."""
    scores = np.zeros((len(rankings), n_items))
    for row, order in enumerate(rankings):
        scores[row, list(order)] = np.arange(n_items, 0, -1)
    return scores


def test_qvim_measures_on_hand_worked_rankings():
    # exact item's rank: A 2, B 5, C 1 -> MRR (1/2 + 1/5 + 1) / 3 = 0.566667
    # class NDCG, discount 1/log2(1 + rank): 1/log2(2) = 1, 1/log2(3) = 0.630930, 1/log2(6) = 0.386853
    #   A: dogs at ranks 1, 2 -> DCG 1.630930 = the ideal -> 1
    #   B: cars at ranks 2, 5 -> DCG 0.630930 + 0.386853 = 1.017783; ideal 1.630930 -> 0.624050
    #   C: the bell at rank 1 -> 1
    #   mean (1 + 0.624050 + 1) / 3 = 0.874683
    # recall@1: only C -> 1/3; recall@5 and @10: every exact item is in the top 5 of 5 -> 1
    summary = qvim.qvim_summary(scores_of(RANKINGS), TARGETS, QUERY_CLASSES, ITEM_CLASSES)
    assert summary["mrr"] == pytest.approx(0.566667, abs=1e-6)
    assert summary["ndcg"] == pytest.approx(0.874683, abs=1e-6)
    assert summary["recall@1"] == pytest.approx(1 / 3)
    assert summary["recall@5"] == summary["recall@10"] == 1.0
    assert (summary["queries"], summary["items"], summary["tied_targets"]) == (3, 5, 0)
    per_query = qvim.qvim_per_query(scores_of(RANKINGS), TARGETS, qvim.class_relevance(QUERY_CLASSES, ITEM_CLASSES))
    np.testing.assert_array_equal(per_query["rank"], [2, 5, 1])
    np.testing.assert_allclose(per_query["ndcg"], [1.0, 0.624050, 1.0], atol=1e-6)


def test_class_ndcg_with_a_cut_off_on_a_hand_worked_ranking():
    # B's top 2 are items 4 and 3: one car, at rank 2 -> DCG@2 = 0.630930; ideal@2 = 1.630930 -> 0.386853
    relevant = qvim.class_relevance(QUERY_CLASSES[1:2], ITEM_CLASSES)
    assert metrics.ndcg_per_query(scores_of(RANKINGS[1:2]), relevant, k=2)[0] == pytest.approx(0.386853, abs=1e-6)


def test_a_tie_counts_against_the_relevant_item():
    # items 0 (class a), 1 and 2 (class b)
    # query 0 (a, exact item 0): item 0 ties with item 1 (class b) -> rank 2: RR 1/2, NDCG 1/log2(3) = 0.630930
    # query 1 (b, exact item 1): item 1 ties with item 2 (class b) -> exact rank 2: RR 1/2; the class's two
    #   items still take ranks 1 and 2 -> NDCG 1 (a tie between relevant items costs NDCG nothing)
    scores = np.array([[0.5, 0.5, 0.1], [0.1, 0.7, 0.7]])
    summary = qvim.qvim_summary(scores, np.array([0, 1]), np.array(["a", "b"]), np.array(["a", "b", "b"]))
    assert summary["mrr"] == pytest.approx(0.5)
    assert summary["ndcg"] == pytest.approx((0.630930 + 1.0) / 2, abs=1e-6)
    assert summary["tied_targets"] == 2


def test_class_ndcg_agrees_with_scikit_learn_without_ties():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(3)
    scores = rng.random((12, 9))
    relevant = qvim.class_relevance(rng.integers(0, 3, 12), rng.integers(0, 3, 9))
    relevant[:, 0] = True  # every query has a relevant item
    found = metrics.ndcg_per_query(scores, relevant)
    expected = [ndcg_score(relevant[q:q + 1].astype(float), scores[q:q + 1]) for q in range(len(scores))]
    np.testing.assert_allclose(found, expected, rtol=1e-12)
    found_at_3 = metrics.ndcg_per_query(scores, relevant, k=3)
    expected_at_3 = [ndcg_score(relevant[q:q + 1].astype(float), scores[q:q + 1], k=3) for q in range(len(scores))]
    np.testing.assert_allclose(found_at_3, expected_at_3, rtol=1e-12)


def test_chance_of_a_random_ranking_is_exact():
    # every order of 4 items, 2 relevant, equally likely: the mean NDCG over the 24 orders
    relevant = np.array([[True, True, False, False]])
    orders = [metrics.ndcg_per_query(-np.argsort(p)[None].astype(float), relevant)[0]
              for p in itertools.permutations(range(4))]
    assert metrics.chance_ndcg(4, 2) == pytest.approx(np.mean(orders), rel=1e-12)
    chance = qvim.chance_qvim_summary(QUERY_CLASSES, ITEM_CLASSES)
    assert chance["mrr"] == pytest.approx(metrics.chance_mrr(5))
    assert chance["recall@1"] == pytest.approx(1 / 5) and chance["recall@5"] == 1.0
    assert chance["ndcg"] == pytest.approx(np.mean([metrics.chance_ndcg(5, 2), metrics.chance_ndcg(5, 2),
                                                    metrics.chance_ndcg(5, 1)]))


def test_an_exact_item_of_another_class_is_refused():
    with pytest.raises(ValueError, match="not of its own class"):
        qvim.qvim_summary(scores_of(RANKINGS), np.array([2, 2, 4]), QUERY_CLASSES, ITEM_CLASSES)


# --- the dev-set loader ------------------------------------------------------------------------

FIRST_LINE = ",,Reference,Imitations,,"  # the line the baseline skips (read_csv(skiprows=1))
ROWS = [  # Label, Class, Items, Query 1, Query 2, Query 3
    ("Small dog barking", "Dog", "dog_bark.wav", "dog_q1.wav", "dog_q2.wav", "dog_q3.wav"),
    ("Big dog growling", "Dog", "dog_growl.wav", "growl_q1.wav", "", ""),
    ("Car horn", "Car", "car_horn.wav", "horn_q1.wav", "horn_q2.wav", ""),
    ("Car passing", "Car", "car_pass.wav", "", "", ""),  # no imitation: not ranked
]


def write_dev_set(root, rows=ROWS, first_line=FIRST_LINE, header=qvim_data.COLUMNS, skip_audio=()):
    """The dev set's layout with tiny tones as audio (0.1 s at 16 kHz), `skip_audio` left unwritten."""
    lines = ([first_line] if first_line is not None else []) + [",".join(header)] + [",".join(r) for r in rows]
    root.mkdir(parents=True, exist_ok=True)
    (root / qvim_data.CSV_NAME).write_text("\n".join(lines) + "\n")
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16_000)
    for label, cls, item, *queries in rows:
        for folder, name in [(qvim_data.ITEMS, item)] + [(qvim_data.QUERIES, q) for q in queries if q]:
            if name not in skip_audio:
                audio.write(root / folder / cls / name, tone, 16_000)
    return root


def test_loader_reads_the_dev_layout(tmp_path):
    dev = qvim_data.load_qvim_dev(write_dev_set(tmp_path / "qvim-dev"))
    assert dev.items.filename.tolist() == ["dog_bark.wav", "dog_growl.wav", "car_horn.wav"]
    assert dev.items["class"].tolist() == ["Dog", "Dog", "Car"] and dev.items.item_id.tolist() == [0, 1, 2]
    assert dev.items.label.tolist() == ["Small dog barking", "Big dog growling", "Car horn"]
    assert dev.items.path[2] == tmp_path / "qvim-dev" / "Items" / "Car" / "car_horn.wav"
    expected = {"dog_q1.wav": 0, "dog_q2.wav": 0, "dog_q3.wav": 0, "growl_q1.wav": 1, "horn_q1.wav": 2,
                "horn_q2.wav": 2}
    assert dict(zip(dev.queries.filename, dev.queries.item_id)) == expected
    assert dev.queries.path[3] == tmp_path / "qvim-dev" / "Queries" / "Dog" / "growl_q1.wav"
    assert dev.queries.line.tolist() == [3, 3, 3, 4, 5, 5]  # the CSV's own line numbers
    assert dev.report.counts == {"items": 3, "imitations": 6, "classes": 2}
    assert any("car_pass.wav" in w and "not ranked" in w for w in dev.report.warnings)
    # the loaded tables feed the measures directly: ranking every item by a perfect scorer
    scores = (dev.queries.item_id.to_numpy()[:, None] == dev.items.item_id.to_numpy()[None, :]).astype(float)
    summary = qvim.qvim_summary(scores, dev.queries.item_id.to_numpy(), dev.queries["class"], dev.items["class"])
    assert summary["mrr"] == 1.0 and summary["recall@1"] == 1.0
    assert summary["ndcg"] < 1.0  # the dog imitations rank the other dog last of 3: 1 + 1/log2(4) of 1 + 1/log2(3)


def test_loader_reads_a_csv_without_the_extra_first_line(tmp_path):
    dev = qvim_data.load_qvim_dev(write_dev_set(tmp_path / "qvim-dev", first_line=None))
    assert len(dev.items) == 3 and len(dev.queries) == 6


def test_missing_folder_or_csv_names_it(tmp_path):
    with pytest.raises(qvim_data.QvimDevMissingError, match=r"nowhere.*qvim-dev.zip"):
        qvim_data.load_qvim_dev(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(qvim_data.QvimDevMissingError, match=r"DEV Dataset.csv not found.*empty"):
        qvim_data.load_qvim_dev(tmp_path / "empty")


def test_a_missing_column_is_named_with_the_csv(tmp_path):
    header = ("Label", "Class", "Items", "Query 1", "Query 2")
    root = write_dev_set(tmp_path / "qvim-dev", rows=[r[:5] for r in ROWS], header=header)
    with pytest.raises(qvim_data.QvimLayoutError, match=r"DEV Dataset.csv: columns \['Query 3'\] missing"):
        qvim_data.load_qvim_dev(root)
    root = write_dev_set(tmp_path / "other", header=("Name", "Kind", "File", *qvim_data.QUERY_COLUMNS))
    with pytest.raises(qvim_data.QvimLayoutError, match=r"other.DEV Dataset.csv: no header row"):
        qvim_data.load_qvim_dev(root)


def test_missing_audio_is_named_or_skipped_and_reported(tmp_path):
    root = write_dev_set(tmp_path / "qvim-dev", skip_audio=("horn_q2.wav", "dog_growl.wav"))
    with pytest.raises(qvim_data.QvimAudioError) as error:
        qvim_data.load_qvim_dev(root)
    message = str(error.value)
    assert "DEV Dataset.csv: 2 listed audio files" in message
    assert str(root / "Queries" / "Car" / "horn_q2.wav") + " (line 5): file missing" in message
    assert str(root / "Items" / "Dog" / "dog_growl.wav") + " (line 4): file missing" in message
    dev = qvim_data.load_qvim_dev(root, on_bad_audio="skip")
    assert dev.items.filename.tolist() == ["dog_bark.wav", "car_horn.wav"] and dev.items.item_id.tolist() == [0, 1]
    assert dict(zip(dev.queries.filename, dev.queries.item_id)) == {
        "dog_q1.wav": 0, "dog_q2.wav": 0, "dog_q3.wav": 0, "horn_q1.wav": 1}  # growl_q1 went with its item
    assert sorted(p.rsplit("/", 1)[1] for p, _ in dev.report.skipped) == ["dog_growl.wav", "horn_q2.wav"]
