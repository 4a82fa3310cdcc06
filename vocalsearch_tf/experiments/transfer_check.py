"""The development check of transfer: MRR per category on real recordings from packaged
libraries, imitated by several independent processes (`datasets/packaged.py`), for chance,
the CQT-summary cosine baseline and every IMINET model a run saved.

Each imitation ranks the sounds of its category in its part (15 a category in each of the
tuning and confirmation parts; 10 in a set written before the parts existed), as Table I
ranks VocalSketch's test half. Every cell is an MRR with a bootstrap 95 % interval over
imitations, beside chance, the baseline, and the system's paired difference from the
baseline; per imitation process, and pooled over the processes independent of the
embedded data (the in-distribution `voice` apart).

    python -m vocalsearch_tf.experiments.transfer_check --data data/transfer_check \\
        --models results/quick/synthetic/seed0 [--model [NAME=]extra.keras ...] [--out DIR]

`--model` may be given several times (with or without `--models`): every model is scored
on the same spectrograms. The application's search models are measured on the same set by
`python -m vocalsearch_tf.search.choose_default` (which also chooses the search default).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.datasets.vocalsketch import CATEGORY_CODES, load_vocalsketch
from vocalsearch_tf.evaluation import baselines, intervals, metrics, scoring
from vocalsearch_tf.signal import audio, spectra

SCHEMES = ("tied", "untied", "partial")
PARTS = ("tuning", "confirmation")
REPORT_PART = "confirmation"  # chosen on the tuning part, reported on this one
BASELINE = "CQT-summary baseline"
# Measurements kept in the repository (`make transfer-check`'s JSON with a "what" line):
# before.json (the embedded data and training before issue 17) and after.json.
RECORDS = Path(__file__).resolve().parents[2] / "reference" / "transfer_check"


def chance(sounds: pd.DataFrame, imitations: pd.DataFrame | None = None) -> dict[str, float]:
    """Expected MRR of a random ranking, per category: mean of 1/k over its candidates."""
    return {CATEGORY_CODES[c]: metrics.chance_mrr(int((sounds.category == c).sum()))
            for c in scoring.categories_in(sounds)}


def find_models(results: Path | None) -> dict[str, Path]:
    """`iminet/<scheme>/model_NN.keras` under a run's results folder, by 'iminet <scheme> run N'."""
    found = {}
    if results is None:
        return found
    for scheme in SCHEMES:
        for path in sorted((Path(results) / "iminet" / scheme).glob("model_*.keras")):
            found[f"iminet {scheme} run {int(path.stem.split('_')[1])}"] = path
    return found


def model_label(spec: str, taken) -> tuple[str, Path]:
    """`--model` as given: `NAME=path.keras`, or a path named by its stem, by `folder/stem`
    when the stem is the generic 'model' or already taken, else by the whole path."""
    if "=" in spec and not Path(spec).exists():
        name, path = spec.split("=", 1)
        return name, Path(path)
    path = Path(spec)
    for name in (path.stem, f"{path.parent.name}/{path.stem}", str(path)):
        if name not in taken and name != "model":
            return name, path
    return str(path), path


@dataclass
class CheckSet:
    """The check's tables: sounds with their part, imitations with their part and process."""

    root: Path
    sounds: pd.DataFrame
    imitations: pd.DataFrame
    in_distribution: tuple[str, ...]
    versions: dict[str, int] = field(default_factory=dict)  # of the processes that wrote the imitations

    @property
    def parts(self) -> list[str]:
        return [p for p in (*PARTS, "all") if p in set(self.sounds.part)]

    @property
    def processes(self) -> list[str]:
        return sorted(set(self.imitations.process))

    @property
    def independent(self) -> list[str]:
        return [p for p in self.processes if p not in self.in_distribution]


