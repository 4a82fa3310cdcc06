"""Notebook 10's tables and findings: today's systems (`field_today`) beside IMINET, TL-IMINET and
IMISOUND as notebooks 05 and 09 saved them (read, not recomputed), a random ranking's expected
numbers, the findings computed from the tables, and a retrieval example.

The long table holds one row per (system, run, measure): TASLP's MRR per category ("AI".."SS")
and their mean ("mean"), and the QVIM challenge's measures over the whole test library
("QVIM MRR", "NDCG", "R@1", "R@5", "R@10"). Notebook 05 saved per-category scores only, so
TASLP's systems have no QVIM measures here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.vocalsketch import CATEGORY_CODES
from vocalsearch_tf.evaluation import metrics, qvim, scoring
from vocalsearch_tf.experiments import field_today, paper, vimsketch
from vocalsearch_tf.experiments.taslp import Split

# notebook 05's configurations shown beside ours: Table I's wording -> the name here
TASLP_SYSTEMS = {"IMISOUND": "IMISOUND", "Tied": "IMINET tied", "Untied + Partial + Tied": "IMINET untied + partial + tied",
                 "Pre-train Conv1/2/3": "TL-IMINET, pre-train conv1/2/3"}
CHANCE = "random ranking (expected)"
QVIM_MEASURES = {"mrr": "QVIM MRR", "ndcg": "NDCG", "recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10"}
MEAN = "mean"
COARSE_CHANCE = "Random ranking (expected)"  # notebook 09's name for it


# --- the TASLP split --------------------------------------------------------------------------

def taslp_runs(results: Path) -> dict[str, pd.DataFrame]:
    """Notebook 05's runs (`table1_runs.csv`) of TASLP_SYSTEMS: per system, MRR per category (rows: runs)."""
    path = Path(results) / "table1_runs.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no Table I runs; run notebooks/05_table1.ipynb first with the same "
                                "PROFILE, DATASET and SEED")
    long = pd.read_csv(path)
    found = {}
    for configuration, system in TASLP_SYSTEMS.items():
        rows = long[long.configuration == configuration]
        if len(rows):
            found[system] = rows.pivot(index="run", columns="category", values="mrr")
    return found


def _rows(system: str, origin: str, run: int, values: dict) -> list[dict]:
    return [{"system": system, "origin": origin, "run": run, "measure": m, "value": float(v)} for m, v in values.items()]


def _with_mean(mrr: dict) -> dict:
    return {**mrr, MEAN: float(np.mean(list(mrr.values())))}


def chance_values(split: Split) -> dict:
    """A random ranking's expected MRR per category (TASLP) and QVIM measures (the whole library)."""
    sounds, queries = split.test_tables()
    mrr = {CATEGORY_CODES[c]: metrics.chance_mrr(int((sounds.category == c).sum())) for c in scoring.categories_in(sounds)}
    measures = qvim.chance_qvim_summary(queries.category, sounds.category)
    return {**_with_mean(mrr), **{QVIM_MEASURES[k]: measures[k] for k in QVIM_MEASURES}}


def long_table(ours: dict[str, list[dict]], taslp: dict[str, pd.DataFrame], split: Split) -> pd.DataFrame:
    """One row per (system, run, measure): a random ranking, notebook 05's systems, then ours."""
    rows = _rows(CHANCE, "expected", 0, chance_values(split))
    for system, frame in taslp.items():
        for run, mrr in frame.iterrows():
            rows += _rows(system, "notebook 05", int(run), _with_mean(mrr.dropna().to_dict()))
    for system, records in ours.items():
        for record in records:
            measures = {QVIM_MEASURES[k]: record["qvim"][k] for k in QVIM_MEASURES}
            rows += _rows(system, "notebook 10", int(record["run"]), {**_with_mean(record["mrr"]), **measures})
    return pd.DataFrame(rows, columns=["system", "origin", "run", "measure", "value"])


def _cell(values: pd.Series) -> str:
    if values.empty:
        return "—"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def formatted(long: pd.DataFrame) -> pd.DataFrame:
    """Systems (rows, in the long table's order) by measures: mean ± std over runs (one run: the
    value); '—' where a system has no such measure. 'runs' counts each system's runs."""
    systems = list(dict.fromkeys(long.system))
    measures = list(dict.fromkeys(long.measure))
    table = pd.DataFrame(index=pd.Index(systems, name="system"))
    table["from"] = long.groupby("system", sort=False).origin.first()
    table["runs"] = long.groupby("system", sort=False).run.nunique()
    for measure in measures:
        table[measure] = [_cell(long[(long.system == s) & (long.measure == measure)].value) for s in systems]
    return table.reset_index()


def means(long: pd.DataFrame) -> pd.DataFrame:
    """Mean over runs per system (rows) and measure (columns)."""
    return long.groupby(["system", "measure"], sort=False).value.mean().unstack()


# --- findings ---------------------------------------------------------------------------------

def _against(m: pd.DataFrame, a: str, b: str, categories: list[str]) -> str:
    higher = int((m.loc[a, categories] > m.loc[b, categories]).sum())
    return (f"{m.loc[a, MEAN] - m.loc[b, MEAN]:+.3f} TASLP MRR (mean over categories), higher in {higher} of "
            f"{len(categories)} categories")


