"""Notebook 08, Fan et al. 2020: the clips' features (5.1), a variant's runs, the tables, the paper's findings, Fig. 3.

The pretrained embedding is VGGish where its weights are at hand; otherwise notebook 02's
recording tower on 0.96 s frames stands in for it (`tower_features`), labelled as what it is.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vocalsearch_tf.config import FAN_LOGMEL, RECORDING_LOGMEL, FanProfile
from vocalsearch_tf.evaluation.presence import K_VALUES, THRESHOLDS, PresenceRetriever, map_table
from vocalsearch_tf.models.fan2020.model import VARIANTS, FanConfig
from vocalsearch_tf.models.fan2020.presence import RANKING_RULES, rank, similarity_level
from vocalsearch_tf.signal import audio, spectra
from vocalsearch_tf.signal.features import LogMel
from vocalsearch_tf.training import recipes, runs
from vocalsearch_tf.training.fan2020 import fit

# --- features (5.1) -------------------------------------------------------------------------

CLIP_SECONDS = 10.0
FRAME_SECONDS = 0.96  # VGGish's example length; 10 frames per 10 s clip
# the recording tower's front-end (TASLP V-B) over a whole 10 s clip: 431 centred frames
TOWER_CLIP_LOGMEL = dataclasses.replace(RECORDING_LOGMEL, n_frames=1 + int(CLIP_SECONDS * RECORDING_LOGMEL.sample_rate)
                                        // RECORDING_LOGMEL.hop_length)
TOWER_EMBEDDING_LAYER = "recording_pretrain_fc1"


def logmel_features(paths, cache_dir: str | Path | None) -> np.ndarray:
    """5.1's log-mel input: `(clips, 108, 128)`, time steps first."""
    spectrograms = spectra.spectrograms(paths, LogMel(FAN_LOGMEL), cache_dir, description="log-mel 108x128")
    return np.ascontiguousarray(spectrograms[..., 0].transpose(0, 2, 1))


def tower_frames(spectrograms: np.ndarray, frames: int = 10, width: int | None = None) -> np.ndarray:
    """Cut `(clips, 128, columns, 1)` log-mel spectrograms into `frames` consecutive 0.96 s
    frames and repeat each frame's columns to fill the tower's 128-column input, so the tower
    sees that frame and nothing else: `(clips * frames, 128, 128, 1)`."""
    p = RECORDING_LOGMEL
    per_second = p.sample_rate / p.hop_length
    width = width or int(round(FRAME_SECONDS * per_second))
    starts = np.round(np.arange(frames) * FRAME_SECONDS * per_second).astype(int)
    columns = starts[:, None] + np.arange(p.n_frames)[None, :] % width  # (frames, 128)
    cut = spectrograms[:, :, columns, :]  # (clips, 128, frames, 128, 1)
    return np.ascontiguousarray(cut.transpose(0, 2, 1, 3, 4).reshape(-1, p.n_mels, p.n_frames, 1))


def tower_embedder(classifier: keras.Model) -> keras.Model:
    """Notebook 02's urban-sound classifier up to its first head layer (FC 64, ReLU)."""
    return keras.Model(classifier.inputs, classifier.get_layer(TOWER_EMBEDDING_LAYER).output)


def tower_features(paths, classifier: keras.Model, cache_dir: str | Path | None, frames: int = 10) -> np.ndarray:
    """The pretrained recording tower on 0.96 s frames: `(clips, 10, 64)`. With `cache_dir`,
    kept under a key of the files (path, size, modification time) and the tower's weights."""
    paths = [Path(p) for p in paths]
    cache = None
    if cache_dir is not None:
        files = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
        key = runs.digest(files, frames, *[np.asarray(w) for w in classifier.get_weights()])
        cache = Path(cache_dir) / f"tower-frames-{key}.npy"
        if cache.exists():
            return np.load(cache)
    embedder = tower_embedder(classifier)
    layer = LogMel(TOWER_CLIP_LOGMEL)
    out = []
    for start in range(0, len(paths), 32):
        spectrograms = spectra.spectrograms(paths[start:start + 32], layer, None, description="log-mel 10 s")
        batch = tower_frames(spectrograms, frames)
        out.append(recipes.predict(embedder, batch, 320).reshape(-1, frames, embedder.output.shape[-1]))
    result = np.concatenate(out).astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, result)
    return result


