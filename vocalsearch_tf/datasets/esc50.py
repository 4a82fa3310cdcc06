"""ESC-50 (Piczak, 2015), real or embedded: one loader.

Layout: `meta/esc50.csv` (filename, fold, target, category, esc10, src_file, take) and
`audio/<fold>-<src_file>-<take>-<target>.wav`: 2000 clips of 5 s at 44.1 kHz, 40 per class,
in 5 folds of 400; `esc10` marks the 400 clips of ESC-10. Takes of one source recording
and class (`src_file`, category) share a fold; keep them together in any split. Four
`src_file` numbers occur in two categories, each category in its own fold
(`sources_in_several_folds`). Licence: CC BY-NC 3.0 (the archive's README lists each
clip's Freesound source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vocalsearch_tf.datasets.common import LoadReport, keep_readable, read_metadata, require_dir

COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
FILENAME = re.compile(r"^(?P<fold>\d+)-(?P<src_file>\d+)-(?P<take>[A-Z])-(?P<target>\d+)\.wav$")


def filename_mismatches(clips: pd.DataFrame) -> pd.DataFrame:
    """The rows whose filename is not `{fold}-{src_file}-{take}-{target}.wav` of their own columns."""
    expected = (clips.fold.astype(str) + "-" + clips.src_file.astype(str) + "-" + clips["take"].astype(str) + "-"
                + clips.target.astype(str) + ".wav")
    return clips[(expected != clips.filename) | ~clips.filename.astype(str).str.match(FILENAME.pattern)]


def sources_in_several_folds(clips: pd.DataFrame) -> pd.DataFrame:
    """The source recordings (`src_file`) whose clips lie in more than one fold: src_file,
    categories, folds."""
    spread = clips.groupby("src_file").fold.nunique()
    rows = clips[clips.src_file.isin(spread.index[spread > 1])]
    return (rows.groupby("src_file").agg(categories=("category", lambda c: tuple(sorted(set(c)))),
                                         folds=("fold", lambda f: tuple(sorted(set(int(x) for x in f)))))
            .reset_index())


@dataclass
class ESC50:
    root: Path
    clips: pd.DataFrame  # the metadata columns plus `path`
    report: LoadReport


def load_esc50(root: str | Path, check_audio: bool = True) -> ESC50:
    """The clips listed in `meta/esc50.csv` with their paths. With `check_audio`, a listed
    file that is missing or cannot be decoded is skipped and named in the report; a filename
    that does not spell its own fold, src_file, take and target is named in the warnings."""
    root = require_dir("esc50", Path(root))
    clips = read_metadata("esc50", root / "meta" / "esc50.csv", COLUMNS, "ESC-50's metadata")
    clips = clips.assign(path=[root / "audio" / name for name in clips.filename])
    report = LoadReport("esc50")
    odd = filename_mismatches(clips)
    if len(odd):
        report.warnings.append(f"{len(odd)} filenames are not <fold>-<src_file>-<take>-<target>.wav of their row, "
                               f"e.g. {odd.filename.iloc[0]}")
    if check_audio:
        clips = keep_readable(clips, report)
    report.counts = {"clips": len(clips), "classes": clips.category.nunique(), "folds": clips.fold.nunique()}
    return ESC50(root, clips, report)
