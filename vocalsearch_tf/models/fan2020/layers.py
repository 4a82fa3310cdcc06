"""Fan et al. 2020's Keras layers: grouped dense and batch norm (sub-models side by side), attention pooling (eq. 1).

Tensors inside are (batch, T, groups, units): the single model has 1 group predicting all 8
categories; the multi-model has 8 groups (sub-models), each predicting its own category.
Grouped layers keep the 8 sub-models in one graph, and in training let each sub-model
read its own category's pairs (group k of the input holds a pair drawn for category k).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vocalsearch_tf.models.fan2020.presence import N_CATEGORIES, SITUATIONS


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


# --- eq. 1 on the two dense layers' outputs: one definition, for the layer and for the
# folded inference engine (`evaluation.presence`), which computes the same logits its own way

def step_softmax(logits, categories: int, situations: int):
    """f(h_t) from its logits `(batch, T, groups, categories * situations)`:
    `(batch, T, groups, categories, situations)` probabilities."""
    shape = tf.shape(logits)
    logits = tf.reshape(logits, tf.concat([shape[:3], [categories, situations]], 0))
    return tf.nn.softmax(logits, axis=-1)


def time_weights(attention_logits, like, categories: int):
    """v(h_t) normalised over time, `(batch, T, groups, categories)` summing to 1 over T: a
    softmax over time of `attention_logits`, or with None 1/T for every step (T read from `like`,
    any `(batch, T, groups, ...)` tensor)."""
    if attention_logits is None:
        shape = tf.shape(like)
        return tf.ones(tf.concat([shape[:3], [categories]], 0)) / tf.cast(shape[1], tf.float32)
    return tf.nn.softmax(attention_logits, axis=1)


def pool_over_time(step_logits, attention_logits, categories: int, situations: int):
    """Eq. 1: y = sum_t v(h_t) f(h_t) (sum_t v = 1), from the logits of f and of v (None: no
    attention): `(batch, groups, categories, situations)`."""
    weights = time_weights(attention_logits, step_logits, categories)
    return tf.reduce_sum(weights[..., None] * step_softmax(step_logits, categories, situations), axis=1)


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

    def _attention_logits(self, h):
        return None if self.attention_layer is None else self.attention_layer(h)

    def step_predictions(self, h):
        """f(h_t): `(batch, T, groups, categories, situations)` probabilities."""
        return step_softmax(self.classifier(h), self.categories, self.situations)

    def weights_over_time(self, h):
        """v(h_t) normalised over time: `(batch, T, groups, categories)`, summing to 1 over T."""
        return time_weights(self._attention_logits(h), h, self.categories)

    def call(self, h):
        attention = self._attention_logits(h)  # v before f, as the layer always did
        pooled = pool_over_time(self.classifier(h), attention, self.categories, self.situations)
        return tf.reshape(pooled, [-1, self.groups * self.categories, self.situations])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.groups * self.categories, self.situations)

    def get_config(self):
        return {**super().get_config(), "categories": self.categories, "groups": self.groups,
                "situations": self.situations, "attention": self.attention}
