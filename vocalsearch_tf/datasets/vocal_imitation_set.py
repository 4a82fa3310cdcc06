"""The Vocal Imitation Set (Kim, Ghei, Pardo & Duan, DCASE 2018; Zenodo record 1340763,
`VocalImitationSet_v1.1.3.zip`), real or embedded in the same columns: one loader.

302 sound categories of Google's AudioSet ontology, one reference recording each (from
Freesound), and crowd-sourced imitations of them: 5601 final imitations rated as
imitations of their reference (`included`), and drafts, practice takes and rejected ones
(`excluded`).

Layout (the archive unpacks to `VocalImitationSet/`):

    vocal_imitations.txt               tab-separated, a leading unnamed index column, then
                                       imitation_id, imitation_filename, category_id,
                                       category_d1..category_d6, reference_filename,
                                       included, draft, training, participant_id, ...
    reference_audio_categories.txt     tab-separated: category_id, category_d1..d6, reference_filename
    vocal_imitations/included/         <NNN><category path>-<imitation id>.wav
    vocal_imitations/excluded/
    original_recordings/reference/     <NNN><category path>_reference.wav (the imitated recordings)
    original_recordings/non_reference/ <NNN><category path>/<Freesound id>__<user>__<name>.wav

Checked against public material: the set's own repository (interactiveaudiolab/
VocalImitationSet: README, both text tables, the folders above); the HEAR benchmark's
preprocessing (`hearpreprocess/vocal_imitation.py`: the Zenodo URL, md5
386e7b1487fe0800ade4916c344086bc, `VocalImitationSet/vocal_imitations.txt` read with
`sep="\\t"`, files under `vocal_imitations/included`); the Interactive Audio Lab's
Siamese-Vocal-Imitations (`data_files/vocal_imitation.py`: `vocal_imitations/` and
`original_recordings/`, a file's category from its first three characters). The README
itself names the reference folder `reference_recordings/`; that name is read too.

Selection: an imitation is kept when it is `included` and neither `draft` nor `training`
(the README's "final" imitations that raters accepted), as for VocalSketch. Non-reference
recordings are other sounds of the category, not what was imitated: not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vocalsearch_tf.datasets.common import DatasetMissingError, LoadReport, keep_readable, require_dir
from vocalsearch_tf.datasets.vocalsketch import _as_bool

IMITATION_TABLE = "vocal_imitations.txt"
CATEGORY_TABLE = "reference_audio_categories.txt"
REFERENCE_DIRS = ("original_recordings/reference", "reference_recordings")
DEPTHS = [f"category_d{d}" for d in range(1, 7)]
IMITATION_COLUMNS = ["imitation_id", "imitation_filename", "category_id", "reference_filename",
                     "included", "draft", "training", "participant_id"]
CATEGORY_COLUMNS = ["category_id", *DEPTHS, "reference_filename"]


@dataclass
class VocalImitationSet:
    root: Path
    sounds: pd.DataFrame  # sound_id (= category_id), filename, label, group, path
    imitations: pd.DataFrame  # imitation_id, filename, sound_id, participant_id, path
    report: LoadReport


def read_table(root: Path, name: str, columns) -> pd.DataFrame:
    path = root / name
    if not path.is_file():
        raise DatasetMissingError("vocal_imitation_set", path, f"{name} not found")
    table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed")])
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing; is this the Vocal Imitation Set's {name}?")
    return table


def label_of(row) -> str:
    """The category path, such as 'Animal / Domestic animals, pets / Cat / Growling'."""
    return " / ".join(str(row[d]) for d in DEPTHS if isinstance(row[d], str) and row[d])


def load_vocal_imitation_set(root: str | Path, check_audio: bool = True) -> VocalImitationSet:
    """The reference recordings and the kept imitations. With `check_audio`, a file that is
    missing or cannot be decoded is skipped and named in the report; imitations of a
    category without a usable reference are skipped and reported, and references left
    without an imitation are reported (kept as candidates)."""
    root = require_dir("vocal_imitation_set", Path(root))
    report = LoadReport("vocal_imitation_set")
    reference_dir = next((root / d for d in REFERENCE_DIRS if (root / d).is_dir()), root / REFERENCE_DIRS[0])
    categories = read_table(root, CATEGORY_TABLE, CATEGORY_COLUMNS)
    raw = read_table(root, IMITATION_TABLE, IMITATION_COLUMNS)

    sounds = pd.DataFrame({"sound_id": categories.category_id.astype(int), "filename": categories.reference_filename,
                           "label": [label_of(r) for _, r in categories.iterrows()],
                           "group": "vocal imitation set: " + categories.category_d1.astype(str),
                           "path": [reference_dir / f for f in categories.reference_filename]})
    kept = raw[_as_bool(raw.included) & ~_as_bool(raw.draft) & ~_as_bool(raw.training)]
    imitations = pd.DataFrame({"imitation_id": kept.imitation_id.astype(int), "filename": kept.imitation_filename,
                               "sound_id": kept.category_id.astype(int), "participant_id": kept.participant_id,
                               "path": [root / "vocal_imitations" / "included" / f for f in kept.imitation_filename]})
    if check_audio:
        sounds, imitations = keep_readable(sounds, report), keep_readable(imitations, report)
    orphans = ~imitations.sound_id.isin(sounds.sound_id)
    for row in imitations[orphans].itertuples():
        report.skip(row.path, f"its category {row.sound_id} has no usable reference recording (unpaired imitation)")
    imitations = imitations[~orphans].reset_index(drop=True)
    lonely = sounds[~sounds.sound_id.isin(imitations.sound_id)]
    if len(lonely):
        report.warnings.append(f"{len(lonely)} references have no kept imitation (kept as candidates): "
                               + ", ".join(lonely.filename.head(5)) + (" ..." if len(lonely) > 5 else ""))
    per = imitations.groupby("sound_id").size()
    report.counts = {"references": len(sounds), "imitations": len(imitations),
                     "imitations per reference": f"{per.min()}-{per.max()}" if len(per) else "0",
                     "excluded rows": int(len(raw) - len(kept))}
    return VocalImitationSet(root, sounds.reset_index(drop=True), imitations, report)
