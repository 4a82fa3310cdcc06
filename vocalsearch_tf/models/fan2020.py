"""Multi-label sound-event retrieval with a Siamese structure and a pairwise presence matrix
(Fan, Nichols, Tompkins, Méndez Méndez, Elizalde & Pasquier, ICASSP 2020).

A pair of clips, each a sequence of T feature vectors (VGGish: 10 x 128; log-mel: 108 x 128),
goes through
- the Siamese structure (3.1): three dense layers of 128 shared by both inputs, applied to
  every time step;
- concatenation per time step, then an MLP of 256 and 128;
- attention pooling over time (eq. 1, Kong et al.): a per-step prediction f(h_t) weighted
  by v(h_t), a softmax over time;
- the pairwise presence matrix: for each of the 8 coarse categories, a softmax over three
  situations (both clips have it, neither has it, only one has it), trained with
  categorical cross-entropy.
ReLU, batch normalisation in every layer, dropout 0.5 between layers; RMSProp, lr 1e-3,
batch 128 (5.3). The level of similarity of a pair is the number of categories predicted
"both" or "neither"; the database is ranked by it.

Choices where the paper is silent (the notebook repeats them):
- layer order Dense -> BatchNorm -> ReLU -> Dropout; the output layer has no dropout;
- attention is per category: v(h_t) is an 8-way Dense layer, softmax over time for each
  category, so every category's pooled output is a convex mix of per-step softmaxes;
  "without attention" gives every step the weight 1/T (the mean of the f(h_t));
- "without the Siamese structure" (5.2) drops the per-input layers: both inputs'
  time steps are concatenated as they are and go straight to the MLP;
- "multi-model" (5.2) is 8 copies of the single model, each ending in one category's
  3-way softmax; sub-model k trains on the pairs drawn for category k (4.2), so the 8
  together cost about what one single model costs; one fit trains them side by side;
- inputs are standardised per feature dimension with the training clips' mean and
  variance (a Normalization layer inside the model);
- pairs (4.2): partners are drawn at random (seeded) from the training clips; a pair is
  the same whichever clip comes first (deduplicated as unordered), and a clip never pairs
  with itself. `order="first"` takes the first partners in file order instead: the paper's
  count (218 173 distinct pairs out of 1 128 480 draws) suggests heavy overlap, which
  random draws from 2351 clips would not give;
- epochs (5.3): up to `max_epochs` with early stopping (`patience`) on validation pairs
  whose targets are a held-out tenth of the training clips (partners from the other nine
  tenths); the best epoch count is kept, and with `retrain` the model is trained again on
  all training clips for that many epochs;
- ties in the level of similarity are broken by the summed probability of "both" and
  "neither" over the categories, then by database order.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import FAN_LOGMEL, RECORDING_LOGMEL
from vocalsearch_tf.datasets.sonyc_ust import COARSE
from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.models.spec import Dense
from vocalsearch_tf.signal import audio, spectra
from vocalsearch_tf.signal.features import LogMel
from vocalsearch_tf.training import recipes, runs

SITUATIONS = ("both", "neither", "one")  # the presence matrix's columns (Fig. 2)
N_CATEGORIES = len(COARSE)
THRESHOLDS = (8, 7)  # s of mAP_s@K (5.4)
K_VALUES = (1, 5, 10, 30, 50, 100)

TOWER = (Dense("tower1", 128, "relu", 0.5), Dense("tower2", 128, "relu", 0.5), Dense("tower3", 128, "relu", 0.5))
MLP = (Dense("mlp1", 256, "relu", 0.5), Dense("mlp2", 128, "relu", 0.5))


# --- the pairwise presence matrix and the level of similarity ------------------------------

def situations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per category: 0 both clips have it, 1 neither has it, 2 only one has it."""
    first, second = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    return np.where(first & second, 0, np.where(~first & ~second, 1, 2))


def presence_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The one-hot pairwise presence matrix `(..., categories, 3)` of two label sets."""
    return np.eye(len(SITUATIONS), dtype=np.float32)[situations(first, second)]


def similarity_level(matrix: np.ndarray) -> np.ndarray:
    """Categories whose (most probable) situation is "both" or "neither" (3.1): the sum of
    the matrix's first two columns, for one-hot or predicted matrices alike."""
    return np.sum(np.argmax(matrix, axis=-1) < 2, axis=-1)


def ranking_scores(probabilities: np.ndarray) -> np.ndarray:
    """The level of similarity plus a tie-break below 1: the summed probability of "both"
    and "neither" over the categories, divided by (categories + 1)."""
    agreement = probabilities[..., 0] + probabilities[..., 1]
    return similarity_level(probabilities) + agreement.sum(-1) / (probabilities.shape[-2] + 1)


def rank(scores: np.ndarray) -> np.ndarray:
    """Database indices by falling score; equal scores keep database order."""
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")


# --- configurations -------------------------------------------------------------------------

