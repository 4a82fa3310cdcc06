"""The coarse-grained query-by-vocal-imitation protocol (VimSketch, the Vocal Imitation Set,
or any references with imitations), and IMINET, TL-IMINET, IMISOUND and their fusions on it.

- **Folds.** The references are dealt into 10 folds, disjoint in references, covering all
  of them: sorted by `group` (VimSketch: the source set and its top category, see
  `datasets.vimsketch.describe`), shuffled within each group with the seed, then dealt
  round-robin in that order, so every fold holds each group in proportion and fold sizes
  differ by at most one. Jonathan-Greif/QBV published its own 10 folds of VimSketch as
  tables of imitation file names (`splits/fold<k>/test.csv`); `qbv_folds` reads them when
  a copy is at hand, so its numbers can be compared on the very same folds.
- **Test part.** Fold k's references are its test part: each of their imitations is a
  query and ranks *all* references of the test part, with no categories (the ranking
  QBV's `test_coarse.py` does). MRR, recall@1/5/10 and NDCG per fold; mean ± std over folds.
- **Training part.** The other references and their imitations, split and paired as TASLP
  VI-A does: per reference 70 % of its imitations train (7 of 10 in VocalSketch), the rest
  validate (early stopping); each training (validation) imitation is paired with its own
  reference (label 1) and one other training-part reference drawn at random (label 0).
- **Scores** are float64 log-likelihoods as in `evaluation` (networks: log sigmoid of the
  logit; IMISOUND: eq. 3 over the fold's test library), and fusion is their sum (the
  product of likelihoods, eq. 2, 4, 5). Ties count against the target (`metrics.target_ranks`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.pairs import make_pairs
from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.experiments.taslp import Split
from vocalsearch_tf.training import recipes, runs

N_FOLDS = 10
TRAIN_SHARE = 0.7  # TASLP VI-A: 7 of each sound's 10 imitations train, 3 validate
# TL-IMINET's best pretraining configuration in TASLP Table I (Pre-train Conv1/2/3)
TL_CONFIGURATION = "conv1-2-3"
METRIC_NAMES = {"mrr": "MRR", "recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "ndcg": "NDCG"}


# --- folds and the training part -------------------------------------------------------------

def draw_folds(sounds: pd.DataFrame, n_folds: int = N_FOLDS, seed: int = 0) -> pd.Series:
    """The fold (0..n_folds-1) of every reference, indexed like `sounds` (rule: module docstring)."""
    rng = np.random.default_rng([seed, 16])
    groups = sounds["group"] if "group" in sounds else pd.Series("all", index=sounds.index)
    order = []
    for group in sorted(groups.unique()):
        members = sounds.index[groups == group].to_numpy()
        order += list(rng.permutation(members[np.argsort(sounds.sound_id.to_numpy()[groups == group])]))
    return pd.Series(np.arange(len(order)) % n_folds, index=order, name="fold").reindex(sounds.index)


def qbv_folds(splits_dir: str | Path, sounds: pd.DataFrame, imitations: pd.DataFrame,
              n_folds: int = N_FOLDS) -> pd.Series:
    """Jonathan-Greif/QBV's published folds (`splits/fold<k>/test.csv`, tab-separated, a
    `filename` column of `vocal_imitations/<imitation file>`) as the fold of each reference:
    a reference belongs to the fold whose test table lists its imitations."""
    sound_of = dict(zip(imitations.filename, imitations.sound_id))
    fold_of = {}
    for k in range(n_folds):
        table = pd.read_csv(Path(splits_dir) / f"fold{k}" / "test.csv", sep="\t")
        for name in table.filename:
            sound = sound_of.get(Path(name).name)
            if sound is not None:
                fold_of.setdefault(sound, k)
    return sounds.sound_id.map(fold_of).rename("fold")


@dataclass
class Fold(Split):
    """One fold: references with `split` ('train' or 'test'), imitations with `role`
    ('train', 'val' or 'test'), and the training and validation pair tables."""

    index: int = 0

    def train_imitation_ids(self) -> np.ndarray:
        return self.imitations.imitation_id[self.imitations.role == "train"].to_numpy()


def make_fold(sounds: pd.DataFrame, imitations: pd.DataFrame, folds: pd.Series, index: int, seed: int = 0,
              train_share: float = TRAIN_SHARE) -> Fold:
    """Fold `index`: its references are the test part; the rest train and validate."""
    sounds = sounds.assign(split=np.where(folds.to_numpy() == index, "test", "train"))
    split_of = sounds.set_index("sound_id").split
    rng = np.random.default_rng([seed, 17, index])
    role = pd.Series("test", index=imitations.index)
    for sound_id, group in imitations.groupby("sound_id", sort=True):
        if split_of[sound_id] != "train":
            continue
        order = rng.permutation(group.index.to_numpy())
        n_train = len(order) if len(order) < 2 else min(len(order) - 1, max(1, round(train_share * len(order))))
        role[order[:n_train]] = "train"
        role[order[n_train:]] = "val"
    imitations = imitations.assign(role=role)
    pairs = {r: make_pairs(imitations, sounds, r, seed * 100 + index) for r in ("train", "val")}
    return Fold(sounds, imitations, pairs, index=index)


def make_folds(sounds, imitations, folds: pd.Series, count: int, seed: int = 0) -> list[Fold]:
    """The first `count` folds (the profile's `coarse_folds`)."""
    return [make_fold(sounds, imitations, folds, k, seed) for k in range(count)]


def folds_digest(folds: list[Fold]) -> str:
    """A hash of the folds' assignments and pair tables: part of every run's fingerprint."""
    parts = []
    for fold in folds:
        parts += [fold.sounds[["sound_id", "split"]].to_dict("list"), fold.imitations[["imitation_id", "role"]].to_dict("list"),
                  *(fold.pairs[r].to_dict("list") for r in ("train", "val"))]
    return runs.digest(*parts)


def fold_table(sounds: pd.DataFrame, imitations: pd.DataFrame, folds: pd.Series) -> pd.DataFrame:
    """References and imitations per fold, and each group's references per fold."""
    per_sound = imitations.groupby("sound_id").size()
    groups = sounds["group"] if "group" in sounds else pd.Series("all", index=sounds.index)
    table = pd.DataFrame({"fold": folds.to_numpy(), "group": groups.to_numpy(),
                          "imitations": sounds.sound_id.map(per_sound).fillna(0).astype(int).to_numpy()})
    out = table.groupby("fold").agg(references=("group", "size"), imitations=("imitations", "sum"))
    return out.join(table.pivot_table(index="fold", columns="group", aggfunc="size", fill_value=0))


DATASETS = {"synthetic": "embedded synthetic data in VimSketch's layout", "vimsketch": "VimSketch",
            "vocalsketch": "VimSketch", "vocal_imitation_set": "the Vocal Imitation Set"}


def load_data(dataset: str, data_dir: str | Path, profile, seed: int, vimsketch_dir: str | Path,
              vocal_imitation_set_dir: str | Path):
    """(loaded data set, label) for a notebook's DATASET: 'synthetic' writes (or completes) the
    embedded VocalSketch-shaped set in VimSketch's layout under
    `<data_dir>/synthetic/<profile>/seed<seed>/vimsketch` and reads it; 'vimsketch' (and
    'vocalsketch', the real-data run of the whole suite) reads `vimsketch_dir`;
    'vocal_imitation_set' reads `vocal_imitation_set_dir`."""
    from vocalsearch_tf.config import embedded_data_profile, get_profile
    from vocalsearch_tf.datasets.vimsketch import load_vimsketch
    from vocalsearch_tf.datasets.vocal_imitation_set import load_vocal_imitation_set

    profile = get_profile(profile) if isinstance(profile, str) else profile
    if dataset == "synthetic":
        from vocalsearch_tf.datasets.synthetic import vimsketch as embedded

        root = runs.embedded_data(data_dir, profile, seed, ["vocalsketch"])
        embedded.write(root / "vimsketch", root / "vocalsketch", embedded_data_profile(profile).vimsketch_sounds, seed)
        return load_vimsketch(root / "vimsketch"), DATASETS[dataset]
    if dataset in ("vimsketch", "vocalsketch"):
        return load_vimsketch(vimsketch_dir), DATASETS[dataset]
    if dataset == "vocal_imitation_set":
        return load_vocal_imitation_set(vocal_imitation_set_dir), DATASETS[dataset]
    raise ValueError(f"unknown DATASET {dataset!r} for the coarse protocol: {sorted(DATASETS)}")


# --- rankings ---------------------------------------------------------------------------------

@dataclass
class Ranking:
    """A fold's test queries scored against its test library."""

    scores: np.ndarray  # (queries, references): log-likelihood that the pair matches (float64)
    targets: np.ndarray  # (queries,): column of each query's own reference
    query_ids: np.ndarray
    candidate_ids: np.ndarray

    def ranks(self) -> np.ndarray:
        return metrics.target_ranks(self.scores, self.targets)

    def summary(self) -> dict:
        return {**metrics.ranking_summary(self.ranks()), "tied_targets": metrics.tied_targets(self.scores, self.targets),
                "library": int(self.scores.shape[1]), "queries": int(self.scores.shape[0])}

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.stem + ".part.npz")
        np.savez_compressed(tmp, **dataclasses.asdict(self))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "Ranking":
        with np.load(path) as data:
            return cls(*(data[f.name] for f in dataclasses.fields(cls)))