def load_check(root: str | Path) -> CheckSet:
    """The set through the VocalSketch loader, with `provenance.csv`'s parts and
    `imitations.csv`'s processes (a set written before them: one part 'all', one process
    'espeak')."""
    root = Path(root)
    if not (root / "vocal_imitations.csv").exists():
        raise FileNotFoundError(f"{root}: no vocal_imitations.csv (write the set with `make measure-search`)")
    # every imitation counts: VocalSketch's loader keeps 10 a sound unless told otherwise
    per_sound = int(pd.read_csv(root / "vocal_imitations.csv").groupby("sound_recording").size().max())
    data = load_vocalsketch(root, per_sound=per_sound)
    if data.report.skipped:
        raise ValueError(f"the check set has unreadable files: {data.report}")
    root = Path(data.root)
    sounds, imitations = data.sounds.copy(), data.imitations.copy()
    sounds["part"], imitations["part"], imitations["process"] = "all", "all", "espeak"
    if (root / "provenance.csv").exists() and (root / "imitations.csv").exists():
        parts = pd.read_csv(root / "provenance.csv").set_index("filename")["part"]
        sounds["part"] = [parts[Path(p).name] for p in sounds.path]
        side = pd.read_csv(root / "imitations.csv").set_index("filename")
        imitations["part"] = [side.at[Path(p).name, "part"] for p in imitations.path]
        imitations["process"] = [side.at[Path(p).name, "process"] for p in imitations.path]
    marker = root / "processes.json"
    written = json.loads(marker.read_text()) if marker.exists() else {}
    return CheckSet(root, sounds.reset_index(drop=True), imitations.reset_index(drop=True),
                    tuple(written.get("in_distribution", [])), written.get("versions", {}))


def part_scores(check: CheckSet, score) -> dict[str, dict[str, scoring.CategoryScores]]:
    """Per part, per category code: `score(sound_rows, imitation_rows)` -> (imitations,
    sounds) scores within the part's category. Rows are the tables' index labels: positions
    in the whole set, also when `check` holds some of its imitations only."""
    result = {}
    for part in check.parts:
        sound_rows = check.sounds.index.to_numpy()[(check.sounds.part == part).to_numpy()]
        query_rows = check.imitations.index.to_numpy()[(check.imitations.part == part).to_numpy()]
        result[part] = scoring.per_category(
            check.sounds.loc[sound_rows].reset_index(drop=True), check.imitations.loc[query_rows].reset_index(drop=True),
            lambda members, asking: score(sound_rows[members], query_rows[asking]))
    return result


def reciprocal_ranks(check: CheckSet, scores: dict[str, dict[str, scoring.CategoryScores]]) -> pd.DataFrame:
    """One row per imitation: part, category code, process, reciprocal rank (ties pessimistic)."""
    process = dict(zip(check.imitations.imitation_id, check.imitations.process))
    rows = []
    for part, by_code in scores.items():
        for code, cell in by_code.items():
            ranks = metrics.target_ranks(cell.scores, cell.targets)
            rows += [{"imitation_id": q, "part": part, "code": code, "process": process[q], "rr": 1.0 / r}
                     for q, r in zip(cell.query_ids, ranks)]
    return pd.DataFrame(rows).sort_values(["part", "code", "imitation_id"], kind="stable").reset_index(drop=True)


def subsets(check: CheckSet) -> dict[str, list[str]]:
    """'pooled' (the independent processes), then each process on its own."""
    return {"pooled": check.independent, **{p: [p] for p in check.processes}}


def summarise(check: CheckSet, ranks: dict[str, pd.DataFrame], baseline: str = BASELINE) -> dict:
    """Per system, part, subset and category: MRR with its bootstrap interval, and the
    paired difference from the baseline on the same imitations."""
    base = ranks[baseline]
    out = {}
    for name, frame in ranks.items():
        if not frame[["imitation_id", "part"]].equals(base[["imitation_id", "part"]]):
            raise ValueError(f"{name} was scored on other imitations than the baseline")
        cells = {}
        for part in check.parts:
            for subset, processes in subsets(check).items():
                for code in CATEGORY_CODES.values():
                    pick = ((frame.part == part) & (frame.code == code) & frame.process.isin(processes)).to_numpy()
                    if not pick.any():
                        continue
                    cell = intervals.mean_interval(frame.rr[pick])
                    if name != baseline:
                        cell["minus_baseline"] = intervals.paired_difference(frame.rr[pick], base.rr[pick])
                    cells.setdefault(part, {}).setdefault(subset, {})[code] = cell
        out[name] = cells
    return out


