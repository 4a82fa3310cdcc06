"""SONYC Urban Sound Tagging (Cartwright et al., DCASE 2019 / 2020), real or embedded: one loader.

Layout: `annotations.csv`, `dcase-ust-taxonomy.yaml` and `audio/<audio_filename>` (10 s clips).
`annotations.csv` holds one row per (clip, annotator):

    split, sensor_id, audio_filename, annotator_id,
    [v2 only: borough, block, latitude, longitude, year, week, day, hour,]
    <fine>_presence ..., <fine>_proximity ..., <coarse>_presence ...

(the order of v1's annotations.csv, 70 columns; v2's is taken to be the same with the
place and time columns after the first four).

`annotator_id` 0 is the verified ground truth (two SONYC team members who tagged
independently and then resolved their differences), > 0 a Zooniverse volunteer, < 0 one
SONYC team member's own tags. Presence is 1, 0, or -1 where the annotator did not annotate
that class. Version 1 (Zenodo 2590742, DCASE 2019 task 5; the counts of Fan et al. 2020)
has splits train (2351 clips) and validate (443); version 2.x (Zenodo 3966543) adds the
time and place columns and a test split. The version is read from the columns.

Fan et al. use the 8 coarse categories. Annotators are aggregated into one label set per
clip by `aggregate`, by one of the named rules in RULE_SPECS; the default, DEFAULT_RULE
("all-annotators-majority": all rows of a clip vote, present when more than half of those
who annotated the category mark it), is the one that gives the paper's 311 single-label
and 105 multi-label test queries on v1 (`rule_comparison` compares every rule with the
paper's counts). The raw rows stay available as `annotations`.

Coarse and fine columns: a coarse `<c>_presence` should be "any of c's fine classes
present". In v1 it is not for `2_machinery-impact`, which is 1 in every row where
`3_non-machinery-impact` is (fixed in later releases); `check_coarse_labels` finds and
warns about such rows, and `coarse='fine'` derives the coarse labels from the fine ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.common import HOW_TO_GET, LoadReport, keep_readable, read_metadata, require_dir

COARSE = ("1_engine", "2_machinery-impact", "3_non-machinery-impact", "4_powered-saw",
          "5_alert-signal", "6_music", "7_human-voice", "8_dog")
# fine classes per coarse category; "X" means the annotator heard the coarse class but not which fine one
FINE = {
    "1_engine": ("1-1_small-sounding-engine", "1-2_medium-sounding-engine", "1-3_large-sounding-engine",
                 "1-X_engine-of-uncertain-size"),
    "2_machinery-impact": ("2-1_rock-drill", "2-2_jackhammer", "2-3_hoe-ram", "2-4_pile-driver",
                           "2-X_other-unknown-impact-machinery"),
    "3_non-machinery-impact": ("3-1_non-machinery-impact",),
    "4_powered-saw": ("4-1_chainsaw", "4-2_small-medium-rotating-saw", "4-3_large-rotating-saw",
                      "4-X_other-unknown-powered-saw"),
    "5_alert-signal": ("5-1_car-horn", "5-2_car-alarm", "5-3_siren", "5-4_reverse-beeper",
                       "5-X_other-unknown-alert-signal"),
    "6_music": ("6-1_stationary-music", "6-2_mobile-music", "6-3_ice-cream-truck", "6-X_music-from-uncertain-source"),
    "7_human-voice": ("7-1_person-or-small-group-talking", "7-2_person-or-small-group-shouting",
                      "7-3_large-crowd", "7-4_amplified-speech", "7-X_other-unknown-human-voice"),
    "8_dog": ("8-1_dog-barking-whining",),
}
FINE_CLASSES = tuple(f for group in FINE.values() for f in group)
BASE_COLUMNS = ["split", "sensor_id", "audio_filename", "annotator_id"]
PLACE_TIME_COLUMNS = ["borough", "block", "latitude", "longitude", "year", "week", "day", "hour"]  # v2
PRESENCE_COLUMNS = [f"{c}_presence" for c in (*FINE_CLASSES, *COARSE)]
PROXIMITY_COLUMNS = [f"{f}_proximity" for f in FINE_CLASSES]  # near / far / notsure / -1


def columns(version: int) -> list[str]:
    """annotations.csv's columns, in the real file's order (v1's, checked against the DCASE
    2019 release: fine presence, fine proximity, then coarse presence)."""
    fine_presence = [f"{f}_presence" for f in FINE_CLASSES]
    coarse_presence_columns = [f"{c}_presence" for c in COARSE]
    return [*BASE_COLUMNS, *(PLACE_TIME_COLUMNS if version >= 2 else []), *fine_presence, *PROXIMITY_COLUMNS,
            *coarse_presence_columns]


HOW_TO_GET.setdefault(  # the loaders' shared error reads how to get each dataset from here
    "sonyc_ust", "python -m vocalsearch_tf.datasets download sonyc-ust --dest DIR  (or: make download DATASET=sonyc-ust)")


# ---------------------------------------------------------------------------------------
# Coarse labels and their fine columns
# ---------------------------------------------------------------------------------------

def coarse_from_fine(annotations: pd.DataFrame) -> pd.DataFrame:
    """Each row's 8 coarse presence values derived from its fine columns (columns
    `<coarse>_presence`, same index): 1 when any of the category's fine classes is 1, -1 when
    all of them are -1 (the annotator did not annotate the category), else 0."""
    derived = {}
    for category in COARSE:
        fine = annotations[[f"{f}_presence" for f in FINE[category]]].to_numpy(np.int64)
        derived[f"{category}_presence"] = np.where((fine == 1).any(1), 1, np.where((fine == -1).all(1), -1, 0))
    return pd.DataFrame(derived, index=annotations.index)


def coarse_mismatches(annotations: pd.DataFrame) -> pd.Series:
    """Per coarse category, how many rows' given `<coarse>_presence` differs from the value
    derived from the category's fine columns (`coarse_from_fine`)."""
    given = annotations[[f"{c}_presence" for c in COARSE]].to_numpy(np.int64)
    derived = coarse_from_fine(annotations).to_numpy(np.int64)
    return pd.Series((given != derived).sum(0), index=list(COARSE), name="mismatching rows")