def ranking(fold: Fold, score: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]) -> Ranking:
    """`score(test_sounds, test_queries)` -> (queries, references) as a `Ranking`."""
    sounds, queries = fold.test_tables()
    column = {sid: k for k, sid in enumerate(sounds.sound_id)}
    targets = np.array([column[s] for s in queries.sound_id])
    return Ranking(np.asarray(score(sounds, queries), dtype=np.float64), targets,
                   queries.imitation_id.to_numpy(), sounds.sound_id.to_numpy())


def fuse(*rankings: Ranking) -> Ranking:
    """Product of likelihoods (TASLP eq. 2, 4, 5): the sum of the log-likelihoods."""
    base = rankings[0]
    for other in rankings[1:]:
        if not (np.array_equal(other.query_ids, base.query_ids) and np.array_equal(other.candidate_ids, base.candidate_ids)):
            raise ValueError("the systems scored different queries or references")
    return Ranking(np.sum([r.scores for r in rankings], axis=0), base.targets, base.query_ids, base.candidate_ids)


def chance(folds: list[Fold]) -> list[dict]:
    """The expected measures of a random ranking, fold by fold (each fold's library size)."""
    return [{"fold": f.index, **metrics.chance_ranking_summary(int((f.sounds.split == "test").sum()))} for f in folds]


