"""Retrieval evaluation as in TASLP VI-B: each test imitation ranks the test sounds of its
category; MRR per category; fusion by products of likelihoods (eq. 2-5).

Scores are natural-log likelihoods in float64: a network's is log sigmoid(logit), from its
pre-sigmoid output, so confident pairs whose float32 sigmoids saturate at 1.0 still rank
by their logits; fusion's product of likelihoods is a sum of logs. Exact ties that remain
count against the target (`metrics.target_ranks`) and are recorded per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.vocalsketch import CATEGORIES, CATEGORY_CODES
from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.evaluation.retrieval import Retriever


@dataclass
class CategoryScores:
    """Scores of one category's queries against its candidates."""

    scores: np.ndarray  # (queries, candidates): log-likelihood that the pair matches (float64)
    targets: np.ndarray  # (queries,): column of each query's own sound
    query_ids: np.ndarray
    candidate_ids: np.ndarray

    def mrr(self) -> float:
        return metrics.mean_reciprocal_rank(metrics.target_ranks(self.scores, self.targets))

    def tied_targets(self) -> int:
        return metrics.tied_targets(self.scores, self.targets)


def categories_in(sounds: pd.DataFrame) -> list[str]:
    return [c for c in CATEGORIES if c in set(sounds.category)]


def per_category(sounds: pd.DataFrame, queries: pd.DataFrame, score) -> dict[str, CategoryScores]:
    """Per category code: `score(sound_rows, query_rows)` -> (queries, candidates) scores of
    the category's queries against the category's sounds (rows of the test tables)."""
    result = {}
    for category in categories_in(sounds):
        members = np.flatnonzero((sounds.category == category).to_numpy())
        asking = np.flatnonzero((queries.category == category).to_numpy())
        column = {sid: k for k, sid in enumerate(sounds.sound_id.to_numpy()[members])}
        targets = np.array([column[s] for s in queries.sound_id.to_numpy()[asking]])
        result[CATEGORY_CODES[category]] = CategoryScores(
            score(members, asking), targets, queries.imitation_id.to_numpy()[asking],
            sounds.sound_id.to_numpy()[members])
    return result


def retrieval_scores(model, sounds: pd.DataFrame, queries: pd.DataFrame, sound_specs: np.ndarray,
                     query_specs: np.ndarray) -> dict[str, CategoryScores]:
    """Per category code: the model's log-likelihoods of the category's queries against its
    sounds. `sounds`/`queries` are the test tables; `*_specs` their spectrograms, row for row.
    """
    retriever = Retriever(model)
    return per_category(sounds, queries, lambda members, asking: retriever.index(
        sound_specs[members]).log_likelihoods(query_specs[asking]))


def mrr_by_category(scores: dict[str, CategoryScores]) -> dict[str, float]:
    return {code: s.mrr() for code, s in scores.items()}


def tied_targets_by_category(scores: dict[str, CategoryScores]) -> dict[str, int]:
    return {code: s.tied_targets() for code, s in scores.items()}


def fuse(*systems: dict[str, CategoryScores]) -> dict[str, CategoryScores]:
    """Product of the systems' likelihoods, category by category (TASLP eq. 2, 4, 5): the
    sum of their log-likelihoods."""
    first = systems[0]
    fused = {}
    for code, base in first.items():
        for other in systems[1:]:
            if not (np.array_equal(other[code].query_ids, base.query_ids)
                    and np.array_equal(other[code].candidate_ids, base.candidate_ids)):
                raise ValueError(f"{code}: systems scored different queries or candidates")
        product = np.sum([s[code].scores for s in systems], axis=0)
        fused[code] = CategoryScores(product, base.targets, base.query_ids, base.candidate_ids)
    return fused


def save_scores(path: str | Path, scores: dict[str, CategoryScores]) -> None:
    arrays = {}
    for code, s in scores.items():
        for field in ("scores", "targets", "query_ids", "candidate_ids"):
            arrays[f"{code}/{field}"] = getattr(s, field)
    path = Path(path)
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_scores(path: str | Path) -> dict[str, CategoryScores]:
    with np.load(path) as data:
        codes = sorted({key.split("/")[0] for key in data.files}, key=list(CATEGORY_CODES.values()).index)
        return {code: CategoryScores(*(data[f"{code}/{f}"] for f in ("scores", "targets", "query_ids", "candidate_ids")))
                for code in codes}


def summary_table(rows: dict[str, list[dict[str, float]]]) -> pd.DataFrame:
    """'mean ± std' per system (row) and category (column) from per-run MRR dicts; the
    sample standard deviation over runs (n/a for a single run)."""
    table = {}
    for system, runs in rows.items():
        frame = pd.DataFrame(runs)
        table[system] = {code: f"{frame[code].mean():.3f} ± " + (f"{frame[code].std(ddof=1):.3f}" if len(frame) > 1 else "n/a")
                         for code in frame.columns}
    return pd.DataFrame(table).T


def log_likelihood(similarity: np.ndarray) -> np.ndarray:
    """IMISOUND's likelihood, the log of TASLP eq. 3, in float64: log-softmax over the library (axis 1) of minus
    the cosine distance (1 - similarity)."""
    logits = -(1.0 - np.asarray(similarity, dtype=np.float64))
    logits = logits - logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def likelihood(similarity: np.ndarray) -> np.ndarray:
    """TASLP eq. 3: softmax over the library of minus the cosine distance (1 - similarity)."""
    return np.exp(log_likelihood(similarity))
