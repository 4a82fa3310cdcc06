"""UrbanSound8K (Salamon, Jacoby & Bello, 2014), real or embedded: one loader.

Layout: `metadata/UrbanSound8K.csv` (slice_file_name, fsID, start, end, salience, fold,
classID, class) and `audio/fold1` .. `audio/fold10`. The dataset's own folds are the
cross-validation folds (TASLP V-B); never reshuffle them, slices of one recording share
a fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vocalsearch_tf.datasets.common import LoadReport, keep_readable, read_metadata, require_dir

COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
           "engine_idling", "gun_shot", "jackhammer", "siren", "street_music"]


@dataclass
class UrbanSound8K:
    root: Path
    clips: pd.DataFrame  # the metadata columns plus `path`
    report: LoadReport

    def folds(self):
        """(test fold, training clips, test clips) for each of the dataset's folds."""
        for fold in sorted(self.clips.fold.unique()):
            test = self.clips.fold == fold
            yield int(fold), self.clips[~test], self.clips[test]


def load_urbansound8k(root: str | Path, check_audio: bool = True) -> UrbanSound8K:
    root = require_dir("urbansound8k", Path(root))
    clips = read_metadata("urbansound8k", root / "metadata" / "UrbanSound8K.csv", COLUMNS, "UrbanSound8K's metadata")
    clips = clips.assign(path=[root / "audio" / f"fold{f}" / name
                               for f, name in zip(clips.fold, clips.slice_file_name)])
    report = LoadReport("urbansound8k")
    if check_audio:
        clips = keep_readable(clips, report)
    report.counts = {"clips": len(clips), "classes": clips["class"].nunique(), "folds": clips.fold.nunique()}
    return UrbanSound8K(root, clips, report)
