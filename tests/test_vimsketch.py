"""VimSketch and the Vocal Imitation Set: the loaders on folders in the real layouts (real
file names and table rows, tiny clips), unpaired files reported; the downloaders on a loopback
server; the VimSketch-layout writer round-tripping through the loader; the coarse-grained
folds; recall@k and NDCG against hand-worked rankings."""

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.test_datasets import RangeHandler, fixture, server  # noqa: F401  (the loopback server fixture)
from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.datasets.common import DatasetMissingError
from vocalsearch_tf.datasets.synthetic import vimsketch as writer
from vocalsearch_tf.datasets.vimsketch import describe, load_vimsketch, pairing_key
from vocalsearch_tf.datasets.vocal_imitation_set import load_vocal_imitation_set
from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch, select_imitations
from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.experiments import vimsketch


def clip(path: Path, seconds: float = 0.2, rate: int = 16_000, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate)), rate, subtype="PCM_16")


# --- VimSketch --------------------------------------------------------------------------------

# names as VimSketch has them (Vocal Imitation Set and VocalSketch parts)
REFERENCES = ["001_000Animal_Domestic animals_pets_Cat_Growling.wav", "002_001Animal_Domestic animals_pets_Cat_Hiss.wav",
              "303_001-abyss_of_despair-commercial_synthesizers.wav", "412_110-motorcycle_driving_away-everyday.wav"]
IMITATIONS = ["00001_000Animal_Domestic animals_pets_Cat_Growling.wav",
              "00002_000Animal_Domestic animals_pets_Cat_Growling.wav",
              "00020_001Animal_Domestic animals_pets_Cat_Hiss.wav",
              "00021_001Animal_Domestic animals_pets_Cat_Hiss.wav",  # listed, not on disk
              "09001_001-abyss_of_despair-commercial_synthesizers.wav",
              "09999_999-no_such_sound-everyday.wav"]  # names no reference
UNLISTED = "00003_000Animal_Domestic animals_pets_Cat_Growling.wav"  # on disk, not in the list


def vimsketch_layout(root: Path, references_dir: str = "references") -> Path:
    for k, name in enumerate(REFERENCES):
        clip(root / references_dir / name, rate=44_100, seed=k)
    for k, name in enumerate(IMITATIONS + [UNLISTED]):
        if name != IMITATIONS[3]:
            clip(root / "vocal_imitations" / name, seed=10 + k)
    (root / "reference_file_names.csv").write_text("\n".join(REFERENCES) + "\n")
    (root / "vocal_imitation_file_names.csv").write_text("\n".join(IMITATIONS) + "\n\n")
    return root


def test_pairing_key_is_the_text_after_the_first_underscore():
    assert pairing_key("00001_000Animal_Domestic animals_pets_Cat_Growling.wav") == "000Animal_Domestic animals_pets_Cat_Growling.wav"
    assert pairing_key("303_001-abyss_of_despair-commercial_synthesizers.wav") == "001-abyss_of_despair-commercial_synthesizers.wav"
    with pytest.raises(ValueError, match="no underscore"):
        pairing_key("growl.wav")
    assert describe("001-abyss_of_despair-commercial_synthesizers.wav") == ("abyss of despair",
                                                                            "vocalsketch: commercial synthesizers")
    assert describe("000Animal_Domestic animals_pets_Cat_Growling.wav")[1] == "vocal imitation set: Animal"


def test_vimsketch_loader_pairs_by_key_and_reports_what_it_cannot_pair(tmp_path):
    root = vimsketch_layout(tmp_path / "Vim_Sketch_Dataset")
    data = load_vimsketch(root)
    assert data.sounds.sound_id.tolist() == [1, 2, 303, 412]
    assert dict(zip(data.imitations.imitation_id, data.imitations.sound_id)) == {1: 1, 2: 1, 20: 2, 9001: 303}
    assert data.sounds.group.tolist() == ["vocal imitation set: Animal"] * 2 + [
        "vocalsketch: commercial synthesizers", "vocalsketch: everyday"]
    reasons = dict(data.report.skipped)
    assert reasons[str(root / "vocal_imitations" / IMITATIONS[3])] == "file missing"
    assert "unpaired imitation" in reasons[str(root / "vocal_imitations" / IMITATIONS[5])]
    text = str(data.report)
    assert UNLISTED in text and "not listed" in text  # on disk, left out, said so
    assert "412_110-motorcycle_driving_away-everyday.wav" in text and "no imitation" in text  # kept as a candidate
    assert data.report.counts["references"] == 4 and data.report.counts["imitations"] == 4


