"""Fitting Fan et al. 2020's variants: the training pairs of 4.2, their datasets, and the epoch choice of 5.3.

Choices where the paper is silent (the notebook repeats them):
- pairs (4.2): partners are drawn at random (seeded) from the training clips, or, with
  `order="first"`, the first in file order (the same partners for every target); a pair is
  the same whichever clip comes first (deduplicated as unordered), and a clip never pairs
  with itself. The profile's `pair_order` chooses: on the real v1 training labels the
  paper's 218 173 distinct pairs (`experiments.paper.FAN2020_PAIRS`) compare with 471 555
  ("first") and 938 610 ("random"), so `paper` takes "first";
- the multi-model's sub-model k trains on the pairs drawn for category k (4.2), so the 8
  together cost about what one single model costs; one fit trains them side by side;
- epochs (5.3): up to `max_epochs` with early stopping (`patience`) on validation pairs
  whose targets are a held-out tenth of the training clips (partners from the other nine
  tenths); the best epoch count is kept, and with `retrain` the model is trained again on
  all training clips for that many epochs.
RMSProp, lr 1e-3, batch 128 (5.3: `config.FanRecipe`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import FanRecipe
from vocalsearch_tf.models.fan2020.model import FanConfig, build_fan
from vocalsearch_tf.models.fan2020.presence import presence_matrix
from vocalsearch_tf.training import recipes

# --- pairs (4.2) ----------------------------------------------------------------------------

PAIR_ORDERS = ("random", "first")


def draw_pairs(labels: np.ndarray, targets, pool, partners: int, seed: int, order: str = "random") -> pd.DataFrame:
    """For every category and target: up to `partners` clips of `pool` in the target's
    situation for the category (both have it / neither has it) and up to `partners` in the
    opposite one. Rows (first = target, second = partner, category), duplicates kept."""
    if order not in PAIR_ORDERS:
        raise ValueError(f"partner order must be one of {PAIR_ORDERS}, not {order!r}")
    labels = np.asarray(labels, dtype=bool)
    targets, pool = np.asarray(targets), np.asarray(pool)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(labels.shape[1]):
        for target in targets:
            others = pool[pool != target]
            same = labels[others, k] == labels[target, k]
            for group in (others[same], others[~same]):
                if order == "first":
                    chosen = group[:partners]
                else:
                    chosen = rng.choice(group, min(partners, len(group)), replace=False) if len(group) else group
                rows += [(int(target), int(p), k) for p in chosen]
    return pd.DataFrame(rows, columns=["first", "second", "category"])


def unique_pairs(draws: pd.DataFrame) -> pd.DataFrame:
    """Distinct unordered pairs, first drawn orientation kept: the single model's training set."""
    key = np.sort(draws[["first", "second"]].to_numpy(), axis=1)
    keep = ~pd.DataFrame(key).duplicated().to_numpy()
    return draws.loc[keep, ["first", "second"]].reset_index(drop=True)


def category_pairs(draws: pd.DataFrame, category: int) -> pd.DataFrame:
    """The distinct pairs drawn for one category: its sub-model's training set."""
    return unique_pairs(draws[draws.category == category])


# --- training -------------------------------------------------------------------------------

def _pair_parts(config: FanConfig, labels: np.ndarray, draws: pd.DataFrame) -> list:
    """(first rows, second rows, target) per group: all distinct pairs with the whole matrix
    for the single model; for sub-model k the pairs drawn for category k, with its column."""
    def arrays(pairs: pd.DataFrame, category: int | None):
        first, second = pairs["first"].to_numpy(np.int64), pairs["second"].to_numpy(np.int64)
        target = presence_matrix(labels[first], labels[second])
        return first, second, target if category is None else target[:, category:category + 1]

    if config.multi_model:
        return [arrays(category_pairs(draws, k), k) for k in range(config.categories)]
    return [arrays(unique_pairs(draws), None)]


