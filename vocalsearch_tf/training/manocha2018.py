"""Training Manocha et al. 2018's N_R (ICASSP 2018; section numbers refer to it): the
contrastive loss, the pair sets, the fit and the resumable runner of several trainings.
The tower itself is `models/manocha2018.py`.

- Contrastive loss (2.2, eq. 1-2) on the Euclidean distance of two embeddings, margin m.
- Pair sets (3.2): balanced (N_R^B: every same-class pair, and as many pairs of a clip with
  a random clip of another class) and unbalanced (N_R^U: the same positives and every
  different-class pair).

Choices where the paper is silent:
- Adam at learning rate 3e-4 (measured on the embedded quick set, N_R^B, margin 10: at 1e-3
  the validation loss rose from the second epoch on, at 1e-4 the validation MAP was still
  climbing after 30 epochs, at 3e-4 it peaked near epoch 23), up to 200 epochs (3.2). "Optimised on
  the training and validation losses": the epoch kept is the one of highest validation MAP
  (Euclidean, validation queries against the validation and training clips), with early
  stopping after 20 epochs without a better one. The validation loss of eq. 2 is recorded
  too, but over N_R^U's pairs it is dominated by the negatives beyond the margin and rose
  while retrieval improved, so it is not what selects;
- the margin m: picked from `Profile.manocha_margins` by the validation MAP of N_R^B, and
  then used for N_R^U too (notebook 07 shows the sweep);
- how an epoch is computed. A step takes a minibatch of clips, embeds each clip once and
  scores every pair of the pair set whose two clips are both in the minibatch; the loss is
  the mean of eq. 2 over those pairs. An epoch runs over a random partition of the training
  clips into minibatches, so every pair of the set is equally likely to be met (with
  probability about clips_per_step / clips per epoch) and each step's loss estimates the
  whole set's mean loss. An epoch costs one forward and backward pass per clip whatever the pair set's size,
  which is what keeps N_R^U tractable: its full negative set (every different-class pair,
  ~60 negatives per positive here) is used as it is, with no sampling.

The loss lives here, not beside the tower: only fitting and validation use it (retrieval
compares embeddings by plain Euclidean distance, `evaluation/content_retrieval.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from vocalsearch_tf.models.manocha2018 import EMBEDDING_SIZE, build_tower, input_moments
from vocalsearch_tf.training import runs
from vocalsearch_tf.training.recipes import capped_batch_size, capped_epochs, capped_steps

PAIR_SETS = ("balanced", "unbalanced")


@dataclass(frozen=True)
class ContrastiveRecipe:
    """How N_R is trained (see the module docstring for the choices)."""

    margin: float = 30.0  # m of eq. 2; notebook 07 picks it on validation from Profile.manocha_margins
    learning_rate: float = 3e-4
    clips_per_step: int = 256  # clips embedded per step; the pairs among them are scored
    max_epochs: int = 200  # 3.2
    patience: int = 20  # epochs without a higher validation MAP before stopping

    def optimizer(self):
        return keras.optimizers.Adam(self.learning_rate)


def contrastive_loss(distance, similar, margin: float):
    """Eq. 2 per pair: Y/2 D^2 + (1 - Y)/2 max(0, m - D)^2, with Y = 1 for a similar pair."""
    distance = tf.convert_to_tensor(distance, tf.float32)
    similar = tf.cast(similar, tf.float32)
    return 0.5 * similar * distance ** 2 + 0.5 * (1.0 - similar) * tf.nn.relu(margin - distance) ** 2


# --- pair sets (3.2) -------------------------------------------------------------------------

@dataclass(frozen=True)
class PairSet:
    """A training pair set over N clips: `positives[i, j]` / `negatives[i, j]` (i < j) count
    how often the pair (i, j) is in the set with Y = 1 / Y = 0."""

    name: str
    positives: np.ndarray  # (N, N) uint8, upper triangle
    negatives: np.ndarray

    def counts(self) -> tuple[int, int]:
        return int(self.positives.sum()), int(self.negatives.sum())


def _upper(mask: np.ndarray) -> np.ndarray:
    return np.triu(mask, k=1).astype(np.uint8)


def positive_pairs(labels) -> np.ndarray:
    """Every pair of two clips of one class, once."""
    labels = np.asarray(labels)
    return _upper(labels[:, None] == labels[None, :])


def balanced_pairs(labels, seed: int) -> PairSet:
    """N_R^B: every positive pair, and for each one a negative pair: one of its two clips
    (at random) with a random clip of any other class. Equal numbers of each label."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    positives = positive_pairs(labels)
    rows, cols = np.nonzero(positives)
    anchors = np.where(rng.random(len(rows)) < 0.5, rows, cols)
    # a uniform draw among the clips of other classes: in class-sorted order, skip the
    # anchor's own block of clips
    by_class = np.argsort(labels, kind="stable")
    classes, first, sizes = np.unique(labels[by_class], return_index=True, return_counts=True)
    block = np.searchsorted(classes, labels[anchors])
    draw = (rng.random(len(anchors)) * (len(labels) - sizes[block])).astype(np.int64)
    others = by_class[np.where(draw < first[block], draw, draw + sizes[block])]
    negatives = np.zeros_like(positives)
    np.add.at(negatives, (np.minimum(anchors, others), np.maximum(anchors, others)), 1)
    return PairSet("balanced", positives, negatives)


