"""Content-based retrieval of sound events as Manocha et al. (ICASSP 2018) measure it: the
two scorers of embeddings, which clips a query ranks (the protocol), the measures of 4.1,
per-class precision (Table 2), chance, and the hand-crafted summary baseline.

Which database a test query ranks (3.3 does not say): the test clips and the training clips,
without the query itself and without the other clips cut from the query's own source
recording (ESC-50's takes of one `src_file`, UrbanSound8K's slices of one `fsID`). Why:
- the training clips: Table 2 reports MP@25 up to 0.784 for a class, 19.6 hits in the top
  25, which a class's ~19 other test clips could not give; the database of 2.4 is "the
  audio clips" of the collection, and a search system ranks its whole library;
- not the query: it would always be its own first hit, and MP^1 would be 1, not ~0.3;
- not its own recording: another excerpt of the same recording is an exact match, the
  fingerprinting task the paper sets apart from content-based retrieval (section 1), and
  real data sets cut several clips from one recording where the paper's YouTube set took
  one 2 s clip per recording.
The validation clips are left out of the test database; validation queries rank the
validation and training clips by the same rule (the margin and the epoch are chosen there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vocalsearch_tf.evaluation import baselines, metrics

KS = tuple(range(1, 31))  # MP@K for K = 1 ... 30 (Fig. 3)


def euclidean_scores(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Minus the Euclidean distances, `(queries, database)`, from one matrix product:
    |q - d|^2 = |q|^2 + |d|^2 - 2 q.d."""
    squared = (np.sum(queries ** 2, axis=1)[:, None] + np.sum(database ** 2, axis=1)[None, :]
               - 2.0 * queries @ database.T)
    return -np.sqrt(np.maximum(squared, 0.0))


def cosine_scores(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    return baselines.cosine_scores(queries, database)


SCORERS = {"euclidean": euclidean_scores, "cosine": cosine_scores}


@dataclass
class Protocol:
    """Which clips query, which they rank, and which of those count or are left out."""

    queries: np.ndarray  # row indices into the clip table
    database: np.ndarray
    relevant: np.ndarray  # (queries, database): same label
    excluded: np.ndarray  # (queries, database): the query itself and its own recording's clips


def protocol(clips: pd.DataFrame, query_split: str = "test", database_splits=("train", "test")) -> Protocol:
    queries = np.flatnonzero(clips.split == query_split)
    database = np.flatnonzero(clips.split.isin(database_splits))
    labels, recordings = clips.label.to_numpy(), clips.recording.to_numpy()
    return Protocol(queries, database, labels[queries][:, None] == labels[database][None, :],
                    recordings[queries][:, None] == recordings[database][None, :])


def scores_of(vectors: np.ndarray, proto: Protocol, scorer: str) -> np.ndarray:
    """`(queries, database)` scores of one scorer: one matrix product over the embeddings."""
    return SCORERS[scorer](vectors[proto.queries], vectors[proto.database])


def evaluate(scores: np.ndarray, proto: Protocol, ks=KS) -> dict:
    """Manocha et al.'s measures (`metrics.retrieval_summary`) of a score matrix."""
    return metrics.retrieval_summary(scores, proto.relevant, proto.excluded, ks)


def measures_by_scorer(vectors: np.ndarray, proto: Protocol) -> dict:
    """`evaluate` of every clip's embedding under each scorer, by scorer name."""
    return {scorer: evaluate(scores_of(vectors, proto, scorer), proto) for scorer in SCORERS}


def mp_at(summary: dict, k: int) -> float:
    """MP@K of a `metrics.retrieval_summary`."""
    return summary["mp_at_k"][summary["ks"].index(k)]


def per_class_precision(scores: np.ndarray, proto: Protocol, clips: pd.DataFrame, k: int = 25) -> pd.Series:
    """Each class's mean precision in the top K over its queries (Table 2), highest first."""
    ranked = metrics.ranked_relevance(scores, proto.relevant, proto.excluded)
    precision = ranked[:, :k].sum(axis=1) / k
    labels = clips.label.to_numpy()[proto.queries]
    return pd.Series(precision, index=labels).groupby(level=0).mean().sort_values(ascending=False).rename(f"MP@{k}")


def top_matches(scores: np.ndarray, proto: Protocol, query: int, count: int = 6) -> list[int]:
    """The clip-table rows of query `query`'s first `count` matches, in the ranked order the
    measures use (`metrics.ranked_order`: its excluded clips last, ties pessimistic)."""
    k = int(np.flatnonzero(proto.queries == query)[0])
    order = metrics.ranked_order(scores[k: k + 1], proto.excluded[k: k + 1], proto.relevant[k: k + 1])[0]
    return [int(proto.database[j]) for j in order[:count]]


def chance_map(proto: Protocol) -> float:
    """Expected MAP of a random ranking, about the mean share of relevant candidates."""
    kept = ~proto.excluded
    return float(np.mean((proto.relevant & kept).sum(axis=1) / kept.sum(axis=1)))


def summary_features(spectrograms: np.ndarray) -> np.ndarray:
    """The hand-crafted baseline's clip vectors: per-band mean and standard deviation over
    time of the log-frequency spectrogram (158 values)."""
    return np.concatenate([spectrograms.mean(axis=2), spectrograms.std(axis=2)], axis=1)


def baseline_scores(spectrograms: np.ndarray, proto: Protocol) -> np.ndarray:
    """Cosine similarity of the summary vectors, standardised over the database."""
    features = summary_features(spectrograms)
    return baselines.summary_scores(features[proto.queries], features[proto.database])
