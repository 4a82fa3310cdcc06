"""The pieces notebooks share: the split written by notebook 00, cached spectrograms, and
the train-evaluate-save loop of a Siamese-style configuration over several runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import IMINET_CQT, AugmentationParams
from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
from vocalsearch_tf.evaluation import scoring
from vocalsearch_tf.signal import augment, spectra
from vocalsearch_tf.training import recipes, runs
from vocalsearch_tf.training.runs import RunDirs


@dataclass
class Split:
    """Sounds (with `split`), imitations (with `role`) and the train/val pair tables."""

    sounds: pd.DataFrame
    imitations: pd.DataFrame
    pairs: dict[str, pd.DataFrame]

    def test_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (self.sounds[self.sounds.split == "test"].reset_index(drop=True),
                self.imitations[self.imitations.role == "test"].reset_index(drop=True))


def load_split(dirs: RunDirs, root: Path) -> Split:
    """Notebook 00's manifests, with each file's path from the loader."""
    folder = dirs.data()
    if not (folder / "sounds.csv").exists():
        raise FileNotFoundError(f"{folder}: no split manifests; run notebooks/00_data.ipynb first "
                                "with the same PROFILE, DATASET and SEED")
    data = load_vocalsketch(root, check_audio=False)
    sounds = pd.read_csv(folder / "sounds.csv").drop(columns="path", errors="ignore")
    imitations = pd.read_csv(folder / "imitations.csv").drop(columns="path", errors="ignore")
    sounds = sounds.merge(data.sounds[["sound_id", "path"]], on="sound_id")
    imitations = imitations.merge(data.imitations[["imitation_id", "path"]], on="imitation_id")
    pairs = {role: pd.read_csv(folder / f"pairs_{role}.csv") for role in ("train", "val")}
    return Split(sounds, imitations, pairs)


def _rows(spectrograms, rows: list[int]):
    if isinstance(spectrograms, np.ndarray):
        return spectrograms[rows]
    return [spectrograms[k] for k in rows]


@dataclass
class Spectrograms:
    """One front-end's spectrograms of every sound and imitation, and id -> row maps."""

    sounds: np.ndarray  # or a list of arrays of different lengths (`full_length_cqt`)
    imitations: np.ndarray
    sound_rows: dict
    imitation_rows: dict

    def of_sounds(self, ids):
        return _rows(self.sounds, [self.sound_rows[i] for i in ids])

    def of_imitations(self, ids):
        return _rows(self.imitations, [self.imitation_rows[i] for i in ids])

    def digest(self) -> str:
        """A hash of every spectrogram: the exact inputs a run trains and tests on."""
        if not hasattr(self, "_digest"):
            arrays = [self.sounds, self.imitations]
            if not isinstance(self.sounds, np.ndarray):  # clips of different lengths
                arrays = [np.array([a.shape[-1] for part in arrays for a in part])] + [
                    np.concatenate(part, axis=-1) for part in arrays]
            self._digest = runs.digest(*arrays)
        return self._digest

    def training_moments(self, split: Split, of: str = "both") -> tuple[float, float]:
        """Mean and variance over the training spectrograms of sounds, imitations or both."""
        parts = []
        if of in ("both", "sounds"):
            parts.append(self.of_sounds(split.sounds.sound_id[split.sounds.split == "train"]).ravel())
        if of in ("both", "imitations"):
            parts.append(self.of_imitations(split.imitations.imitation_id[split.imitations.role == "train"]).ravel())
        train = np.concatenate(parts)
        return float(train.mean()), float(train.var())


def compute_spectrograms(split: Split, sound_layer, imitation_layer, cache_dir: Path) -> Spectrograms:
    return Spectrograms(
        spectra.spectrograms(split.sounds.path, sound_layer, cache_dir, description="sounds"),
        spectra.spectrograms(split.imitations.path, imitation_layer, cache_dir, description="imitations"),
        {sid: k for k, sid in enumerate(split.sounds.sound_id)},
        {iid: k for k, iid in enumerate(split.imitations.imitation_id)},
    )


def run_fingerprint(profile, dataset: str, seed: int, dirs: RunDirs, specs: Spectrograms, **parts) -> dict:
    """The fingerprint of a run on notebook 00's split: profile, dataset, seed, the split
    manifests, the spectrograms themselves, and `parts` (model, recipe, front-end, ...)."""
    return runs.fingerprint(profile=profile, dataset=dataset, seed=seed, split=runs.split_digest(dirs),
                            inputs=specs.digest(), **parts)


