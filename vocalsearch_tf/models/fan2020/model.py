"""Fan et al. 2020's network (3.1, 5.2): the layer tables, the eight variants, and the builder of a pair model.

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
ReLU, batch normalisation in every layer, dropout 0.5 between layers (5.3).

Choices where the paper is silent (the notebook repeats them):
- layer order Dense -> BatchNorm -> ReLU -> Dropout; the output layer has no dropout;
- attention is per category: v(h_t) is an 8-way Dense layer, softmax over time for each
  category, so every category's pooled output is a convex mix of per-step softmaxes;
  "without attention" gives every step the weight 1/T (the mean of the f(h_t));
- "without the Siamese structure" (5.2) drops the per-input layers: both inputs'
  time steps are concatenated as they are and go straight to the MLP;
- "multi-model" (5.2) is 8 copies of the single model, each ending in one category's
  3-way softmax (groups of the layers in `layers.py`);
- inputs are standardised per feature dimension with the training clips' mean and
  variance (a Normalization layer inside the model).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import keras

from vocalsearch_tf.models.fan2020.layers import AttentionPooling, GroupedBatchNormalization, GroupedDense, RepeatGroups
from vocalsearch_tf.models.fan2020.presence import N_CATEGORIES
from vocalsearch_tf.models.spec import Dense

TOWER = (Dense("tower1", 128, "relu", 0.5), Dense("tower2", 128, "relu", 0.5), Dense("tower3", 128, "relu", 0.5))
MLP = (Dense("mlp1", 256, "relu", 0.5), Dense("mlp2", 128, "relu", 0.5))


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


def groups_of(config: FanConfig) -> int:
    return config.categories if config.multi_model else 1


def _block(spec: Dense, groups: int):
    """Dense -> BatchNorm -> ReLU -> Dropout, per time step and group: the layers, made one at a
    time as the caller takes them. Making a layer draws seeds (dropout), building one draws its
    weights, so the order matters: the branch builds each layer before the next is made, the
    head makes all its layers first."""
    yield GroupedDense(spec.units, groups, name=spec.name)
    yield GroupedBatchNormalization(name=f"{spec.name}_bn")
    yield keras.layers.Activation(spec.activation, name=f"{spec.name}_{spec.activation}")
    yield keras.layers.Dropout(spec.dropout, name=f"{spec.name}_dropout")


def build_branch(config: FanConfig, input_shape: tuple[int, int], moments) -> keras.Model:
    """What each input goes through before the concatenation: standardisation, then (Siamese)
    the per-step tower. One model, called on both inputs, so its weights are shared.
    `(T, groups, d)` -> `(T, groups, units)`."""
    mean, variance = moments
    steps, width = input_shape
    x = keras.Input((steps, groups_of(config), width), name="clip")
    h = keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name="standardise")(x)
    for spec in config.tower if config.siamese else ():
        for layer in _block(spec, groups_of(config)):
            h = layer(h)
    return keras.Model(x, h, name="branch")


def _head(config: FanConfig, branch: keras.Model):
    """The layers after the branches, as a function of the two branch outputs."""
    groups = groups_of(config)
    layers = [keras.layers.Concatenate(axis=-1, name="concat")]
    for spec in config.mlp:
        layers += list(_block(spec, groups))
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