def sound_packages(check: CheckSet) -> pd.Series:
    """Each sound's source package (`provenance.csv`), indexed by sound_id; empty without it."""
    provenance = check.root / "provenance.csv"
    if not provenance.exists():
        return pd.Series(dtype=object)
    package = pd.read_csv(provenance).set_index("filename").package
    return pd.Series([package[Path(p).name] for p in check.sounds.path], index=check.sounds.sound_id)


def imitation_packages(check: CheckSet) -> pd.Series:
    """Each imitation's source package (its sound's), indexed by imitation_id; empty without
    provenance."""
    packages = sound_packages(check)
    return check.imitations.set_index("imitation_id").sound_id.map(packages) if len(packages) else packages


def per_package(check: CheckSet, scores: dict, packages: pd.Series) -> dict:
    """Per part, source package and system: MRR (bootstrap interval) over the independent
    processes' imitations of that package's sounds, all categories together. A check where
    a few packages hold most imitations can hide a model's weakness on the others."""
    package_of = check.imitations.set_index("imitation_id").sound_id.map(packages)  # `packages` may be any labels
    out: dict = {}
    for name, system in scores.items():
        ranks = reciprocal_ranks(check, system)
        ranks = ranks[ranks.process.isin(check.independent)]
        for (part, package), group in ranks.groupby([ranks.part, ranks.imitation_id.map(package_of)]):
            out.setdefault(part, {}).setdefault(package, {})[name] = intervals.mean_interval(group.rr)
    return out


def package_table(cells: dict) -> pd.DataFrame:
    """One part's `per_package` cells: a row per package (imitations n), a last row with each
    system's mean over the packages, every package weighing the same."""
    frame = pd.DataFrame({package: {name: cell_text(cell) for name, cell in by.items()} for package, by in cells.items()}).T
    frame["n"] = [next(iter(by.values()))["n"] for by in cells.values()]
    balanced = {name: np.mean([by[name]["mean"] for by in cells.values()]) for name in next(iter(cells.values()))}
    frame.loc["mean over packages"] = {**{name: f"{v:.3f}" for name, v in balanced.items()}, "n": ""}
    return frame


def chance_by_part(check: CheckSet) -> dict[str, dict[str, float]]:
    return {part: chance(check.sounds[check.sounds.part == part], None) for part in check.parts}


def counts(check: CheckSet) -> dict:
    return {part: {CATEGORY_CODES[c]: {
        "sounds": int(((check.sounds.part == part) & (check.sounds.category == c)).sum()),
        **{p: int(((check.imitations.part == part) & (check.imitations.category == c)
                   & (check.imitations.process == p)).sum()) for p in check.processes}}
        for c in scoring.categories_in(check.sounds)} for part in check.parts}


def baseline_scores(check: CheckSet):
    """The CQT-summary cosine baseline, as notebook 00 runs it (clips at 16 kHz, 4 s)."""
    n = IMINET_CQT.clip_samples
    sound_features = baselines.cqt_summary(np.stack([audio.load_clip(p, 16_000, n) for p in check.sounds.path]))
    query_features = baselines.cqt_summary(np.stack([audio.load_clip(p, 16_000, n) for p in check.imitations.path]))
    return lambda sound_rows, query_rows: baselines.summary_scores(query_features[query_rows],
                                                                    sound_features[sound_rows])