def vggish_features(paths, model, batch: int = 16) -> np.ndarray:
    """VGGish embeddings (PCA-whitened) of 10 s clips: `(clips, 10, 128)`."""
    length = int(CLIP_SECONDS * model.params.sample_rate)
    out = []
    for start in range(0, len(paths), batch):
        clips = np.stack([audio.load_clip(p, model.params.sample_rate, length) for p in list(paths)[start:start + batch]])
        out.append(model.embed(clips))
    return np.concatenate(out).astype(np.float32)


# --- runs and the report ----------------------------------------------------------------------

MAIN_RULE = "summed probability"  # 3.1; "argmax count" is the ablation

def variant_names(fan_profile: FanProfile, logmel: bool) -> list[str]:
    """The variants a profile trains on log-mel (`logmel`) or on the pretrained embedding, in VARIANTS order
    where it names none."""
    chosen = fan_profile.logmel_variants if logmel else fan_profile.variants
    return list(VARIANTS) if chosen is None else list(chosen)


def run_variant(config: FanConfig, features: np.ndarray, labels: np.ndarray, database: np.ndarray,
                queries: np.ndarray, fan_profile: FanProfile, out_dir: Path, base_seed: int, fingerprint: dict,
                strategy: tf.distribute.Strategy | None = None, log=print) -> list[dict]:
    """`fan_profile.runs` trainings of a variant on the database clips, each scored on the
    query clips and saved (model .keras, scores .npz, record .json) as it ends."""
    out_dir = Path(out_dir)

    def run(index: int, seed: int) -> dict:
        runs.set_seed(seed)
        result = fit(config, features, labels, database, fan_profile.recipe, fan_profile.partners, seed, strategy,
                     order=fan_profile.pair_order, progress=f"{out_dir.name} run {index}")
        result.model.save(out_dir / f"model_{index:02d}.keras")
        probabilities = PresenceRetriever(result.model).index(features[database]).probabilities(features[queries])
        scores = {rule: score(probabilities) for rule, score in RANKING_RULES.items()}
        np.savez_compressed(out_dir / f"scores_{index:02d}.npz", scores=scores[MAIN_RULE].astype(np.float32),
                            scores_argmax=scores["argmax count"].astype(np.float32),
                            levels=similarity_level(probabilities).astype(np.int8))
        tables = {rule: map_table(rank(s), labels[queries], labels[database]).to_dict("records")
                  for rule, s in scores.items()}
        return {"variant": config.name, "map": tables[MAIN_RULE], "map_by_rule": tables, "epochs": result.epochs,
                "max_epochs": fan_profile.recipe.max_epochs, "pairs": result.pairs,
                "params": result.model.count_params(), "history": result.history}

    return runs.run_many(out_dir, fan_profile.runs, run, base_seed,
                         {**fingerprint, "model": config, "recipe": fan_profile.recipe,
                          "partners": fan_profile.partners, "pair_order": fan_profile.pair_order,
                          "ranking": MAIN_RULE},
                         ("model_{index:02d}.keras", "scores_{index:02d}.npz"), log=log)


def rule_ablation(results: dict[tuple[str, str], list[dict]]) -> pd.DataFrame:
    """mAP_s@K averaged over K and runs, per (feature, variant, queries, s), under each
    ranking rule: the paper's summed probability and the argmax count."""
    rows = []
    for (feature, variant), records in results.items():
        for rule in RANKING_RULES:
            table = pd.concat([pd.DataFrame(r["map_by_rule"][rule]) for r in records])
            for (queries, s), cells in table.groupby(["queries", "s"]):
                rows.append({"feature": feature, "variant": variant, "queries": queries, "s": s, "rule": rule,
                             "mAP (mean over K)": cells.mAP.mean()})
    wide = pd.DataFrame(rows).pivot_table(index=["feature", "variant", "queries", "s"], columns="rule",
                                          values="mAP (mean over K)")
    return wide.assign(difference=wide[MAIN_RULE] - wide["argmax count"]).reset_index()