def check_coarse_labels(annotations: pd.DataFrame, warn: bool = True) -> list[str]:
    """Compare the given coarse columns with those derived from the fine columns; one message
    (and, with `warn`, one `warnings.warn`) per category whose rows disagree. SONYC-UST v1
    (DCASE 2019) marks `2_machinery-impact` present in every row where
    `3_non-machinery-impact` is present (482 of its rows have no machinery-impact fine
    class); later releases fixed it. Tables without the fine columns are not checked."""
    if not all(f"{f}_presence" in annotations.columns for f in FINE_CLASSES):
        return []
    messages = []
    for category, count in coarse_mismatches(annotations).items():
        if count:
            messages.append(f"SONYC-UST coarse label {category}: {count} annotation rows disagree with their fine "
                            f"columns ({category}_presence is not 'any of its fine classes present')")
            if warn:
                warnings.warn(messages[-1], stacklevel=2)
    return messages


COARSE_SOURCES = ("given", "fine")  # `coarse=` of aggregate/load: the file's coarse columns, or derived from fine


def coarse_presence(annotations: pd.DataFrame, coarse: str = "given") -> np.ndarray:
    """(rows, 8) coarse presence values: the file's own columns ('given') or derived from
    the fine columns ('fine')."""
    if coarse == "given":
        return annotations[[f"{c}_presence" for c in COARSE]].to_numpy(np.int64)
    if coarse == "fine":
        missing = [f"{f}_presence" for f in FINE_CLASSES if f"{f}_presence" not in annotations.columns]
        if missing:
            raise ValueError(f"coarse='fine' needs the fine presence columns; {missing[:3]}... are missing")
        return coarse_from_fine(annotations).to_numpy(np.int64)
    raise ValueError(f"unknown coarse label source {coarse!r}; choose one of {COARSE_SOURCES}")


# ---------------------------------------------------------------------------------------
# Aggregating annotators
# ---------------------------------------------------------------------------------------

# annotator groups, by annotator_id
GROUPS = {"verified": lambda ids: ids == 0, "volunteers": lambda ids: ids > 0, "team": lambda ids: ids < 0}


@dataclass(frozen=True)
class Rule:
    """How one label per clip and category is read from several annotators.

    `groups`: annotator groups in order of precedence; the first group that annotated the
    category (presence 0 or 1; -1 does not vote) decides it. With `pooled`, the rows of all
    `groups` vote together instead. `vote`: present when 'any' row says present, when at
    least 'half' of the voting rows do, or when a 'majority' (more than half) do. A category
    nobody annotated is absent, and counted (`unannotated`)."""

    groups: tuple[str, ...]
    vote: str
    pooled: bool = False
    description: str = ""


