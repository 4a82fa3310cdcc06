"""UrbanSound8K (Salamon, Jacoby & Bello, ACM MM 2014; CC BY-NC) and ESC-50 (Piczak, ACM MM
2015; CC BY-NC 3.0) on their real metadata (no audio), from ../shared/fixtures: the
published counts, the folds the loaders keep, and notebook 02's cross-validation split.
The asserted counts were measured on the real files."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from vocalsearch_tf.datasets import esc50, urbansound8k
from vocalsearch_tf.datasets.esc50 import load_esc50
from vocalsearch_tf.datasets.urbansound8k import CLASSES, fold_split, load_urbansound8k

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
URBAN_CSV = FIXTURES / "urbansound8k" / "UrbanSound8K.csv"
ESC_CSV = FIXTURES / "esc50" / "esc50.csv"

# slices per fold, as the CSV gives them
URBAN_FOLDS = {1: 873, 2: 888, 3: 925, 4: 990, 5: 936, 6: 823, 7: 838, 8: 806, 9: 816, 10: 837}
# class: (slices, distinct recordings), as in the fixtures' README
URBAN_CLASSES = {"air_conditioner": (1000, 64), "car_horn": (429, 125), "children_playing": (1000, 158),
                 "dog_bark": (1000, 337), "drilling": (1000, 119), "engine_idling": (1000, 97),
                 "gun_shot": (374, 117), "jackhammer": (1000, 45), "siren": (929, 74), "street_music": (1000, 166)}
# the five recordings with two classes, each class in its own fold
URBAN_SPREAD = {77751: (("drilling", "jackhammer"), (2, 7)), 106905: (("engine_idling", "siren"), (1, 8)),
                132016: (("jackhammer", "street_music"), (1, 4)), 176638: (("car_horn", "engine_idling"), (1, 4)),
                180937: (("drilling", "jackhammer"), (1, 9))}


def fixture(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} not found (the shared fixtures sit beside the checkout)")
    return path


@pytest.fixture(scope="module")
def urban() -> pd.DataFrame:
    return pd.read_csv(fixture(URBAN_CSV))


@pytest.fixture(scope="module")
def esc() -> pd.DataFrame:
    return pd.read_csv(fixture(ESC_CSV))


def write_noise(path: Path, seconds: float = 0.1, rate: int = 44_100, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate)).astype(np.float32), rate)


# --- UrbanSound8K ------------------------------------------------------------------------------


@pytest.fixture
def urban_root(tmp_path, urban) -> Path:
    root = tmp_path / "UrbanSound8K"
    (root / "metadata").mkdir(parents=True)
    shutil.copyfile(URBAN_CSV, root / "metadata" / "UrbanSound8K.csv")
    return root


def test_urbansound8k_table(urban):
    assert len(urban) == 8_732 and list(urban.columns) == urbansound8k.COLUMNS
    assert urban.fold.value_counts().sort_index().to_dict() == URBAN_FOLDS
    per_class = urban.groupby("class").agg(slices=("slice_file_name", "size"), recordings=("fsID", "nunique"))
    assert {c: (r.slices, r.recordings) for c, r in per_class.iterrows()} == URBAN_CLASSES
    assert sorted(URBAN_CLASSES) == CLASSES
    assert dict(zip(urban.classID, urban["class"])) == dict(enumerate(CLASSES))  # classID is CLASSES' index
    assert urban.fsID.nunique() == 1_297 and len(urban[["fsID", "class"]].drop_duplicates()) == 1_302
    assert urban.slice_file_name.is_unique
    parts = urban.slice_file_name.str.extract(r"^(\d+)-(\d+)-(\d+)-(\d+)\.wav$").astype(int)
    assert (parts[0] == urban.fsID).all() and (parts[1] == urban.classID).all()
    slices = urban.groupby("fsID").size()
    assert (slices.min(), slices.median(), slices.max()) == (1, 4, 100)
    assert ((urban.end - urban.start) < 4).sum() == 1_669  # slices shorter than 4 s
    assert urban.groupby(["fsID", "class"]).fold.nunique().max() == 1  # a recording's class stays in one fold
    spread = urbansound8k.recordings_in_several_folds(urban)
    assert {r.fsID: (r.classes, r.folds) for r in spread.itertuples()} == URBAN_SPREAD


def test_urbansound8k_loader_keeps_the_given_folds(urban_root, urban):
    data = load_urbansound8k(urban_root, check_audio=False)
    assert data.clips[urbansound8k.COLUMNS].equals(urban)  # every row, in order, folds as given
    assert (data.clips.path == [urban_root / "audio" / f"fold{f}" / n
                                for f, n in zip(urban.fold, urban.slice_file_name)]).all()
    assert data.report.counts == {"clips": 8_732, "classes": 10, "folds": 10} and not data.report.skipped
    assert len(data.report.warnings) == 1 and "5 recordings (fsID)" in data.report.warnings[0]
    assert "77751 (drilling/jackhammer: folds 2/7)" in data.report.warnings[0]
    seen = []
    for fold, train, test in data.folds():
        assert len(test) == URBAN_FOLDS[fold] and (test.fold == fold).all()
        assert len(train) == 8_732 - URBAN_FOLDS[fold] and set(train.fold) == set(URBAN_FOLDS) - {fold}
        seen += list(test.slice_file_name)
    assert sorted(seen) == sorted(urban.slice_file_name)


def test_urbansound8k_loader_with_audio_for_some_slices(urban_root, urban):
    """Short noise WAVs in the real layout for two slices of each fold; the rest are reported."""
    chosen = urban.groupby("fold").head(2)
    for k, row in enumerate(chosen.itertuples()):
        write_noise(urban_root / "audio" / f"fold{row.fold}" / row.slice_file_name, seed=k)
    data = load_urbansound8k(urban_root)
    assert list(data.clips.slice_file_name) == list(chosen.slice_file_name)
    assert data.clips.fold.value_counts().to_dict() == {f: 2 for f in URBAN_FOLDS}
    assert len(data.report.skipped) == 8_732 - 20 and {r for _, r in data.report.skipped} == {"file missing"}
    assert [len(test) for _, _, test in data.folds()] == [2] * 10


def test_cross_validation_split_of_notebook_02(urban):
    """Notebook 02 trains on `clips.fold != fold` and tests on `clips.fold == fold`; `fold_split`
    is that split: on the real table each fold's test set is exactly that fold, training the
    other nine."""
    folds = sorted(urban.fold.unique())
    assert folds == list(range(1, 11))
    shared = {}
    for fold in folds:
        train, test = fold_split(urban, fold)
        notebook_train, notebook_test = np.flatnonzero(urban.fold != fold), np.flatnonzero(urban.fold == fold)
        assert np.array_equal(train, notebook_train) and np.array_equal(test, notebook_test)
        assert len(test) == URBAN_FOLDS[fold] and len(train) == 8_732 - URBAN_FOLDS[fold]
        assert set(urban.fold.iloc[test]) == {fold} and set(urban.fold.iloc[train]) == set(folds) - {fold}
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(urban)))
        common = set(urban.fsID.iloc[train]) & set(urban.fsID.iloc[test])
        shared[fold] = sorted(common)
        # and no (recording, class) is on both sides
        pairs = lambda rows: set(zip(urban.fsID.iloc[rows], urban["class"].iloc[rows]))
        assert not pairs(train) & pairs(test)
    # the recordings on both sides of a fold are the five two-class ones, with a different class each side
    assert shared == {1: [106905, 132016, 176638, 180937], 2: [77751], 3: [], 4: [132016, 176638], 5: [], 6: [],
                      7: [77751], 8: [106905], 9: [180937], 10: []}


def test_notebook_02_early_stopping_tenth_keeps_recordings_together(urban):
    """pretrain.group_split (the validation tenth of each fold's training part, grouped by fsID)."""
    from vocalsearch_tf.training.pretrain import group_split

    train, _ = fold_split(urban, 1)
    fit, val = group_split(urban.fsID.iloc[train], 0.1, seed=0)
    assert len(fit) + len(val) == len(train) and not set(fit) & set(val)
    assert not set(urban.fsID.iloc[train[fit]]) & set(urban.fsID.iloc[train[val]])


# --- ESC-50 ------------------------------------------------------------------------------------


@pytest.fixture
def esc_root(tmp_path, esc) -> Path:
    root = tmp_path / "ESC-50-master"
    (root / "meta").mkdir(parents=True)
    shutil.copyfile(ESC_CSV, root / "meta" / "esc50.csv")
    return root


def test_esc50_table(esc):
    assert len(esc) == 2_000 and list(esc.columns) == esc50.COLUMNS
    assert esc.category.nunique() == 50 and (esc.category.value_counts() == 40).all()
    assert esc.fold.value_counts().sort_index().to_dict() == {1: 400, 2: 400, 3: 400, 4: 400, 5: 400}
    assert esc.esc10.sum() == 400 and esc[esc.esc10].category.nunique() == 10
    assert esc[esc.esc10].fold.value_counts().to_dict() == {f: 80 for f in range(1, 6)}
    assert esc.groupby("target").category.nunique().eq(1).all() and esc.target.nunique() == 50
    assert esc.src_file.nunique() == 1_524
    per_category = esc.groupby("category").src_file.nunique()
    assert (per_category.min(), per_category.idxmin(), per_category.median(), per_category.max()) == (
        15, "helicopter", 32, 40)
    assert esc.filename.is_unique and esc.filename.str.match(esc50.FILENAME.pattern).all()
    assert esc50.filename_mismatches(esc).empty  # every filename is {fold}-{src_file}-{take}-{target}.wav
    assert sorted(esc["take"].unique()) == list("ABCDEFGH")
    assert esc.groupby(["src_file", "category"]).fold.nunique().max() == 1
    spread = esc50.sources_in_several_folds(esc)
    assert {r.src_file: (r.categories, r.folds) for r in spread.itertuples()} == {
        131943: (("clock_alarm", "clock_tick"), (2, 3)), 134049: (("hen", "rooster"), (2, 3)),
        209698: (("clock_alarm", "clock_tick"), (4, 5)), 234879: (("hen", "rooster"), (4, 5))}


def test_esc50_loader_on_the_real_table(esc_root, esc):
    data = load_esc50(esc_root, check_audio=False)
    assert data.clips[esc50.COLUMNS].equals(esc)
    assert data.report.counts == {"clips": 2_000, "classes": 50, "folds": 5} and not data.report.warnings
    assert (data.clips.path == [esc_root / "audio" / n for n in esc.filename]).all()
    # audio for the first clip of each fold only
    chosen = esc.groupby("fold").head(1)
    for k, name in enumerate(chosen.filename):
        write_noise(esc_root / "audio" / name, seed=k)
    data = load_esc50(esc_root)
    assert list(data.clips.filename) == list(chosen.filename) and len(data.report.skipped) == 2_000 - 5
    # a row whose filename does not spell its columns is named
    odd = esc.copy()
    odd.loc[0, "fold"] = 2
    odd.to_csv(esc_root / "meta" / "esc50.csv", index=False)
    report = load_esc50(esc_root, check_audio=False).report
    assert report.warnings == [f"1 filenames are not <fold>-<src_file>-<take>-<target>.wav of their row, "
                               f"e.g. {esc.filename[0]}"]


# --- Manocha 2018's 60-class set on the real tables ----------------------------------------------

@pytest.fixture(scope="module")
def manocha_paper_set(urban, esc) -> pd.DataFrame:
    from vocalsearch_tf.config import PROFILES
    from vocalsearch_tf.experiments import manocha2018 as cr

    events = cr.event_table(esc.assign(path=""), urban.assign(path=""))
    chosen = cr.select_clips(events, PROFILES["paper"].manocha_clips_per_class, seed=0)
    return cr.split_by_recording(chosen, seed=0)


def test_manocha_selection_takes_distinct_recordings_at_70_10_20(manocha_paper_set):
    """At profile `paper` (100 a class), measured on the real metadata: every UrbanSound8K
    class gets 70/10/20 clips (jackhammer 71/9/20: 45 recordings for 100 clips), one clip a
    recording where it has 100 recordings or more; every ESC-50 class all its 40 clips at
    28/4/8. Whole-recording filling gave jackhammer 22/6/72 from 3 recordings."""
    from vocalsearch_tf.experiments import manocha2018 as cr

    counts = cr.split_counts(manocha_paper_set).set_index("label")
    urban_rows = counts[counts.index.str.startswith("urbansound8k:")]
    esc_rows = counts[counts.index.str.startswith("esc50:")]
    assert len(urban_rows) == 10 and len(esc_rows) == 50
    clips = urban_rows[["train clips", "val clips", "test clips"]]
    assert (clips.drop(index="urbansound8k:jackhammer") == [70, 10, 20]).all().all()
    assert clips.loc["urbansound8k:jackhammer"].tolist() == [71, 9, 20]
    recordings = urban_rows[["train recordings", "val recordings", "test recordings"]].sum(axis=1)
    assert recordings.to_dict() == {f"urbansound8k:{c}": min(n, 100) for c, (_, n) in URBAN_CLASSES.items()}
    assert (esc_rows[["train clips", "val clips", "test clips"]] == [28, 4, 8]).all().all()
    assert len(manocha_paper_set) == 3000 and manocha_paper_set.split.value_counts().to_dict() == {
        "train": 2101, "test": 600, "val": 299}


def test_manocha_split_keeps_each_recording_in_one_split_and_prefers_two_second_slices(manocha_paper_set, urban):
    s = manocha_paper_set
    assert (s.groupby(["label", "recording"]).split.nunique() == 1).all()
    chosen = s[s.source == "urbansound8k"]
    assert (chosen.seconds < 2).sum() == 194  # kept, zero-padded: 75 car horns, 68 gun shots, ...
    # a short slice is taken from a recording only once all its slices of 2 s or more are
    longs = (urban.assign(recording="urbansound8k:" + urban.fsID.astype(str), label="urbansound8k:" + urban["class"])
             .loc[lambda t: t.end - t.start >= 2].groupby(["label", "recording"]).size())
    taken = chosen.groupby(["label", "recording"]).agg(n=("clip", "size"), long=("seconds", lambda x: (x >= 2).sum()))
    available = longs.reindex(taken.index, fill_value=0)
    assert (taken["long"] == np.minimum(taken["n"], available)).all()
