"""The experimental split of TASLP VI-A, and the training/validation pairs.

- Sounds: per category, half go to train+validation, half to test (20/20/60/20 of
  40/40/120/40), drawn with the seed.
- Imitations of a train+validation sound: 7 for training, the rest (3) for validation,
  drawn with the seed. Imitations of test sounds are the test queries.
- Pairs: each training (validation) imitation with its own sound (label 1) and with one
  other train+validation sound drawn uniformly from all categories (label 0): 840 + 840
  training and 360 + 360 validation pairs on the full data set. The paper says only
  "randomly pairing an imitation with an irrelevant sound"; drawing from every category
  is our choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRAIN_IMITATIONS = 7


def split_sounds(sounds: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`sounds` with a `split` column: 'train' (train + validation) or 'test'."""
    rng = np.random.default_rng(seed)
    split = pd.Series("test", index=sounds.index)
    for category in sorted(sounds.category.unique()):
        members = sounds.index[sounds.category == category].to_numpy()
        train = rng.choice(members, size=len(members) // 2, replace=False)
        split[train] = "train"
    return sounds.assign(split=split)


def assign_imitations(imitations: pd.DataFrame, sounds: pd.DataFrame, seed: int,
                      n_train: int = TRAIN_IMITATIONS) -> pd.DataFrame:
    """`imitations` with a `role` column: 'train', 'val' or 'test'."""
    rng = np.random.default_rng([seed, 1])
    split_of = sounds.set_index("sound_id").split
    role = pd.Series("test", index=imitations.index)
    for sound_id, group in imitations.groupby("sound_id", sort=True):
        if split_of[sound_id] != "train":
            continue
        order = rng.permutation(group.index.to_numpy())
        role[order[:n_train]] = "train"
        role[order[n_train:]] = "val"
    return imitations.assign(role=role)


def make_pairs(imitations: pd.DataFrame, sounds: pd.DataFrame, role: str, seed: int) -> pd.DataFrame:
    """Positive and negative pairs for the imitations of `role` ('train' or 'val')."""
    rng = np.random.default_rng([seed, 2, {"train": 0, "val": 1}[role]])
    candidates = sounds.sound_id[sounds.split == "train"].to_numpy()
    rows = []
    for imitation in imitations[imitations.role == role].itertuples():
        others = candidates[candidates != imitation.sound_id]
        rows.append((imitation.imitation_id, imitation.sound_id, 1))
        rows.append((imitation.imitation_id, int(rng.choice(others)), 0))
    return pd.DataFrame(rows, columns=["imitation_id", "sound_id", "label"])
