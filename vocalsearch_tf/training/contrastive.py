"""Contrastive training of a dual encoder (`models.dual_encoder`) as Greif et al. (DCASE 2024) fine-tune
theirs: the NT-Xent loss they adapted for query by vocal imitation, on batches of (imitation,
reference) pairs whose other pairs are the negatives, and its fit.

The loss (`config.NTXentParams`, source there): for imitation i of a batch of n pairs,

    l_i = -log( exp(cos(q_i, r_i) / tau) / sum_{k in K_i} exp(cos(q_i, r_k) / tau) )

with K_i every k whose reference is not i's own sound, plus i itself (Greif et al. leave a batch's
other copies of i's reference out: they are no negatives); tau = 0.07; the loss is the mean of l_i.
One direction only, imitation -> reference, as theirs. Under a strategy with several replicas
(MirroredStrategy) each replica's part of a batch is its own set of negatives.

The fit (`fit_dual_encoder`) is `recipes`'s: built and compiled in the strategy's scope, Keras's
fit with early stopping on the validation loss (the same NT-Xent, on fixed validation batches),
or `recipes.fit_across_workers` under MultiWorkerMirroredStrategy. Its inputs are positive
pairs only (`positive_pairs`), gathered from in-memory aisfx log-mel blocks per batch and
augmented on the fly (`augment.augment_aisfx`, `config.AISFX_AUGMENTATION`).
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import AISFX_AUGMENTATION, NT_XENT, AisfxLogMelParams, AugmentationParams, NTXentParams
from vocalsearch_tf.signal import augment
from vocalsearch_tf.training import recipes

AISFX_FRONT_END = AisfxLogMelParams()
# Greif et al.'s fit (QBV ex_qbv.py defaults): Adam, lr 5e-4, no weight decay, 15 epochs, batches
# of 16 with gradients accumulated over 2. Here: one batch of 32 (31 in-batch negatives where
# theirs had 15) and no warm-up / ramp-down schedule; early stopping on the validation loss
# (patience 3, the best weights kept) as the issue asks, which their fixed 15 epochs lack.
CONTRASTIVE_RECIPE = recipes.AdamRecipe(learning_rate=5e-4, batch_size=32, patience=3, max_epochs=15)
LARGEST_EXACT_ID = 2 ** 24  # reference rows travel as float32 labels (`recipes.pair_dataset`)


def nt_xent(imitations, references, reference_ids, params: NTXentParams = NT_XENT) -> tf.Tensor:
    """l_i of each pair (module docstring): `(batch,)` from `(batch, d)` imitation and reference
    embeddings (any length; compared by cosine) and each pair's reference id `(batch,)`."""
    imitations = tf.math.l2_normalize(tf.convert_to_tensor(imitations), axis=1)
    references = tf.math.l2_normalize(tf.convert_to_tensor(references, imitations.dtype), axis=1)
    logits = tf.matmul(imitations, references, transpose_b=True) / params.temperature
    if params.exclude_same_reference:
        ids = tf.reshape(reference_ids, [-1])
        same = tf.equal(ids[:, None], ids[None, :])
        others = tf.logical_not(tf.eye(tf.shape(ids)[0], dtype=tf.bool))
        logits = tf.where(same & others, tf.constant(-np.inf, logits.dtype), logits)
    return tf.reduce_logsumexp(logits, axis=1) - tf.linalg.diag_part(logits)


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class NTXent(keras.losses.Loss):
    """`nt_xent` as a Keras loss on a dual encoder's `pair_embeddings` (imitation half first);
    `y_true` holds each pair's reference id. `call` gives one value per pair."""

    def __init__(self, temperature: float = NT_XENT.temperature,
                 exclude_same_reference: bool = NT_XENT.exclude_same_reference, name: str = "nt_xent", **kwargs):
        super().__init__(name=name, **kwargs)
        self.params = NTXentParams(temperature, exclude_same_reference)

    def call(self, y_true, y_pred):
        imitations, references = tf.split(y_pred, 2, axis=-1)
        return nt_xent(imitations, references, y_true, self.params)

    def get_config(self):
        return {**super().get_config(), "temperature": self.params.temperature,
                "exclude_same_reference": self.params.exclude_same_reference}