def evaluate(data: str | Path, models: dict[str, Path], cache_dir: Path | None = None) -> dict:
    """Chance, the baseline and each IMINET model on the check: the summary with intervals,
    and (the v1 view) confirmation-part MRR pooled over the independent processes."""
    check = load_check(data)
    scores = {BASELINE: part_scores(check, baseline_scores(check))}
    ties = {}
    if models:
        import keras

        from vocalsearch_tf.evaluation.retrieval import Retriever
        from vocalsearch_tf.signal.features import ConstantQ

        front_end = ConstantQ(IMINET_CQT)
        sound_specs = spectra.spectrograms(check.sounds.path, front_end, cache_dir, description="sounds")
        query_specs = spectra.spectrograms(check.imitations.path, front_end, cache_dir, description="imitations")
        for name, path in models.items():
            retriever = Retriever(keras.models.load_model(path, compile=False))
            scores[name] = part_scores(check, lambda s, q: retriever.index(sound_specs[s]).log_likelihoods(
                query_specs[q]))
            ties[name] = {part: scoring.tied_targets_by_category(cells) for part, cells in scores[name].items()}
            keras.backend.clear_session()
    return result_of(check, scores, ties, {k: str(v) for k, v in models.items()})


def result_of(check: CheckSet, scores: dict, ties: dict | None = None, models: dict | None = None) -> dict:
    ranks = {name: reciprocal_ranks(check, s) for name, s in scores.items()}
    summary = summarise(check, ranks)
    headline = REPORT_PART if REPORT_PART in check.parts else check.parts[0]
    return {"version": 2, "data": str(check.root), "counts": counts(check),
            "processes": {p: {"in_distribution": p in check.in_distribution, "version": check.versions.get(p)}
                          for p in check.processes},
            "chance": chance_by_part(check), "summary": summary, "tied_targets": ties or {},
            "models": models or {}, "report_part": headline,
            "mrr": {"chance": chance_by_part(check)[headline],
                    **{name: {c: v["mean"] for c, v in cells[headline]["pooled"].items()}
                       for name, cells in summary.items()}}}


def cell_text(cell: dict) -> str:
    return f"{cell['mean']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"


def interval_table(result: dict, part: str | None = None, subset: str = "pooled") -> pd.DataFrame:
    """Systems by category for one part and subset: 'MRR [95 % interval]', chance first,
    and per system its difference from the baseline ('+.05 [.01, .09]')."""
    part = part or result.get("report_part", "confirmation")
    rows = {"chance": {c: f"{v:.3f}" for c, v in result["chance"][part].items()}}
    names = sorted(result["summary"], key=lambda name: name != BASELINE)  # the baseline first, then as scored
    for name in names:
        cell = result["summary"][name].get(part, {}).get(subset)
        if not cell:
            continue
        rows[name] = {c: cell_text(v) for c, v in cell.items()}
        if "minus_baseline" in next(iter(cell.values())):
            d = {c: v["minus_baseline"] for c, v in cell.items()}
            rows[f"{name} − baseline"] = {c: f"{x['difference']:+.3f} [{x['low']:+.3f}, {x['high']:+.3f}] "
                                             f"{intervals.verdict(x)}" for c, x in d.items()}
    return pd.DataFrame(rows).T


def table(result: dict) -> pd.DataFrame:
    """Systems by category; IMINET schemes with several runs also as 'mean of runs'."""
    frame = pd.DataFrame(result["mrr"]).T
    for scheme in SCHEMES:
        rows = [k for k in frame.index if k.startswith(f"iminet {scheme} run ")]
        if len(rows) > 1:
            frame.loc[f"iminet {scheme} (mean of {len(rows)} runs)"] = frame.loc[rows].mean()
    frame["mean"] = frame.mean(axis=1)
    return frame


def beats_baseline(result: dict) -> dict[str, int]:
    """Per model: in how many categories it beats the CQT-summary baseline."""
    base = result["mrr"]["CQT-summary baseline"]
    return {name: int(sum(mrr[c] > base[c] for c in base)) for name, mrr in result["mrr"].items()
            if name not in ("chance", "CQT-summary baseline")}


