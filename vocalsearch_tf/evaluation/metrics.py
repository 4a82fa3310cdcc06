"""Retrieval metrics (TASLP VI-B)."""

from __future__ import annotations

import numpy as np


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target among its candidates, higher score first.

    `scores` is `(queries, candidates)`, `targets` the target column of each query. Ties
    are broken pessimistically: a candidate scoring the same as the target ranks above
    it, so a constant scorer earns no credit.
    """
    scores = np.asarray(scores, dtype=float)
    target_scores = scores[np.arange(len(scores)), targets]
    return np.sum(scores >= target_scores[:, None], axis=1)  # the target counts itself


def tied_targets(scores: np.ndarray, targets: np.ndarray) -> int:
    """How many queries' targets score exactly the same as another candidate (the ties the
    pessimistic rule of `target_ranks` counts against the target)."""
    scores = np.asarray(scores)
    target_scores = scores[np.arange(len(scores)), targets]
    return int(np.sum(np.sum(scores == target_scores[:, None], axis=1) > 1))


def mean_reciprocal_rank(ranks) -> float:
    """MRR = mean of 1 / rank (TASLP eq. 1)."""
    ranks = np.asarray(ranks, dtype=float)
    return float(np.mean(1.0 / ranks))


def chance_mrr(n_candidates: int) -> float:
    """Expected MRR of a random ranking of n candidates: mean of 1/k, k = 1..n."""
    return float(np.mean(1.0 / np.arange(1, n_candidates + 1)))


# --- multi-label retrieval (Fan et al., ICASSP 2020, eq. 2-4) ------------------------------

def identical_labels(query_labels: np.ndarray, candidate_labels: np.ndarray) -> np.ndarray:
    """r_{i,q}: how many of the labels (present or absent alike) a query and a candidate share,
    `(queries, candidates)` from 0/1 label matrices `(queries, L)` and `(candidates, L)`."""
    q = np.asarray(query_labels, dtype=np.int64)[:, None, :]
    c = np.asarray(candidate_labels, dtype=np.int64)[None, :, :]
    return np.sum(q == c, axis=-1)


def average_precision_at_k(relevant: np.ndarray, k: int) -> np.ndarray:
    """AP_s@K of each ranked list (eq. 3): `relevant` is `(queries, ranked candidates)`, True
    where r_{i,q} >= s. The sum over the top K of precision@n at each hit, divided by the
    number of hits in the top K (eq. 2); a list with no hit in its top K scores 0."""
    top = np.asarray(relevant, dtype=float)[:, :k]
    hits = np.cumsum(top, axis=1)
    precision = hits / np.arange(1, top.shape[1] + 1)
    found = hits[:, -1] if top.shape[1] else np.zeros(len(top))
    return np.divide(np.sum(precision * top, axis=1), found, out=np.zeros(len(top)), where=found > 0)


def map_s_at_k(levels_ranked: np.ndarray, s: int, k: int) -> float:
    """mAP_s@K (eq. 4): the mean over queries of AP_s@K, where `levels_ranked` holds r_{i,q}
    of each query's candidates in ranked order."""
    return float(np.mean(average_precision_at_k(np.asarray(levels_ranked) >= s, k)))


# --- single-label content retrieval (Manocha et al., ICASSP 2018, 4.1) --------------------

def ranked_order(scores: np.ndarray, excluded: np.ndarray | None = None,
                 relevant: np.ndarray | None = None) -> np.ndarray:
    """`(queries, candidates)`: each query's candidate columns in ranked order, higher score
    first; `excluded` candidates (the query itself, clips of its own recording) go to the end.

    Ties: given `relevant`, the irrelevant candidates of a tie rank above the relevant ones,
    the pessimistic rule `target_ranks` uses, so a constant scorer earns no credit; AP, MP@K
    and first-hit ranks all read this one order. Otherwise ties keep the candidates' order."""
    scores = np.asarray(scores, dtype=float)
    if excluded is not None:
        scores = np.where(excluded, -np.inf, scores)
    if relevant is None:
        return np.argsort(-scores, axis=1, kind="stable")
    return np.lexsort((np.asarray(relevant, dtype=bool), -scores), axis=-1)


