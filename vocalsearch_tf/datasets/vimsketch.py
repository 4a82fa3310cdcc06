"""VimSketch (Kim, Cartwright, Pishdadian & Pardo; Zenodo record 2596911,
`Vim_Sketch_Dataset.zip`, CC BY 4.0), real or embedded: one loader.

VimSketch joins the Vocal Imitation Set (302 AudioSet-ontology sounds) and VocalSketch
(240 sounds): 542 reference sounds and 12 543 vocal imitations, 13 to 37 per reference.

Layout (the archive unpacks to `Vim_Sketch_Dataset/`):

    references/                       <prefix>_<reference name>.wav
    vocal_imitations/                 <prefix>_<reference name>.wav
    reference_file_names.csv          one file name per line, no header
    vocal_imitation_file_names.csv    one file name per line, no header

The pairing key of a file is the text after its first underscore: an imitation belongs
to the reference whose key is the same. Prefixes are running numbers (3 digits for
references, 5 for imitations). Vocal Imitation Set sounds keep that set's names
(`001_000Animal_Domestic animals_pets_Cat_Growling.wav`), VocalSketch sounds read
`<NNN>_<VocalSketch index>-<label>-<subset>.wav` (`303_001-abyss_of_despair-commercial_synthesizers.wav`).

Checked against public loaders (no copy of their code): the AES AIMLA 2025 QVIM challenge
baseline (`qvim_mn_baseline/dataset.py`, `VimSketchDataset`) reads both name lists with
`pd.read_csv(sep='\\t', header=None)`, takes `"_".join(name.split('_')[1:])` as the pairing
key and opens `references/` and `vocal_imitations/`; its `download.py` fetches
`https://zenodo.org/records/2596911/files/Vim_Sketch_Dataset.zip` and unpacks
`Vim_Sketch_Dataset/`. Jonathan-Greif/QBV (DCASE 2024) keeps the same file names in its
published 10-fold split tables (`splits/fold<k>/test.csv`: imitations by file name and a
reference label) but moves the references to a folder it calls `sound_recordings/`; that
name is read too, with a warning.

No file says which reference an imitation imitates other than its name, so the loader
pairs by key and reports, without failing: imitations whose key names no reference (and
references no imitation names), listed files that are missing or unreadable, and files on
disk that the name lists leave out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vocalsearch_tf.datasets.common import DatasetMissingError, LoadReport, keep_readable, require_dir

REFERENCES = "references"
REFERENCES_QBV = "sound_recordings"  # Jonathan-Greif/QBV's name for the same folder
IMITATIONS = "vocal_imitations"
REFERENCE_LIST = "reference_file_names.csv"
IMITATION_LIST = "vocal_imitation_file_names.csv"
VOCALSKETCH_KEY = re.compile(r"^\d{3}-(?P<label>.+)-(?P<subset>[a-z_]+)\.wav$")
VOCAL_IMITATION_SET_KEY = re.compile(r"^(?P<category>\d{3})(?P<d1>[^_]+)_")


@dataclass
class VimSketch:
    root: Path
    sounds: pd.DataFrame  # sound_id, filename, key, label, group, path
    imitations: pd.DataFrame  # imitation_id, filename, key, sound_id, path
    report: LoadReport


def pairing_key(filename: str) -> str:
    """The text after the first underscore: what pairs an imitation with its reference."""
    prefix, sep, key = filename.partition("_")
    if not sep or not key:
        raise ValueError(f"{filename!r}: VimSketch names are <prefix>_<reference name>; no underscore")
    return key


def describe(key: str) -> tuple[str, str]:
    """(label, group) of a reference key: the group is the source set and its top category,
    such as 'vocal imitation set: Animal' or 'vocalsketch: everyday'."""
    stem = key[:-4] if key.lower().endswith(".wav") else key
    match = VOCALSKETCH_KEY.match(key)
    if match:
        return match["label"].replace("_", " "), f"vocalsketch: {match['subset'].replace('_', ' ')}"
    match = VOCAL_IMITATION_SET_KEY.match(key)
    if match:
        return stem[3:], f"vocal imitation set: {match['d1']}"
    return stem, "other"


def read_name_list(path: Path) -> list[str]:
    """A VimSketch name list: one file name per line, no header; blank lines skipped."""
    if not path.is_file():
        raise DatasetMissingError("vimsketch", path, f"{path.name} not found")
    names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    return [name for name in names if name]


def _ids(names: list[str]) -> list[int]:
    """The numeric prefixes as ids when they are unique numbers, else positions."""
    prefixes = [name.partition("_")[0] for name in names]
    if all(p.isdigit() for p in prefixes) and len(set(map(int, prefixes))) == len(prefixes):
        return [int(p) for p in prefixes]
    return list(range(len(names)))


def _unlisted(folder: Path, listed: list[str], report: LoadReport, what: str) -> None:
    if not folder.is_dir():
        return
    extra = sorted({p.name for p in folder.glob("*.wav")} - set(listed))
    if extra:
        report.warnings.append(f"{len(extra)} {what} in {folder.name}/ not listed in the name list, left out: "
                               + ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else ""))


def load_vimsketch(root: str | Path, check_audio: bool = True) -> VimSketch:
    """References and imitations paired by key. With `check_audio`, a listed file that is
    missing or cannot be decoded is skipped and named in the report."""
    root = require_dir("vimsketch", Path(root))
    report = LoadReport("vimsketch")
    reference_dir = root / REFERENCES
    if not reference_dir.is_dir() and (root / REFERENCES_QBV).is_dir():
        reference_dir = root / REFERENCES_QBV
        report.warnings.append(f"references read from {REFERENCES_QBV}/ (Jonathan-Greif/QBV's layout), "
                               f"not {REFERENCES}/")
    reference_names = read_name_list(root / REFERENCE_LIST)
    imitation_names = read_name_list(root / IMITATION_LIST)
    _unlisted(reference_dir, reference_names, report, "references")
    _unlisted(root / IMITATIONS, imitation_names, report, "imitations")

    keys = [pairing_key(n) for n in reference_names]
    duplicated = pd.Series(keys)[pd.Series(keys).duplicated()].tolist()
    if duplicated:
        raise ValueError(f"{root / REFERENCE_LIST}: several references share the keys {sorted(set(duplicated))}")
    described = [describe(k) for k in keys]
    sounds = pd.DataFrame({"sound_id": _ids(reference_names), "filename": reference_names, "key": keys,
                           "label": [d[0] for d in described], "group": [d[1] for d in described],
                           "path": [reference_dir / n for n in reference_names]})
    imitations = pd.DataFrame({"imitation_id": _ids(imitation_names), "filename": imitation_names,
                               "key": [pairing_key(n) for n in imitation_names],
                               "path": [root / IMITATIONS / n for n in imitation_names]})
    if check_audio:
        sounds, imitations = keep_readable(sounds, report), keep_readable(imitations, report)
    return VimSketch(root, *pair(sounds, imitations, report), report)


def pair(sounds: pd.DataFrame, imitations: pd.DataFrame, report: LoadReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Imitations with the `sound_id` of the reference of the same key. Unpaired imitations
    are skipped and reported; references without an imitation stay (they are still
    candidates in a search) and are reported."""
    by_key = dict(zip(sounds.key, sounds.sound_id))
    paired = imitations.key.isin(by_key.keys())
    for row in imitations[~paired].itertuples():
        report.skip(row.path, f"no reference with the key {row.key!r} (unpaired imitation)")
    imitations = imitations[paired].assign(sound_id=lambda t: t.key.map(by_key)).reset_index(drop=True)
    lonely = sounds[~sounds.sound_id.isin(imitations.sound_id)]
    if len(lonely):
        report.warnings.append(f"{len(lonely)} references have no imitation (kept as candidates): "
                               + ", ".join(lonely.filename.head(5)) + (" ..." if len(lonely) > 5 else ""))
    per = imitations.groupby("sound_id").size()
    report.counts = {"references": len(sounds), "imitations": len(imitations),
                     "imitations per reference": f"{per.min()}-{per.max()}" if len(per) else "0",
                     "groups": sounds.group.nunique()}
    return sounds.reset_index(drop=True), imitations