def convergence(results: dict[tuple[str, str], list[dict]]) -> pd.DataFrame:
    """Per run: epochs chosen, the cap, and whether validation loss was still falling at the
    cap (its lowest value in the last epoch): such a run is undertrained, and comparisons
    between undertrained variants say how fast they learn, not how well."""
    rows = []
    for (feature, variant), records in results.items():
        for k, r in enumerate(records):
            val = r["history"].get("val_loss", [])
            falling = bool(val) and len(val) == r.get("max_epochs") and int(np.argmin(val)) == len(val) - 1
            drop = (val[-2] - val[-1]) / val[-2] if len(val) >= 2 else float("nan")
            rows.append({"feature": feature, "variant": variant, "run": k, "epochs run": len(val) or r["epochs"],
                         "cap": r.get("max_epochs"), "best epoch": r["epochs"],
                         "last epoch's fall in validation loss": drop, "still falling at the cap": falling})
    return pd.DataFrame(rows)


def results_table(results: dict[tuple[str, str], list[dict]], baseline: pd.DataFrame) -> pd.DataFrame:
    """Long table: feature, variant, queries, s, K, mAP (mean over runs), runs."""
    frames = []
    for (feature, variant), records in results.items():
        tables = [pd.DataFrame(r["map"]) for r in records]
        frames.append(tables[0].assign(mAP=np.mean([t.mAP for t in tables], axis=0), feature=feature,
                                       variant=variant, runs=len(records)))
    frames.append(baseline.assign(feature="-", variant="random", runs=1))
    return pd.concat(frames, ignore_index=True)[["feature", "variant", "queries", "s", "K", "mAP", "runs"]]


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (feature, variant, queries, s), one column per K."""
    wide = table.pivot_table(index=["feature", "variant", "queries", "s"], columns="K", values="mAP")
    wide.columns = [f"K={k}" for k in wide.columns]
    return wide.reset_index()


CELL = ["queries", "s", "K"]  # what a cell of the results is


def _cells(table: pd.DataFrame, feature: str, variant: str) -> pd.Series:
    """One run's mAP per cell."""
    return table[(table.feature == feature) & (table.variant == variant)].set_index(CELL).mAP


def _wins(better: pd.Series, worse: pd.Series) -> tuple[int, int]:
    """(cells where `better` beats `worse`, cells the two share), matched on (queries, s, K)."""
    cells = pd.DataFrame({"a": better, "b": worse}).dropna()
    return int((cells.a > cells.b).sum()), len(cells)


def _comparison(table: pd.DataFrame, swap: dict[str, str], features) -> tuple[int, int]:
    """(cells where the first of each variant pair beats the second, cells compared)."""
    wins = total = 0
    for feature in features:
        present = set(table.variant[table.feature == feature])
        for a, b in swap.items():
            if a in present and b in present:
                won, compared = _wins(_cells(table, feature, a), _cells(table, feature, b))
                wins, total = wins + won, total + compared
    return wins, total


def _attention_pattern(table: pd.DataFrame, features) -> tuple[int, int]:
    """(query groups matching the paper's attention pattern, groups compared): attention wins
    most cells of single-label s = 8, multi-label s = 7 and single-label s = 7, and loses most
    of multi-label s = 8 (6: "the architecture without attention works better" there)."""
    attention = {n: n.replace("-attention", "-mean") for n in VARIANTS if n.endswith("-attention")}
    matched = compared = 0
    for (queries, s), wins_attention in (("single", 8), True), (("multi", 7), True), (("single", 7), True), \
            (("multi", 8), False):
        cells = table[(table.queries == queries) & (table.s == s)]
        wins, total = _comparison(cells, attention, features)
        if total:
            compared += 1
            matched += int(wins > total / 2 if wins_attention else wins < total / 2)
    return matched, compared


