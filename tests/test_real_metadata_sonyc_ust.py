"""SONYC-UST v1 (Cartwright et al., DCASE 2019 task 5, CC BY 4.0) on its real annotations
(the development release's annotations.csv, no audio, in ../shared/fixtures/sonyc_ust):
the table's structure, the counts every aggregation rule gives, which rule reproduces Fan
et al. (ICASSP 2020, 4.1), and the coarse columns that disagree with their fine ones.
The asserted counts were measured by running the code on the real file."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from vocalsearch_tf.datasets import sonyc_ust as ust

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sonyc_ust"
CSV = FIXTURES / "annotations_v1.csv"
quiet_dtypes = pytest.mark.filterwarnings("ignore::pandas.errors.DtypeWarning")  # the loader's plain read_csv


@pytest.fixture(scope="module")
def annotations() -> pd.DataFrame:
    if not CSV.is_file():
        pytest.skip(f"{CSV} not found (the shared fixtures sit beside the checkout)")
    return pd.read_csv(CSV, low_memory=False)


@pytest.fixture
def real_root(tmp_path, annotations) -> Path:
    """The real annotations and taxonomy in the loader's layout (no audio)."""
    root = tmp_path / "sonyc_ust_v1"
    root.mkdir()
    shutil.copyfile(CSV, root / "annotations.csv")
    shutil.copyfile(FIXTURES / "dcase-ust-taxonomy.yaml", root / "dcase-ust-taxonomy.yaml")
    return root


def test_the_real_table_has_the_documented_structure(annotations):
    assert annotations.shape == (10_349, 70)
    assert list(annotations.columns) == ust.columns(1) and ust.version_of(annotations) == 1
    rows = annotations.groupby("split").size().to_dict()
    files = annotations.groupby("split").audio_filename.nunique().to_dict()
    assert rows == {"train": 7_053, "validate": 3_296} and files == {"train": 2_351, "validate": 443}
    assert annotations.audio_filename.nunique() == 2_794 == sum(files.values())
    assert annotations.groupby("audio_filename").split.nunique().max() == 1
    ids = annotations.groupby("audio_filename").annotator_id
    per_file = pd.DataFrame({"verified": ids.apply(lambda s: (s == 0).sum()),
                             "volunteers": ids.apply(lambda s: (s > 0).sum()),
                             "team": ids.apply(lambda s: (s < 0).sum())})
    split = annotations.drop_duplicates("audio_filename").set_index("audio_filename").split
    train, validate = per_file[split.loc[per_file.index] == "train"], per_file[split.loc[per_file.index] == "validate"]
    assert (train.verified == 0).all() and (train.volunteers == 3).all() and (train.team == 0).all()
    assert (validate.verified == 1).all() and (validate.volunteers == 3).all() and (validate.team >= 2).all()
    presence = annotations[ust.PRESENCE_COLUMNS]
    assert presence.isin([-1, 0, 1]).all().all()
    taxonomy = (FIXTURES / "dcase-ust-taxonomy.yaml").read_text()
    for category in ust.COARSE:
        number, name = category.split("_", 1)
        assert f"{number}: {name}" in taxonomy
        for fine in ust.FINE[category]:
            assert f"{fine.split('_')[0].split('-')[1]}: {fine.split('_', 1)[1]}" in taxonomy


# (files, no label, single-label, multi-label) per split, with the file's own coarse columns
RULE_COUNTS = {
    "verified-else-majority": {"train": (2351, 727, 1331, 293), "validate": (443, 9, 259, 175)},
    "verified-else-any": {"train": (2351, 78, 929, 1344), "validate": (443, 9, 259, 175)},
    "verified-only": {"train": (2351, 2351, 0, 0), "validate": (443, 9, 259, 175)},
    "volunteer-majority": {"train": (2351, 727, 1331, 293), "validate": (443, 111, 286, 46)},
    "any-annotator": {"train": (2351, 78, 929, 1344), "validate": (443, 1, 204, 238)},
    "all-annotators-half": {"train": (2351, 727, 1331, 293), "validate": (443, 12, 285, 146)},
    "all-annotators-majority": {"train": (2351, 727, 1331, 293), "validate": (443, 27, 311, 105)},
}
# the same with the coarse labels derived from the fine columns
RULE_COUNTS_FINE = {
    "verified-else-majority": {"train": (2351, 755, 1345, 251), "validate": (443, 9, 265, 169)},
    "verified-else-any": {"train": (2351, 78, 978, 1295), "validate": (443, 9, 265, 169)},
    "verified-only": {"train": (2351, 2351, 0, 0), "validate": (443, 9, 265, 169)},
    "volunteer-majority": {"train": (2351, 755, 1345, 251), "validate": (443, 114, 285, 44)},
    "any-annotator": {"train": (2351, 78, 978, 1295), "validate": (443, 1, 208, 234)},
    "all-annotators-half": {"train": (2351, 755, 1345, 251), "validate": (443, 13, 297, 133)},
    "all-annotators-majority": {"train": (2351, 755, 1345, 251), "validate": (443, 30, 318, 95)},
}