def positive_pairs(imitations: pd.DataFrame, sound_rows: dict) -> pd.DataFrame:
    """Each imitation with its own reference (`sound_id`); `label`, what `NTXent` compares, is the
    reference's row in `sound_rows` (id -> row): one number per reference, small enough to travel
    exactly as a float32 label where the ids themselves need not be (VocalSketch's have 16 digits)."""
    rows = np.array([sound_rows[s] for s in imitations.sound_id], np.int64)
    if len(rows) and rows.max() >= LARGEST_EXACT_ID:
        raise ValueError(f"reference rows must stay below {LARGEST_EXACT_ID} to travel exactly as float32 labels")
    return pd.DataFrame({"imitation_id": imitations.imitation_id.to_numpy(),
                         "sound_id": imitations.sound_id.to_numpy(), "label": rows})


def aisfx_augmentation(params: AugmentationParams | None = AISFX_AUGMENTATION,
                       front_end: AisfxLogMelParams = AISFX_FRONT_END) -> Callable | None:
    """`augment(x, seed)` for `recipes.pair_dataset` on aisfx log-mel blocks; None without params."""
    if params is None:
        return None
    return lambda x, seed: augment.augment_aisfx(x, seed, params, front_end)


def contrastive_dataset(imitations: pd.DataFrame, imitation_rows: dict, sound_rows: dict,
                        imitation_blocks: np.ndarray, sound_blocks: np.ndarray, batch_size: int,
                        shuffle_seed: int | None = None,
                        augmentation: AugmentationParams | None = AISFX_AUGMENTATION) -> tf.data.Dataset:
    """((imitation, reference), reference row) batches of `imitations`' positive pairs (aisfx
    log-mel blocks, rows given by the id -> row maps), shuffled with `shuffle_seed` (training)
    or in order with the same augmentation draws every epoch (validation: None)."""
    return recipes.pair_dataset(positive_pairs(imitations, sound_rows), imitation_rows, sound_rows, imitation_blocks,
                                sound_blocks, batch_size, shuffle_seed, aisfx_augmentation(augmentation))


def fit_dual_encoder(build: Callable[[], keras.Model], train: tf.data.Dataset, val: tf.data.Dataset,
                     recipe: recipes.AdamRecipe = CONTRASTIVE_RECIPE, max_epochs: int | None = None,
                     strategy: tf.distribute.Strategy | None = None, params: NTXentParams = NT_XENT,
                     verbose: int = 0, progress: str | None = None) -> tuple[keras.Model, dict]:
    """Build (`build()`, e.g. `models.dual_encoder.build_dual_encoder`) and compile in
    `strategy`'s scope, fit with the NT-Xent loss, early-stopped on the validation loss with the
    best weights restored. Returns (model, history). With `progress`, a bar counts the epochs."""
    strategy = strategy or tf.distribute.get_strategy()
    loss = NTXent(params.temperature, params.exclude_same_reference)
    with strategy.scope():
        model = build()
        model.compile(optimizer=recipe.optimizer(), loss=loss)
    epochs = recipes.capped_epochs(min(recipe.max_epochs, max_epochs) if max_epochs else recipe.max_epochs)
    train, val = recipes.capped_batches(train), recipes.capped_batches(val)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model, recipes.fit_across_workers(model, train, val, epochs, recipe.patience, strategy, progress,
                                                 per_pair_loss=loss.call)
    callbacks = recipe.callbacks() + ([recipes.EpochProgress(epochs, progress)] if progress else [])
    history = model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks, shuffle=False,
                        verbose=verbose)  # the dataset shuffles itself
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}
