"""`make reproduce`: every numbered notebook, in order, under papermill.

    python -m vocalsearch_tf.reproduce --profile quick --dataset synthetic --seed 0
    python -m vocalsearch_tf.reproduce --only 03 05   # some notebooks (their inputs must exist)

Executed copies land in `results/<profile>/<dataset>/seed<seed>/notebooks/`. Each notebook
reuses the finished runs whose fingerprints still match, so a second call is fast. The
wall time of every notebook is printed at the end, also when one fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

NOTEBOOKS_DIR = Path("notebooks")


def notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if p.name[:2] in only or p.stem in only]
        if not found:
            raise SystemExit(f"no notebook in {folder} matches {only}")
    return found


def run_all(profile: str, dataset: str, data_dir: str, seed: int, parameters: dict[str, str],
            only: list[str] | None = None, results_dir: str = "results", figures_dir: str = "figures") -> dict:
    """Executes the notebooks; returns {notebook: seconds}. Raises on the first failure,
    after printing the timings so far."""
    import papermill

    root = Path.cwd()
    executed = root / results_dir / profile / dataset / f"seed{seed}" / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    params = {"PROFILE": profile, "DATASET": dataset, "DATA_DIR": str(Path(data_dir).resolve()), "SEED": seed,
              "RESULTS_DIR": str((root / results_dir).resolve()), "FIGURES_DIR": str((root / figures_dir).resolve()),
              **parameters}
    timings: dict[str, float] = {}
    try:
        for notebook in notebooks(only, root / NOTEBOOKS_DIR):
            print(f"== {notebook.name} (profile {profile}, dataset {dataset}, seed {seed})", flush=True)
            start = time.perf_counter()
            papermill.execute_notebook(notebook, executed / notebook.name, parameters=params,
                                       cwd=str(root / NOTEBOOKS_DIR), progress_bar=sys.stderr.isatty())
            timings[notebook.name] = time.perf_counter() - start
            print(f"   {notebook.name}: {timings[notebook.name]:.0f} s", flush=True)
    finally:
        print(timing_table(timings), flush=True)
    return timings


def timing_table(timings: dict[str, float]) -> str:
    lines = ["", "wall time per notebook:"]
    lines += [f"  {name:<32} {seconds / 60:6.1f} min" for name, seconds in timings.items()]
    lines.append(f"  {'total':<32} {sum(timings.values()) / 60:6.1f} min")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "paper"])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="another notebook parameter, e.g. --param VOXFORGE_DIR data/voxforge")
    parser.add_argument("--only", nargs="+", help="notebook numbers or names to run (default: all)")
    args = parser.parse_args(argv)
    try:
        run_all(args.profile, args.dataset, args.data_dir, args.seed, dict(args.param), args.only)
    except Exception as error:  # papermill's error names the notebook cell that failed
        print(f"\nmake reproduce failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
