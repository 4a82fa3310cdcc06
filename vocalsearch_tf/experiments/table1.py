"""Table I of the TASLP paper, assembled from the runs the notebooks saved.

Each row of `ROWS` names its block, its configuration (the paper's wording) and the
systems whose likelihoods it multiplies (a folder of `scores_NN.npz` files each, under
`results/<profile>/<dataset>/`). A fused row's run k multiplies run k of each system,
over the runs all of them have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from vocalsearch_tf.evaluation import scoring
from vocalsearch_tf.experiments import paper

IMINET = {"Untied": "iminet/untied", "Partial": "iminet/partial", "Tied": "iminet/tied"}
TL_IMINET = {"No Pre-train": "tl_iminet/none", "Pre-train Conv1": "tl_iminet/conv1",
             "Pre-train Conv1/2": "tl_iminet/conv1-2", "Pre-train Conv1/2/3": "tl_iminet/conv1-2-3"}
IMISOUND = "imisound"
ALL_IMINET = tuple(IMINET.values())

ROWS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Baseline", "IMISOUND", (IMISOUND,)),
    *[("IMINET", name, (source,)) for name, source in IMINET.items()],
    ("IMINET", "Untied + Partial + Tied", ALL_IMINET),
    *[("TL-IMINET", name, (source,)) for name, source in TL_IMINET.items()],
    *[("IMINET + IMISOUND", f"{name} + IMISOUND", (source, IMISOUND)) for name, source in IMINET.items()],
    ("IMINET + IMISOUND", "Untied + Partial + Tied + IMISOUND", (*ALL_IMINET, IMISOUND)),
    *[("TL-IMINET + IMISOUND", f"{name} + IMISOUND", (source, IMISOUND)) for name, source in TL_IMINET.items()],
]


def available_runs(folder: Path) -> list[int]:
    return sorted(int(p.stem.split("_")[1]) for p in folder.glob("scores_*.npz"))


def row_runs(results: Path, sources: tuple[str, ...]) -> list[dict[str, float]]:
    """MRR per category of each run of a (possibly fused) row; [] if a system is missing."""
    runs = [set(available_runs(results / s)) for s in sources]
    common = sorted(set.intersection(*runs)) if runs else []
    out = []
    for k in common:
        systems = [scoring.load_scores(results / s / f"scores_{k:02d}.npz") for s in sources]
        out.append(scoring.mrr_by_category(scoring.fuse(*systems)))
    return out


def assemble(results: str | Path) -> pd.DataFrame:
    """Long table: block, configuration, run, category, mrr (rows with no runs are left out)."""
    records = []
    for block, name, sources in ROWS:
        for run, mrr in enumerate(row_runs(Path(results), sources)):
            records += [dict(block=block, configuration=name, run=run, category=c, mrr=v) for c, v in mrr.items()]
    return pd.DataFrame(records, columns=["block", "configuration", "run", "category", "mrr"])


def formatted(long: pd.DataFrame) -> pd.DataFrame:
    """Table I: ours (columns AI..SS: mean ± std, the best of each block in bold) beside
    the paper's numbers (columns 'AI (paper)'..)."""
    stats_ = long.groupby(["block", "configuration", "category"], sort=False).mrr.agg(["mean", "std", "count"])
    order = [(b, n) for b, n, _ in ROWS if (b, n) in set(zip(long.block, long.configuration))]
    categories = [c for c in paper.CATEGORIES if c in set(long.category)]
    table = pd.DataFrame(index=pd.MultiIndex.from_tuples(order, names=["block", "configuration"]))
    for c in categories:
        means = stats_.xs(c, level="category")["mean"]
        best = means.groupby(level="block").transform("max")
        cells = []
        for key in order:
            mean, std, count = stats_.loc[(*key, c)]
            text = f"{mean:.3f} ± {std:.3f}" if count > 1 else f"{mean:.3f} (1 run)"
            cells.append(f"**{text}**" if np.isclose(mean, best.loc[key]) else text)
        table[c] = cells
    for c in categories:
        cells = []
        for block, name in order:
            values = paper.TABLE_I[block][name][paper.CATEGORIES.index(c)]
            cells.append(f"{values[0]:.3f} ± {values[1]:.3f}")
        table[f"{c} (paper)"] = cells
    return table.reset_index()