RULE_SPECS = {
    "verified-else-majority": Rule(
        ("verified", "volunteers", "team"), "half", False,
        "the verified row (annotator 0) where the clip has one, else the volunteers' vote (at least half of "
        "those who annotated the category: 2 of 3, or 1 of 2 when one skipped it), else the SONYC team's"),
    "verified-else-any": Rule(
        ("verified", "volunteers", "team"), "any", False,
        "the DCASE 2019 baseline's training rule: verified where it exists, else present when any volunteer "
        "marked it"),
    "verified-only": Rule(
        ("verified",), "any", False,
        "the verified row only; clips without one (all of v1's train split) get no label"),
    "volunteer-majority": Rule(
        ("volunteers",), "half", False,
        "the volunteers (ids > 0) only, at least half of those who annotated the category"),
    "any-annotator": Rule(
        ("verified", "volunteers", "team"), "any", True,
        "present when any row of the clip (verified, volunteer or team) marks it"),
    "all-annotators-half": Rule(
        ("verified", "volunteers", "team"), "half", True,
        "all rows of the clip vote together; present when at least half of those who annotated it mark it"),
    "all-annotators-majority": Rule(
        ("verified", "volunteers", "team"), "majority", True,
        "all rows of the clip vote together; present when more than half of those who annotated it mark it "
        "(the counts of Fan et al. 2020; see DEFAULT_RULE)"),
}
RULES = tuple(RULE_SPECS)

# The default: the rule that gives Fan et al.'s (ICASSP 2020, 4.1) counts. Measured on the
# v1 annotations (DCASE 2019 development release; `rule_comparison` prints the whole table,
# and tests/test_real_metadata_sonyc_ust.py guards it), validate split, with the file's own
# coarse columns:
#   all-annotators-majority  443 files: 27 no label, 311 single-label, 105 multi-label
#   verified-else-majority   443 files:  9 no label, 259 single-label, 175 multi-label
#   volunteer-majority       443 files: 111 no label, 286 single-label, 46 multi-label
#   any-annotator            443 files:  1 no label, 204 single-label, 238 multi-label
# Only the pooled strict majority gives the paper's 311 single-label and 105 multi-label
# test queries, exactly; its 416 labelled files are the paper's 311 + 105 (the paper's "426
# for testing" is 10 more; none of these rules and SELECTIONS gives 426 with 311 and 105:
# keeping all 443 validate files, the 27 without a label among them, is 17 off).
# On train (volunteers only) it is the volunteers' majority: 2351 files (the paper's 2351
# training clips, so the database keeps its 727 clips without a label), 1331 single-label,
# 293 multi-label. With the coarse labels derived from the fine columns the same rule gives
# 30 / 318 / 95 on validate, so the paper used the file's coarse columns as they are.
DEFAULT_RULE = "all-annotators-majority"
DEFAULT_COARSE = "given"

# Fan et al. 2020, section 4.1
PAPER_COUNTS = {"train files": 2351, "test files": 426, "test: single-label": 311, "test: multi-label": 105}


@dataclass
class SonycUST:
    root: Path
    version: int
    annotations: pd.DataFrame  # the raw annotations.csv rows
    clips: pd.DataFrame  # one row per clip: split, sensor_id, audio_filename, path, label_source, 8 coarse labels
    report: LoadReport
    rule: str
    coarse: str = DEFAULT_COARSE  # where the coarse labels came from: 'given' columns or derived from 'fine'

    def labels(self, clips: pd.DataFrame | None = None) -> np.ndarray:
        """(clips, 8) 0/1 coarse labels, in COARSE order."""
        clips = self.clips if clips is None else clips
        return clips[list(COARSE)].to_numpy(np.int64)

    def split(self, name: str) -> pd.DataFrame:
        return self.clips[self.clips.split == name].reset_index(drop=True)


def version_of(table: pd.DataFrame) -> int:
    return 2 if all(c in table.columns for c in PLACE_TIME_COLUMNS) else 1