@dataclass(frozen=True)
class FanConfig:
    """One variant of 3.1 / 5.2."""

    siamese: bool = True
    multi_model: bool = False
    attention: bool = True
    tower: tuple = TOWER
    mlp: tuple = MLP
    categories: int = N_CATEGORIES

    @property
    def name(self) -> str:
        return "-".join(["multi" if self.multi_model else "single", "siamese" if self.siamese else "plain",
                         "attention" if self.attention else "mean"])

    @property
    def label(self) -> str:
        return (f"{'Multi' if self.multi_model else 'Single'}-model, {'Siamese' if self.siamese else 'no Siamese'}, "
                f"{'attention' if self.attention else 'no attention'}")


VARIANTS = {c.name: c for c in (FanConfig(siamese=s, multi_model=m, attention=a)
                                for m, s, a in itertools.product((False, True), (True, False), (True, False)))}


@dataclass(frozen=True)
class FanRecipe:
    """5.3: RMSProp, lr 1e-3, batch 128, epochs chosen on 10 % of the training clips."""

    learning_rate: float = 1e-3
    batch_size: int = 128
    validation_fraction: float = 0.1
    max_epochs: int = 100  # the selection run's cap (the paper gives none)
    patience: int = 10  # early stopping on the validation pairs (the paper gives none)
    retrain: bool = True  # retrain on all training clips for the chosen epochs (5.3)


@dataclass(frozen=True)
class FanProfile:
    """How much of the paper a profile runs."""

    partners: int  # 4.2: 30 partners per situation, category and target
    recipe: FanRecipe
    runs: int
    variants: tuple[str, ...] | None  # variants trained on the pretrained embedding; None = all 8
    logmel_variants: tuple[str, ...] | None  # variants also trained on log-mel; None = all 8

    def names(self, logmel: bool) -> list[str]:
        chosen = self.logmel_variants if logmel else self.variants
        return list(VARIANTS) if chosen is None else list(chosen)


# `ci` only exercises the code: one epoch, and four variants that between them take every
# option once. `quick` fits notebook 08 in 5 min on 2 cores, generating its 300 clips (25-80 s)
# and their features (12-40 s, by load) included. Measured on 2 cores shared with other jobs (load 3-6):
# 2 partners and up to 5 epochs took 10 min (all 8 embedding variants 185 s; log-mel 288 s);
# training time goes with partners x epochs, so `quick` trains on 2/5 of that: 1 partner and
# up to 4 epochs took 2.9 min in all (load 2-3; generation 23 s, features 12 s, training and
# scoring 131 s, of which log-mel 71 s). The cost: at 2 partners and 5 epochs 175 of the 216
# (variant, query group, s, K) cells beat the random order, here 130.
CI_VARIANTS = ("single-siamese-attention", "single-plain-mean", "multi-siamese-mean", "multi-plain-attention")
FAN_PROFILES = {
    "ci": FanProfile(2, FanRecipe(max_epochs=1, patience=1, retrain=False), 1, CI_VARIANTS,
                     ("single-siamese-attention",)),
    "quick": FanProfile(
        partners=1,  # 1 + 1 per category and target (paper 30 + 30): ~3 200 distinct pairs on 216 clips
        # up to 4 epochs (validation loss still falls there: the models are undertrained, for
        # all variants and both inputs alike, so comparisons between them stay fair);
        # patience 2 only stops a run whose validation loss rose twice; the best epoch's
        # weights are kept instead of retraining (which would double the time)
        recipe=FanRecipe(max_epochs=4, patience=2, retrain=False),
        runs=1,
        variants=None,  # all 8 on the pretrained embedding (10 steps: ~5-15 s a variant)
        # log-mel (108 steps, ~23 s an epoch at 1 partner) for the main model only
        logmel_variants=("single-siamese-attention",)),
    "paper": FanProfile(30, FanRecipe(), 1, None, None),
}


# --- the model ------------------------------------------------------------------------------
# Tensors inside are (batch, T, groups, units): the single model has 1 group predicting all 8
# categories; the multi-model has 8 groups (sub-models), each predicting its own category.
# Grouped layers keep the 8 sub-models in one graph, and in training let each sub-model
# read its own category's pairs (group k of the input holds a pair drawn for category k).