def test_vimsketch_reads_qbvs_folder_name_and_says_so(tmp_path):
    data = load_vimsketch(vimsketch_layout(tmp_path / "vs", references_dir="sound_recordings"))
    assert len(data.sounds) == 4 and any("sound_recordings" in w for w in data.report.warnings)


def test_vimsketch_missing_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetMissingError, match="download vimsketch"):
        load_vimsketch(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetMissingError, match="reference_file_names.csv not found"):
        load_vimsketch(tmp_path / "empty")


# --- the Vocal Imitation Set ------------------------------------------------------------------

# the header and first rows of reference_audio_categories.txt and vocal_imitations.txt, as published
CATEGORIES = """\tcategory_id\tcategory_d1\tcategory_d2\tcategory_d3\tcategory_d4\tcategory_d5\tcategory_d6\treference_filename
0\t0\tAnimal\tDomestic animals, pets\tCat\tGrowling\t\t\t000Animal_Domestic animals_ pets_Cat_Growling_reference.wav
1\t1\tAnimal\tDomestic animals, pets\tCat\tHiss\t\t\t001Animal_Domestic animals_ pets_Cat_Hiss_reference.wav
2\t2\tAnimal\tDomestic animals, pets\tCat\tMeow\t\t\t002Animal_Domestic animals_ pets_Cat_Meow_reference.wav
"""
HEADER = ("\timitation_id\timitation_filename\tcategory_id\tcategory_d1\tcategory_d2\tcategory_d3\tcategory_d4\t"
          "category_d5\tcategory_d6\treference_filename\tincluded\tdraft\ttraining\tparticipant_id\tsatisfaction\t"
          "participants_sound_recording_description\tparticipants_sound_recording_description_confidence\n")


def vis_row(index, category, name, included, draft, training):
    cat = {0: "Growling", 1: "Hiss", 2: "Meow"}[category]
    return (f"{index}\t{index}\t{category:03d}Animal_Domestic animals_ pets_Cat_{cat}-{name}.wav\t{category}\tAnimal\t"
            f"Domestic animals, pets\tCat\t{cat}\t\t\t{category:03d}Animal_Domestic animals_ pets_Cat_{cat}_reference.wav\t"
            f"{included}\t{draft}\t{training}\t5734240000000000.0\tCompletely satisfied\ta lion\tConfident\n")


def vis_layout(root: Path) -> Path:
    rows = [vis_row(0, 0, "4808870065078272", True, False, False), vis_row(1, 0, "4815397341626368", True, False, False),
            vis_row(2, 0, "4904330813505536", False, True, False),  # a draft
            vis_row(3, 0, "5498179298525184", False, False, True),  # a practice take
            vis_row(4, 1, "4758517747548160", False, True, False),  # Hiss: only a draft
            vis_row(5, 2, "5000000000000000", True, False, False)]  # Meow: its reference is missing
    root.mkdir(parents=True)
    (root / "reference_audio_categories.txt").write_text(CATEGORIES)
    (root / "vocal_imitations.txt").write_text(HEADER + "".join(rows))
    table = pd.read_csv(root / "vocal_imitations.txt", sep="\t")
    for k, row in table.iterrows():
        clip(root / "vocal_imitations" / ("included" if row.included else "excluded") / row.imitation_filename, seed=k)
    for k, name in enumerate(pd.read_csv(root / "reference_audio_categories.txt", sep="\t").reference_filename[:2]):
        clip(root / "original_recordings" / "reference" / name, rate=44_100, seed=20 + k)
    return root


