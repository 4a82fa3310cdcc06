"""Ranking a library of sounds for an imitation query, with cached candidate work.

A Siamese-style model scores a pair as head(concat(imitation_tower(q), recording_tower(c))).
Naively, ranking N candidates runs both towers N times per query. Here each candidate's
tower output is computed once, and so is its share of the head's first layer: FC1 is
linear in the concatenation, W [q; c] + b = W_q q + (W_c c + b), so only W_q q is
computed per query and the rest of the head runs on (query, candidate) sums.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vocalsearch_tf.training.recipes import predict


def towers(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The imitation and recording towers of a pair model, as models of their own: from
    each input to the layers `imitation_features` / `recording_features`."""
    imitation, recording = model.inputs
    return (keras.Model(imitation, model.get_layer("imitation_features").output),
            keras.Model(recording, model.get_layer("recording_features").output))


def head_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The head's Dense layers `fc1`, `fc2`, ... in order (dropout is inert at inference)."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense) and layer.name.startswith("fc")]
    return sorted(dense, key=lambda layer: int(layer.name[2:]))


class Retriever:
    """Scores queries against a fixed library with cached candidate computations.

    `model` is a pair model whose tower outputs are the layers `imitation_features` and
    `recording_features` and whose head is `fc1`, `fc2`, ... (IMINET and TL-IMINET both are).
    """

    def __init__(self, model: keras.Model, batch_size: int = 256, memory_bytes: float = 2.5e8):
        self.imitation_tower, self.recording_tower = towers(model)
        self.first, *self.rest = head_layers(model)
        if not self.rest or self.rest[-1].activation is not keras.activations.sigmoid:
            raise ValueError(f"{model.name}: the head must end in a sigmoid unit (fc1, ..., fcN)")
        self.batch_size = batch_size
        self.memory_bytes = memory_bytes  # bounds the (queries, library, FC1) block per step
        kernel = self.first.kernel
        self.query_width = self.imitation_tower.output.shape[-1]
        self._w_query, self._w_candidate = kernel[: self.query_width], kernel[self.query_width:]
        self.library: tf.Tensor | None = None

    def index(self, recordings: np.ndarray) -> "Retriever":
        """Run the recording tower and the candidate half of FC1 once per library sound."""
        embeddings = predict(self.recording_tower, recordings, self.batch_size)
        self.library = tf.matmul(tf.constant(embeddings), self._w_candidate) + self.first.bias
        return self

    def logits(self, imitations: np.ndarray) -> np.ndarray:
        """(queries, library size) pre-sigmoid outputs of the head."""
        if self.library is None:
            raise RuntimeError("call index(recordings) before scoring imitations")
        queries = predict(self.imitation_tower, imitations, self.batch_size)
        query_part = tf.matmul(tf.constant(queries), self._w_query)
        step = max(1, int(self.memory_bytes // (4 * self.library.shape[0] * self.library.shape[1])))
        return np.concatenate([self._head_logits(query_part[i:i + step], self.library).numpy()
                               for i in range(0, len(queries), step)])

    def log_likelihoods(self, imitations: np.ndarray) -> np.ndarray:
        """(queries, library size) log sigmoid(logit) in float64: free of the ties float32
        sigmoids make where they saturate."""
        return -np.logaddexp(0.0, -self.logits(imitations).astype(np.float64))

    def scores(self, imitations: np.ndarray) -> np.ndarray:
        """(queries, library size) matching probabilities (float32)."""
        return tf.sigmoid(self.logits(imitations)).numpy()

    @tf.function(reduce_retracing=True)
    def _head_logits(self, query_part, library):
        hidden = query_part[:, None, :] + library[None, :, :]
        x = self.first.activation(hidden)
        *middle, last = self.rest
        for layer in middle:
            x = layer(x)
        return (tf.matmul(x, last.kernel) + last.bias)[..., 0]


def pairwise_scores(model: keras.Model, imitations: np.ndarray, recordings: np.ndarray,
                    batch_size: int = 256) -> np.ndarray:
    """The naive reference: the full model on every (query, candidate) pair."""
    q = np.repeat(np.arange(len(imitations)), len(recordings))
    c = np.tile(np.arange(len(recordings)), len(imitations))
    scores = predict(model, [imitations[q], recordings[c]], batch_size)
    return scores.reshape(len(imitations), len(recordings))
