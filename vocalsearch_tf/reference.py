"""The committed reference: tables, run records and figures of a measured `make reproduce`.

`reference/<profile>/<dataset>/seed<seed>/` is what a fresh run is compared against
(`make check-reference`); no notebook reads it, so it can never stand in for a run.
`make reference` copies a finished run there.

    python -m vocalsearch_tf.reference check --profile quick
    python -m vocalsearch_tf.reference save --profile quick
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

KEPT = ("*.csv", "*.md", "*.json")  # tables, findings, run records
SKIPPED_DIRS = {"notebooks", "data"}  # executed notebooks and split manifests stay local


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


def differences(results: Path, reference: Path) -> list[str]:
    """Every reference table (CSV) that a fresh run lacks or writes differently."""
    if not reference.exists():
        return [f"{reference}: no reference for this profile, dataset and seed"]
    problems = []
    for name in sorted(p.relative_to(reference) for p in reference.rglob("*.csv")):
        fresh = results / name
        if not fresh.exists():
            problems.append(f"{name}: missing from {results}")
        elif fresh.read_text() != (reference / name).read_text():
            problems.append(f"{name}: differs\n--- reference\n{(reference / name).read_text()}"
                            f"--- this run\n{fresh.read_text()}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["check", "save"])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seed", type=int, default=0)
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
    problems = differences(results, reference)
    for problem in problems:
        print(problem)
    tables = len(list(reference.rglob("*.csv")))
    print(f"{results} against {reference}: " + ("all tables equal" if not problems else
                                                 f"{len(problems)} of {tables} tables differ or are missing"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