def _votes(present: np.ndarray, valid: np.ndarray, vote: str) -> np.ndarray:
    if vote == "any":
        return present > 0
    if vote == "half":
        return 2 * present >= valid
    return 2 * present > valid  # "majority"


def aggregate(annotations: pd.DataFrame, rule: str = DEFAULT_RULE, coarse: str = DEFAULT_COARSE) -> pd.DataFrame:
    """One row per clip (in order of first appearance): split, sensor_id, audio_filename,
    `label_source` (the annotator groups the rule read: verified / volunteers / team, the
    first present one for a precedence rule, all present ones joined by '+' for a pooled
    one; 'none' when the clip has no row of them), `n_annotators` (rows), `unannotated` (how
    many categories nobody annotated) and the 8 coarse labels; see RULE_SPECS. `coarse`:
    the file's coarse columns ('given') or the ones derived from the fine columns ('fine')."""
    if rule not in RULE_SPECS:
        raise ValueError(f"unknown aggregation rule {rule!r}; choose one of {RULES}")
    spec = RULE_SPECS[rule]
    values = coarse_presence(annotations, coarse)
    codes, _ = pd.factorize(annotations.audio_filename)  # order of first appearance
    n = codes.max() + 1 if len(codes) else 0
    ids = annotations.annotator_id.to_numpy()
    in_group = np.stack([GROUPS[name](ids) for name in spec.groups])  # (groups, rows)
    has_group = np.stack([np.bincount(codes[m], minlength=n) > 0 for m in in_group], 1)  # (clips, groups)
    if spec.pooled:
        in_group = in_group.any(0, keepdims=True)
        source = ["+".join(g for g, has in zip(spec.groups, row) if has) or "none" for row in has_group]
    else:
        source = [next((g for g, has in zip(spec.groups, row) if has), "none") for row in has_group]
    labels = np.zeros((n, len(COARSE)), np.int64)
    decided = np.zeros((n, len(COARSE)), bool)
    for mask in in_group:  # in order of precedence: the first group that annotated a category decides it
        present, valid = np.zeros((n, len(COARSE)), np.int64), np.zeros((n, len(COARSE)), np.int64)
        np.add.at(present, codes[mask], values[mask] == 1)
        np.add.at(valid, codes[mask], values[mask] >= 0)
        new = ~decided & (valid > 0)
        labels[new] = _votes(present, valid, spec.vote)[new]
        decided |= new
    first = annotations.drop_duplicates("audio_filename")
    clips = pd.DataFrame({"split": first.split.to_numpy(), "sensor_id": first.sensor_id.to_numpy(),
                          "audio_filename": first.audio_filename.to_numpy(),
                          **{c: first[c].to_numpy() for c in PLACE_TIME_COLUMNS if c in first.columns},
                          "label_source": source, "n_annotators": np.bincount(codes, minlength=n),
                          "unannotated": (~decided).sum(1)})
    for k, category in enumerate(COARSE):
        clips[category] = labels[:, k]
    return clips


# ---------------------------------------------------------------------------------------
# Which rule and which files give the paper's counts
# ---------------------------------------------------------------------------------------

# which files count: every file; the test (query) files with at least one coarse label (a
# clip without one is neither a single- nor a multi-label query); labelled files in both splits
SELECTIONS = ("all files", "labelled test files", "labelled files")
SPLITS = ("train", "validate", "test")


def label_counts(clips: pd.DataFrame, split: str) -> dict:
    """Files of `split` with 0, 1 and 2 or more coarse labels."""
    n = clips.loc[clips.split == split, list(COARSE)].to_numpy().sum(1)
    return {"files": len(n), "no label": int((n == 0).sum()), "single-label": int((n == 1).sum()),
            "multi-label": int((n >= 2).sum())}


def rule_label_counts(annotations: pd.DataFrame, rules=RULES, coarse: str = DEFAULT_COARSE) -> pd.DataFrame:
    """Per rule and split: files, and files with no, one, and two or more coarse labels."""
    rows = []
    for rule in rules:
        clips = aggregate(annotations, rule, coarse)
        splits = sorted(clips.split.unique(), key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))
        rows += [{"rule": rule, "split": split, **label_counts(clips, split)} for split in splits]
    return pd.DataFrame(rows)