def ranked_relevance(scores: np.ndarray, relevant: np.ndarray, excluded: np.ndarray | None = None) -> np.ndarray:
    """`(queries, candidates)` relevance in each query's ranked order (`ranked_order`, ties
    pessimistic).

    `excluded` candidates go to the end of the list as irrelevant, so they change no
    precision at K below the number of candidates left in.
    """
    relevant = np.asarray(relevant, dtype=bool)
    if excluded is not None:
        relevant = relevant & ~np.asarray(excluded, dtype=bool)
    return np.take_along_axis(relevant, ranked_order(scores, excluded, relevant), axis=1)


def average_precisions(scores: np.ndarray, relevant: np.ndarray, excluded: np.ndarray | None = None) -> np.ndarray:
    """AP of each query (eq. 3): the mean of the precisions at its relevant candidates in
    the order of `ranked_relevance` (ties pessimistic; without ties it equals scikit-learn's
    `average_precision_score`). NaN for a query with no relevant candidate left in."""
    ranked = ranked_relevance(scores, relevant, excluded)
    hits = np.cumsum(ranked, axis=1)
    precision = hits / np.arange(1, ranked.shape[1] + 1)
    found = hits[:, -1] if ranked.shape[1] else np.zeros(len(ranked))
    total = np.sum(precision * ranked, axis=1)
    return np.divide(total, found, out=np.full(len(ranked), np.nan), where=found > 0)


def first_hit_ranks(ranked: np.ndarray) -> np.ndarray:
    """1-based rank of each query's first relevant candidate (from `ranked_relevance`);
    0 where a query has none."""
    ranked = np.asarray(ranked, dtype=bool)
    return np.where(ranked.any(axis=1), np.argmax(ranked, axis=1) + 1, 0)


def precision_at_k(ranked: np.ndarray, ks) -> np.ndarray:
    """Mean over queries of the fraction of relevant candidates in the top K, for each K (MP^K)."""
    hits = np.cumsum(np.asarray(ranked, dtype=float), axis=1)
    ks = np.asarray(list(ks))
    return hits[:, ks - 1].mean(axis=0) / ks


PER_QUERY_K = 25  # the per-query precision a summary keeps (Table 2's MP@25)


def retrieval_summary(scores: np.ndarray, relevant: np.ndarray, excluded: np.ndarray | None = None,
                      ks=range(1, 31)) -> dict:
    """Manocha et al.'s measures over the queries that have a relevant candidate:

    - `map`: mean average precision (4.1.1);
    - `mp1_first_hit`: "MP^1" as the paper reads it (4.2: 0.3 means "the first positive hit
      is at rank 3 on average"), the mean reciprocal rank of the first relevant candidate;
    - `precision_at_1`: plain precision at 1 (is the top candidate relevant);
    - `mp_at_k`: mean precision in the top K for each K of `ks` (4.1.3), a list in the order
      of `ks` (also returned), so the record reads back the same from JSON.
    """
    relevant = np.asarray(relevant, dtype=bool)
    answerable = (relevant & (True if excluded is None else ~np.asarray(excluded, dtype=bool))).any(axis=1)
    if not answerable.any():
        raise ValueError("no query has a relevant candidate")
    scores, relevant = np.asarray(scores)[answerable], relevant[answerable]
    excluded = None if excluded is None else np.asarray(excluded)[answerable]
    ranked = ranked_relevance(scores, relevant, excluded)
    ks = list(ks)
    aps, reciprocal = average_precisions(scores, relevant, excluded), 1.0 / first_hit_ranks(ranked)
    hits_at = np.cumsum(ranked, axis=1)[:, min(PER_QUERY_K, ranked.shape[1]) - 1] / PER_QUERY_K
    return {"map": float(np.mean(aps)), "mp1_first_hit": float(np.mean(reciprocal)),
            "precision_at_1": float(precision_at_k(ranked, [1])[0]),
            "ks": ks, "mp_at_k": precision_at_k(ranked, ks).tolist(), "queries": int(answerable.sum()),
            "per_query": {"ap": _rounded(aps), "first_hit_rr": _rounded(reciprocal),
                          f"precision_at_{PER_QUERY_K}": _rounded(hits_at)}}


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