@pytest.mark.parametrize("coarse, expected", [("given", RULE_COUNTS), ("fine", RULE_COUNTS_FINE)])
def test_counts_of_every_rule_on_the_real_annotations(annotations, coarse, expected):
    assert set(expected) == set(ust.RULES)
    table = ust.rule_label_counts(annotations, coarse=coarse)
    measured = {rule: {row.split: (row.files, row._4, row._5, row._6) for row in group.itertuples()}
                for rule, group in table.groupby("rule", sort=False)}
    assert measured == expected


def test_the_old_rules_keep_their_labels_clip_by_clip(annotations):
    """The vectorised aggregate against a direct per-clip reading of the two older rules."""
    clips = {rule: ust.aggregate(annotations, rule).set_index("audio_filename") for rule in ust.RULES}
    presence = [f"{c}_presence" for c in ust.COARSE]
    for name, group in list(annotations.groupby("audio_filename", sort=False))[::97]:  # every 97th clip
        ids, values = group.annotator_id.to_numpy(), group[presence].to_numpy(np.int64)
        for k, category in enumerate(ust.COARSE):
            for rule, vote in (("verified-else-majority", lambda v: 2 * (v == 1).sum() >= v.size),
                               ("verified-else-any", lambda v: (v == 1).any())):
                label = 0
                for mask in (ids == 0, ids > 0, ids < 0):
                    v = values[mask, k][values[mask, k] >= 0]
                    if v.size:
                        label = int(vote(v))
                        break
                assert clips[rule].loc[name, category] == label, (rule, name, category)
            pooled = values[:, k][values[:, k] >= 0]
            assert clips["all-annotators-majority"].loc[name, category] == int(2 * (pooled == 1).sum() > pooled.size)
            assert clips["any-annotator"].loc[name, category] == int((pooled == 1).any())
    assert list(clips[ust.DEFAULT_RULE].index) == list(pd.unique(annotations.audio_filename))
    assert clips[ust.DEFAULT_RULE].label_source.value_counts().to_dict() == {
        "volunteers": 2351, "verified+volunteers+team": 443}
    assert clips["verified-else-majority"].label_source.value_counts().to_dict() == {
        "volunteers": 2351, "verified": 443}


def test_the_comparison_with_the_paper_picks_the_default_rule(annotations):
    table = ust.rule_comparison(annotations)
    assert len(table) == len(ust.RULES) * len(ust.COARSE_SOURCES) * len(ust.SELECTIONS)
    best = ust.closest(table)
    assert (best.rule, best.coarse, best.selection) == ("all-annotators-majority", "given", "labelled test files")
    assert best.rule == ust.DEFAULT_RULE and best.coarse == ust.DEFAULT_COARSE
    assert (best["train files"], best["test files"], best["test: single-label"], best["test: multi-label"],
            best.distance) == (2351, 416, 311, 105, 10)  # the paper: 2351, 426, 311, 105 (311 + 105 = 416)
    ranked = table.sort_values("distance", kind="stable").head(4)
    assert list(zip(ranked.rule, ranked.coarse, ranked.selection, ranked.distance)) == [
        ("all-annotators-majority", "given", "labelled test files", 10),
        ("all-annotators-majority", "given", "all files", 17),
        ("all-annotators-majority", "fine", "labelled test files", 30),
        ("all-annotators-majority", "fine", "all files", 34)]
    # the paper's 2351 training clips: the database keeps the clips without a label
    dropped = table[(table.selection == "labelled files") & (table.coarse == "given")].set_index("rule")
    assert dropped.loc["all-annotators-majority", "train files"] == 1624
    old = table[(table.rule == "verified-else-majority") & (table.coarse == "given")].set_index("selection")
    assert old.loc["labelled test files", "distance"] == 130


def test_coarse_columns_against_their_fine_columns(annotations):
    mismatches = ust.coarse_mismatches(annotations)
    assert mismatches.to_dict() == {c: (482 if c == "2_machinery-impact" else 0) for c in ust.COARSE}
    # v1's bug: machinery impact is marked wherever non-machinery impact is
    non_machinery = annotations["3_non-machinery-impact_presence"] == 1
    assert non_machinery.sum() == 498 and (annotations.loc[non_machinery, "2_machinery-impact_presence"] == 1).all()
    derived = ust.coarse_from_fine(annotations)
    wrong = annotations["2_machinery-impact_presence"].to_numpy() != derived["2_machinery-impact_presence"].to_numpy()
    assert wrong.sum() == 482 and non_machinery[wrong].all()
    assert (annotations.loc[wrong, "2_machinery-impact_presence"] == 1).all()
    assert (derived.loc[wrong, "2_machinery-impact_presence"] == 0).all()  # 16 of the 498 do have a machinery class
    assert annotations.loc[wrong, "split"].value_counts().to_dict() == {"train": 315, "validate": 167}
    with pytest.warns(UserWarning, match=r"2_machinery-impact: 482 annotation rows") as caught:
        messages = ust.check_coarse_labels(annotations)
    assert len(caught) == 1 and len(messages) == 1
    fixed = annotations.copy()
    fixed[derived.columns] = derived
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ust.check_coarse_labels(fixed) == []
    assert ust.check_coarse_labels(annotations.drop(columns=["1-1_small-sounding-engine_presence"])) == []