def test_vocal_imitation_set_loader_keeps_final_included_imitations_and_reports_unpaired(tmp_path):
    root = vis_layout(tmp_path / "VocalImitationSet")
    data = load_vocal_imitation_set(root)
    assert data.sounds.sound_id.tolist() == [0, 1]  # Meow's reference file is missing
    assert data.sounds.label[0] == "Animal / Domestic animals, pets / Cat / Growling"
    assert data.imitations.imitation_id.tolist() == [0, 1] and set(data.imitations.sound_id) == {0}
    reasons = dict(data.report.skipped)
    meow = root / "original_recordings" / "reference" / "002Animal_Domestic animals_ pets_Cat_Meow_reference.wav"
    assert reasons[str(meow)] == "file missing"
    assert any("unpaired imitation" in r for r in reasons.values())
    assert "001Animal_Domestic animals_ pets_Cat_Hiss_reference.wav" in str(data.report)  # no kept imitation
    assert data.report.counts["excluded rows"] == 3


def test_vocal_imitation_set_missing_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetMissingError, match="download vocal-imitation-set"):
        load_vocal_imitation_set(tmp_path / "nowhere")


# --- downloads on loopback --------------------------------------------------------------------

def zipped(source: Path, archive: Path, top: str) -> str:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(source.rglob("*")):
            z.write(path, Path(top) / path.relative_to(source))
    return "md5:" + hashlib.md5(archive.read_bytes()).hexdigest()


def test_vimsketch_download_records_its_hash_then_reuses(tmp_path, server):  # noqa: F811
    www, url = server
    zipped(vimsketch_layout(tmp_path / "src"), www / "Vim_Sketch_Dataset.zip", "Vim_Sketch_Dataset")
    spec = dl.Archive(url + "Vim_Sketch_Dataset.zip", None, "Vim_Sketch_Dataset.zip")
    root = dl.download_vimsketch(tmp_path / "data", spec)
    assert root.name == "Vim_Sketch_Dataset" and len(load_vimsketch(root).imitations) == 4
    assert "Vim_Sketch_Dataset.zip" in (tmp_path / "data" / ".cache" / "hashes.json").read_text()
    before = len(RangeHandler.requests)
    assert dl.download_vimsketch(tmp_path / "data", spec) == root
    assert len(RangeHandler.requests) == before


def test_vocal_imitation_set_download_checks_its_md5(tmp_path, server):  # noqa: F811
    www, url = server
    md5 = zipped(vis_layout(tmp_path / "src"), www / "VocalImitationSet_v1.1.3.zip", "VocalImitationSet")
    spec = dl.Archive(url + "VocalImitationSet_v1.1.3.zip", md5, "VocalImitationSet_v1.1.3.zip")
    root = dl.download_vocal_imitation_set(tmp_path / "data", spec)
    assert root.name == "VocalImitationSet" and len(load_vocal_imitation_set(root).imitations) == 2
    with pytest.raises(dl.ChecksumMismatchError, match="failed its checksum"):
        dl.download_vocal_imitation_set(tmp_path / "other", dl.Archive(spec.url, "md5:" + "0" * 32, spec.fname))


def test_the_real_archives_are_registered():
    assert dl.ARCHIVES["vimsketch"].url == "https://zenodo.org/records/2596911/files/Vim_Sketch_Dataset.zip"
    assert dl.ARCHIVES["vocal_imitation_set"].known_hash == "md5:386e7b1487fe0800ade4916c344086bc"


# --- the VimSketch-layout writer --------------------------------------------------------------

def vocalsketch_layout(root: Path, sounds: int = 3) -> Path:
    """A VocalSketch folder from the real CSV rows (shared fixtures) with tiny clips: the
    first `sounds` sounds that have imitations the loader keeps in the sample."""
    raw_sounds = pd.read_csv(fixture("sound_recordings.csv"))
    raw = pd.read_csv(fixture("vocal_imitations_sample.csv"))
    chosen = select_imitations(raw, 10**9)
    keep = [f for f in raw_sounds.filename if f in set(chosen.sound_recording)][:sounds]
    root.mkdir(parents=True)
    raw_sounds[raw_sounds.filename.isin(keep)].to_csv(root / "sound_recordings.csv", index=False)
    raw[raw.sound_recording.isin(keep)].to_csv(root / "vocal_imitations.csv", index=False)
    for k, name in enumerate(keep):
        clip(root / "sound_recordings" / name, rate=44_100, seed=k)
    for k, name in enumerate(raw[raw.sound_recording.isin(keep)].filename):
        clip(root / "vocal_imitations" / "included" / name, seed=100 + k)
    return root


