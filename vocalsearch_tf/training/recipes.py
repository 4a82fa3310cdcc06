"""The papers' fit recipes and the pair input pipeline (the multi-run runner is `runs.run_many`).

Every fit function takes a `tf.distribute` strategy: the model is built and compiled in
its scope, and Keras splits each batch over the strategy's devices. Every fit, here and in
the other training modules, passes its epochs, steps and datasets through `capped_epochs`,
`capped_steps` and `capped_batches` (a written-out loop its batch size through
`capped_batch_size`): the smoke switch (`config.smoke_steps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from vocalsearch_tf.config import SMOKE_BATCH_SIZE, SMOKE_EPOCHS, smoke_steps


def capped_epochs(epochs: int) -> int:
    """A fit's epochs: `epochs`, or under the smoke switch at most `SMOKE_EPOCHS`."""
    return min(epochs, SMOKE_EPOCHS) if smoke_steps() else epochs


def capped_steps(steps: int) -> int:
    """A fit's steps (batches) per epoch: `steps`, or under the smoke switch at most its N."""
    return min(steps, smoke_steps()) if smoke_steps() else steps


def capped_batch_size(size: int) -> int:
    """A written-out loop's examples per step: `size`, or under the smoke switch at most `SMOKE_BATCH_SIZE`."""
    return min(size, SMOKE_BATCH_SIZE) if smoke_steps() else size


