"""SONYC Urban Sound Tagging (Cartwright et al., DCASE 2019 / 2020), real or embedded: one loader.

Layout: `annotations.csv`, `dcase-ust-taxonomy.yaml` and `audio/<audio_filename>` (10 s clips).
`annotations.csv` holds one row per (clip, annotator):

    split, sensor_id, audio_filename, annotator_id,
    [v2 only: borough, block, latitude, longitude, year, week, day, hour,]
    <fine>_presence ..., <coarse>_presence ..., <fine>_proximity ...

`annotator_id` 0 is the verified ground truth (two SONYC team members who tagged
independently and then resolved their differences), > 0 a Zooniverse volunteer, < 0 one
SONYC team member's own tags. Presence is 1, 0, or -1 where the annotator did not annotate
that class. Version 1 (Zenodo 2590742, DCASE 2019 task 5; the counts of Fan et al. 2020)
has splits train (2351 clips) and validate (443); version 2.x (Zenodo 3966543) adds the
time and place columns and a test split. The version is read from the columns.

Fan et al. use the 8 coarse categories. Annotators are aggregated into one label set per
clip by `aggregate` (rule below); the raw rows stay available as `annotations`.
"""

from __future__ import annotations

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
    """annotations.csv's columns, in the real files' order."""
    return [*BASE_COLUMNS, *(PLACE_TIME_COLUMNS if version >= 2 else []), *PRESENCE_COLUMNS, *PROXIMITY_COLUMNS]


HOW_TO_GET.setdefault(  # the loaders' shared error reads how to get each dataset from here
    "sonyc_ust", "python -m vocalsearch_tf.datasets download sonyc-ust --dest DIR  (or: make download DATASET=sonyc-ust)")

# How one label per clip and category is read from several annotators.
# "verified-else-majority" (default): the verified ground truth (annotator 0) where the clip
#   has it; otherwise the volunteers' vote, present when at least half of those who
#   annotated the category (presence 0 or 1; -1 does not vote) marked it present (so 2 of
#   3, or 1 of 2 when one skipped it); a clip with only SONYC team rows uses their vote the
#   same way. A category nobody annotated is absent, and counted in the report.
# "verified-else-any": the DCASE 2019 baseline's training rule: verified where it exists,
#   otherwise present when any volunteer marked it.
RULES = ("verified-else-majority", "verified-else-any")


@dataclass
class SonycUST:
    root: Path
    version: int
    annotations: pd.DataFrame  # the raw annotations.csv rows
    clips: pd.DataFrame  # one row per clip: split, sensor_id, audio_filename, path, label_source, 8 coarse labels
    report: LoadReport
    rule: str

    def labels(self, clips: pd.DataFrame | None = None) -> np.ndarray:
        """(clips, 8) 0/1 coarse labels, in COARSE order."""
        clips = self.clips if clips is None else clips
        return clips[list(COARSE)].to_numpy(np.int64)

    def split(self, name: str) -> pd.DataFrame:
        return self.clips[self.clips.split == name].reset_index(drop=True)


def version_of(table: pd.DataFrame) -> int:
    return 2 if all(c in table.columns for c in PLACE_TIME_COLUMNS) else 1


def _vote(values: np.ndarray, rule: str) -> tuple[int, bool]:
    """(label, annotated) from one category's presence values of a group of annotators."""
    valid = values[values >= 0]
    if valid.size == 0:
        return 0, False
    if rule == "verified-else-any":
        return int(valid.max() > 0), True
    return int(2 * valid.sum() >= valid.size), True


def aggregate(annotations: pd.DataFrame, rule: str = "verified-else-majority") -> pd.DataFrame:
    """One row per clip (in order of first appearance): split, sensor_id, audio_filename,
    `label_source` (verified / volunteers / team), `n_annotators`, `unannotated` (how many
    categories nobody annotated) and the 8 coarse labels; see RULES."""
    if rule not in RULES:
        raise ValueError(f"unknown aggregation rule {rule!r}; choose one of {RULES}")
    presence = [f"{c}_presence" for c in COARSE]
    rows = []
    for filename, group in annotations.groupby("audio_filename", sort=False):
        ids = group.annotator_id.to_numpy()
        values = group[presence].to_numpy(np.int64)
        sources = [(name, mask) for name, mask in (("verified", ids == 0), ("volunteers", ids > 0),
                                                   ("team", ids < 0)) if mask.any()]
        labels, unannotated = [], 0
        for k in range(len(COARSE)):
            # the first source that annotated this category decides it (verified: one row)
            for source, mask in sources:
                label, annotated = _vote(values[mask, k], rule)
                if annotated:
                    break
            else:
                unannotated += 1
            labels.append(label)
        first = group.iloc[0]
        extra = {c: first[c] for c in PLACE_TIME_COLUMNS if c in group.columns}
        rows.append({"split": first.split, "sensor_id": first.sensor_id, "audio_filename": filename, **extra,
                     "label_source": sources[0][0], "n_annotators": len(group), "unannotated": unannotated,
                     **dict(zip(COARSE, labels))})
    return pd.DataFrame(rows)


def _check_values(table: pd.DataFrame, csv: Path) -> None:
    presence = [c for c in PRESENCE_COLUMNS if c in table.columns]
    values = table[presence]
    bad = ~values.isin([-1, 0, 1])
    if bad.to_numpy().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise ValueError(f"{csv}: row {row + 2}, column {presence[column]}: presence value "
                         f"{values.iat[row, column]} is not 1, 0 or -1")


def load_sonyc_ust(root: str | Path, check_audio: bool = True, rule: str = "verified-else-majority") -> SonycUST:
    """Read annotations.csv (version 1 or 2 columns), aggregate the annotators per clip and
    find each clip's audio; clips whose audio is missing or unreadable are skipped and reported."""
    root = require_dir("sonyc_ust", Path(root))
    csv = root / "annotations.csv"
    annotations = read_metadata("sonyc_ust", csv, [*BASE_COLUMNS, *(f"{c}_presence" for c in COARSE)],
                                "SONYC-UST's annotations.csv")
    version = version_of(annotations)
    _check_values(annotations, csv)
    clips = aggregate(annotations, rule)
    clips.insert(3, "path", [root / "audio" / name for name in clips.audio_filename])
    report = LoadReport("sonyc_ust")
    if check_audio:
        clips = keep_readable(clips, report)
    unannotated = int(clips.unannotated.sum())
    if unannotated:
        report.warnings.append(f"{unannotated} (clip, category) cells were annotated by nobody (-1 everywhere); "
                               "read as absent")
    labels = clips[list(COARSE)].to_numpy()
    report.counts = {"version": version, "clips": len(clips), **clips.split.value_counts().sort_index().to_dict(),
                     "annotation rows": len(annotations), "single-label": int((labels.sum(1) == 1).sum()),
                     "multi-label": int((labels.sum(1) >= 2).sum()), "no label": int((labels.sum(1) == 0).sum())}
    return SonycUST(root, version, annotations, clips, report, rule)