def findings(table: pd.DataFrame, pretrained: str, logmel: str) -> pd.DataFrame:
    """The paper's findings (section 6), each checked on these results: holds, and the count
    behind it, in the units it counts."""
    features = [f for f in (pretrained, logmel) if f in set(table.feature)]
    rows = []

    def add(finding: str, wins: int, total: int, rule: str, unit: str):
        holds = bool(total) and (wins == total if rule == "all" else wins > total / 2)
        rows.append({"finding (Fan et al. 2020, 6)": finding, "holds here": holds if total else None,
                     "evidence": f"{wins} of {total} {unit}" if total else "not run at this profile"})

    cells = "(variant pair, query group, s, K) cells"
    siamese = {n: n.replace("-siamese-", "-plain-") for n in VARIANTS if "-siamese-" in n}
    add("the Siamese structure always performs better than without it", *_comparison(table, siamese, features), "all",
        cells)
    lowest = total = 0
    for (feature, variant), group in table[table.variant != "random"].groupby(["feature", "variant"]):
        curves = group.groupby(["queries", "s"]).mAP.mean()
        if ("multi", 8) in curves and curves.notna().all():
            total += 1
            lowest += int(curves.idxmin() == ("multi", 8))
    add("multi-label mAP_8@K is the lowest of the four curves", lowest, total, "all",
        "(feature, variant) models, by each curve's mean over K")
    add("attention is better except in multi-label mAP_8@K, where it is worse", *_attention_pattern(table, features),
        "all", "(query group, s) panels whose majority of cells goes the paper's way")
    multi = {n: n.replace("multi-", "single-") for n in VARIANTS if n.startswith("multi-")}
    only = table[(table.queries == "multi") & (table.s == 8)]
    add("multi-model beats single-model in multi-label mAP_8@K", *_comparison(only, multi, features), "most",
        "(variant pair, K) cells")
    wins = total = 0
    if len(features) == 2:
        for variant in set(table.variant[table.feature == logmel]):
            won, compared = _wins(_cells(table, pretrained, variant), _cells(table, logmel, variant))
            wins, total = wins + won, total + compared
    add("pretrained embeddings beat log-mel in all tests", wins, total, "all", "(variant, query group, s, K) cells")
    base = table[table.variant == "random"].set_index(CELL).mAP
    wins = total = 0
    for (feature, variant), group in table[table.variant != "random"].groupby(["feature", "variant"]):
        won, compared = _wins(group.set_index(CELL).mAP, base)
        wins, total = wins + won, total + compared
    add("every architecture beats the random baseline", wins, total, "all",
        "(feature, variant, query group, s, K) cells")
    return pd.DataFrame(rows)


def plot_figure3(table: pd.DataFrame, feature: str, title: str):
    """Fig. 3: mAP_s@K against K, one panel per (queries, s), every variant of `feature` and
    the random baseline."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), sharex=True)
    for row, s in enumerate(THRESHOLDS):
        for col, group in enumerate(("single", "multi")):
            ax = axes[row, col]
            cells = table[(table.queries == group) & (table.s == s)]
            for variant in [v for v in VARIANTS if v in set(cells.variant[cells.feature == feature])]:
                curve = cells[(cells.feature == feature) & (cells.variant == variant)].sort_values("K")
                config = VARIANTS[variant]
                ax.plot(curve.K, curve.mAP, marker="o", ms=3, label=config.label,
                        linestyle="-" if config.siamese else "--",
                        color=("C0" if not config.multi_model else "C3") if config.attention else
                        ("C9" if not config.multi_model else "C1"))
            base = cells[cells.variant == "random"].sort_values("K")
            ax.plot(base.K, base.mAP, color="k", linestyle=":", label="random baseline")
            ax.set_xscale("log")
            ax.set_xticks(K_VALUES, [str(k) for k in K_VALUES])
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{group}-label queries, mAP$_{s}$@K", fontsize=10)
            ax.set_xlabel("K") if row == 1 else None
            ax.set_ylabel(f"mAP$_{s}$@K") if col == 0 else None
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