def test_writer_round_trips_through_the_vimsketch_loader(tmp_path):
    source = load_vocalsketch(vocalsketch_layout(tmp_path / "vocalsketch"))
    stats = writer.write(tmp_path / "vimsketch", tmp_path / "vocalsketch")
    data = load_vimsketch(tmp_path / "vimsketch")
    assert not data.report.skipped and not data.report.warnings
    assert stats["references"] == len(data.sounds) == len(source.sounds)
    assert stats["imitations"] == len(data.imitations) == len(source.imitations)
    # every imitation is paired with the same sound as in VocalSketch (the files are the same bytes)
    label_of = dict(zip(source.sounds.path.map(lambda p: Path(p).read_bytes()), source.sounds.label))
    vim_label = dict(zip(data.sounds.sound_id, data.sounds.path.map(lambda p: label_of[Path(p).read_bytes()])))
    source_pairs = sorted((Path(p).read_bytes(), label) for p, label in zip(
        source.imitations.path, source.imitations.sound_id.map(dict(zip(source.sounds.sound_id, source.sounds.label)))))
    vim_pairs = sorted((Path(p).read_bytes(), vim_label[s]) for p, s in zip(data.imitations.path, data.imitations.sound_id))
    assert vim_pairs == source_pairs
    assert all(g.startswith("vocalsketch: ") for g in data.sounds.group)
    assert writer.write(tmp_path / "vimsketch", tmp_path / "vocalsketch") == stats  # a re-run changes nothing


# --- the coarse-grained folds -----------------------------------------------------------------

