"""ESC-50 (Piczak, 2015), real or embedded: one loader.

Layout: `meta/esc50.csv` (filename, fold, target, category, esc10, src_file, take) and
`audio/<fold>-<src_file>-<take>-<target>.wav`: 2000 clips of 5 s at 44.1 kHz, 40 per class,
in 5 folds. Takes of one source recording (`src_file`) share a fold; keep them together in
any split. Licence: CC BY-NC 3.0 (the archive's README lists each clip's Freesound source).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vocalsearch_tf.datasets.common import LoadReport, keep_readable, read_metadata, require_dir

COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]


@dataclass
class ESC50:
    root: Path
    clips: pd.DataFrame  # the metadata columns plus `path`
    report: LoadReport


def load_esc50(root: str | Path, check_audio: bool = True) -> ESC50:
    """The clips listed in `meta/esc50.csv` with their paths. With `check_audio`, a listed
    file that is missing or cannot be decoded is skipped and named in the report."""
    root = require_dir("esc50", Path(root))
    clips = read_metadata("esc50", root / "meta" / "esc50.csv", COLUMNS, "ESC-50's metadata")
    clips = clips.assign(path=[root / "audio" / name for name in clips.filename])
    report = LoadReport("esc50")
    if check_audio:
        clips = keep_readable(clips, report)
    report.counts = {"clips": len(clips), "classes": clips.category.nunique(), "folds": clips.fold.nunique()}
    return ESC50(root, clips, report)