# --- training and evaluation over folds ------------------------------------------------------

def _fold_record(rank: Ranking, fold: Fold) -> dict:
    return {"fold": fold.index, **rank.summary()}


def network_runs(build: Callable[[Fold], Callable], folds: list[Fold], specs, recipe, max_epochs: int | None,
                 out_dir: Path, base_seed: int, fingerprint: dict, strategy=None) -> list[dict]:
    """One training of `build(fold)()` per fold (run k = fold k) on the fold's pairs, tested
    on its test part; each fold's ranking (`ranking_NN.npz`) and record are saved as it ends
    and reused only when the fingerprint matches (`runs.run_many`)."""
    from vocalsearch_tf.evaluation.retrieval import Retriever

    def run(index: int, seed: int) -> dict:
        fold = folds[index]
        runs.set_seed(seed)
        datasets = {role: recipes.pair_dataset(fold.pairs[role], specs.imitation_rows, specs.sound_rows,
                                                specs.imitations, specs.sounds, recipe.batch_size,
                                                shuffle_seed=seed if role == "train" else None)
                    for role in ("train", "val")}
        model, history = recipes.fit_pair_model(build(fold), datasets["train"], datasets["val"], recipe, max_epochs,
                                                 strategy, progress=f"{out_dir.name} fold {index}")
        rank = ranking(fold, lambda sounds, queries: Retriever(model).index(specs.of_sounds(sounds.sound_id))
                       .log_likelihoods(specs.of_imitations(queries.imitation_id)))
        rank.save(out_dir / f"ranking_{index:02d}.npz")
        return {**_fold_record(rank, fold), "epochs": len(history["loss"]), "params": model.count_params(),
                "history": history}

    return runs.run_many(out_dir, len(folds), run, base_seed,
                             {**fingerprint, "max_epochs": max_epochs, "recipe": recipe}, ("ranking_{index:02d}.npz",))


def imisound_runs(folds: list[Fold], whole, epochs: int, out_dir: Path, base_seed: int, fingerprint: dict) -> list[dict]:
    """IMISOUND per fold: the auto-encoder trained on the fold's training imitations (whole
    CQTs, `experiment.full_length_cqt`), eq. 3's log-likelihoods over the fold's test library."""
    from vocalsearch_tf.evaluation.baselines import cosine_scores as cosine_similarity
    from vocalsearch_tf.evaluation.scoring import log_likelihood
    from vocalsearch_tf.models.imisound import IMISOUND
    from vocalsearch_tf.training.imisound import Imisound

    params = dataclasses.replace(IMISOUND, epochs=epochs)

    def run(index: int, seed: int) -> dict:
        fold = folds[index]
        model = Imisound(params).fit(whole.of_imitations(fold.train_imitation_ids()), seed)
        rank = ranking(fold, lambda sounds, queries: log_likelihood(cosine_similarity(
            model.embed(whole.of_imitations(queries.imitation_id)), model.embed(whole.of_sounds(sounds.sound_id)))))
        rank.save(out_dir / f"ranking_{index:02d}.npz")
        return {**_fold_record(rank, fold), "loss": model.history["loss"]}

    return runs.run_many(out_dir, len(folds), run, base_seed, {**fingerprint, "model": params},
                             ("ranking_{index:02d}.npz",))


def fused_records(folders: list[Path], folds: list[Fold]) -> list[dict]:
    """Fold by fold, the fusion of the rankings saved in `folders`."""
    return [_fold_record(fuse(*(Ranking.load(d / f"ranking_{f.index:02d}.npz") for d in folders)), f) for f in folds]


def summary_table(rows: dict[str, list[dict]], measures=tuple(METRIC_NAMES)) -> pd.DataFrame:
    """'mean ± std' over folds per system (row) and measure (column); the sample standard
    deviation (n/a for one fold)."""
    table = {}
    for system, records in rows.items():
        frame = pd.DataFrame(records)
        table[system] = {METRIC_NAMES[m]: f"{frame[m].mean():.3f} ± " + (f"{frame[m].std(ddof=1):.3f}" if len(frame) > 1 else "n/a")
                         for m in measures}
    return pd.DataFrame(table).T


def long_table(rows: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per (system, fold) with every measure."""
    return pd.DataFrame([{"system": system, **{k: r[k] for k in ("fold", *METRIC_NAMES, "library", "queries") if k in r}}
                         for system, records in rows.items() for r in records])


# Published numbers of other work, as data; `same_protocol` says whether they sit beside ours.
ANCHORS = pd.DataFrame([
    {"work": "QVIM challenge baseline, MobileNetV3 dual encoder (AES AIMLA 2025; qvim-baseline README)",
     "data": "trained on VimSketch, tested on the QVIM public evaluation set", "MRR": 0.2616, "NDCG": 0.6428,
     "same_protocol": False, "note": "another test set; NDCG there counts any sound of the imitated category"},
    {"work": "QVIM challenge, random ranking (same README)", "data": "the QVIM public evaluation set",
     "MRR": 0.0444, "NDCG": 0.337, "same_protocol": False, "note": "another test set"},
    {"work": "Greif et al., DCASE 2024 (Jonathan-Greif/QBV), coarse-grained task",
     "data": "VimSketch, 10 folds disjoint in references, each imitation ranks its fold's references",
     "MRR": np.nan, "NDCG": np.nan, "same_protocol": True,
     "note": "same protocol, their folds (qbv_folds reads them); their table's numbers could not be read "
             "from here, so none are shown"},
])