def unbalanced_pairs(labels) -> PairSet:
    """N_R^U: every positive pair, and every pair of clips of two different classes."""
    labels = np.asarray(labels)
    return PairSet("unbalanced", positive_pairs(labels), _upper(labels[:, None] != labels[None, :]))


def make_pairs(name: str, labels, seed: int) -> PairSet:
    if name == "balanced":
        return balanced_pairs(labels, seed)
    if name == "unbalanced":
        return unbalanced_pairs(labels)
    raise ValueError(f"unknown pair set {name!r}; choose one of {PAIR_SETS}")


# --- training ---------------------------------------------------------------------------------

def pairwise_distances(embeddings):
    """Euclidean distances between all rows, `(n, n)` (eq. 1). The square root is taken of
    the squared distance plus a tiny floor, so its gradient stays finite on the diagonal."""
    difference = embeddings[:, None, :] - embeddings[None, :, :]
    return tf.sqrt(tf.reduce_sum(difference * difference, axis=-1) + 1e-12)


def set_loss(embeddings, positives, negatives, margin: float):
    """The mean of eq. 2 over the pairs of a set among some clips: `positives` and
    `negatives` are those clips' `(n, n)` pair counts."""
    distance = pairwise_distances(embeddings)
    positives, negatives = tf.cast(positives, tf.float32), tf.cast(negatives, tf.float32)
    total = positives * contrastive_loss(distance, 1.0, margin) + negatives * contrastive_loss(distance, 0.0, margin)
    return tf.reduce_sum(total) / tf.maximum(tf.reduce_sum(positives) + tf.reduce_sum(negatives), 1.0)


def embed(tower: keras.Model, spectrograms: np.ndarray, batch: int = 256) -> np.ndarray:
    """Each clip's embedding, once (inference: no dropout)."""
    parts = [np.asarray(tower(spectrograms[k: k + batch], training=False))
             for k in range(0, len(spectrograms), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, EMBEDDING_SIZE), np.float32)


def validation_loss(embeddings: np.ndarray, pairs: PairSet, margin: float) -> float:
    """Eq. 2 averaged over every pair of a validation pair set, exactly, from the validation
    clips' embeddings."""
    return float(set_loss(tf.constant(embeddings), pairs.positives, pairs.negatives, margin))


def epoch_minibatches(n_clips: int, clips_per_step: int, rng: np.random.Generator, replicas: int = 1) -> list:
    """A random partition of the clips into minibatches; with several replicas, the list is
    wrapped round to a multiple of their number so each step gives every replica one."""
    order = rng.permutation(n_clips).astype(np.int32)
    chunks = [order[k: k + clips_per_step] for k in range(0, n_clips, clips_per_step)]
    while len(chunks) % replicas:
        chunks.append(chunks[len(chunks) % replicas])
    return chunks