def train_and_evaluate(build: Callable[[], keras.Model], split: Split, specs: Spectrograms,
                       recipe, n_runs: int, max_epochs: int | None, out_dir: Path, base_seed: int,
                       fingerprint: dict, strategy: tf.distribute.Strategy | None = None,
                       verbose: int = 0, augmentation: AugmentationParams | None = None,
                       log_offset: float = IMINET_CQT.log_offset) -> list[dict]:
    """`n_runs` trainings of `build()`; each run's model (.keras), test scores (.npz) and
    result (.json: MRR per category, epochs, history) are saved as it ends. A finished run
    is reused only when its `fingerprint` (see `run_fingerprint`) matches. With
    `augmentation`, training and validation pairs (log-CQT) are augmented (`augment.py`)."""
    augment_batch = None
    if augmentation is not None:
        def augment_batch(x, seed):
            return augment.augment(x, seed, augmentation, log_offset)

        if hasattr(recipe, "start_from_epoch"):
            recipe = dataclasses.replace(recipe, start_from_epoch=augmentation.early_stopping_from)
    test_sounds, test_queries = split.test_tables()
    sound_specs = specs.of_sounds(test_sounds.sound_id)
    query_specs = specs.of_imitations(test_queries.imitation_id)

    def run(index: int, seed: int) -> dict:
        runs.set_seed(seed)
        datasets = {
            role: recipes.pair_dataset(split.pairs[role], specs.imitation_rows, specs.sound_rows,
                                        specs.imitations, specs.sounds, recipe.batch_size,
                                        shuffle_seed=seed if role == "train" else None, augment=augment_batch)
            for role in ("train", "val")
        }
        model, history = recipes.fit_pair_model(build, datasets["train"], datasets["val"], recipe,
                                                 max_epochs, strategy, verbose,
                                                 progress=f"{out_dir.name} run {index}")
        model.save(out_dir / f"model_{index:02d}.keras")
        scores = scoring.retrieval_scores(model, test_sounds, test_queries, sound_specs, query_specs)
        scoring.save_scores(out_dir / f"scores_{index:02d}.npz", scores)
        return {"mrr": scoring.mrr_by_category(scores), "tied_targets": scoring.tied_targets_by_category(scores),
                "epochs": len(history["loss"]), "params": model.count_params(), "history": history}

    return runs.run_many(out_dir, n_runs, run, base_seed,
                             {**fingerprint, "max_epochs": max_epochs, "recipe": recipe, "augmentation": augmentation},
                             ("model_{index:02d}.keras", "scores_{index:02d}.npz"))


def full_length_cqt(split: Split, layer, cache_dir: Path) -> Spectrograms:
    """Every sound's and imitation's whole CQT (lists of (bins, frames) arrays), for IMISOUND."""
    return Spectrograms(
        spectra.full_length_spectrograms(split.sounds.path, layer, cache_dir, description="sounds, whole"),
        spectra.full_length_spectrograms(split.imitations.path, layer, cache_dir, description="imitations, whole"),
        {sid: k for k, sid in enumerate(split.sounds.sound_id)},
        {iid: k for k, iid in enumerate(split.imitations.imitation_id)},
    )


def imisound_scores(model, test_sounds: pd.DataFrame, test_queries: pd.DataFrame, specs: Spectrograms):
    """IMISOUND's eq. 3 for the test queries: log-likelihoods over the library of every test
    sound (all categories; each row sums to one in likelihood), and the per-category
    `CategoryScores` sliced from it."""
    from vocalsearch_tf.evaluation.baselines import cosine_scores as cosine_similarity
    from vocalsearch_tf.evaluation.scoring import log_likelihood

    sound_vectors = model.embed(specs.of_sounds(test_sounds.sound_id))
    query_vectors = model.embed(specs.of_imitations(test_queries.imitation_id))
    library = log_likelihood(cosine_similarity(query_vectors, sound_vectors))
    return library, scoring.per_category(test_sounds, test_queries,
                                            lambda members, asking: library[asking][:, members])


def imisound_runs(split: Split, specs: Spectrograms, n_runs: int, epochs: int, out_dir: Path,
                  base_seed: int, fingerprint: dict) -> list[dict]:
    """`n_runs` IMISOUND trainings on the training imitations' whole-clip CQTs (`specs` from
    `full_length_cqt`); each run's test log-likelihoods (`imisound_scores`) and result are
    saved as it ends."""
    from vocalsearch_tf.models.imisound import IMISOUND
    from vocalsearch_tf.training.imisound import Imisound

    test_sounds, test_queries = split.test_tables()
    train_ids = split.imitations.imitation_id[split.imitations.role == "train"]

    def run(index: int, seed: int) -> dict:
        model = Imisound(params).fit(specs.of_imitations(train_ids), seed)
        library, scores = imisound_scores(model, test_sounds, test_queries, specs)
        scoring.save_scores(out_dir / f"scores_{index:02d}.npz", scores)
        return {"mrr": scoring.mrr_by_category(scores), "tied_targets": scoring.tied_targets_by_category(scores),
                "library": library.shape[1], "loss": model.history["loss"], "vector_size": model.vector_size}

    params = dataclasses.replace(IMISOUND, epochs=epochs)
    return runs.run_many(out_dir, n_runs, run, base_seed,
                             {**fingerprint, "model": params},
                             ("scores_{index:02d}.npz",))