def findings(long: pd.DataFrame, synthetic: bool) -> list[str]:
    """What the table says, each line computed from it."""
    m = means(long)
    categories = [c for c in paper.CATEGORIES if c in m.columns]
    systems = m.drop(index=CHANCE)
    best = systems[MEAN].idxmax()
    lines = [f"best system by TASLP MRR (mean over categories): **{best}** ({systems.loc[best, MEAN]:.3f}; a random "
             f"ranking expects {m.loc[CHANCE, MEAN]:.3f})"]
    if {field_today.PRETRAINED, field_today.RANDOM} <= set(m.index):
        lines.append(f"pretraining on real sounds (aisfx's weights) against random initialisation, same recipe: "
                     f"{_against(m, field_today.PRETRAINED, field_today.RANDOM, categories)}; QVIM MRR "
                     f"{m.loc[field_today.PRETRAINED, 'QVIM MRR'] - m.loc[field_today.RANDOM, 'QVIM MRR']:+.3f}")
    if {field_today.FROZEN, "IMISOUND"} <= set(m.index):
        lines.append(f"the two training-free systems, aisfx frozen against IMISOUND: "
                     f"{_against(m, field_today.FROZEN, 'IMISOUND', categories)}")
    if {field_today.PRETRAINED, field_today.FROZEN} <= set(m.index):
        lines.append(f"contrastive training of the aisfx towers against aisfx frozen: "
                     f"{_against(m, field_today.PRETRAINED, field_today.FROZEN, categories)}")
    for other in ("IMINET tied", "TL-IMINET, pre-train conv1/2/3"):
        if {field_today.PRETRAINED, other} <= set(m.index):
            lines.append(f"the dual encoder from aisfx against {other}: "
                         f"{_against(m, field_today.PRETRAINED, other, categories)}")
    ours = [s for s in field_today.OURS if s in m.index]
    if ours:
        lines.append("QVIM MRR over the whole test library: " + ", ".join(
            f"{s} {m.loc[s, 'QVIM MRR']:.3f}" for s in ours) + f" (a random ranking {m.loc[CHANCE, 'QVIM MRR']:.3f})")
    if long[long.origin == "notebook 10"].groupby("system").run.nunique().max() == 1:
        lines.append("one run per trained system: the differences above have no spread over runs to be judged by")
    if synthetic:
        lines.append("these are results on the embedded synthetic data, not on VocalSketch or VimSketch")
    return lines


# --- the coarse protocol ----------------------------------------------------------------------

def coarse_runs_of_09(results: Path, folds: list[vimsketch.Fold]) -> dict[str, list[dict]]:
    """Notebook 09's per-fold records (`coarse/coarse_folds.csv`) of the folds here, after checking
    that 09 ran on these very folds (its runs' fingerprints hold a hash of them)."""
    coarse = Path(results) / "coarse"
    table, record = coarse / "coarse_folds.csv", coarse / "imisound" / "run_00.json"
    if not table.exists() or not record.exists():
        raise FileNotFoundError(f"{coarse}: no coarse-protocol runs; run notebooks/09_vimsketch.ipynb first with the "
                                "same PROFILE, DATASET and SEED")
    if json.loads(record.read_text())["fingerprint"]["split"] != vimsketch.folds_digest(folds):
        raise ValueError(f"{coarse}: notebook 09 ran on other folds than these; run it again")
    long = pd.read_csv(table)
    wanted = long[long.fold.isin([f.index for f in folds])]
    return {system: frame.drop(columns="system").to_dict("records")
            for system, frame in wanted.groupby("system", sort=False)}


def coarse_findings(rows: dict[str, list[dict]]) -> list[str]:
    m = pd.DataFrame({system: pd.DataFrame(records)[["mrr"]].mean() for system, records in rows.items()}).T.mrr
    chance, systems = m[COARSE_CHANCE], m.drop(index=COARSE_CHANCE)
    lines = [f"best system by MRR on the coarse fold(s): **{systems.idxmax()}** ({systems.max():.3f}; a random "
             f"ranking expects {chance:.3f})"]
    ours = [s for s in field_today.OURS if s in systems.index]
    lines += [f"{s}: {systems[s]:.3f} MRR, {systems[s] - systems.drop(index=ours).max():+.3f} against the best of "
              "notebook 09's systems" for s in ours]
    return lines


# --- a retrieval example ----------------------------------------------------------------------

def retrieval_example(out_dir: Path, split: Split, seed: int, top: int = 3) -> tuple[pd.Series, pd.DataFrame, int]:
    """One test imitation (drawn with `seed`), the `top` test sounds run 0 of a system ranks first
    over the whole test library with their cosine similarity, and the rank of the imitation's own
    sound (ties against it)."""
    similarity, query_ids, sound_ids = field_today.load_library(Path(out_dir) / "library_00.npz")
    sounds, queries = split.test_tables()
    row = int(np.random.default_rng(seed).integers(len(query_ids)))
    query = queries.set_index("imitation_id").loc[query_ids[row]]
    order = np.argsort(-similarity[row], kind="stable")[:top]
    hits = sounds.set_index("sound_id").loc[sound_ids[order]].reset_index()
    hits = hits.assign(rank=np.arange(1, len(order) + 1), cosine=similarity[row, order],
                       own_sound=hits.sound_id == query.sound_id, same_category=hits.category == query.category)
    own = int(np.flatnonzero(sound_ids == query.sound_id)[0])
    rank = int(metrics.target_ranks(similarity[row:row + 1], np.array([own]))[0])
    return query, hits, rank
