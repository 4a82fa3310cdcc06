"""The papers' fit recipes, the pair input pipeline, and the multi-run runner.

Every fit function takes a `tf.distribute` strategy: the model is built and compiled in
its scope, and Keras splits each batch over the strategy's devices.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf


@dataclass(frozen=True)
class AdamRecipe:
    """IMINET training (TASLP IV-D)."""

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    batch_size: int = 128
    patience: int = 5  # early stopping on validation loss; the best weights are restored
    max_epochs: int = 200  # a safety cap: early stopping ends training well before

    def optimizer(self):
        return keras.optimizers.Adam(self.learning_rate, self.beta_1, self.beta_2, self.epsilon)

    def callbacks(self):
        return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                              restore_best_weights=True)]


IMINET_RECIPE = AdamRecipe()


@dataclass(frozen=True)
class SGDRecipe:
    """TL-IMINET training (TASLP V-D): SGD, lr 0.01, decay 1e-4, momentum 0.9, batch 128,
    30 epochs. 'Decay' is read as Keras 2's per-iteration time decay,
    lr_t = lr / (1 + decay * t), the optimiser option the papers' code base had."""

    learning_rate: float = 0.01
    decay: float = 1e-4
    momentum: float = 0.9
    batch_size: int = 128
    max_epochs: int = 30  # trained for exactly this many epochs: no early stopping

    def optimizer(self):
        schedule = keras.optimizers.schedules.InverseTimeDecay(self.learning_rate, decay_steps=1,
                                                               decay_rate=self.decay)
        return keras.optimizers.SGD(schedule, momentum=self.momentum)

    def callbacks(self):
        return []


TL_IMINET_RECIPE = SGDRecipe()


def pair_dataset(pairs: pd.DataFrame, imitation_rows: dict, sound_rows: dict,
                 imitation_specs: np.ndarray, sound_specs: np.ndarray, batch_size: int,
                 shuffle_seed: int | None = None) -> tf.data.Dataset:
    """((imitation, recording), label) batches for a pair table.

    `imitation_rows` / `sound_rows` map ids to rows of the spectrogram arrays, which are
    held once in memory and gathered per batch (no per-pair copies).
    """
    i = np.array([imitation_rows[k] for k in pairs.imitation_id], np.int64)
    s = np.array([sound_rows[k] for k in pairs.sound_id], np.int64)
    labels = pairs.label.to_numpy(np.float32)
    imitations, sounds = tf.constant(imitation_specs), tf.constant(sound_specs)
    ds = tf.data.Dataset.from_tensor_slices((i, s, labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda a, b, y: ((tf.gather(imitations, a), tf.gather(sounds, b)), y),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def fit_pair_model(build: Callable[[], keras.Model], train: tf.data.Dataset, val: tf.data.Dataset,
                   recipe: AdamRecipe, max_epochs: int | None = None,
                   strategy: tf.distribute.Strategy | None = None, verbose: int = 0):
    """Build, compile and fit a pair model with binary cross-entropy. Returns (model, history)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build()
        model.compile(optimizer=recipe.optimizer(), loss="binary_crossentropy", metrics=["accuracy"])
    epochs = min(recipe.max_epochs, max_epochs) if max_epochs else recipe.max_epochs
    history = model.fit(train, validation_data=val, epochs=epochs, callbacks=recipe.callbacks(),
                        shuffle=False, verbose=verbose)  # the dataset shuffles itself
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow, and makes TF ops deterministic: same seed,
    same numbers on a CPU."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def run_seed(base_seed: int, run: int) -> int:
    return base_seed * 1000 + run


def run_many(out_dir: str | Path, n_runs: int, run: Callable[[int, int], dict], base_seed: int = 0,
             log: Callable[[str], None] = print) -> list[dict]:
    """Runs `run(index, seed)` n times, writing each result to `out_dir/run_NN.json` the
    moment it finishes. Results already on disk are read instead of recomputed, so an
    interrupted series resumes where it stopped and a crash loses no finished run."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for index in range(n_runs):
        path = out_dir / f"run_{index:02d}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            log(f"{out_dir.name} run {index}: done before, read from {path}")
            continue
        seed = run_seed(base_seed, index)
        start = time.perf_counter()
        result = {"run": index, "seed": seed, **run(index, seed)}
        result["seconds"] = round(time.perf_counter() - start, 2)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")
        os.replace(tmp, path)
        log(f"{out_dir.name} run {index}: finished in {result['seconds']} s")
        results.append(result)
    return results


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)