# --- query by vocal imitation, coarse-grained (one relevant reference per query) ------------
#
# Written here with NumPy rather than taken from a ranking library such as ranx: ranx would
# bring numba and llvmlite (and their JIT compilation in every fresh kernel) for five
# one-line formulas, and it breaks ties by sort order, while this suite counts a tie against
# the target (`target_ranks`). On rankings without ties the formulas agree with
# scikit-learn's `ndcg_score` (tested).

def recall_at_k(ranks, k: int) -> float:
    """Recall@k with one relevant item per query: the share of queries whose target ranks in
    the top k (what QBV and QVIM call "mean recall@k")."""
    return float(np.mean(np.asarray(ranks) <= k))


def ndcg(ranks, k: int | None = None) -> float:
    """NDCG (binary relevance, one relevant item per query): DCG = 1 / log2(1 + rank) when
    the target ranks within the cut-off `k` (None: the whole list), else 0; the ideal DCG is
    1, so NDCG is the mean DCG over queries."""
    ranks = np.asarray(ranks, dtype=float)
    gain = 1.0 / np.log2(1.0 + ranks)
    if k is not None:
        gain = np.where(ranks <= k, gain, 0.0)
    return float(np.mean(gain))


def ndcg_per_query(scores: np.ndarray, relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """NDCG of each query when several candidates are relevant (`relevant`: `(queries,
    candidates)` booleans), in the order of `ranked_relevance` (ties pessimistic).

    Binary gain (1 for a relevant candidate: `rel` and `2**rel - 1` agree), discount
    1 / log2(1 + rank) with 1-based ranks, summed over the top `k` (None: the whole list);
    the ideal DCG puts the query's min(R, k) relevant candidates first. Without ties it is
    scikit-learn's `ndcg_score` per query. NaN for a query with no relevant candidate."""
    ranked = ranked_relevance(scores, relevant).astype(float)
    depth = ranked.shape[1] if k is None else min(k, ranked.shape[1])
    discount = 1.0 / np.log2(2.0 + np.arange(depth))
    dcg = ranked[:, :depth] @ discount
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(ranked.sum(axis=1).astype(int), depth)]
    return np.divide(dcg, ideal, out=np.full(len(ranked), np.nan), where=ideal > 0)


def chance_ndcg(n_candidates: int, n_relevant: int) -> float:
    """Expected `ndcg_per_query` over the whole list for a uniformly random ranking of
    n candidates of which n_relevant are relevant: each relevant candidate is equally likely
    at every rank, so E[DCG] = n_relevant / n * sum of the discounts."""
    discount = 1.0 / np.log2(2.0 + np.arange(n_candidates))
    return float(n_relevant / n_candidates * discount.sum() / discount[:n_relevant].sum())


RANKING_KS = (1, 5, 10)


def ranking_summary(ranks, ks=RANKING_KS) -> dict[str, float]:
    """MRR, recall@k for each k of `ks`, and NDCG over the whole list, from 1-based target ranks."""
    return {"mrr": mean_reciprocal_rank(ranks), **{f"recall@{k}": recall_at_k(ranks, k) for k in ks},
            "ndcg": ndcg(ranks)}


def chance_ranking_summary(n_candidates: int, ks=RANKING_KS) -> dict[str, float]:
    """The expected `ranking_summary` of a uniformly random ranking of n candidates (the
    target equally likely at every rank): exact, not sampled."""
    return ranking_summary(np.arange(1, n_candidates + 1), ks)
