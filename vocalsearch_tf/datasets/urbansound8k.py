"""UrbanSound8K (Salamon, Jacoby & Bello, 2014), real or embedded: one loader.

Layout: `metadata/UrbanSound8K.csv` (slice_file_name, fsID, start, end, salience, fold,
classID, class) and `audio/fold1` .. `audio/fold10`. The dataset's own folds are the
cross-validation folds (TASLP V-B); never reshuffle them: fold k's test set is exactly
the slices the CSV puts in fold k, its training set the other nine folds (`fold_split`,
the split notebook 02 uses). The slices of one recording and class (fsID, class) share a
fold; five Freesound recordings carry two classes, and each of them has its two classes
in two different folds (`recordings_in_several_folds`; the loader names them in its report
and keeps the folds as given).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.common import LoadReport, keep_readable, read_metadata, require_dir

COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
           "engine_idling", "gun_shot", "jackhammer", "siren", "street_music"]


def fold_split(clips: pd.DataFrame, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (training, test) of cross-validation on `fold`: the test set is every
    slice of that fold, training every slice of the other folds."""
    test = clips.fold.to_numpy() == fold
    return np.flatnonzero(~test), np.flatnonzero(test)


def recordings_in_several_folds(clips: pd.DataFrame) -> pd.DataFrame:
    """The recordings (fsID) whose slices lie in more than one fold: fsID, classes, folds."""
    spread = clips.groupby("fsID").fold.nunique()
    rows = clips[clips.fsID.isin(spread.index[spread > 1])]
    return (rows.groupby("fsID").agg(classes=("class", lambda c: tuple(sorted(set(c)))),
                                     folds=("fold", lambda f: tuple(sorted(set(int(x) for x in f)))))
            .reset_index())


@dataclass
class UrbanSound8K:
    root: Path
    clips: pd.DataFrame  # the metadata columns plus `path`
    report: LoadReport

    def folds(self):
        """(test fold, training clips, test clips) for each of the dataset's folds (`fold_split`)."""
        for fold in sorted(self.clips.fold.unique()):
            train, test = fold_split(self.clips, fold)
            yield int(fold), self.clips.iloc[train], self.clips.iloc[test]


def load_urbansound8k(root: str | Path, check_audio: bool = True) -> UrbanSound8K:
    """The slices listed in `metadata/UrbanSound8K.csv`, in its order and with its folds,
    plus their paths. With `check_audio`, a listed file that is missing or cannot be decoded
    is skipped and named in the report."""
    root = require_dir("urbansound8k", Path(root))
    clips = read_metadata("urbansound8k", root / "metadata" / "UrbanSound8K.csv", COLUMNS, "UrbanSound8K's metadata")
    clips = clips.assign(path=[root / "audio" / f"fold{f}" / name
                               for f, name in zip(clips.fold, clips.slice_file_name)])
    report = LoadReport("urbansound8k")
    if check_audio:
        clips = keep_readable(clips, report)
    spread = recordings_in_several_folds(clips)
    if len(spread):
        report.warnings.append(
            f"{len(spread)} recordings (fsID) have slices in more than one fold, one class per fold: "
            + ", ".join(f"{r.fsID} ({'/'.join(r.classes)}: folds {'/'.join(map(str, r.folds))})"
                        for r in spread.itertuples()) + "; the folds are kept as given")
    report.counts = {"clips": len(clips), "classes": clips["class"].nunique(), "folds": clips.fold.nunique()}
    return UrbanSound8K(root, clips, report)
