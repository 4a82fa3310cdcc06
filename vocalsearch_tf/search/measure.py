"""`vocalsearch evaluate`: how well a model finds a user's own sounds from their own
labelled imitations (a CSV of imitation file and target file), as MRR and recall@k."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.evaluation.metrics import mean_reciprocal_rank, recall_at_k
from vocalsearch_tf.search import engine
from vocalsearch_tf.search.config import SearchError
from vocalsearch_tf.search.index import LibraryIndex
from vocalsearch_tf.signal.audio import AudioError

KS = (1, 5, 10)


@dataclass
class Evaluation:
    library: str
    model: str
    sounds: int
    imitations: int
    mrr: float
    recall: dict[str, float]
    ranks: list[dict]  # per imitation: imitation, target, rank (ties count against the target)
    skipped: list[dict]  # imitations that could not be read, with the reason

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        chance = float(np.mean(1.0 / np.arange(1, self.sounds + 1))) if self.sounds else float("nan")
        lines = [f"model {self.model}; {self.imitations} imitations against {self.sounds} sounds in {self.library}",
                 f"MRR {self.mrr:.3f} (a random ranking: {chance:.3f}); "
                 + ", ".join(f"recall@{k} {v:.3f}" for k, v in self.recall.items())]
        lines += [f"skipped {s['imitation']}: {s['reason']}" for s in self.skipped]
        return "\n".join(lines)


def read_pairs(csv: str | Path, library: Path) -> pd.DataFrame:
    """The CSV's (imitation, target) rows: imitations relative to the CSV's folder, targets
    relative to the library (absolute paths are taken as they are)."""
    csv = Path(csv)
    try:
        table = pd.read_csv(csv)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SearchError(f"{csv}: cannot read it as a CSV ({error})") from error
    missing = {"imitation", "target"} - set(table.columns)
    if missing or table.empty:
        raise SearchError(f"{csv}: needs the columns imitation and target and at least one row "
                          f"(it has {list(table.columns)}, {len(table)} rows)")
    imitations = [p if Path(p).is_absolute() else str(csv.parent / p) for p in table.imitation.astype(str)]
    targets = [str(Path(p).resolve().relative_to(library)) if Path(p).is_absolute() else str(Path(p))
               for p in table.target.astype(str)]
    return pd.DataFrame({"imitation": imitations, "target": targets})


def target_rank(result: engine.SearchResult, target: str) -> int:
    """The target's rank over the whole library, every sound scoring as high counted before it."""
    scores = {hit.file: hit.score for hit in result.hits}
    return sum(score >= scores[target] for score in scores.values())


def evaluate(csv: str | Path, library: LibraryIndex, scorer) -> Evaluation:
    pairs = read_pairs(csv, library.library.resolve())
    indexes = engine.open_indexes(library, scorer)
    indexed = set(indexes[0].paths)
    unknown = sorted(set(pairs.target) - indexed)
    if unknown:
        raise SearchError(f"{csv}: {len(unknown)} target(s) are not in the index of {library.library} "
                          f"(first: {unknown[0]}); index the library again or correct the CSV")
    ranks, skipped = [], []
    for imitation, target in pairs.itertuples(index=False):
        try:
            result = engine.search(imitation, library, scorer, top=indexes[0].n_files, indexes=indexes)
        except (AudioError, SearchError) as error:
            skipped.append({"imitation": imitation, "reason": str(error)})
            continue
        ranks.append({"imitation": imitation, "target": target, "rank": target_rank(result, target)})
    if not ranks:
        raise SearchError(f"{csv}: none of its {len(pairs)} imitations could be searched "
                          f"(first: {skipped[0]['reason']})")
    values = [r["rank"] for r in ranks]
    return Evaluation(str(library.library), scorer.name, indexes[0].n_files, len(ranks), mean_reciprocal_rank(values),
                      {str(k): recall_at_k(values, k) for k in KS}, ranks, skipped)
