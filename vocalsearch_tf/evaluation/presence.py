"""Scoring Fan et al. 2020's retrieval: a cached XLA engine for every (query, database clip) pair, and mAP_s@K (5.4).

The level of similarity of a pair (`models.fan2020.presence`) ranks the database; mAP_s@K
is reported for s in THRESHOLDS and K in K_VALUES, separately for single-label (one
category) and multi-label (two or more) queries.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.models.fan2020.layers import (AttentionPooling, GroupedBatchNormalization, GroupedDense,
                                                  pool_over_time)
from vocalsearch_tf.training import recipes

THRESHOLDS = (8, 7)  # s of mAP_s@K (5.4)
K_VALUES = (1, 5, 10, 30, 50, 100)


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
    The pooling is `AttentionPooling`'s own (`pool_over_time`) on the folded logits.
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
            # over time: (pairs, groups, categories, situations)
            x = pool_over_time(z[..., :size], z[..., size:] if attention else None, categories, situations)
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


def compiled_pairwise_probabilities(model: keras.Model, queries: np.ndarray, database: np.ndarray,
                                    query_block: int = 8, clips_per_chunk: int = 64) -> np.ndarray:
    """The naive procedure on the cached engine's terms, for a like-for-like benchmark: the
    whole model on every (query, database clip) pair, the pairs gathered in-graph, one
    XLA-compiled function per block of `query_block` queries walking the database in
    chunks, as `PresenceRetriever.probabilities` does. `(queries, database, categories, 3)`."""
    n = len(database)
    chunks = -(-n // clips_per_chunk)
    padded = np.concatenate([database, np.zeros((chunks * clips_per_chunk - n, *database.shape[1:]), np.float32)])
    chunked = tf.constant(padded.reshape(chunks, clips_per_chunk, *database.shape[1:]))
    rows = []
    for i in range(0, len(queries), query_block):
        block = queries[i:i + query_block]
        if len(block) < query_block:
            block = np.concatenate([block, np.zeros((query_block - len(block), *block.shape[1:]), np.float32)])
        out = _pairs_through_model(model, tf.constant(block), chunked).numpy()
        rows.append(out[: len(queries) - i, :n])
    return np.concatenate(rows)


@tf.function(jit_compile=True)
def _pairs_through_model(model, queries, chunked):
    q = queries.shape[0]

    def chunk(clips):
        c = clips.shape[0]
        first = tf.repeat(queries, c, axis=0)  # (q * c, ...): query i against every clip of the chunk
        second = tf.tile(clips, [q] + [1] * (len(clips.shape) - 1))
        out = model([first, second], training=False)
        return tf.reshape(out, [q, c, *out.shape[1:]])

    out = tf.map_fn(chunk, chunked, fn_output_signature=tf.float32, parallel_iterations=1)
    out = tf.transpose(out, [1, 0, 2, 3, 4])
    return tf.reshape(out, [q, -1, out.shape[-2], out.shape[-1]])


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
