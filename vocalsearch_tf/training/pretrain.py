"""Tower pretraining (TASLP V-A, V-B): spoken-language ID and urban-sound classification.

Choices where the papers are silent: Adam with batch 32 (lr 1e-3; for language ID the
profile's rate, 1e-4 with patience 8 on the small embedded speech sets), early stopping on
a held-out tenth of the training part (patience 5, best weights restored); labels as
integers with sparse categorical cross-entropy. The speech split is speaker-disjoint
(70/30 by speaker, the validation tenth also by speaker). UrbanSound8K uses its own 10
folds; the weights transferred to TL-IMINET come from one more model trained on all 10
folds for the median of the folds' best epoch counts (no test data remains unseen
there, and none is needed: the transfer target is VocalSketch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import GroupShuffleSplit

from vocalsearch_tf.training.recipes import (EpochProgress, array_dataset, capped_batches, capped_epochs,
                                             predict)


@dataclass(frozen=True)
class ClassifierRecipe:
    learning_rate: float = 1e-3
    batch_size: int = 32
    patience: int = 5
    validation_fraction: float = 0.1
    max_epochs: int = 100


URBAN_SOUND_RECIPE = ClassifierRecipe()


def language_id_recipe(profile) -> ClassifierRecipe:
    """Language-ID pretraining at the profile's learning rate (see `Profile`); the small
    embedded speech sets get more patience, since their validation tenth is noisy."""
    if profile.language_id_learning_rate >= 1e-3:
        return ClassifierRecipe(learning_rate=profile.language_id_learning_rate)
    return ClassifierRecipe(learning_rate=profile.language_id_learning_rate, patience=8)


def classifier_dir(results: Path, tower: str) -> Path:
    """Where notebook 01 ('imitation') or 02 ('recording') keeps the pretrained classifier
    whose layers TL-IMINET loads: `model_00.keras` and its run record `run_00.json`."""
    return Path(results) / "pretrain" / f"{tower}_classifier"


def load_classifier(results: Path, tower: str) -> tuple[keras.Model, dict]:
    """The pretrained classifier of a tower and its run record (with its fingerprint)."""
    folder = classifier_dir(results, tower)
    notebook = {"imitation": "01_pretrain_voxforge", "recording": "02_pretrain_urbansound8k"}[tower]
    if not (folder / "model_00.keras").exists():
        raise FileNotFoundError(f"{folder}/model_00.keras: no pretrained {tower} classifier; run "
                                f"notebooks/{notebook}.ipynb first with the same PROFILE, DATASET and SEED")
    return keras.models.load_model(folder / "model_00.keras"), json.loads((folder / "run_00.json").read_text())


def group_split(groups, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test) with no group (speaker, recording) in both."""
    groups = np.asarray(groups)
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train, test = next(splitter.split(np.zeros(len(groups)), groups=groups))
    return np.sort(train), np.sort(test)


def fit_classifier(build, x: np.ndarray, y: np.ndarray, groups, recipe: ClassifierRecipe, seed: int,
                   max_epochs: int | None = None, epochs_exactly: int | None = None,
                   strategy: tf.distribute.Strategy | None = None, progress: str = "classifier"):
    """Train a classifier; a tenth of the groups is held out for early stopping, unless
    `epochs_exactly` is given (then all data trains for that many epochs)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if epochs_exactly is not None:
        epochs = capped_epochs(epochs_exactly)
        history = model.fit(capped_batches(array_dataset((x, y), recipe.batch_size, shuffle_seed=seed)),
                            epochs=epochs, shuffle=False, verbose=0, callbacks=[EpochProgress(epochs, progress)])
    else:
        train, val = group_split(groups, recipe.validation_fraction, seed)
        epochs = capped_epochs(min(recipe.max_epochs, max_epochs) if max_epochs else recipe.max_epochs)
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=recipe.patience, restore_best_weights=True)
        history = model.fit(capped_batches(array_dataset((x[train], y[train]), recipe.batch_size, shuffle_seed=seed)),
                            validation_data=capped_batches(array_dataset((x[val], y[val]), recipe.batch_size)),
                            epochs=epochs, callbacks=[stop, EpochProgress(epochs, progress)], shuffle=False,
                            verbose=0)
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}


def best_epoch(history: dict) -> int:
    """1-based epoch of the lowest validation loss (the weights early stopping keeps)."""
    return int(np.argmin(history["val_loss"])) + 1 if "val_loss" in history else len(history["loss"])


def evaluate_classifier(model, x: np.ndarray, y: np.ndarray, n_classes: int) -> dict:
    predicted = np.argmax(predict(model, x, 64), axis=1)
    return {"accuracy": float(accuracy_score(y, predicted)),
            "confusion": confusion_matrix(y, predicted, labels=list(range(n_classes))).tolist()}


def plot_confusion(ax, confusion, labels, title: str):
    confusion = np.asarray(confusion, dtype=float)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if confusion[i, j]:
                ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")


def label_codes(values, classes) -> np.ndarray:
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index[v] for v in values], dtype=np.int64)


def fold_table(results: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"fold": r["fold"], "accuracy": r["accuracy"], "epochs": r["epochs"]} for r in results])
