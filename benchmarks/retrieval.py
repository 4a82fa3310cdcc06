"""Retrieval speed: cached candidate computations against naive pairwise scoring.

For one query and a library of N candidates (IMINET, tied), compares
- naive: the full model on every (query, candidate) pair (both towers N times);
- cached: `Retriever` — recording tower and the candidate half of FC1 computed once per
  library (`index`, timed separately), then per query one tower pass and the rest of the
  head over N sums.
Writes results/benchmarks/retrieval.json. Target: cached >= 20x faster at N = 10 000.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import vocalsearch_tf  # noqa: F401  (first: it turns TensorFlow's oneDNN kernels on before TensorFlow loads)
import keras
import numpy as np
from timing import median_seconds

from vocalsearch_tf.evaluation.retrieval import Retriever, pairwise_scores
from vocalsearch_tf.models.iminet import INPUT_SHAPE, build_iminet

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks" / "retrieval.json"


def main(sizes=(1_000, 10_000), queries: int = 8, repetitions: int = 3, out: Path = OUT) -> dict:
    keras.utils.set_random_seed(0)
    model = build_iminet("tied")
    rng = np.random.default_rng(0)
    query_specs = rng.standard_normal((queries, *INPUT_SHAPE)).astype(np.float32)
    rows = []
    for n in sizes:
        library = rng.standard_normal((n, *INPUT_SHAPE)).astype(np.float32)
        retriever = Retriever(model)
        index_seconds = median_seconds(lambda: retriever.index(library), 1)
        cached = median_seconds(lambda: retriever.scores(query_specs), repetitions) / queries
        naive = median_seconds(lambda: pairwise_scores(model, query_specs[:1], library), 1)
        rows.append({"candidates": n, "naive_seconds_per_query": naive, "cached_seconds_per_query": cached,
                     "index_seconds_once": index_seconds, "speedup": naive / cached})
        print(rows[-1])
    result = {"what": "IMINET tied, one query against N candidates; median seconds", "rows": rows,
              "target": "speedup >= 20 at 10000 candidates"}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args()
    main(tuple(args.sizes))