# The comparisons the paper tests (section VI-E), as (description, row A, row B): A vs B.
COMPARISONS = [
    ("Tied vs IMISOUND", "Tied", "IMISOUND"),
    *[(f"IMINET fusion vs {n}", "Untied + Partial + Tied", n) for n in IMINET],
    ("Pre-train Conv1/2/3 vs IMISOUND", "Pre-train Conv1/2/3", "IMISOUND"),
    ("No Pre-train vs IMISOUND", "No Pre-train", "IMISOUND"),
    *[(f"{n} + IMISOUND vs {n}", f"{n} + IMISOUND", n) for n in [*IMINET, "Untied + Partial + Tied", *TL_IMINET]],
]


def significance(long: pd.DataFrame) -> pd.DataFrame:
    """Unpaired two-sided t-tests (scipy) of the paper's comparisons, per category.
    NaN where either side has fewer than two runs."""
    rows = {}
    for description, a, b in COMPARISONS:
        row = {}
        for c in [c for c in paper.CATEGORIES if c in set(long.category)]:
            x = long[(long.configuration == a) & (long.category == c)].mrr
            y = long[(long.configuration == b) & (long.category == c)].mrr
            row[c] = stats.ttest_ind(x, y).pvalue if len(x) > 1 and len(y) > 1 else np.nan
        rows[description] = row
    return pd.DataFrame(rows).T


def means(long: pd.DataFrame) -> pd.DataFrame:
    return long.groupby(["configuration", "category"]).mrr.mean().unstack()


def findings(long: pd.DataFrame) -> list[tuple[str, str]]:
    """The paper's findings checked on these runs: (finding, what the numbers say)."""
    m = means(long)
    cats = list(m.columns)

    def count(mask) -> str:
        return f"{int(np.sum(mask))} of {len(cats)} categories"

    out = []
    if {"Tied", "IMISOUND"} <= set(m.index):
        out.append(("IMINET (tied) outperforms IMISOUND", count(m.loc["Tied"] > m.loc["IMISOUND"])))
    if {"Untied", "Partial", "Tied"} <= set(m.index):
        out.append(("MRR rises from untied to partial to tied",
                    count((m.loc["Untied"] < m.loc["Partial"]) & (m.loc["Partial"] < m.loc["Tied"]))))
        out.append(("fusing the three IMINET configurations beats each of them",
                    count(m.loc["Untied + Partial + Tied"] > m.loc[["Untied", "Partial", "Tied"]].max())))
    if {"No Pre-train", "Pre-train Conv1/2/3"} <= set(m.index):
        out.append(("pretraining all conv layers beats no pretraining (TL-IMINET)",
                    count(m.loc["Pre-train Conv1/2/3"] > m.loc["No Pre-train"])))
    if {"Pre-train Conv1/2/3", "IMISOUND"} <= set(m.index):
        out.append(("TL-IMINET (conv1/2/3) outperforms IMISOUND", count(m.loc["Pre-train Conv1/2/3"] > m.loc["IMISOUND"])))
    fused = [n for n in m.index if n.endswith(" + IMISOUND") and n[: -len(" + IMISOUND")] in m.index]
    if fused:
        wins = sum(int((m.loc[n] > m.loc[n[: -len(" + IMISOUND")]]).sum()) for n in fused)
        out.append(("fusion with IMISOUND improves every system", f"{wins} of {len(fused) * len(cats)} (system, category) cells"))
    if fused:
        best = m.idxmax()
        out.append(("TL-IMINET + IMISOUND works best overall", ", ".join(f"{c}: {best[c]}" for c in cats)))
    return out
