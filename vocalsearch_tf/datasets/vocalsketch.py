"""VocalSketch v1.0.4 (Cartwright & Pardo, CHI 2015), real or embedded: one loader.

Layout: `sound_recordings.csv`, `vocal_imitations.csv`, `sound_recordings/`,
`vocal_imitations/included/`, `vocal_imitations/excluded/`.

Imitation selection (TASLP VI-A uses 10 imitations per sound): a row is kept when it
is `included`, its `stimulus_type` is 'sound recording', and it is neither `draft` nor
`training`. Per sound, the kept rows are sorted by imitation `id` and the first
`per_sound` (10) are used: ids are fixed in the published CSV, so the rule is
deterministic and needs no seed. An unreadable file is skipped (and reported) and the
next eligible imitation takes its place; sounds left with fewer are reported, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.common import DatasetMissingError, LoadReport, require_dir, unreadable_reason

CATEGORIES = ("acoustic instruments", "commercial synthesizers", "everyday sounds", "single synthesizer")
CATEGORY_CODES = {"acoustic instruments": "AI", "commercial synthesizers": "CS",
                  "everyday sounds": "ED", "single synthesizer": "SS"}
IMITATIONS_PER_SOUND = 10


@dataclass
class VocalSketch:
    root: Path
    sounds: pd.DataFrame  # sound_id, filename, label, category, path
    imitations: pd.DataFrame  # imitation_id, filename, sound_id, participant_id, category, path
    report: LoadReport


def _as_bool(column: pd.Series) -> pd.Series:
    """CSV booleans as written by the real data set ('True'/'False') or by pandas."""
    if column.dtype == bool:
        return column
    return column.astype(str).str.strip().str.lower().isin({"true", "1", "yes"})


def read_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    root = require_dir("vocalsketch", root)
    tables = []
    for name in ("sound_recordings.csv", "vocal_imitations.csv"):
        path = root / name
        if not path.is_file():
            raise DatasetMissingError("vocalsketch", path, f"{name} not found")
        tables.append(pd.read_csv(path))
    return tables[0], tables[1]


def select_imitations(imitations: pd.DataFrame, per_sound: int = IMITATIONS_PER_SOUND) -> pd.DataFrame:
    """The module's selection rule, on the raw `vocal_imitations.csv` table."""
    keep = (_as_bool(imitations["included"]) & ~_as_bool(imitations["draft"])
            & ~_as_bool(imitations["training"])
            & (imitations["stimulus_type"] == "sound recording") & imitations["sound_recording"].notna())
    kept = imitations[keep].sort_values(["sound_recording", "id"])
    return kept.groupby("sound_recording", sort=False).head(per_sound).reset_index(drop=True)


def load_vocalsketch(root: str | Path, per_sound: int = IMITATIONS_PER_SOUND, check_audio: bool = True) -> VocalSketch:
    """Read the tables, select imitations and (with `check_audio`) skip unreadable files,
    listing each in the report."""
    root = Path(root)
    raw_sounds, raw_imitations = read_tables(root)
    report = LoadReport("vocalsketch")
    sounds = pd.DataFrame({
        "sound_id": raw_sounds["id"], "filename": raw_sounds["filename"], "label": raw_sounds["sound_label"],
        "category": raw_sounds["audio_concept_subset"],
        "path": [root / "sound_recordings" / f for f in raw_sounds["filename"]],
    })
    unknown = set(sounds.category) - set(CATEGORIES)
    if unknown:
        report.warnings.append(f"unknown categories {sorted(unknown)}")

    chosen = select_imitations(raw_imitations, per_sound=10**9)  # all eligible, sorted by id
    imitations = pd.DataFrame({
        "imitation_id": chosen["id"], "filename": chosen["filename"],
        "sound_filename": chosen["sound_recording"], "participant_id": chosen["participant_id"],
        "path": [root / "vocal_imitations" / "included" / f for f in chosen["filename"]],
    })
    if check_audio:
        sounds, imitations = _drop_unreadable(sounds, imitations, report)
    by_file = sounds.set_index("filename")
    orphans = ~imitations.sound_filename.isin(by_file.index)
    for row in imitations[orphans].itertuples():
        report.skip(row.path, f"its sound {row.sound_filename} is not in sound_recordings.csv or unreadable")
    imitations = imitations[~orphans].groupby("sound_filename", sort=False).head(per_sound)
    imitations = imitations.assign(sound_id=by_file.loc[imitations.sound_filename, "sound_id"].to_numpy(),
                                   category=by_file.loc[imitations.sound_filename, "category"].to_numpy())
    imitations = imitations.drop(columns="sound_filename").reset_index(drop=True)

    per = imitations.groupby("sound_id").size().reindex(sounds.sound_id, fill_value=0)
    for sound_id, count in per[per < per_sound].items():
        label = sounds.loc[sounds.sound_id == sound_id, "label"].iloc[0]
        report.warnings.append(f"sound {label!r} has {count} usable imitations, fewer than {per_sound}")
    report.counts = {f"{CATEGORY_CODES.get(c, c)} sounds": int((sounds.category == c).sum()) for c in CATEGORIES}
    report.counts["imitations"] = len(imitations)
    return VocalSketch(root, sounds.reset_index(drop=True), imitations, report)


def _drop_unreadable(sounds, imitations, report):
    bad_sounds = np.array([unreadable_reason(p) is not None for p in sounds.path])
    for path in sounds.path[bad_sounds]:
        report.skip(path, unreadable_reason(path))
    bad_imitations = np.array([unreadable_reason(p) is not None for p in imitations.path])
    for path in imitations.path[bad_imitations]:
        report.skip(path, unreadable_reason(path))
    return sounds[~bad_sounds], imitations[~bad_imitations]