def rule_comparison(annotations: pd.DataFrame, rules=RULES, coarse=COARSE_SOURCES, selections=SELECTIONS,
                    test_split: str | None = None) -> pd.DataFrame:
    """For each rule, coarse label source and file selection: the train files, the test
    files and their no-label / single-label / multi-label counts, and the distance to Fan et
    al.'s counts (PAPER_COUNTS: sum of absolute differences over train files, test files,
    single- and multi-label test files). The test split is 'validate' in v1, 'test' in v2.
    One row per (rule, coarse, selection), in that order; `closest` picks the best."""
    test_split = test_split or ("validate" if version_of(annotations) == 1 else "test")
    rows = []
    for source in coarse:
        for rule in rules:
            clips = aggregate(annotations, rule, source)
            train, test = label_counts(clips, "train"), label_counts(clips, test_split)
            for selection in selections:
                row = {"rule": rule, "coarse": source, "selection": selection,
                       "train files": train["files"] - (train["no label"] if selection == "labelled files" else 0),
                       "test files": test["files"] - (test["no label"] if selection != "all files" else 0),
                       "test: no label": 0 if selection != "all files" else test["no label"],
                       "test: single-label": test["single-label"], "test: multi-label": test["multi-label"]}
                row["distance"] = sum(abs(row[k] - v) for k, v in PAPER_COUNTS.items())
                rows.append(row)
    return pd.DataFrame(rows)


def closest(comparison: pd.DataFrame) -> pd.Series:
    """The row of `rule_comparison` nearest to the paper's counts (the first of ties)."""
    return comparison.loc[comparison.distance.idxmin()]


def _check_values(table: pd.DataFrame, csv: Path) -> None:
    presence = [c for c in PRESENCE_COLUMNS if c in table.columns]
    values = table[presence]
    bad = ~values.isin([-1, 0, 1])
    if bad.to_numpy().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise ValueError(f"{csv}: row {row + 2}, column {presence[column]}: presence value "
                         f"{values.iat[row, column]} is not 1, 0 or -1")


def load_sonyc_ust(root: str | Path, check_audio: bool = True, rule: str = DEFAULT_RULE,
                   coarse: str = DEFAULT_COARSE) -> SonycUST:
    """Read annotations.csv (version 1 or 2 columns), aggregate the annotators per clip by
    `rule` (default DEFAULT_RULE, the one that gives Fan et al.'s counts) and find each clip's
    audio; clips whose audio is missing or unreadable are skipped and reported.

    The coarse labels are the file's own coarse columns (`coarse='given'`, the default) or
    derived from the fine columns (`coarse='fine'`). Either way the two are compared
    (`check_coarse_labels`): each category where they disagree is warned about
    (`warnings.warn`) and named in the report. The default keeps the given columns although
    v1's `2_machinery-impact` is wrong wherever non-machinery impact is present, because
    those are the labels the paper's counts (311 single-label, 105 multi-label test
    queries) come from; `coarse='fine'` gives the corrected labels (later releases' rule)."""
    root = require_dir("sonyc_ust", Path(root))
    csv = root / "annotations.csv"
    annotations = read_metadata("sonyc_ust", csv, [*BASE_COLUMNS, *(f"{c}_presence" for c in COARSE)],
                                "SONYC-UST's annotations.csv")
    version = version_of(annotations)
    _check_values(annotations, csv)
    report = LoadReport("sonyc_ust")
    report.warnings += [m + (" (coarse='fine' uses the fine columns)" if coarse == "given" else
                             " (read from the fine columns, as coarse='fine' asks)")
                        for m in check_coarse_labels(annotations)]
    clips = aggregate(annotations, rule, coarse)
    clips.insert(3, "path", [root / "audio" / name for name in clips.audio_filename])
    if check_audio:
        clips = keep_readable(clips, report)
    unannotated = int(clips.unannotated.sum())
    if unannotated:
        report.warnings.append(f"{unannotated} (clip, category) cells were annotated by nobody (-1 everywhere); "
                               "read as absent")
    labels = clips[list(COARSE)].to_numpy()
    report.counts = {"version": version, "clips": len(clips), **clips.split.value_counts().sort_index().to_dict(),
                     "annotation rows": len(annotations), "single-label": int((labels.sum(1) == 1).sum()),
                     "multi-label": int((labels.sum(1) >= 2).sum()), "no label": int((labels.sum(1) == 0).sum()),
                     "rule": rule, "coarse": coarse}
    return SonycUST(root, version, annotations, clips, report, rule, coarse)
