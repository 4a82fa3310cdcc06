"""The committed reference: tables, run records and figures of a measured `make reproduce`.

`reference/<profile>/<dataset>/seed<seed>/` is what a fresh run is compared against
(`make check-reference`); no notebook reads it, so it can never stand in for a run.
`make reference` copies a finished run there.

A run on another processor trains with other float32 kernels, so its trained metrics
differ from the reference the way another seed's do. `check` therefore sorts what it finds:
- the split and data tables (`DATA_TABLES`) must be equal, character for character;
- every other table must have the same rows, columns and text, and each number within the
  band of its column (`bands.json` beside the seeds, made by `bands` from two seeds' runs:
  twice the largest difference between seeds, at least `FLOOR` of the column's scale);
- findings (yes/no verdicts drawn from the trained metrics) and tables ranked by a trained
  metric may change with them: their differences are listed, not failed.

    python -m vocalsearch_tf.reference check --profile quick
    python -m vocalsearch_tf.reference save --profile quick
    python -m vocalsearch_tf.reference bands --profile ci    # from results seed0 and seed1
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

KEPT = ("*.csv", "*.md", "*.json")  # tables, findings, run records
SKIPPED_DIRS = {"notebooks", "data"}  # executed notebooks and split manifests stay local
DATA_TABLES = {"difficulty.csv", "coarse/folds.csv", "manocha2018/split_counts.csv"}  # no training involved: equal on any processor
RANKED_TABLES = {"manocha2018/table2.csv", "manocha2018/table2_all_classes.csv"}  # rows ordered by a trained metric
BAND_FACTOR = 2.0  # another processor may stray further than the two seeds measured did
FLOOR = 0.05  # of a column's scale (1 for metrics in [0, 1], else its largest magnitude)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def leaf(profile: str, dataset: str, seed: int) -> Path:
    return Path(profile) / dataset / f"seed{seed}"


def kept_files(results: Path) -> list[Path]:
    """The result files a reference keeps, relative to `results`."""
    files = {p.relative_to(results) for pattern in KEPT for p in results.rglob(pattern)}
    return sorted(p for p in files if not SKIPPED_DIRS & set(p.parts[:-1]))


def save(results: Path, figures: Path | None, reference: Path) -> int:
    """Replace `reference` with the tables, records and (unless `figures` is None) figures
    of a finished run."""
    if not (results / "table1.csv").exists():
        raise FileNotFoundError(f"{results}: no table1.csv; run `make reproduce` to the end first")
    shutil.rmtree(reference, ignore_errors=True)
    files = kept_files(results)
    for name in files:
        (reference / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(results / name, reference / name)
    for png in sorted(figures.rglob("*.png")) if figures else []:
        target = reference / "figures" / png.relative_to(figures)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    return len(files)


def kind_of(name: str) -> str:
    if name in DATA_TABLES:
        return "data"
    if "findings" in Path(name).name or name in RANKED_TABLES:
        return "follows"
    return "trained"


def _cells(text: str) -> pd.DataFrame:
    return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, header=None)


def _numbers(cell: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(cell)]


def _skeleton(cell: str) -> str:
    return NUMBER.sub("#", cell.replace("**", ""))  # bold marks the best of a column: it follows the numbers


def key_columns(*tables: pd.DataFrame) -> list[str]:
    """The columns that name a row (text or whole numbers in every table); else the first."""
    first = tables[0]
    keys = [c for c in first.columns
            if all(c in t.columns and not t[c].str.contains(r"\d\.\d").any() for t in tables)]
    return keys or [first.columns[0]]


def column_deltas(first: Path, second: Path) -> dict[str, np.ndarray]:
    """(first, second) number pairs per column of two runs' tables, rows matched by their
    names (the text and whole-number columns), so rows only one seed has are left out."""
    a, b = (pd.read_csv(p, dtype=str, keep_default_na=False) for p in (first, second))
    keys = key_columns(a, b)
    both = a.merge(b, on=keys, suffixes=("", " (other)"))
    pairs = {}
    for column in (c for c in a.columns if c not in keys and f"{c} (other)" in both):
        values = [(x, y) for u, v in zip(both[column], both[f"{column} (other)"])
                  if _skeleton(u) == _skeleton(v) for x, y in zip(_numbers(u), _numbers(v))]
        if values:
            pairs[column] = np.array(values)
    return pairs


def bands_from(seed_a: Path, seed_b: Path) -> dict[str, dict[str, float]]:
    """Per trained table and column, the band another processor's run must fall within."""
    bands = {}
    for name in (str(p) for p in kept_files(seed_a) if p.suffix == ".csv"):
        if kind_of(name) != "trained" or not (seed_b / name).exists():
            continue
        columns = {}
        for column, values in column_deltas(seed_a / name, seed_b / name).items():
            scale = 1.0 if np.all((values >= 0) & (values <= 1)) else float(np.abs(values).max()) or 1.0
            columns[column] = round(max(BAND_FACTOR * float(np.abs(values[:, 0] - values[:, 1]).max()),
                                        FLOOR * scale), 4)
        bands[name] = columns
    return bands


