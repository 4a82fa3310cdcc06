"""A hand-crafted retrieval baseline: cosine similarity of CQT summary statistics.

Not a method of the papers: it measures how hard a data set is. Each clip becomes the
per-bin mean and standard deviation over time of its log-CQT (IMINET's front-end),
standardised over the candidates; queries rank candidates by cosine similarity.
"""

from __future__ import annotations

import numpy as np

from vocalsearch_tf.config import IMINET_CQT, ConstantQParams


def cqt_summary(clips: np.ndarray, params: ConstantQParams = IMINET_CQT, batch: int = 64, layer=None) -> np.ndarray:
    """`(clips, 2 * n_bins)`: per-bin mean and std of log|CQT| over time (`layer`: a
    `ConstantQ(params)` already built)."""
    from vocalsearch_tf.signal.features import ConstantQ

    layer = layer or ConstantQ(params)
    parts = []
    for start in range(0, len(clips), batch):
        spec = layer(np.asarray(clips[start:start + batch], np.float32)).numpy()[..., 0]
        parts.append(np.concatenate([spec.mean(axis=2), spec.std(axis=2)], axis=1))
    return np.concatenate(parts)


def cosine_scores(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    q = queries / (np.linalg.norm(queries, axis=1, keepdims=True) + 1e-12)
    c = candidates / (np.linalg.norm(candidates, axis=1, keepdims=True) + 1e-12)
    return q @ c.T


def summary_scores(query_features: np.ndarray, candidate_features: np.ndarray) -> np.ndarray:
    """Cosine scores after standardising each dimension over the candidates."""
    mean = candidate_features.mean(axis=0)
    std = candidate_features.std(axis=0) + 1e-6
    return cosine_scores((query_features - mean) / std, (candidate_features - mean) / std)