def _glorot_limit(fan_in: int, fan_out: int) -> float:
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class GroupedDense(keras.layers.Layer):
    """One dense layer per group: `(batch, T, groups, in)` -> `(batch, T, groups, units)`,
    each group initialised as keras.layers.Dense is (Glorot uniform, zero bias)."""

    def __init__(self, units: int, groups: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units, self.groups = units, groups

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        limit = _glorot_limit(fan_in, self.units)
        self.kernel = self.add_weight(name="kernel", shape=(self.groups, fan_in, self.units),
                                      initializer=keras.initializers.RandomUniform(-limit, limit))
        self.bias = self.add_weight(name="bias", shape=(self.groups, self.units), initializer="zeros")

    def call(self, x):
        return tf.einsum("btgi,gio->btgo", x, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "groups": self.groups}


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class GroupedBatchNormalization(keras.layers.Layer):
    """Batch normalisation with statistics per (group, unit), over batch and time."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.BatchNormalization(name="norm")

    def build(self, input_shape):
        self.norm.build((input_shape[0], input_shape[1], input_shape[2] * input_shape[3]))

    def call(self, x, training=None):
        shape = tf.shape(x)
        flat = tf.reshape(x, tf.stack([shape[0], shape[1], shape[2] * shape[3]]))
        return tf.reshape(self.norm(flat, training=training), shape)

    def affine(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Inference as x * scale + shift, both `(groups, units)`-shaped once reshaped."""
        bn = self.norm
        scale = bn.gamma / tf.sqrt(bn.moving_variance + bn.epsilon)
        return scale, bn.beta - scale * bn.moving_mean

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class RepeatGroups(keras.layers.Layer):
    """`(batch, T, d)` -> `(batch, T, groups, d)`: every sub-model reads the same clip."""

    def __init__(self, groups: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        return tf.repeat(x[:, :, None, :], self.groups, axis=2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.groups, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class AttentionPooling(keras.layers.Layer):
    """Eq. 1 per group: y = sum_t v(h_t) f(h_t) / sum_t v(h_t) over `(batch, T, groups, units)`,
    with f(h_t) a softmax over the situations of each category and v(h_t) a softmax over
    time per category (so sum_t v = 1); `attention=False`: v = 1/T. Output
    `(batch, groups * categories, situations)`."""

    def __init__(self, categories: int = N_CATEGORIES, groups: int = 1, situations: int = len(SITUATIONS),
                 attention: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.categories, self.groups, self.situations, self.attention = categories, groups, situations, attention
        self.classifier = GroupedDense(categories * situations, groups, name="classifier")
        self.attention_layer = GroupedDense(categories, groups, name="attention") if attention else None

    def build(self, input_shape):
        self.classifier.build(input_shape)
        if self.attention_layer is not None:
            self.attention_layer.build(input_shape)

    def step_predictions(self, h):
        """f(h_t): `(batch, T, groups, categories, situations)` probabilities."""
        logits = self.classifier(h)
        shape = tf.shape(logits)
        logits = tf.reshape(logits, tf.concat([shape[:3], [self.categories, self.situations]], 0))
        return tf.nn.softmax(logits, axis=-1)

    def weights_over_time(self, h):
        """v(h_t) normalised over time: `(batch, T, groups, categories)`, summing to 1 over T."""
        if self.attention_layer is None:
            shape = tf.shape(h)
            return tf.ones(tf.concat([shape[:3], [self.categories]], 0)) / tf.cast(shape[1], tf.float32)
        return tf.nn.softmax(self.attention_layer(h), axis=1)

    def call(self, h):
        pooled = tf.reduce_sum(self.weights_over_time(h)[..., None] * self.step_predictions(h), axis=1)
        return tf.reshape(pooled, [-1, self.groups * self.categories, self.situations])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.groups * self.categories, self.situations)

    def get_config(self):
        return {**super().get_config(), "categories": self.categories, "groups": self.groups,
                "situations": self.situations, "attention": self.attention}


def _block(x, spec: Dense, groups: int):
    """Dense -> BatchNorm -> ReLU -> Dropout, per time step and group."""
    x = GroupedDense(spec.units, groups, name=spec.name)(x)
    x = GroupedBatchNormalization(name=f"{spec.name}_bn")(x)
    x = keras.layers.Activation(spec.activation, name=f"{spec.name}_{spec.activation}")(x)
    return keras.layers.Dropout(spec.dropout, name=f"{spec.name}_dropout")(x)


def groups_of(config: FanConfig) -> int:
    return config.categories if config.multi_model else 1


def build_branch(config: FanConfig, input_shape: tuple[int, int], moments) -> keras.Model:
    """What each input goes through before the concatenation: standardisation, then (Siamese)
    the per-step tower. One model, called on both inputs, so its weights are shared.
    `(T, groups, d)` -> `(T, groups, units)`."""
    mean, variance = moments
    steps, width = input_shape
    x = keras.Input((steps, groups_of(config), width), name="clip")
    h = keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name="standardise")(x)
    for spec in config.tower if config.siamese else ():
        h = _block(h, spec, groups_of(config))
    return keras.Model(x, h, name="branch")


def _head(config: FanConfig, branch: keras.Model):
    """The layers after the branches, as a function of the two branch outputs."""
    groups = groups_of(config)
    layers = [keras.layers.Concatenate(axis=-1, name="concat")]
    for spec in config.mlp:
        layers += [GroupedDense(spec.units, groups, name=spec.name), GroupedBatchNormalization(name=f"{spec.name}_bn"),
                   keras.layers.Activation(spec.activation, name=f"{spec.name}_{spec.activation}"),
                   keras.layers.Dropout(spec.dropout, name=f"{spec.name}_dropout")]
    layers.append(AttentionPooling(1 if config.multi_model else config.categories, groups,
                                   attention=config.attention, name="pooling"))

    def apply(first, second):
        x = layers[0]([branch(first), branch(second)])
        for layer in layers[1:]:
            x = layer(x)
        return x

    return apply


def build_fan(config: FanConfig, input_shape: tuple[int, int], moments=(0.0, 1.0)) -> tuple[keras.Model, keras.Model]:
    """A variant, freshly initialised: (the model, `(T, d)` pairs -> `(8, 3)` presence
    matrix; the same layers as trained, `(T, groups, d)` pairs -> `(8, 3)`)."""
    groups = groups_of(config)
    branch = build_branch(config, input_shape, moments)
    head = _head(config, branch)
    first, second = keras.Input(input_shape, name="first"), keras.Input(input_shape, name="second")
    spread = RepeatGroups(groups, name="repeat_groups")
    model = keras.Model([first, second], head(spread(first), spread(second)), name="fan2020")
    grouped = [keras.Input((input_shape[0], groups, input_shape[1]), name=name) for name in ("first", "second")]
    return model, keras.Model(grouped, head(*grouped), name="fan2020_training")


# --- pairs (4.2) ----------------------------------------------------------------------------

def draw_pairs(labels: np.ndarray, targets, pool, partners: int, seed: int, order: str = "random") -> pd.DataFrame:
    """For every category and target: up to `partners` clips of `pool` in the target's
    situation for the category (both have it / neither has it) and up to `partners` in the
    opposite one. Rows (first = target, second = partner, category), duplicates kept."""
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
    fit_args = {"epochs": epochs, "verbose": verbose, "shuffle": False}  # the datasets shuffle themselves
    if cycled:
        fit_args["steps_per_epoch"] = int(np.ceil(max(len(p[0]) for p in parts) / recipe.batch_size))
    callbacks = [recipes.EpochProgress(epochs, progress)] if progress else []
    if validation is not None:
        val_parts = _pair_parts(config, labels, validation)
        fit_args["validation_data"] = _dataset(constant, val_parts, recipe.batch_size, None, cycled)
        if cycled:
            fit_args["validation_steps"] = int(np.ceil(max(len(p[0]) for p in val_parts) / recipe.batch_size))
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=recipe.patience,
                                                       restore_best_weights=True))
    history = trained.fit(_dataset(constant, parts, recipe.batch_size, seed, cycled), callbacks=callbacks, **fit_args)
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


