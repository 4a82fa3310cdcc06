"""The measures of today's query-by-vocal-imitation work beside TASLP's MRR per category: the
AES AIMLA 2025 QVIM challenge's pair and recall@k, each imitation ranking every item.

- **MRR (exact item)**: the reciprocal rank of the one item the imitation imitates, among
  all items of the set, averaged over imitations. The challenge ranks systems by it.
- **NDCG (class)**: every item of the imitated class is relevant (binary gain), discount
  1 / log2(1 + rank), over the whole list (no cut-off), normalised by the DCG of the class's
  items ranked first (`metrics.ndcg_per_query`). Reported by the challenge, not ranked on.
- **recall@k** (k = 1, 5, 10): the share of imitations whose exact item is in the top k.

Source of the conventions: the challenge baseline (qvim-aes/qvim-baseline,
`src/qvim_mn_baseline/metrics.py`: `compute_mrr` over the items' similarity row,
`compute_ndcg` with binary relevance, DCG (2**rel - 1) / log2(rank + 1) over the whole list and
the ideal DCG of the relevant items first; `ex_qvim.py`: relevant = every item of the
imitation's `Class`; items = the distinct `Items` of the dev set's CSV) and its README
("MRR (exact match)", "NDCG (category match)"). One difference, the house rule: a tie
counts against the target here (`metrics.target_ranks`, `ranked_relevance`), where the
baseline takes pandas' sort order; on rankings without ties the numbers are the same.
"""

from __future__ import annotations

import numpy as np

from vocalsearch_tf.evaluation import metrics

QVIM_KS = metrics.RANKING_KS  # (1, 5, 10)


def class_relevance(query_classes, item_classes) -> np.ndarray:
    """`(queries, items)`: True where the item is of the query's class."""
    return np.asarray(query_classes)[:, None] == np.asarray(item_classes)[None, :]


def qvim_per_query(scores: np.ndarray, targets: np.ndarray, relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Each imitation's rank of its exact item and its class NDCG. `scores` is `(queries,
    items)`, higher first; `targets` each query's item column; `relevant` `class_relevance`."""
    relevant = np.asarray(relevant, dtype=bool)
    if not relevant[np.arange(len(targets)), targets].all():
        raise ValueError("a query's exact item is not of its own class")
    return {"rank": metrics.target_ranks(scores, targets), "ndcg": metrics.ndcg_per_query(scores, relevant)}


def qvim_summary(scores: np.ndarray, targets: np.ndarray, query_classes, item_classes, ks=QVIM_KS) -> dict:
    """MRR of the exact item, class NDCG and recall@k over every item (module docstring)."""
    relevant = class_relevance(query_classes, item_classes)
    per_query = qvim_per_query(scores, targets, relevant)
    return {"mrr": metrics.mean_reciprocal_rank(per_query["rank"]), "ndcg": float(np.mean(per_query["ndcg"])),
            **{f"recall@{k}": metrics.recall_at_k(per_query["rank"], k) for k in ks},
            "tied_targets": metrics.tied_targets(scores, targets),
            "queries": int(len(targets)), "items": int(np.shape(scores)[1])}


def chance_qvim_summary(query_classes, item_classes, ks=QVIM_KS) -> dict:
    """The expected `qvim_summary` of a uniformly random ranking: exact, not sampled."""
    relevant = class_relevance(query_classes, item_classes)
    n_items = relevant.shape[1]
    ranks = metrics.chance_ranking_summary(n_items, ks)
    ndcg = np.mean([metrics.chance_ndcg(n_items, int(count)) for count in relevant.sum(axis=1)])
    return {"mrr": ranks["mrr"], "ndcg": float(ndcg), **{f"recall@{k}": ranks[f"recall@{k}"] for k in ks}}