@dataclass
class Difference:
    table: str
    kind: str  # missing, data, layout, outside band, within band, follows
    detail: str

    @property
    def fails(self) -> bool:
        return self.kind in {"missing", "data", "layout", "outside band"}


def compare(name: str, reference: str, fresh: str, bands: dict[str, float] | None) -> Difference | None:
    """How a fresh table differs from the reference's, or None when it is the same text."""
    if fresh == reference:
        return None
    kind = kind_of(name)
    if kind == "data":
        return Difference(name, "data", "the split or data differ, which no processor explains")
    if kind == "follows":
        return Difference(name, "follows", "verdicts or a ranking that follow the trained metrics")
    a, b = _cells(reference), _cells(fresh)
    if a.shape != b.shape or not a.iloc[0].equals(b.iloc[0]) or not a.iloc[:, 0].equals(b.iloc[:, 0]):
        return Difference(name, "layout", f"rows or columns differ: {a.shape} vs {b.shape}")
    worst, problems = 0.0, []
    for i in range(1, a.shape[0]):
        for j in range(1, a.shape[1]):
            x, y = a.iat[i, j], b.iat[i, j]
            if _skeleton(x) != _skeleton(y) or len(_numbers(x)) != len(_numbers(y)):
                problems.append(f"row {a.iat[i, 0]!r}, column {a.iat[0, j]!r}: {x!r} vs {y!r}")
                continue
            band = (bands or {}).get(a.iat[0, j])
            for u, v in zip(_numbers(x), _numbers(y)):
                if u == v:
                    continue
                if band is None:
                    return Difference(name, "outside band", f"column {a.iat[0, j]!r}: no band measured "
                                      f"({u} vs {v}); run two seeds and `reference bands`")
                worst = max(worst, abs(u - v) / band)
                if abs(u - v) > band:
                    problems.append(f"row {a.iat[i, 0]!r}, column {a.iat[0, j]!r}: {u} vs {v} (band {band})")
    if problems:
        text_only = all("band" not in p for p in problems)
        return Difference(name, "layout" if text_only else "outside band", "; ".join(problems[:5]))
    return Difference(name, "within band", f"trained metrics differ, at most {worst:.0%} of their bands")


def bands_path(reference: Path) -> Path:
    return reference.parent / "bands.json"


def differences(results: Path, reference: Path) -> list[Difference]:
    """How each reference table (CSV) compares with a fresh run's."""
    if not reference.exists():
        return [Difference(str(reference), "missing", "no reference for this profile, dataset and seed")]
    bands = json.loads(bands_path(reference).read_text()) if bands_path(reference).exists() else {}
    found = []
    for name in sorted(str(p.relative_to(reference)) for p in reference.rglob("*.csv")):
        fresh = results / name
        if not fresh.exists():
            found.append(Difference(name, "missing", f"missing from {results}"))
        elif (difference := compare(name, (reference / name).read_text(), fresh.read_text(), bands.get(name))):
            found.append(difference)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["check", "save", "bands"])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--other-seed", type=int, default=1, help="bands: the second seed's run")
    parser.add_argument("--results", default="results")
    parser.add_argument("--figures", default="figures")
    parser.add_argument("--reference", default="reference")
    parser.add_argument("--tables-only", action="store_true", help="save: leave the figures out")
    args = parser.parse_args(argv)
    part = leaf(args.profile, args.dataset, args.seed)
    results, reference = Path(args.results) / part, Path(args.reference) / part
    if args.action == "save":
        count = save(results, None if args.tables_only else Path(args.figures) / part, reference)
        print(f"{reference}: {count} tables and records{'' if args.tables_only else ', and the figures,'} "
              f"copied from {results}")
        return 0
    if args.action == "bands":
        other = Path(args.results) / leaf(args.profile, args.dataset, args.other_seed)
        bands = bands_from(results, other)
        bands_path(reference).parent.mkdir(parents=True, exist_ok=True)
        bands_path(reference).write_text(json.dumps({"seeds": [args.seed, args.other_seed], **bands}, indent=1) + "\n")
        print(f"{bands_path(reference)}: bands of {len(bands)} trained tables from seeds {args.seed} and {args.other_seed}")
        return 0
    found = differences(results, reference)
    for difference in found:
        print(f"{difference.table}: {difference.kind}: {difference.detail}")
    failing = [d for d in found if d.fails]
    tables = len(list(reference.rglob("*.csv")))
    print(f"{results} against {reference}: {tables - len(found)} of {tables} tables equal, "
          f"{sum(d.kind == 'within band' for d in found)} within their bands, "
          f"{sum(d.kind == 'follows' for d in found)} follow the trained metrics, {len(failing)} fail")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
