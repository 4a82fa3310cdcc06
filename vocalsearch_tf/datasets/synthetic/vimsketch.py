"""The embedded VocalSketch-shaped set rewritten in VimSketch's layout, so the
coarse-grained protocol (notebook 09) runs offline on the same loader as the real data.

    <dest>/references/<NNN>_<index>-<label>-<subset>.wav
    <dest>/vocal_imitations/<NNNNN>_<index>-<label>-<subset>.wav
    <dest>/reference_file_names.csv          one name per line, no header
    <dest>/vocal_imitation_file_names.csv

Names follow VimSketch's VocalSketch part (`303_001-abyss_of_despair-commercial_synthesizers.wav`):
the key after the first underscore is the sound's 3-digit index in the VocalSketch table,
its label and its subset. Only the imitations the VocalSketch loader keeps are written (as
VimSketch holds only VocalSketch's included imitations). Audio files are hard links to the
VocalSketch-shaped set's files where the file system allows, else copies.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.vimsketch import IMITATION_LIST, IMITATIONS, REFERENCE_LIST, REFERENCES
from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch


def slug(text: str) -> str:
    return "".join(c for c in str(text).lower().replace(" ", "_") if c.isalnum() or c == "_")


def _link(source: Path, target: Path) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def plan(vocalsketch_root: Path, sounds_per_category: dict[str, int] | None = None,
         seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(references, imitations): each row's source path and VimSketch file name. With
    `sounds_per_category`, a seeded subset of that many sounds of each category."""
    data = load_vocalsketch(vocalsketch_root, check_audio=False)
    sounds = data.sounds.reset_index(drop=True).assign(index=lambda t: np.arange(1, len(t) + 1))
    if sounds_per_category is not None:
        rng = np.random.default_rng([seed, 9])
        keep = []
        for category, members in sounds.groupby("category", sort=True):
            keep += sorted(rng.choice(members.index.to_numpy(), min(len(members), sounds_per_category[category]),
                                      replace=False))
        sounds = sounds.loc[sorted(keep)].reset_index(drop=True)
    keys = {s.sound_id: f"{s.index:03d}-{slug(s.label)}-{slug(s.category)}.wav" for s in sounds.itertuples()}
    references = pd.DataFrame({"source": sounds.path,
                               "filename": [f"{n:03d}_{keys[s]}" for n, s in enumerate(sounds.sound_id, 1)]})
    order = {sound_id: k for k, sound_id in enumerate(keys)}  # imitations numbered in reference order
    imitations = data.imitations[data.imitations.sound_id.isin(keys)]
    imitations = imitations.assign(order=imitations.sound_id.map(order)).sort_values(["order", "imitation_id"])
    imitations = pd.DataFrame({"source": imitations.path.to_numpy(),
                               "filename": [f"{n:05d}_{keys[s]}" for n, s in enumerate(imitations.sound_id, 1)]})
    return references, imitations


def write(dest: str | Path, vocalsketch_root: str | Path, sounds_per_category: dict[str, int] | None = None,
          seed: int = 0) -> dict:
    """Write (or complete) the VimSketch-layout copy of a VocalSketch-layout folder under
    `dest`; returns counts. Files that exist are kept; the name lists are written last, so
    an interrupted run is completed by the next."""
    dest = Path(dest)
    references, imitations = plan(Path(vocalsketch_root), sounds_per_category, seed)
    for table, folder in ((references, REFERENCES), (imitations, IMITATIONS)):
        for row in table.itertuples():
            _link(row.source, dest / folder / row.filename)
    (dest / REFERENCE_LIST).write_text("".join(f"{n}\n" for n in references.filename))
    (dest / IMITATION_LIST).write_text("".join(f"{n}\n" for n in imitations.filename))
    stats = {"references": len(references), "imitations": len(imitations), "from": str(vocalsketch_root),
             "sounds_per_category": sounds_per_category, "seed": seed}
    (dest / "embedded.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats
