"""Notebook 07, Manocha et al., "Content-based representations of audio using Siamese neural
networks" (ICASSP 2018): the 60-class set and its split, the 2 s clips and their cached
spectrograms, the validation and test measures bound to the training runner, the tables and
the findings. The tower is `models/manocha2018.py`, its training `training/manocha2018.py`, the
protocol and measures `evaluation/content_retrieval.py`, the paper's numbers `experiments/paper.py`.

The paper's 76-class YouTube set is not public; its stand-in is ESC-50 (50 classes) together
with UrbanSound8K (10), real or embedded. Classes keep their data set in their label
("esc50:siren" and "urbansound8k:siren" are two classes, as the paper kept near-duplicate
labels of its three sources apart).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from vocalsearch_tf.datasets.esc50 import load_esc50
from vocalsearch_tf.datasets.urbansound8k import load_urbansound8k
from vocalsearch_tf.evaluation import intervals, metrics
from vocalsearch_tf.evaluation.content_retrieval import SCORERS, euclidean_scores, measures_by_scorer, mp_at, protocol
from vocalsearch_tf.experiments.paper import MANOCHA2018_TABLE_1
from vocalsearch_tf.signal import audio
from vocalsearch_tf.training import manocha2018 as training
from vocalsearch_tf.training import runs

SPLIT = {"train": 0.7, "val": 0.1, "test": 0.2}  # per class (3.1)
MIN_SECONDS = 2.0  # 3.1: recordings under 2 s are not considered
ESC50_SECONDS = 5.0  # every ESC-50 clip


# --- the data set ------------------------------------------------------------------------------

def sound_events(esc50_root, urbansound8k_root, clips_per_class: int, seed: int, check_audio: bool = True):
    """The 60-class table (path, source, category, label, recording, clip, seconds) and the
    two loaders' reports, at most `clips_per_class` clips a class (`select_clips`)."""
    esc = load_esc50(esc50_root, check_audio)
    urban = load_urbansound8k(urbansound8k_root, check_audio)
    return select_clips(event_table(esc.clips, urban.clips), clips_per_class, seed), [esc.report, urban.report]


def event_table(esc50_clips: pd.DataFrame, urban_clips: pd.DataFrame) -> pd.DataFrame:
    """The two loaders' clip tables as one, a recording named by its data set and its
    `src_file` (ESC-50) or `fsID` (UrbanSound8K)."""
    parts = [
        pd.DataFrame({"path": esc50_clips.path, "source": "esc50", "category": esc50_clips.category,
                      "recording": "esc50:" + esc50_clips.src_file.astype(str), "clip": esc50_clips.filename,
                      "seconds": ESC50_SECONDS}),
        pd.DataFrame({"path": urban_clips.path, "source": "urbansound8k", "category": urban_clips["class"],
                      "recording": "urbansound8k:" + urban_clips.fsID.astype(str),
                      "clip": urban_clips.slice_file_name, "seconds": urban_clips.end - urban_clips.start}),
    ]
    clips = pd.concat(parts, ignore_index=True)
    clips.insert(3, "label", clips.source + ":" + clips.category)
    return clips


def label_rng(seed: int, label: str) -> np.random.Generator:
    """A class's own generator: the seed with a hash of its label, so one class's draws do
    not depend on which other classes are there."""
    return np.random.default_rng([seed, int(hashlib.md5(label.encode()).hexdigest()[:8], 16)])


def select_clips(clips: pd.DataFrame, clips_per_class: int, seed: int) -> pd.DataFrame:
    """At most `clips_per_class` clips a class, from as many distinct recordings as it has
    (3.1: about 100 recordings a class, a 2 s clip of each): in a seeded order of its
    recordings, one clip from each, then a second from each that has one, and so on.

    Within a recording, clips of at least `MIN_SECONDS` come first. Choice (3.1 drops
    *recordings* under 2 s): UrbanSound8K's slices are excerpts of longer Freesound
    recordings, so a slice under 2 s is kept (zero-padded to the 2 s clip) rather than
    dropped; dropping them would leave car_horn 31 of its 125 recordings and gun_shot 37 of
    117, far below the paper's ~100 a class."""
    kept = []
    for label, members in clips.groupby("label", sort=True):
        rng = label_rng(seed, label)
        order = {r: k for k, r in enumerate(rng.permutation(np.sort(members.recording.unique())))}
        members = members.assign(_short=members.seconds < MIN_SECONDS, _draw=rng.random(len(members)))
        members = members.sort_values(["_short", "_draw"])
        members = members.assign(_round=members.groupby("recording").cumcount(),
                                 _order=members.recording.map(order))
        kept.append(members.sort_values(["_round", "_order"]).head(clips_per_class))
    kept = pd.concat(kept).drop(columns=["_short", "_draw", "_round", "_order"])
    return kept.sort_values(["source", "label", "clip"]).reset_index(drop=True)


def split_by_recording(clips: pd.DataFrame, seed: int, fractions: dict = SPLIT) -> pd.DataFrame:
    """A `split` column (train / val / test), 70/10/20 of each class's clips (3.1), a
    recording's clips kept together. A class's three smallest recordings go one each to
    val, test and train (so a small class is in every split); the others, largest first
    (ties in a seeded order), each to the split furthest below its share of the class."""
    split = pd.Series("", index=clips.index)
    for label, members in clips.groupby("label", sort=True):
        rng = label_rng(seed, label)
        sizes = members.groupby("recording").size()
        sizes = sizes[rng.permutation(np.sort(sizes.index.to_numpy()))].sort_values(ascending=False, kind="stable")
        targets = {name: share * len(members) for name, share in fractions.items()}
        smallest = list(sizes.index[-min(3, len(sizes)):])
        chosen = dict(zip(smallest, ["train", "test", "val"]))
        filled = {name: sum(sizes[r] for r, n in chosen.items() if n == name) for name in fractions}
        for recording, size in sizes.items():
            if recording not in chosen:
                chosen[recording] = max(fractions, key=lambda n: targets[n] - filled[n])
                filled[chosen[recording]] += size
        split[members.index] = members.recording.map(chosen).to_numpy()
    return clips.assign(split=split)


def split_counts(clips: pd.DataFrame) -> pd.DataFrame:
    """Clips and distinct recordings per class and split, one row a class."""
    counts = clips.groupby(["label", "split"]).agg(clips=("clip", "size"), recordings=("recording", "nunique"))
    table = counts.unstack("split", fill_value=0)
    table.columns = [f"{split} {what}" for what, split in table.columns]
    columns = [f"{s} {w}" for s in SPLIT for w in ("clips", "recordings") if f"{s} {w}" in table.columns]
    return table[columns].reset_index()


# --- 2 s clips and their spectrograms ---------------------------------------------------------

def loudest_start(samples: np.ndarray, length: int, step: int) -> int:
    """Start (a multiple of `step`) of the `length`-sample window with the most energy.

    Choice (3.1: "we operate on 2 second clips from each of these recordings", not which
    2 s): the loudest window, so a clip padded with silence, as many ESC-50 clips are,
    keeps its event."""
    if len(samples) <= length:
        return 0
    energy = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    starts = np.arange(0, len(samples) - length + 1, step)
    return int(starts[np.argmax(energy[starts + length] - energy[starts])])


def cut(samples: np.ndarray, start: int, length: int) -> np.ndarray:
    """The `length` samples from `start` on, zero-padded at the end when the file is shorter."""
    return audio.fix_length(samples[start:], length)


def crop(path, params, start: int) -> np.ndarray:
    """A file's 2 s clip from sample `start` (as `clip_spectrograms` cut it), at `params`' rate."""
    samples, _ = audio.load(path, params.sample_rate)
    return cut(samples, start, params.clip_samples)


def _cache_key(paths, layer) -> str:
    files = [(str(Path(p).resolve()), s.st_size, s.st_mtime_ns) for p in paths for s in [Path(p).stat()]]
    blob = json.dumps({"layer": type(layer).__name__, "params": asdict(layer.params), "crop": "loudest",
                       "files": files}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def clip_spectrograms(paths, layer, cache_dir=None, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """`(clips, bands, frames)` spectrograms of each file's loudest 2 s, and the crops'
    start samples. Cached under `cache_dir` by the layer's settings and the files' names,
    sizes and modification times."""
    paths = list(paths)
    p = layer.params
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{type(layer).__name__}-loudest-{_cache_key(paths, layer)}.npz"
        if cache.exists():
            with np.load(cache) as stored:
                return stored["spectrograms"], stored["starts"]
    specs, starts = [], []
    for first in tqdm(range(0, len(paths), batch), desc="2 s clips", leave=False):
        clips = []
        for path in paths[first: first + batch]:
            samples, _ = audio.load(path, p.sample_rate)
            starts.append(loudest_start(samples, p.clip_samples, p.hop_length))
            clips.append(cut(samples, starts[-1], p.clip_samples))
        specs.append(np.asarray(layer(np.stack(clips)), np.float32)[..., 0])
    result = (np.concatenate(specs) if specs else np.zeros((0, *p.shape), np.float32), np.array(starts, np.int64))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".part.npz")
        np.savez(tmp, spectrograms=result[0], starts=result[1])
        os.replace(tmp, cache)
    return result


# --- what a fit measures, figures --------------------------------------------------------------

def tsne(points: np.ndarray, seed: int) -> np.ndarray:
    """2-d t-SNE (scikit-learn) of a few hundred points at most, on one thread: measured on a
    busy 2-core machine, the Barnes-Hut step's OpenMP threads took 30 s for 60 points, one
    thread 0.3 s."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    with threadpool_limits(1):
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)


def validator(spectrograms: np.ndarray, clips: pd.DataFrame, pair_set: str, margin: float, seed: int):
    """What a fit measures after each epoch: the mean loss (eq. 2) over a validation pair set
    of the training set's kind, and the validation MAP (Euclidean; validation queries rank
    the validation and training clips, as test queries do)."""
    proto = protocol(clips, "val", ("train", "val"))
    val = np.flatnonzero(clips.split == "val")
    pairs = training.make_pairs(pair_set, clips.label.to_numpy()[val], seed)
    rows = {clip: k for k, clip in enumerate(proto.database)}

    def validate(tower) -> dict:
        vectors = training.embed(tower, spectrograms[proto.database])
        queries = vectors[[rows[q] for q in proto.queries]]
        scores = euclidean_scores(queries, vectors)
        return {"val_loss": training.validation_loss(vectors[[rows[v] for v in val]], pairs, margin),
                "val_map": float(np.nanmean(metrics.average_precisions(scores, proto.relevant, proto.excluded)))}

    return validate


# --- the experiment: where the data is, runs, tables, findings ---------------------------------

def data_roots(dataset: str, data_dir, esc50_dir, urbansound8k_dir, profile, seed: int) -> tuple[Path, Path]:
    """The ESC-50 and UrbanSound8K folders to read. `synthetic`: the embedded sets (generated
    on first use under `data_dir/synthetic/<profile>/seed<seed>`). `esc50`, and `vocalsketch`
    (what `make reproduce DATASET=vocalsketch` passes every notebook: the real-data run):
    the real data sets in `esc50_dir` and `urbansound8k_dir`."""
    if dataset == "synthetic":
        dest = runs.embedded_data(data_dir, profile, seed, ["esc50", "urbansound8k"])
        return dest / "esc50", dest / "urbansound8k"
    if dataset in ("esc50", "vocalsketch"):
        return Path(esc50_dir), Path(urbansound8k_dir)
    raise ValueError(f"unknown DATASET {dataset!r}: use 'synthetic' or 'esc50' (real ESC-50 + UrbanSound8K)")


def data_digest(clips: pd.DataFrame, spectrograms: np.ndarray) -> str:
    """A hash of the clip table (clips, labels, recordings, split) and the spectrograms."""
    return runs.digest(clips[["clip", "label", "recording", "split"]].to_dict("list"), spectrograms)


def train_and_measure(out_dir: Path, pair_set: str, recipe, spectrograms: np.ndarray, clips: pd.DataFrame,
                      n_runs: int, max_epochs: int | None, base_seed: int, fingerprint: dict,
                      strategy=None) -> list[dict]:
    """`n_runs` trainings of N_R on one pair set (`training.manocha2018.train_runs`: written as
    each ends, reused while `fingerprint` matches), each fit selecting on `validator`'s
    measures and recording the test measures for both distances (`protocol(clips)`)."""
    test = protocol(clips)
    return training.train_runs(out_dir, pair_set, recipe, spectrograms, clips, n_runs, max_epochs, base_seed,
                               fingerprint, functools.partial(validator, spectrograms, clips),
                               lambda vectors: measures_by_scorer(vectors, test), strategy)


def best_margin(sweep: dict) -> float:
    """The margin whose runs reached the highest mean validation MAP."""
    return max(sweep, key=lambda margin: np.mean([run["val_map"] for run in sweep[margin]]))


MEASURES = {"MAP": "map", "MP@1 (first hit)": "mp1_first_hit", "P@1": "precision_at_1", "MP@25": 25}
PAIR_LABELS = {"balanced": "N_R^B", "unbalanced": "N_R^U"}


def measure(summary: dict, key) -> float:
    return mp_at(summary, key) if isinstance(key, int) else summary[key]


def table_1(runs_by_set: dict[str, list[dict]]) -> pd.DataFrame:
    """Table 1: per distance and measure, ours (mean over runs; ± std with several) beside the
    paper's. "MP@1 (first hit)" is the paper's MP^1 read as the mean reciprocal rank of the
    first relevant clip; "P@1" is plain precision at 1, which the paper does not report."""
    rows = []
    for scorer in SCORERS:
        for name, key in MEASURES.items():
            row = {"distance": scorer, "measure": name}
            for pair_set, label in PAIR_LABELS.items():
                values = [measure(run["test"][scorer], key) for run in runs_by_set[pair_set]]
                row[f"{label} (ours)"] = (f"{np.mean(values):.3f}" if len(values) == 1
                                          else f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}")
            paper = MANOCHA2018_TABLE_1.get(name.split(" ")[0], {}).get(scorer)
            for k, label in enumerate(PAIR_LABELS.values()):
                row[f"{label} (paper)"] = "" if paper is None else f"{paper[k]:g}"
            rows.append(row)
    return pd.DataFrame(rows)


def mean_curve(runs: list[dict], scorer: str) -> pd.Series:
    """MP@K against K, averaged over runs (Fig. 3)."""
    curves = pd.DataFrame([dict(zip(run["test"][scorer]["ks"], run["test"][scorer]["mp_at_k"])) for run in runs])
    return curves.mean(axis=0).sort_index()


PER_QUERY = {"MAP": "ap", "MP@1 (first hit)": "first_hit_rr", "MP@25": "precision_at_25"}


def per_query(runs: list[dict], scorer: str, name: str) -> np.ndarray:
    """A measure's value per test query, averaged over the runs (they share the queries)."""
    try:
        return np.mean([run["test"][scorer]["per_query"][PER_QUERY[name]] for run in runs], axis=0)
    except KeyError as missing:
        raise KeyError(f"a run record has no per-query {name} ({missing}); it predates the claims "
                       "check's intervals: delete the run folder to train it again") from None


def compared(runs_by_set, first: tuple[str, str], second: tuple[str, str], name: str) -> dict:
    """Paired bootstrap difference (over test queries) of a measure between two
    (pair set, distance) systems, and its verdict: better, worse or tie."""
    difference = intervals.paired_difference(per_query(runs_by_set[first[0]], first[1], name),
                                             per_query(runs_by_set[second[0]], second[1], name))
    return {**difference, "verdict": intervals.verdict(difference)}


def _interval(d: dict) -> str:
    return f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def findings(runs_by_set: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """The paper's claims, checked on our runs. A comparison holds only when the paired
    bootstrap 95 % interval of the difference over test queries excludes 0 (runs averaged
    per query): a single run's higher mean is not enough ("0.097 vs 0.097")."""
    checks = []
    pairs = {(scorer, name): compared(runs_by_set, ("unbalanced", scorer), ("balanced", scorer), name)
             for scorer in SCORERS for name in ("MAP", "MP@1 (first hit)", "MP@25")}
    wins = [key for key, d in pairs.items() if d["verdict"] == "better"]
    losses = [key for key, d in pairs.items() if d["verdict"] == "worse"]
    verdict = "holds" if len(wins) == len(pairs) else "holds in part" if wins else "does not hold"
    checks.append(("N_R^U beats N_R^B (4.2)",
                   f"{verdict}: better beyond noise on {len(wins)} of {len(pairs)} (distance, measure) pairs, "
                   f"worse on {len(losses)}, within noise on {len(pairs) - len(wins) - len(losses)}; "
                   + "; ".join(f"{n} {s} {_interval(d)}" for (s, n), d in pairs.items())))
    for pair_set, label in PAIR_LABELS.items():
        d = compared(runs_by_set, (pair_set, "euclidean"), (pair_set, "cosine"), "MAP")
        e, c = (np.mean(per_query(runs_by_set[pair_set], s, "MAP")) for s in ("euclidean", "cosine"))
        verdict = {"better": "holds", "worse": "does not hold", "tie": "within noise"}[d["verdict"]]
        checks.append((f"Euclidean beats cosine on MAP for {label} (4.2)",
                       f"{verdict}: {e:.3f} vs {c:.3f}, difference {_interval(d)}"))
    peaks = {f"{PAIR_LABELS[p]} {s}": int(mean_curve(runs_by_set[p], s).idxmax()) for p in PAIR_LABELS for s in SCORERS}
    near = [name for name, k in peaks.items() if 20 <= k <= 30]
    checks.append(("MP@K is largest near K = 25 (4.1.3, Fig. 3)",
                   f"{'holds' if len(near) == len(peaks) else 'holds in part' if near else 'does not hold'}: "
                   "MP@K peaks at K = " + ", ".join(f"{k} ({name})" for name, k in peaks.items())))
    return checks


def beats_baseline(runs_by_set: dict[str, list[dict]], baseline: dict) -> tuple[str, str]:
    """(Not a paper claim) N_R^U with Euclidean distance against the summary baseline on MAP,
    by the same paired interval as `findings`."""
    ours = per_query(runs_by_set["unbalanced"], "euclidean", "MAP")
    d = intervals.paired_difference(ours, baseline["per_query"]["ap"])
    verdict = {"better": "yes", "worse": "no, worse", "tie": "within noise"}[intervals.verdict(d)]
    return ("(not a paper claim) N_R^U with Euclidean distance beats the summary baseline on MAP",
            f"{verdict}: {np.mean(ours):.3f} vs {baseline['map']:.3f}, difference {_interval(d)}")