def recorded(folder: Path = RECORDS) -> dict[str, dict]:
    """The kept measurements, by file stem (before, after, ...)."""
    order = {"before": 0, "after": 1}
    paths = sorted(Path(folder).glob("*.json"), key=lambda p: (order.get(p.stem, 2), p.stem))
    return {p.stem: json.loads(p.read_text()) for p in paths}


def overview(records: dict[str, dict], scheme: str = "tied") -> pd.DataFrame:
    """Per record: chance, the baseline, `scheme` run 0 and its mean over runs, and in how
    many categories that mean beats the baseline."""
    rows = {}
    for name, result in records.items():
        if f"iminet {scheme} run 0" not in result["mrr"]:
            continue  # a record of other systems (interval_table shows it)
        frame = table(result)
        mean_row = next((k for k in frame.index if k.startswith(f"iminet {scheme} (mean")), f"iminet {scheme} run 0")
        for label, row in (("chance", "chance"), ("CQT-summary baseline", "CQT-summary baseline"),
                           (f"IMINET {scheme}, run 0", f"iminet {scheme} run 0"),
                           (f"IMINET {scheme}, {mean_row.split('(')[-1].rstrip(')')}", mean_row)):
            rows[(name, label)] = frame.loc[row]
        base = frame.loc["CQT-summary baseline"].drop("mean")
        for label, row in (("run 0", f"iminet {scheme} run 0"), ("mean", mean_row)):
            wins = int((frame.loc[row].drop("mean") > base).sum())
            rows[(name, f"categories where {scheme} {label} beats the baseline")] = pd.Series({"mean": wins})
    return pd.DataFrame(rows).T


def write_record(folder: Path, stem: str, result: dict, text: str) -> None:
    """`<stem>.json` (the result) and `<stem>.md` (its report) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (folder / f"{stem}.md").write_text(text + "\n")


def report(result: dict) -> str:
    """The markdown report: the confirmation part pooled first, then each process, then the
    tuning part (where choices are made)."""
    headline = result["report_part"]
    lines = [f"Development check of transfer ({result['data']}): MRR per category with bootstrap 95 % "
             "intervals over imitations; each imitation ranks the sounds of its category in its part.", ""]
    for part in [headline] + [p for p in result["chance"] if p != headline]:
        independent = [p for p, v in result["processes"].items() if not v["in_distribution"]]
        subsets = ["pooled"] + list(result["processes"])
        for subset in subsets:
            what = (f"pooled over the independent processes ({', '.join(independent)})" if subset == "pooled"
                    else f"process {subset}" + (" (in distribution: the embedded data's imitator)"
                                                if result["processes"][subset]["in_distribution"] else ""))
            frame = interval_table(result, part, subset)
            lines += [f"### {part} part, {what}", "", frame.to_markdown(), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.experiments.transfer_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/transfer_check", help="the check set (VocalSketch layout)")
    parser.add_argument("--models", default=None, help="a run's results folder holding iminet/<scheme>/model_NN.keras")
    parser.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH",
                        help="another .keras pair model, repeatable: each is a row of the one table")
    parser.add_argument("--out", default=None, help="where to write transfer_check.{json,md} (default: --models or --data)")
    parser.add_argument("--cache", default=None, help="spectrogram cache folder")
    parser.add_argument("--what", default=None, help="a line saying what was measured, kept in the JSON")
    args = parser.parse_args(argv)
    models = find_models(Path(args.models) if args.models else None)
    for spec in args.model:
        name, path = model_label(spec, models)
        models[name] = path
    if args.models and not models:
        print(f"no IMINET models under {args.models}/iminet/<scheme>/: chance and the baseline only", file=sys.stderr)
    result = evaluate(args.data, models, Path(args.cache) if args.cache else None)
    if args.what:
        result["what"] = args.what
    result["beats_baseline_in_categories"] = beats_baseline(result)
    out = Path(args.out or args.models or args.data)
    text = report(result)
    write_record(out, "transfer_check", result, text)
    print(text)
    print(f"written: {out / 'transfer_check.json'}, {out / 'transfer_check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