@quiet_dtypes
def test_loader_on_the_real_annotations(real_root):
    with pytest.warns(UserWarning, match="2_machinery-impact: 482"):
        data = ust.load_sonyc_ust(real_root, check_audio=False)
    assert data.rule == ust.DEFAULT_RULE == "all-annotators-majority" and data.coarse == "given"
    assert len(data.clips) == 2794 and data.version == 1
    validate = ust.label_counts(data.clips, "validate")
    assert validate == {"files": 443, "no label": 27, "single-label": 311, "multi-label": 105}
    counts = data.report.counts
    assert (counts["train"], counts["validate"], counts["annotation rows"]) == (2351, 443, 10_349)
    assert (counts["no label"], counts["single-label"], counts["multi-label"]) == (727 + 27, 1331 + 311, 293 + 105)
    assert any("2_machinery-impact: 482" in w for w in data.report.warnings)
    assert data.clips.path.iloc[0] == real_root / "audio" / data.clips.audio_filename.iloc[0]
    with pytest.warns(UserWarning, match="2_machinery-impact: 482"):
        fine = ust.load_sonyc_ust(real_root, check_audio=False, coarse="fine")
    assert ust.label_counts(fine.clips, "validate") == {"files": 443, "no label": 30, "single-label": 318,
                                                       "multi-label": 95}
    with pytest.warns(UserWarning):
        old = ust.load_sonyc_ust(real_root, check_audio=False, rule="verified-else-majority")
    assert ust.label_counts(old.clips, "validate") == {"files": 443, "no label": 9, "single-label": 259,
                                                      "multi-label": 175}
    with pytest.raises(ValueError, match="unknown coarse label source"), pytest.warns(UserWarning):
        ust.load_sonyc_ust(real_root, check_audio=False, coarse="both")


@quiet_dtypes
def test_loader_keeps_the_clips_whose_audio_is_there(real_root, annotations):
    """Short noise WAVs for a few real file names, in the real layout; the rest are reported."""
    names = [*annotations.audio_filename[annotations.split == "train"].unique()[:4],
             *annotations.audio_filename[annotations.split == "validate"].unique()[:3]]
    (real_root / "audio").mkdir()
    rng = np.random.default_rng(0)
    for name in names:
        sf.write(real_root / "audio" / name, 0.1 * rng.standard_normal(4410).astype(np.float32), 44_100)
    with pytest.warns(UserWarning, match="2_machinery-impact"):
        data = ust.load_sonyc_ust(real_root)
    assert sorted(data.clips.audio_filename) == sorted(names)
    assert data.clips.split.value_counts().to_dict() == {"train": 4, "validate": 3}
    assert len(data.report.skipped) == 2794 - 7 and {r for _, r in data.report.skipped} == {"file missing"}


def test_fan_pairs_on_the_real_training_labels_and_the_paper_profile_takes_the_closer_order(annotations):
    """4.2 on the real v1 training labels (2351 clips, the loader's rule): 30 + 30 partners
    per category and target are 1 128 480 draws; distinct unordered pairs: 471 555 with the
    first partners in file order, 938 610 drawn at random (seed 0); the paper reports
    218 173. `paper` takes the closer order."""
    from vocalsearch_tf.config import FAN_PROFILES
    from vocalsearch_tf.experiments import paper
    from vocalsearch_tf.training import fan2020 as fan_training

    clips = ust.aggregate(annotations)
    labels = clips.loc[clips.split == "train", list(ust.COARSE)].to_numpy()
    rows = np.arange(len(labels))
    counts = {}
    for order in fan_training.PAIR_ORDERS:
        draws = fan_training.draw_pairs(labels, rows, rows, paper.FAN2020_PARTNERS, 0, order)
        assert len(draws) == paper.FAN2020_DRAWS == 1_128_480
        counts[order] = len(fan_training.unique_pairs(draws))
    assert counts == {"first": 471_555, "random": 938_610}
    closer = min(counts, key=lambda order: abs(counts[order] - paper.FAN2020_PAIRS))
    assert FAN_PROFILES["paper"].pair_order == closer == "first"
    with pytest.raises(ValueError, match="partner order"):
        fan_training.draw_pairs(labels, rows[:3], rows, 1, 0, "last")
