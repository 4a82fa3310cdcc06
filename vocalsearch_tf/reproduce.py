"""`make reproduce`: every numbered notebook under papermill, two at a time where one
does not need the other's results.

    python -m vocalsearch_tf.reproduce --profile quick --dataset synthetic --seed 0
    python -m vocalsearch_tf.reproduce --only 03 05   # some notebooks (their inputs must exist)
    python -m vocalsearch_tf.reproduce --jobs 1       # one at a time, in order

Executed copies land in `results/<profile>/<dataset>/seed<seed>/notebooks/` (with the smoke
switch $VOCALSEARCH_SMOKE_STEPS, `results/<profile>-smoke/...`: see `config.py`). Each notebook
reuses the finished runs whose fingerprints still match, so a second call is fast. The
wall time of every notebook is printed at the end, also when one fails.

Running two notebooks at once changes no result: each keeps its own TensorFlow threads and
training is deterministic under load. It gains most where one notebook waits on single-
threaded work (data, spectrograms, plots) while the other trains; two trainings at once on
2 cores each run about half as fast, so there the gain is small.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from vocalsearch_tf.config import SMOKE_STEPS_VARIABLE, results_folder, smoke_steps

NOTEBOOKS_DIR = Path("notebooks")

# The notebooks whose saved results each notebook reads (00 writes the split and makes
# the embedded VocalSketch set; data generators take a lock, so sets are made once).
NEEDS = {
    "00": (),
    "01": ("00",),  # language-ID tower
    "02": ("00",),  # urban-sound tower
    "03": ("00",),  # IMINET
    "04": ("01", "02"),  # TL-IMINET from both towers
    "05": ("03", "04"),  # Table I: IMISOUND and fusion with both
    "06": ("02", "03", "04"),  # visualisations of their models
    "07": ("00",),  # Manocha 2018
    "08": ("02",),  # Fan 2020 on the urban-sound tower
    "09": ("01", "02"),  # VimSketch: IMINET and TL-IMINET per fold
    "10": ("05", "09"),  # dual encoders beside Table I's and the coarse folds' systems
}


def notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if p.name[:2] in only or p.stem in only]
        if not found:
            raise SystemExit(f"no notebook in {folder} matches {only}")
    return found


def schedule(names: list[str], done: set[str], running: set[str]) -> list[str]:
    """The notebooks, in order, that may start now: not started, and every notebook they
    need that is part of this run has finished. (Those outside the run must have run before.)"""
    return [n for n in names if n not in done and n not in running
            and all(need in done or need not in names for need in NEEDS.get(n, ()))]


def _execute(notebook: Path, output: Path, params: dict, cwd: Path, progress_bar: bool) -> str | None:
    """One notebook, in a worker process; the error as text (None when it ran)."""
    import papermill

    try:
        papermill.execute_notebook(notebook, output, parameters=params, cwd=str(cwd), progress_bar=progress_bar)
    except Exception as error:  # papermill's error names the notebook cell that failed
        return f"{type(error).__name__}: {error}"
    return None


def run_all(profile: str, dataset: str, data_dir: str, seed: int, parameters: dict[str, str],
            only: list[str] | None = None, results_dir: str = "results", figures_dir: str = "figures",
            jobs: int = 2) -> dict:
    """Executes the notebooks, at most `jobs` at a time; returns {notebook: seconds}.
    After a failure no further notebook starts; the running ones finish (their runs are
    saved), the timings so far are printed, and the first failure is raised."""
    root = Path.cwd()
    executed = root / results_dir / results_folder(profile) / dataset / f"seed{seed}" / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    params = {"PROFILE": profile, "DATASET": dataset, "DATA_DIR": str(Path(data_dir).resolve()), "SEED": seed,
              "RESULTS_DIR": str((root / results_dir).resolve()), "FIGURES_DIR": str((root / figures_dir).resolve()),
              **parameters}
    paths = {p.name[:2]: p for p in notebooks(only, root / NOTEBOOKS_DIR)}
    names = list(paths)
    smoke = (f", smoke run: ${SMOKE_STEPS_VARIABLE}={smoke_steps()}, every fit cut short, results are not "
             f"results" if smoke_steps() else "")
    if jobs > 1:
        # each notebook's TensorFlow would otherwise take a whole GPU's memory for itself
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    timings: dict[str, float] = {}  # by notebook file name, as printed
    started: dict[str, float] = {}
    done: set[str] = set()
    failures: list[str] = []
    begin = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {}
        try:
            while True:
                ready = [] if failures else schedule(names, done, set(started) - done)
                for name in ready[:jobs - len(futures)]:
                    notebook = paths[name]
                    print(f"== {notebook.name} (profile {profile}, dataset {dataset}, seed {seed}{smoke})", flush=True)
                    started[name] = time.perf_counter()
                    futures[pool.submit(_execute, notebook, executed / notebook.name, params, root / NOTEBOOKS_DIR,
                                        jobs == 1 and sys.stderr.isatty())] = name
                if not futures:
                    break
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = futures.pop(future)
                    done.add(name)
                    label, error = paths[name].name, future.result()
                    timings[label] = time.perf_counter() - started[name]
                    if error is None:
                        print(f"   {label}: {timings[label]:.0f} s", flush=True)
                    else:
                        failures.append(f"{label}: {error}")
                        waiting = ", ".join(paths[n].name for n in futures.values())
                        print(f"   {label} failed{'; waiting for ' + waiting if waiting else ''}", flush=True)
        finally:
            print(timing_table(timings, time.perf_counter() - begin), flush=True)
    if failures:
        raise RuntimeError(failures[0])
    return timings


def timing_table(timings: dict[str, float], elapsed: float | None = None) -> str:
    lines = ["", "wall time per notebook:"]
    lines += [f"  {name:<32} {seconds / 60:6.1f} min" for name, seconds in timings.items()]
    lines.append(f"  {'sum':<32} {sum(timings.values()) / 60:6.1f} min")
    if elapsed is not None:
        lines.append(f"  {'elapsed (notebooks overlap)':<32} {elapsed / 60:6.1f} min")
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
    parser.add_argument("--results-dir", default="results", help="where results go (default results/)")
    parser.add_argument("--figures-dir", default="figures", help="where figures go (default figures/)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="notebooks run at once, where one does not need the other (default 2; 1: in order)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        run_all(args.profile, args.dataset, args.data_dir, args.seed, dict(args.param), args.only,
                args.results_dir, args.figures_dir, jobs=args.jobs)
    except Exception as error:  # the notebook and its error, as papermill names the failing cell
        print(f"\nmake reproduce failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