def _dataset(features: tf.Tensor, parts: list, batch_size: int, seed: int | None, repeat: bool) -> tf.data.Dataset:
    """((first, second), target) batches, inputs `(batch, T, groups, d)` gathered from
    `features`. Several parts (the multi-model) are each shuffled and cycled on their own,
    and group k of a batch holds part k's pairs."""
    sets = []
    for k, (first, second, target) in enumerate(parts):
        ds = tf.data.Dataset.from_tensor_slices((first, second, target))
        if seed is not None:
            ds = ds.shuffle(len(first), seed=seed + k, reshuffle_each_iteration=True)
        sets.append((ds.repeat() if repeat else ds).batch(batch_size))

    def gather(*batches):
        first = tf.stack([tf.gather(features, b[0]) for b in batches], axis=2)
        second = tf.stack([tf.gather(features, b[1]) for b in batches], axis=2)
        return (first, second), tf.concat([b[2] for b in batches], axis=1)

    ds = tf.data.Dataset.zip(tuple(sets)) if len(sets) > 1 else sets[0].map(lambda *b: (b,))
    return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _train(config: FanConfig, features: np.ndarray, labels: np.ndarray, moments, draws: pd.DataFrame,
           validation: pd.DataFrame | None, recipe: FanRecipe, epochs: int, seed: int,
           strategy: tf.distribute.Strategy | None, verbose: int, progress: str | None):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model, trained = build_fan(config, features.shape[1:], moments)
        trained.compile(optimizer=keras.optimizers.RMSprop(recipe.learning_rate), loss="categorical_crossentropy")
    constant = tf.constant(features)
    parts = _pair_parts(config, labels, draws)
    cycled = len(parts) > 1  # the multi-model's parts differ in size: cycle them, count steps
    epochs = recipes.capped_epochs(epochs)
    fit_args = {"epochs": epochs, "verbose": verbose, "shuffle": False}  # the datasets shuffle themselves
    if cycled:
        fit_args["steps_per_epoch"] = recipes.capped_steps(
            int(np.ceil(max(len(p[0]) for p in parts) / recipe.batch_size)))
    callbacks = [recipes.EpochProgress(epochs, progress)] if progress else []
    if validation is not None:
        val_parts = _pair_parts(config, labels, validation)
        fit_args["validation_data"] = recipes.capped_batches(
            _dataset(constant, val_parts, recipe.batch_size, None, cycled), repeated=cycled)
        if cycled:
            fit_args["validation_steps"] = recipes.capped_steps(
                int(np.ceil(max(len(p[0]) for p in val_parts) / recipe.batch_size)))
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=recipe.patience,
                                                       restore_best_weights=True))
    train = recipes.capped_batches(_dataset(constant, parts, recipe.batch_size, seed, cycled), repeated=cycled)
    history = trained.fit(train, callbacks=callbacks, **fit_args)
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, sum(len(p[0]) for p in parts)


@dataclass
class FitResult:
    model: keras.Model
    epochs: int  # the chosen number of epochs
    history: dict  # of the epoch-selection run
    pairs: int  # training pairs of the final model (summed over sub-models)


def split_validation(train_rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fitting clips, validation clips): a random `fraction` of the training clips held out."""
    rng = np.random.default_rng(seed)
    held = rng.permutation(len(train_rows))[: max(1, int(round(fraction * len(train_rows))))]
    mask = np.zeros(len(train_rows), dtype=bool)
    mask[held] = True
    return np.sort(train_rows[~mask]), np.sort(train_rows[mask])


def moments_of(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and variance over clips and time steps."""
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return flat.mean(0).astype(np.float32), np.maximum(flat.var(0), 1e-8).astype(np.float32)


def fit(config: FanConfig, features: np.ndarray, labels: np.ndarray, train_rows, recipe: FanRecipe,
        partners: int, seed: int, strategy: tf.distribute.Strategy | None = None, order: str = "random",
        verbose: int = 0, progress: str | None = None) -> FitResult:
    """5.3: choose the number of epochs on validation pairs of a held-out tenth of the
    training clips; then, with `recipe.retrain`, train afresh on all training clips for
    that many epochs (otherwise keep the selection run's best weights). With
    `max_epochs=1` there is nothing to choose: one epoch on all training clips."""
    train_rows = np.asarray(train_rows)
    if recipe.max_epochs == 1:
        draws = draw_pairs(labels, train_rows, train_rows, partners, seed, order)
        model, history, pairs = _train(config, features, labels, moments_of(features[train_rows]), draws, None,
                                       recipe, 1, seed, strategy, verbose, progress)
        return FitResult(model, 1, history, pairs)
    fitting, held = split_validation(train_rows, recipe.validation_fraction, seed)
    draws = draw_pairs(labels, fitting, fitting, partners, seed, order)
    validation = draw_pairs(labels, held, fitting, partners, seed + 1, order)
    model, history, pairs = _train(config, features, labels, moments_of(features[fitting]), draws, validation,
                                   recipe, recipe.max_epochs, seed, strategy, verbose,
                                   progress and f"{progress}: choosing epochs")
    epochs = int(np.argmin(history["val_loss"])) + 1
    if recipe.retrain:
        draws = draw_pairs(labels, train_rows, train_rows, partners, seed + 2, order)
        model, _, pairs = _train(config, features, labels, moments_of(features[train_rows]), draws, None,
                                 recipe, epochs, seed, strategy, verbose, progress and f"{progress}: retraining")
    return FitResult(model, epochs, history, pairs)