# --- retrieval ------------------------------------------------------------------------------

class PresenceRetriever:
    """Presence-matrix probabilities of every (query, database clip) pair, with each clip's
    branch output and its share of the first MLP layer computed once per clip.

    That layer and its batch norm are affine in the concatenation [b(q); b(c)] of the two
    branch outputs, so
        bn1(W [b(q); b(c)] + w0) = s * (W_q b(q)) + (s * (W_c b(c) + w0) + t)
    with s, t batch norm's inference scale and shift: per pair only the sum, the ReLU and
    the rest of the head run (per time step and sub-model). There, each later batch norm is
    folded into its dense layer, and the pooling's two dense layers into one.

    The per-pair head runs as one XLA-compiled function per block of `query_block` queries:
    a loop over database chunks sized so that a chunk's (pair, step) rows, about `rows` of
    them, stay in the CPU's cache through the whole head, with the elementwise work fused
    around the matrix products. Its weights are arguments, not constants, so every model
    of the same head shape (e.g. Siamese or not) reuses one compiled function."""

    def __init__(self, model: keras.Model, rows: int = 4096, query_block: int = 8):
        self.spread, self.branch = model.get_layer("repeat_groups"), model.get_layer("branch")
        first = model.get_layer("mlp1")
        scale, shift = model.get_layer("mlp1_bn").affine()
        groups, width, units = first.kernel.shape
        scale, shift = tf.reshape(scale, (groups, units)), tf.reshape(shift, (groups, units))
        self.w_query = first.kernel[:, : width // 2] * scale[:, None]
        self.w_database = first.kernel[:, width // 2:] * scale[:, None]
        self.b_database = first.bias * scale + shift
        self.steps, self.arrays = self._fold(model)
        self.rows, self.query_block = rows, query_block
        self.database: tf.Tensor | None = None  # (chunks, clips per chunk, T, groups, units)
        self.size = 0  # database clips (the last chunk is padded)

    @staticmethod
    def _fold(model: keras.Model) -> tuple[tuple, tuple]:
        """The head from mlp1's activation on, batch norms folded in: (static steps — "dense",
        "activation:<name>" or ("pool", categories, situations, attention) — and the dense
        steps' (kernel, bias) tensors in order)."""
        names = [layer.name for layer in model.layers]
        rest = [model.get_layer("mlp1_relu")] + [layer for layer in model.layers[names.index("mlp1_dropout") + 1:]
                                                  if not isinstance(layer, keras.layers.Dropout)]
        steps, arrays = [], []
        for layer in rest:
            if isinstance(layer, GroupedDense):
                steps.append("dense")
                arrays.append([layer.kernel.numpy(), layer.bias.numpy()])
            elif isinstance(layer, GroupedBatchNormalization):
                if steps[-1] != "dense":
                    raise TypeError(f"{layer.name}: batch norm not after a dense layer")
                kernel, bias = arrays[-1]
                scale, shift = (np.reshape(t.numpy(), bias.shape) for t in layer.affine())
                arrays[-1] = [kernel * scale[:, None], bias * scale + shift]
            elif isinstance(layer, keras.layers.Activation):
                steps.append(f"activation:{keras.activations.serialize(layer.activation)}")
            elif isinstance(layer, AttentionPooling):
                pooled = [layer.classifier] + ([layer.attention_layer] if layer.attention else [])
                steps.append(("pool", layer.categories, layer.situations, layer.attention))
                arrays.append([np.concatenate([d.kernel.numpy() for d in pooled], -1),
                               np.concatenate([d.bias.numpy() for d in pooled], -1)])
            else:
                raise TypeError(f"no cached form for layer {layer.name} ({type(layer).__name__})")
        return tuple(steps), tuple(tuple(tf.constant(a, tf.float32) for a in pair) for pair in arrays)

    def _branch(self, clips: np.ndarray, kernel) -> tf.Tensor:
        parts = [tf.einsum("btgi,gio->btgo", self.branch(self.spread(tf.constant(clips[i:i + 256])), training=False),
                           kernel) for i in range(0, len(clips), 256)]
        return tf.concat(parts, axis=0)

    def index(self, database: np.ndarray) -> "PresenceRetriever":
        """Every database clip's share of the first MLP layer, kept in chunks of clips."""
        part = self._branch(database, self.w_database) + self.b_database  # (n, T, groups, units)
        n, steps, groups, units = part.shape
        chunks = -(-n // max(1, self.rows // (self.query_block * steps * groups)))
        clips = -(-n // chunks)  # chunks of equal size, padded by fewer than `chunks` clips
        if chunks * clips > n:
            part = tf.concat([part, tf.zeros((chunks * clips - n, steps, groups, units))], axis=0)
        self.database, self.size = tf.reshape(part, (chunks, clips, steps, groups, units)), n
        return self

    def probabilities(self, queries: np.ndarray) -> np.ndarray:
        """`(queries, database, categories, 3)` float32."""
        if self.database is None:
            raise RuntimeError("call index(database) before probabilities(queries)")
        query_part = self._branch(queries, self.w_query)
        block = min(self.query_block, len(queries))
        rows = []
        for i in range(0, len(queries), block):
            part = query_part[i:i + block]
            if part.shape[0] < block:  # the last block, padded to one compiled shape
                part = tf.concat([part, tf.zeros((block - part.shape[0], *part.shape[1:]))], axis=0)
            out = _score_chunks(part, self.database, self.arrays, self.steps).numpy()
            rows.append(out[: len(queries) - i, : self.size])
        return np.concatenate(rows)


def _head_rows(x, arrays, steps: tuple, shape: tuple):
    """The folded head on `(pairs * T, units)` rows (one group) or `(pairs, T, groups,
    units)` (several): `steps` from `PresenceRetriever._fold`, `shape` = (pairs, T, groups).
    Returns `(pairs, groups * categories, situations)`."""
    pairs, time_steps, groups = shape
    weights = iter(arrays)
    for step in steps:
        if isinstance(step, str) and step.startswith("activation:"):
            x = keras.activations.get(step.split(":", 1)[1])(x)
            continue
        kernel, bias = next(weights)
        x = tf.nn.bias_add(x @ kernel[0], bias[0]) if groups == 1 else tf.einsum("ptgi,gio->ptgo", x, kernel) + bias
        if step != "dense":
            _, categories, situations, attention = step
            z = tf.reshape(x, [pairs, time_steps, groups, x.shape[-1]])
            size = categories * situations
            f = tf.nn.softmax(tf.reshape(z[..., :size], [pairs, time_steps, groups, categories, situations]))
            if attention:
                v = tf.nn.softmax(z[..., size:], axis=1)
            else:
                v = tf.ones_like(z[..., :categories]) / time_steps
            x = tf.reduce_sum(v[..., None] * f, axis=1)  # over time: (pairs, groups, categories, situations)
    return tf.reshape(x, [pairs, -1, x.shape[-1]])


@tf.function(jit_compile=True)
def _score_chunks(query_part, database, arrays, steps):
    """(q, T, g, u) query shares against (chunks, c, T, g, u) database shares ->
    (q, chunks * c, g * categories, situations), one database chunk at a time."""
    q, time_steps, groups, units = query_part.shape
    chunks, clips = database.shape[:2]

    def chunk(part):
        x = query_part[:, None] + part[None]  # mlp1 before its activation: (q, c, T, g, u)
        x = tf.reshape(x, [-1, units] if groups == 1 else [-1, time_steps, groups, units])
        y = _head_rows(x, arrays, steps, (q * clips, time_steps, groups))
        return tf.reshape(y, [q, clips, *y.shape[1:]])

    out = tf.map_fn(chunk, database, fn_output_signature=tf.float32, parallel_iterations=1)
    out = tf.transpose(out, [1, 0, 2, 3, 4])
    return tf.reshape(out, [q, chunks * clips, out.shape[-2], out.shape[-1]])


def pairwise_probabilities(model: keras.Model, queries: np.ndarray, database: np.ndarray,
                           batch_size: int = 256) -> np.ndarray:
    """The naive reference: the whole model on every (query, database clip) pair."""
    q = np.repeat(np.arange(len(queries)), len(database))
    c = np.tile(np.arange(len(database)), len(queries))
    out = recipes.predict(model, [queries[q], database[c]], batch_size)
    return out.reshape(len(queries), len(database), *out.shape[1:])


# --- evaluation (5.4) -----------------------------------------------------------------------

def query_groups(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of single-label (one category) and multi-label (two or more) queries;
    queries with no category belong to neither."""
    counts = np.asarray(labels).sum(1)
    return {"single": np.flatnonzero(counts == 1), "multi": np.flatnonzero(counts >= 2)}


def map_table(order: np.ndarray, query_labels: np.ndarray, database_labels: np.ndarray) -> pd.DataFrame:
    """mAP_s@K for s in THRESHOLDS, K in K_VALUES, single- and multi-label queries, from each
    query's ranked database indices `order` (queries, N)."""
    levels = metrics.identical_labels(query_labels, database_labels)
    ranked = np.take_along_axis(levels, order, axis=1)
    rows = []
    for group, members in query_groups(query_labels).items():
        for s in THRESHOLDS:
            for k in K_VALUES:
                value = metrics.map_s_at_k(ranked[members], s, k) if len(members) else np.nan
                rows.append({"queries": group, "s": s, "K": k, "mAP": value})
    return pd.DataFrame(rows)


def random_baseline(query_labels: np.ndarray, database_labels: np.ndarray, seed: int, draws: int = 20) -> pd.DataFrame:
    """The paper's baseline: the database in random order; mAP averaged over `draws` orders."""
    rng = np.random.default_rng(seed)
    n = len(database_labels)
    tables = [map_table(np.stack([rng.permutation(n) for _ in range(len(query_labels))]), query_labels,
                        database_labels) for _ in range(draws)]
    return tables[0].assign(mAP=np.mean([t.mAP for t in tables], axis=0))


# --- features (5.1) -------------------------------------------------------------------------

CLIP_SECONDS = 10.0
FRAME_SECONDS = 0.96  # VGGish's example length; 10 frames per 10 s clip
# the recording tower's front-end (TASLP V-B) over a whole 10 s clip: 431 centred frames
TOWER_CLIP_LOGMEL = dataclasses.replace(RECORDING_LOGMEL, n_frames=1 + int(CLIP_SECONDS * RECORDING_LOGMEL.sample_rate)
                                        // RECORDING_LOGMEL.hop_length)
TOWER_EMBEDDING_LAYER = "recording_pretrain_fc1"


def logmel_features(paths, cache_dir: str | Path | None) -> np.ndarray:
    """5.1's log-mel input: `(clips, 108, 128)`, time steps first."""
    spectrograms = spectra.spectrograms(paths, LogMel(FAN_LOGMEL), cache_dir, description="log-mel 108x128")
    return np.ascontiguousarray(spectrograms[..., 0].transpose(0, 2, 1))


def tower_frames(spectrograms: np.ndarray, frames: int = 10, width: int | None = None) -> np.ndarray:
    """Cut `(clips, 128, columns, 1)` log-mel spectrograms into `frames` consecutive 0.96 s
    frames and repeat each frame's columns to fill the tower's 128-column input, so the tower
    sees that frame and nothing else: `(clips * frames, 128, 128, 1)`."""
    p = RECORDING_LOGMEL
    per_second = p.sample_rate / p.hop_length
    width = width or int(round(FRAME_SECONDS * per_second))
    starts = np.round(np.arange(frames) * FRAME_SECONDS * per_second).astype(int)
    columns = starts[:, None] + np.arange(p.n_frames)[None, :] % width  # (frames, 128)
    cut = spectrograms[:, :, columns, :]  # (clips, 128, frames, 128, 1)
    return np.ascontiguousarray(cut.transpose(0, 2, 1, 3, 4).reshape(-1, p.n_mels, p.n_frames, 1))


def tower_embedder(classifier: keras.Model) -> keras.Model:
    """Notebook 02's urban-sound classifier up to its first head layer (FC 64, ReLU)."""
    return keras.Model(classifier.inputs, classifier.get_layer(TOWER_EMBEDDING_LAYER).output)


def tower_features(paths, classifier: keras.Model, cache_dir: str | Path | None, frames: int = 10) -> np.ndarray:
    """The pretrained recording tower on 0.96 s frames: `(clips, 10, 64)`. With `cache_dir`,
    kept under a key of the files (path, size, modification time) and the tower's weights."""
    paths = [Path(p) for p in paths]
    cache = None
    if cache_dir is not None:
        files = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
        key = runs.digest(files, frames, *[np.asarray(w) for w in classifier.get_weights()])
        cache = Path(cache_dir) / f"tower-frames-{key}.npy"
        if cache.exists():
            return np.load(cache)
    embedder = tower_embedder(classifier)
    layer = LogMel(TOWER_CLIP_LOGMEL)
    out = []
    for start in range(0, len(paths), 32):
        spectrograms = spectra.spectrograms(paths[start:start + 32], layer, None, description="log-mel 10 s")
        batch = tower_frames(spectrograms, frames)
        out.append(recipes.predict(embedder, batch, 320).reshape(-1, frames, embedder.output.shape[-1]))
    result = np.concatenate(out).astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, result)
    return result


def vggish_features(paths, model, batch: int = 16) -> np.ndarray:
    """VGGish embeddings (PCA-whitened) of 10 s clips: `(clips, 10, 128)`."""
    length = int(CLIP_SECONDS * model.params.sample_rate)
    out = []
    for start in range(0, len(paths), batch):
        clips = np.stack([audio.load_clip(p, model.params.sample_rate, length) for p in list(paths)[start:start + batch]])
        out.append(model.embed(clips))
    return np.concatenate(out).astype(np.float32)


# --- runs and the report ----------------------------------------------------------------------

def run_variant(config: FanConfig, features: np.ndarray, labels: np.ndarray, database: np.ndarray,
                queries: np.ndarray, fan_profile: FanProfile, out_dir: Path, base_seed: int, fingerprint: dict,
                strategy: tf.distribute.Strategy | None = None, log=print) -> list[dict]:
    """`fan_profile.runs` trainings of a variant on the database clips, each scored on the
    query clips and saved (model .keras, scores .npz, record .json) as it ends."""
    out_dir = Path(out_dir)

    def run(index: int, seed: int) -> dict:
        runs.set_seed(seed)
        result = fit(config, features, labels, database, fan_profile.recipe, fan_profile.partners, seed, strategy,
                     progress=f"{out_dir.name} run {index}")
        result.model.save(out_dir / f"model_{index:02d}.keras")
        probabilities = PresenceRetriever(result.model).index(features[database]).probabilities(features[queries])
        scores = ranking_scores(probabilities)
        np.savez_compressed(out_dir / f"scores_{index:02d}.npz", scores=scores.astype(np.float32),
                            levels=similarity_level(probabilities).astype(np.int8))
        table = map_table(rank(scores), labels[queries], labels[database])
        return {"variant": config.name, "map": table.to_dict("records"), "epochs": result.epochs,
                "pairs": result.pairs, "params": result.model.count_params(), "history": result.history}

    return runs.run_many(out_dir, fan_profile.runs, run, base_seed,
                             {**fingerprint, "model": config, "recipe": fan_profile.recipe,
                              "partners": fan_profile.partners},
                             ("model_{index:02d}.keras", "scores_{index:02d}.npz"), log=log)


def results_table(results: dict[tuple[str, str], list[dict]], baseline: pd.DataFrame) -> pd.DataFrame:
    """Long table: feature, variant, queries, s, K, mAP (mean over runs), runs."""
    frames = []
    for (feature, variant), records in results.items():
        tables = [pd.DataFrame(r["map"]) for r in records]
        frames.append(tables[0].assign(mAP=np.mean([t.mAP for t in tables], axis=0), feature=feature,
                                       variant=variant, runs=len(records)))
    frames.append(baseline.assign(feature="-", variant="random", runs=1))
    return pd.concat(frames, ignore_index=True)[["feature", "variant", "queries", "s", "K", "mAP", "runs"]]


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (feature, variant, queries, s), one column per K."""
    wide = table.pivot_table(index=["feature", "variant", "queries", "s"], columns="K", values="mAP")
    wide.columns = [f"K={k}" for k in wide.columns]
    return wide.reset_index()


def _pairs_of(table: pd.DataFrame, feature: str, better, worse) -> pd.DataFrame:
    """mAP cells of two variants side by side, matched on (queries, s, K)."""
    keys = ["queries", "s", "K"]
    a = table[(table.feature == feature) & (table.variant == better)].set_index(keys).mAP
    b = table[(table.feature == feature) & (table.variant == worse)].set_index(keys).mAP
    return pd.DataFrame({"a": a, "b": b}).dropna()


def _comparison(table: pd.DataFrame, swap: dict[str, str], features) -> tuple[int, int]:
    """(cells where the first of each variant pair beats the second, cells compared)."""
    wins = total = 0
    for feature in features:
        present = set(table.variant[table.feature == feature])
        for a, b in swap.items():
            if a in present and b in present:
                cells = _pairs_of(table, feature, a, b)
                wins += int((cells.a > cells.b).sum())
                total += len(cells)
    return wins, total


def findings(table: pd.DataFrame, pretrained: str, logmel: str) -> pd.DataFrame:
    """The paper's findings (section 6), each checked on these results: holds, and the count behind it."""
    features = [f for f in (pretrained, logmel) if f in set(table.feature)]
    rows = []

    def add(finding: str, wins: int, total: int, rule: str):
        holds = bool(total) and (wins == total if rule == "all" else wins > total / 2)
        rows.append({"finding (Fan et al. 2020, 6)": finding, "holds here": holds if total else None,
                     "evidence": f"{wins} of {total} cells" if total else "not run at this profile"})

    siamese = {n: n.replace("-siamese-", "-plain-") for n in VARIANTS if "-siamese-" in n}
    add("the Siamese structure always performs better than without it", *_comparison(table, siamese, features), "all")
    lowest = total = 0
    for (feature, variant), group in table[table.variant != "random"].groupby(["feature", "variant"]):
        curves = group.groupby(["queries", "s"]).mAP.mean()
        if ("multi", 8) in curves and curves.notna().all():
            total += 1
            lowest += int(curves.idxmin() == ("multi", 8))
    add("multi-label mAP_8@K is the lowest of the four curves", lowest, total, "all")
    attention = {n: n.replace("-attention", "-mean") for n in VARIANTS if n.endswith("-attention")}
    add("attention is better in most cases", *_comparison(table, attention, features), "most")
    multi = {n: n.replace("multi-", "single-") for n in VARIANTS if n.startswith("multi-")}
    only = table[(table.queries == "multi") & (table.s == 8)]
    add("multi-model beats single-model in multi-label mAP_8@K", *_comparison(only, multi, features), "most")
    wins = total = 0
    if len(features) == 2:
        for variant in set(table.variant[table.feature == logmel]):
            a = table[(table.feature == pretrained) & (table.variant == variant)].set_index(["queries", "s", "K"]).mAP
            b = table[(table.feature == logmel) & (table.variant == variant)].set_index(["queries", "s", "K"]).mAP
            cells = pd.DataFrame({"a": a, "b": b}).dropna()
            wins, total = wins + int((cells.a > cells.b).sum()), total + len(cells)
    add("pretrained embeddings beat log-mel in all tests", wins, total, "all")
    base = table[table.variant == "random"].set_index(["queries", "s", "K"]).mAP
    wins = total = 0
    for (feature, variant), group in table[table.variant != "random"].groupby(["feature", "variant"]):
        cells = pd.DataFrame({"a": group.set_index(["queries", "s", "K"]).mAP, "b": base}).dropna()
        wins, total = wins + int((cells.a > cells.b).sum()), total + len(cells)
    add("every architecture beats the random baseline", wins, total, "all")
    return pd.DataFrame(rows)


def plot_figure3(table: pd.DataFrame, feature: str, title: str):
    """Fig. 3: mAP_s@K against K, one panel per (queries, s), every variant of `feature` and
    the random baseline."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), sharex=True)
    for row, s in enumerate(THRESHOLDS):
        for col, group in enumerate(("single", "multi")):
            ax = axes[row, col]
            cells = table[(table.queries == group) & (table.s == s)]
            for variant in [v for v in VARIANTS if v in set(cells.variant[cells.feature == feature])]:
                curve = cells[(cells.feature == feature) & (cells.variant == variant)].sort_values("K")
                config = VARIANTS[variant]
                ax.plot(curve.K, curve.mAP, marker="o", ms=3, label=config.label,
                        linestyle="-" if config.siamese else "--",
                        color=("C0" if not config.multi_model else "C3") if config.attention else
                        ("C9" if not config.multi_model else "C1"))
            base = cells[cells.variant == "random"].sort_values("K")
            ax.plot(base.K, base.mAP, color="k", linestyle=":", label="random baseline")
            ax.set_xscale("log")
            ax.set_xticks(K_VALUES, [str(k) for k in K_VALUES])
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{group}-label queries, mAP$_{s}$@K", fontsize=10)
            ax.set_xlabel("K") if row == 1 else None
            ax.set_ylabel(f"mAP$_{s}$@K") if col == 0 else None
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