def fit_siamese(train_spectrograms: np.ndarray, train_pairs: PairSet, recipe: ContrastiveRecipe, seed: int,
                validate: Callable[[keras.Model], dict], max_epochs: int | None = None,
                strategy: tf.distribute.Strategy | None = None, progress: str | None = None):
    """Train N_R on a pair set; returns (tower, history).

    After each epoch `validate(tower)` returns the validation measures (`val_loss`,
    `val_map`, ...); the tower keeps the weights of the epoch with the highest `val_map` (the
    first epoch when none is finite), and training stops after `recipe.patience` epochs
    without a higher one. `history["best_epoch"]` is that epoch (1-based).

    The tower and optimiser are built in `strategy`'s scope. Under a multi-replica strategy
    each replica takes its own minibatch of clips, scores the pairs within it, and the
    replicas' gradients are averaged (tf.distribute's all-reduce in `apply_gradients`).
    """
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    epochs = capped_epochs(min(recipe.max_epochs, max_epochs) if max_epochs else recipe.max_epochs)
    with strategy.scope():
        tower = build_tower(*input_moments(train_spectrograms))
        optimizer = recipe.optimizer()
        optimizer.build(tower.trainable_variables)
    spectrograms = tf.constant(train_spectrograms)
    positives, negatives = tf.constant(train_pairs.positives), tf.constant(train_pairs.negatives)
    replicas = strategy.num_replicas_in_sync

    def replica_step(chunk):
        with tf.GradientTape() as tape:
            embeddings = tower(tf.gather(spectrograms, chunk), training=True)
            pick = lambda counts: tf.gather(tf.gather(counts, chunk), chunk, axis=1)  # noqa: E731
            loss = set_loss(embeddings, pick(positives), pick(negatives), recipe.margin)
            share = loss / replicas
        gradients = tape.gradient(share, tower.trainable_variables)
        optimizer.apply_gradients(zip(gradients, tower.trainable_variables))
        return loss

    @tf.function(reduce_retracing=True)
    def train_step(chunks):
        return strategy.reduce("MEAN", strategy.run(replica_step, args=(chunks,)), axis=None)

    history: dict = {"loss": [], "best_epoch": 0}
    best, best_weights, waited = -np.inf, None, 0
    bar = tqdm(total=epochs, desc=progress or "epochs", unit="epoch", leave=False, disable=progress is None)
    for _ in range(epochs):
        chunks = epoch_minibatches(len(train_spectrograms), capped_batch_size(recipe.clips_per_step), rng, replicas)
        chunks = chunks[:replicas * capped_steps(len(chunks) // replicas)]
        losses = []
        for start in range(0, len(chunks), replicas):
            group = chunks[start: start + replicas]
            values = strategy.experimental_distribute_values_from_function(
                lambda context, group=group: tf.constant(group[context.replica_id_in_sync_group]))
            losses.append(float(train_step(values)))
        history["loss"].append(float(np.mean(losses)))
        for name, value in validate(tower).items():
            history.setdefault(name, []).append(float(value))
        bar.update(1)
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", val_map=f"{history['val_map'][-1]:.3f}")
        score = history["val_map"][-1] if np.isfinite(history["val_map"][-1]) else -np.inf
        if score > best or not history.get("best_epoch"):
            best, best_weights, waited = score, tower.get_weights(), 0
            history["best_epoch"] = len(history["loss"])
        else:
            waited += 1
            if waited >= recipe.patience:
                break
    bar.close()
    tower.set_weights(best_weights)
    return tower, history


# --- several trainings, resumable -------------------------------------------------------------

def train_runs(out_dir: Path, pair_set: str, recipe: ContrastiveRecipe, spectrograms: np.ndarray,
               clips: pd.DataFrame, n_runs: int, max_epochs: int | None, base_seed: int, fingerprint: dict,
               validator: Callable[[str, float, int], Callable[[keras.Model], dict]],
               test_measures: Callable[[np.ndarray], dict], strategy=None) -> list[dict]:
    """`n_runs` trainings of N_R on one pair set, through the resumable runner: each run's
    tower (.keras), every clip's embedding (.npy) and its record (.json: pair counts,
    history, `test_measures` of every clip's embedding) are written as it ends, and reused
    only when `fingerprint` still matches.

    `clips` has a `label` and a `split` column (train / val / test); the pairs are drawn over
    the training clips. `validator(pair_set, margin, seed)` gives the `validate` a fit calls
    after each epoch (see `fit_siamese`); the measures themselves are the caller's (notebook
    07's are `experiments.manocha2018.validator` and its test protocol)."""
    out_dir = Path(out_dir)
    train = np.flatnonzero(clips.split == "train")
    labels = clips.label.to_numpy()

    def run(index: int, seed: int) -> dict:
        runs.set_seed(seed)
        pairs = make_pairs(pair_set, labels[train], seed)
        validate = validator(pair_set, recipe.margin, seed + 1)
        tower, history = fit_siamese(spectrograms[train], pairs, recipe, seed, validate, max_epochs,
                                     strategy, progress=f"{out_dir.name} run {index}")
        tower.save(out_dir / f"tower_{index:02d}.keras")
        vectors = embed(tower, spectrograms)
        np.save(out_dir / f"embeddings_{index:02d}.npy", vectors)
        positive, negative = pairs.counts()
        return {"pair_set": pair_set, "margin": recipe.margin, "pairs": {"positive": positive, "negative": negative},
                "epochs": len(history["loss"]), "best_epoch": history["best_epoch"],
                "val_map": history["val_map"][history["best_epoch"] - 1], "history": history,
                "test": test_measures(vectors)}

    return runs.run_many(out_dir, n_runs, run, base_seed,
                         {**fingerprint, "pair_set": pair_set, "recipe": recipe, "max_epochs": max_epochs},
                         ("tower_{index:02d}.keras", "embeddings_{index:02d}.npy"))


def embeddings(out_dir: Path, index: int = 0) -> np.ndarray:
    """Every clip's embedding by run `index`'s tower, as `train_runs` saved it."""
    return np.load(Path(out_dir) / f"embeddings_{index:02d}.npy")
