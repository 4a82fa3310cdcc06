"""Real recordings as training references: packages disjoint from both checks, every
readable file of each pool, imitated by the embedded voice only, and joined to the embedded
data's training pairs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from vocalsearch_tf.datasets import packaged, real_references
from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
from vocalsearch_tf.search import train_default


def test_training_packages_are_disjoint_from_both_checks():
    real_references.check_disjoint()  # the table as shipped
    assert not set(real_references.PACKAGES) & set(packaged.PACKAGES)
    assert not set(real_references.PACKAGES) & packaged.RESERVED_PACKAGES
    with pytest.raises(packaged.ReservedPackageError, match="development check"):
        real_references.check_disjoint(("scratch", "lmms-common"))
    with pytest.raises(packaged.ReservedPackageError, match="independent check"):
        real_references.check_disjoint(("sonic-pi-samples",))


def fake_roots(tmp_path, broken: bool = False):
    """Each pool's folder with two decaying tones (one silent file and one text file besides)."""
    rng = np.random.default_rng(0)
    roots = {}
    for pools in real_references.POOLS.values():
        for pool in pools:
            folder = tmp_path / pool.package / pool.folder
            folder.mkdir(parents=True, exist_ok=True)
            roots[pool.package] = tmp_path / pool.package
            for k in range(2):
                t = np.arange(6000) / 22_050
                sf.write(folder / f"{folder.name}_{k}.wav",
                         np.sin(2 * np.pi * rng.uniform(200, 900) * t) * np.exp(-4 * t), 22_050)
            sf.write(folder / "silence.wav", np.zeros(3000), 22_050)
            (folder / "README.txt").write_text("not audio")
    return roots


def test_every_readable_file_of_each_pool_becomes_a_training_sound(tmp_path):
    roots = fake_roots(tmp_path)
    sounds = real_references.choose_sounds(roots)
    pools = [p for pools in real_references.POOLS.values() for p in pools]
    assert len(sounds) == 2 * len(pools)  # silent and non-audio files left out
    assert len({s.label for s in sounds}) == len(sounds)  # same stems in two folders get two labels
    assert {s.category for s in sounds} == set(real_references.POOLS)
    assert {s.package for s in sounds} == set(real_references.PACKAGES)


def test_the_set_is_imitated_by_the_embedded_voice_only_and_joins_the_training_pairs(tmp_path):
    roots = fake_roots(tmp_path / "packages")
    sounds = real_references.choose_sounds(roots)[:3]
    references = {s.label: packaged.load_sound(s, roots) for s in sounds}
    dest = tmp_path / "real"
    counts = packaged.write_set(dest, sounds, references, real_references.SEED,
                                processes=real_references.PROCESSES, per_process=real_references.IMITATIONS_PER_SOUND)
    assert counts["per_process"] == {"voice": 3 * real_references.IMITATIONS_PER_SOUND}
    data = load_vocalsketch(dest, per_sound=10**6)
    assert len(data.imitations) == 3 * real_references.IMITATIONS_PER_SOUND and not data.report.skipped
    # another set in the same layout stands for the embedded data: the real one joins it
    embedded = tmp_path / "embedded"
    packaged.write_set(embedded, sounds[:2], references, seed=7, processes=("voice",), per_process=10)
    joined, imitations, tables, _ = train_default.training_tables(embedded, 0, dest)
    assert len(joined) == 5 and set(data.sounds.sound_id) <= set(joined.sound_id)
    assert (joined.split == "train").all()
    in_pairs = set(tables["train"].imitation_id) | set(tables["val"].imitation_id)
    assert set(data.imitations.imitation_id) <= in_pairs
    assert len(tables["train"]) == 2 * 7 * 5  # 7 training imitations a sound, a positive and a negative each
    with pytest.raises(ValueError, match="clash"):
        train_default.training_tables(dest, 0, dest)
    # early stopping on the real sounds alone: they validate, the embedded data trains
    joined, imitations, tables, _ = train_default.training_tables(embedded, 0, dest, real_role="val")
    real_ids = set(data.imitations.imitation_id)
    assert set(tables["val"].imitation_id) == real_ids
    assert set(tables["val"].sound_id) <= set(data.sounds.sound_id)  # negatives among the real sounds
    assert not set(tables["train"].imitation_id) & real_ids and len(tables["train"]) == 2 * 7 * 2
    assert set(imitations.role) == {"train", "val", "unused"}