def capped_batches(dataset: tf.data.Dataset, repeated: bool = False) -> tf.data.Dataset:
    """A fit's batched dataset, or under the smoke switch its first N batches, each cut to at
    most `SMOKE_BATCH_SIZE` examples. A `repeated` (endless) dataset keeps its length: its fit
    caps `steps_per_epoch` with `capped_steps` instead."""
    steps = smoke_steps()
    if not steps:
        return dataset

    def first_examples(*element):
        element = element[0] if len(element) == 1 else element
        return tf.nest.map_structure(lambda t: t[:SMOKE_BATCH_SIZE], element)

    # sliced rather than re-batched: the number of batches stays known to Keras, which
    # otherwise warns at the end of the first epoch that the input "ran out of data"
    return (dataset if repeated else dataset.take(steps)).map(first_examples)


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
    start_from_epoch: int = 0  # epochs before early stopping may act (the paper: from the first)
    weight_decay: float | None = None  # decoupled (AdamW's); the paper's recipe has none

    def optimizer(self):
        return keras.optimizers.Adam(self.learning_rate, self.beta_1, self.beta_2, self.epsilon,
                                     weight_decay=self.weight_decay)

    def callbacks(self):
        return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                              restore_best_weights=True, start_from_epoch=self.start_from_epoch)]


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
                 shuffle_seed: int | None = None,
                 augment: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None) -> tf.data.Dataset:
    """((imitation, recording), label) batches for a pair table.

    `imitation_rows` / `sound_rows` map ids to rows of the spectrogram arrays, which are
    held once in memory and gathered per batch (no per-pair copies). `augment(x, seed)`,
    if given, transforms each batch of imitations and of recordings with a stateless seed
    drawn per batch from `shuffle_seed` (new draws every epoch, the same every run;
    without a shuffle seed, the same draws every epoch).
    """
    i = np.array([imitation_rows[k] for k in pairs.imitation_id], np.int64)
    s = np.array([sound_rows[k] for k in pairs.sound_id], np.int64)
    labels = pairs.label.to_numpy(np.float32)
    imitations, sounds = tf.constant(imitation_specs), tf.constant(sound_specs)
    ds = tf.data.Dataset.from_tensor_slices((i, s, labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is None:
        ds = ds.map(lambda a, b, y: ((tf.gather(imitations, a), tf.gather(sounds, b)), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        # training draws anew each epoch; unshuffled (validation) data gets the same draws
        # every epoch, so its loss measures the same task from epoch to epoch
        seeds = tf.data.Dataset.random(seed=shuffle_seed or 0, rerandomize_each_iteration=shuffle_seed is not None)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda batch, seed: ((augment(tf.gather(imitations, batch[0]), tf.stack([seed, 0])),
                                  augment(tf.gather(sounds, batch[1]), tf.stack([seed, 1]))), batch[2]),
            num_parallel_calls=tf.data.AUTOTUNE)
        if shuffle_seed is None:
            ds = ds.cache()  # the same draws every epoch: made once, kept in memory
    return ds.prefetch(tf.data.AUTOTUNE)


class EpochProgress(keras.callbacks.Callback):
    """A progress bar over a fit's epochs that shows the latest losses."""

    def __init__(self, epochs: int, description: str):
        super().__init__()
        self.epochs, self.description = epochs, description

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, desc=self.description, unit="epoch", leave=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if k in ("loss", "val_loss")})

    def on_train_end(self, logs=None):
        self.bar.close()


def array_dataset(arrays, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """Batches of in-memory arrays (a nested structure of them, such as (x, y)), gathered
    per batch from one copy, like `pair_dataset`.

    Used in place of passing arrays to Keras's fit and predict: Keras's array adapter
    slices with a map that TensorFlow 2.21's determinism rewrite (on once `set_seed` ran)
    turns into a MapDataset node carrying an attribute that op lacks, which TensorFlow
    logs as a NodeDef error on every fit and predict.
    """
    tensors = tf.nest.map_structure(tf.constant, arrays)
    rows = tf.data.Dataset.range(len(tf.nest.flatten(arrays)[0]))
    if shuffle_seed is not None:
        rows = rows.shuffle(rows.cardinality(), seed=shuffle_seed, reshuffle_each_iteration=True)
    batches = rows.batch(batch_size).map(lambda k: tf.nest.map_structure(lambda t: tf.gather(t, k), tensors),
                                         num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)


def predict(model: keras.Model, inputs, batch_size: int = 256) -> np.ndarray:
    """`model.predict` over in-memory inputs (an array or a list of arrays), batched by
    `array_dataset`."""
    # a model with several inputs takes them as one tuple: batches of (x,), never (x, y)
    structure = inputs if isinstance(inputs, np.ndarray) else (tuple(inputs),)
    return model.predict(array_dataset(structure, batch_size), verbose=0)


def fit_pair_model(build: Callable[[], keras.Model], train: tf.data.Dataset, val: tf.data.Dataset,
                   recipe: AdamRecipe, max_epochs: int | None = None,
                   strategy: tf.distribute.Strategy | None = None, verbose: int = 0,
                   progress: str | None = None):
    """Build, compile and fit a pair model with binary cross-entropy. Returns (model, history).
    With `progress`, a bar of that name counts the epochs."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build()
        model.compile(optimizer=recipe.optimizer(), loss="binary_crossentropy", metrics=["accuracy"])
    epochs = capped_epochs(min(recipe.max_epochs, max_epochs) if max_epochs else recipe.max_epochs)
    train, val = capped_batches(train), capped_batches(val)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model, fit_across_workers(model, train, val, epochs, getattr(recipe, "patience", None), strategy, progress)
    callbacks = recipe.callbacks() + ([EpochProgress(epochs, progress)] if progress else [])
    history = model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks,
                        shuffle=False, verbose=verbose)  # the dataset shuffles itself
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}


def binary_crossentropy_per_pair(label, predicted):
    return keras.losses.binary_crossentropy(label[:, None], predicted)


def fit_across_workers(model: keras.Model, train: tf.data.Dataset, val: tf.data.Dataset, epochs: int,
                       patience: int | None, strategy: tf.distribute.Strategy, progress: str | None = None,
                       per_pair_loss: Callable | None = None) -> dict:
    """The training loop of `model.fit` (binary cross-entropy, or `per_pair_loss(label,
    predicted)` giving one value per pair; early stopping on the validation loss with the best
    weights restored), written out for strategies Keras 3's fit cannot drive: under
    MultiWorkerMirroredStrategy it fails on its first batch (keras-team/keras#20585). Each
    replica's gradients are all-reduced across workers."""
    train_batches = strategy.experimental_distribute_dataset(train)
    val_batches = strategy.experimental_distribute_dataset(val)
    per_pair_loss = per_pair_loss or binary_crossentropy_per_pair

    def replica_loss(batch, training):
        (imitation, recording), label = batch
        predicted = model([imitation, recording], training=training)
        return tf.nn.compute_average_loss(per_pair_loss(label, predicted))

    @tf.function
    def train_step(batch):
        def step(batch):
            with tf.GradientTape() as tape:
                loss = replica_loss(batch, True)
            model.optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss
        return strategy.reduce("SUM", strategy.run(step, args=(batch,)), axis=None)

    @tf.function
    def val_step(batch):
        return strategy.reduce("SUM", strategy.run(lambda b: replica_loss(b, False), args=(batch,)), axis=None)

    history, best, waited = {"loss": [], "val_loss": []}, None, 0
    bar = tqdm(total=epochs, desc=progress or "epochs", unit="epoch", leave=False, disable=progress is None)
    for _ in range(epochs):
        history["loss"].append(float(np.mean([train_step(b) for b in train_batches])))
        history["val_loss"].append(float(np.mean([val_step(b) for b in val_batches])))
        bar.update(1)
        if best is None or history["val_loss"][-1] < best[0]:
            best, waited = (history["val_loss"][-1], model.get_weights()), 0
        else:
            waited += 1
            if patience is not None and waited >= patience:
                break
    bar.close()
    if patience is not None:
        model.set_weights(best[1])
    return history