def references(n: int = 47, per: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    groups = np.array(["vocal imitation set: Animal", "vocal imitation set: Music", "vocalsketch: everyday"])
    sounds = pd.DataFrame({"sound_id": np.arange(100, 100 + n), "group": groups[np.arange(n) % 3]})
    imitations = pd.DataFrame({"imitation_id": np.arange(n * per), "sound_id": np.repeat(sounds.sound_id.to_numpy(), per)})
    return sounds, imitations


def test_folds_are_disjoint_in_references_cover_all_and_keep_groups_in_proportion():
    sounds, imitations = references()
    folds = vimsketch.draw_folds(sounds, 10, seed=3)
    assert folds.notna().all() and set(folds) == set(range(10))  # every reference in exactly one fold
    sizes = folds.value_counts()
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == len(sounds)
    per_group = pd.crosstab(folds, sounds.group)
    assert (per_group.max() - per_group.min()).max() <= 1
    assert folds.equals(vimsketch.draw_folds(sounds.sample(frac=1, random_state=1), 10, seed=3).reindex(sounds.index))
    assert not folds.equals(vimsketch.draw_folds(sounds, 10, seed=4))
    tested = set()
    for fold in vimsketch.make_folds(sounds, imitations, folds, 10, seed=3):
        test = set(fold.sounds.sound_id[fold.sounds.split == "test"])
        assert not test & tested  # disjoint
        tested |= test
        train = set(fold.sounds.sound_id[fold.sounds.split == "train"])
        assert set(fold.imitations.sound_id[fold.imitations.role == "test"]) == test
        for role in ("train", "val"):  # TASLP VI-A pairs within the training part only
            pairs = fold.pairs[role]
            assert set(pairs.sound_id) <= train and (pairs.label == 1).sum() == (pairs.label == 0).sum()
        per_sound = fold.imitations[fold.imitations.role != "test"].groupby("sound_id").role.value_counts().unstack()
        assert (per_sound["train"] == 7).all() and (per_sound["val"] == 3).all()
    assert tested == set(sounds.sound_id)  # covering all


def test_qbv_published_folds_are_read_by_imitation_file_name(tmp_path):
    sounds = pd.DataFrame({"sound_id": [1, 2, 3]})
    imitations = pd.DataFrame({"filename": ["00001_a.wav", "00002_b.wav", "00003_c.wav"], "sound_id": [1, 2, 3]})
    for k in range(2):
        (tmp_path / f"fold{k}").mkdir()
        names = ["vocal_imitations/00001_a.wav", "vocal_imitations/00003_c.wav"] if k == 0 else ["vocal_imitations/00002_b.wav"]
        pd.DataFrame({"filename": names, "scene_label": "x"}).to_csv(tmp_path / f"fold{k}" / "test.csv", sep="\t")
    assert vimsketch.qbv_folds(tmp_path, sounds, imitations, n_folds=2).tolist() == [0, 1, 0]


# --- metrics against hand-worked rankings -----------------------------------------------------

def test_recall_at_k_and_ndcg_on_hand_worked_rankings():
    # three queries over four references; the target of each is column 0
    scores = np.array([[0.9, 0.1, 0.2, 0.3],   # target first: rank 1
                       [0.5, 0.7, 0.1, 0.2],   # one above it: rank 2
                       [0.1, 0.4, 0.3, 0.2]])  # last: rank 4
    ranks = metrics.target_ranks(scores, np.zeros(3, dtype=int))
    assert ranks.tolist() == [1, 2, 4]
    assert metrics.recall_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(ranks, 2) == pytest.approx(2 / 3)
    assert metrics.recall_at_k(ranks, 5) == 1.0
    # DCG of one relevant item at rank r is 1 / log2(1 + r): 1, 1/log2(3) = 0.63093, 1/log2(5) = 0.43068
    assert metrics.ndcg(ranks) == pytest.approx((1 + 0.630930 + 0.430677) / 3, abs=1e-6)
    assert metrics.ndcg(ranks, k=2) == pytest.approx((1 + 0.630930) / 3, abs=1e-6)
    summary = metrics.ranking_summary(ranks)
    assert summary["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3) and summary["recall@10"] == 1.0


def test_a_tie_with_the_target_counts_against_it():
    ranks = metrics.target_ranks(np.array([[0.5, 0.5, 0.1]]), np.array([0]))
    assert ranks.tolist() == [2] and metrics.recall_at_k(ranks, 1) == 0.0
    assert metrics.ndcg(ranks) == pytest.approx(1 / np.log2(3))


def test_ndcg_agrees_with_scikit_learn_without_ties():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    scores = rng.standard_normal((40, 12))
    targets = rng.integers(0, 12, 40)
    relevance = np.zeros_like(scores)
    relevance[np.arange(40), targets] = 1
    assert metrics.ndcg(metrics.target_ranks(scores, targets)) == pytest.approx(ndcg_score(relevance, scores))
    assert metrics.ndcg(metrics.target_ranks(scores, targets), k=5) == pytest.approx(ndcg_score(relevance, scores, k=5))


def test_chance_of_a_random_ranking_is_exact():
    chance = metrics.chance_ranking_summary(4)
    assert chance["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert chance["recall@1"] == 0.25 and chance["recall@5"] == 1.0
    rng = np.random.default_rng(1)
    sampled = [metrics.ndcg(metrics.target_ranks(rng.random((1, 4)), np.array([0]))) for _ in range(4000)]
    assert np.mean(sampled) == pytest.approx(chance["ndcg"], abs=0.01)


def test_fusion_sums_log_likelihoods_and_checks_alignment():
    a = vimsketch.Ranking(np.log([[0.9, 0.2]]), np.array([0]), np.array([7]), np.array([1, 2]))
    b = vimsketch.Ranking(np.log([[0.1, 0.8]]), np.array([0]), np.array([7]), np.array([1, 2]))
    assert np.allclose(np.exp(vimsketch.fuse(a, b).scores), [[0.09, 0.16]])
    with pytest.raises(ValueError, match="different queries"):
        vimsketch.fuse(a, vimsketch.Ranking(b.scores, b.targets, np.array([8]), b.candidate_ids))
