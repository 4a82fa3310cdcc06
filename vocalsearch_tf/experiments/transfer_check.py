"""The development check of transfer (issue 17): MRR per category on real recordings from
packaged libraries with imitations by another process (`datasets/packaged.py`), for
chance, the CQT-summary cosine baseline and every IMINET model a run saved.

Each imitation ranks the sounds of its own category (10 here), as Table I does on
VocalSketch's test half; the set is read by the VocalSketch loader, the spectrograms by
IMINET's CQT front-end (`spectra`), the models scored by `scoring.retrieval_scores`.

    python -m vocalsearch_tf.experiments.transfer_check --data data/transfer_check \\
        --models results/quick/synthetic/seed0 [--model [NAME=]extra.keras ...] [--out DIR]

`--model` may be given several times (with or without `--models`): every model is scored
on the same spectrograms and printed as one markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.datasets.vocalsketch import CATEGORY_CODES, load_vocalsketch
from vocalsearch_tf.evaluation import baselines, metrics, scoring
from vocalsearch_tf.signal import audio, spectra

SCHEMES = ("tied", "untied", "partial")
# Measurements kept in the repository (`make transfer-check`'s JSON with a "what" line):
# before.json (the embedded data and training before issue 17) and after.json.
RECORDS = Path(__file__).resolve().parents[2] / "reference" / "transfer_check"


def chance(sounds: pd.DataFrame, imitations: pd.DataFrame) -> dict[str, float]:
    """Expected MRR of a random ranking, per category: mean of 1/k over its candidates."""
    return {CATEGORY_CODES[c]: metrics.chance_mrr(int((sounds.category == c).sum()))
            for c in scoring.categories_in(sounds)}


def baseline_scores(sounds: pd.DataFrame, imitations: pd.DataFrame) -> dict[str, scoring.CategoryScores]:
    """The CQT-summary cosine baseline, as notebook 00 runs it (clips at 16 kHz, 4 s)."""
    n = IMINET_CQT.clip_samples
    sound_features = baselines.cqt_summary(np.stack([audio.load_clip(p, 16_000, n) for p in sounds.path]))
    query_features = baselines.cqt_summary(np.stack([audio.load_clip(p, 16_000, n) for p in imitations.path]))
    return scoring.per_category(sounds, imitations, lambda members, asking: baselines.summary_scores(
        query_features[asking], sound_features[members]))


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


def evaluate(data: str | Path, models: dict[str, Path], cache_dir: Path | None = None) -> dict:
    """MRR per category code for chance, the baseline and each model; counts and files."""
    import keras

    data = load_vocalsketch(data)
    sounds, imitations = data.sounds, data.imitations
    if data.report.skipped:
        raise ValueError(f"the check set has unreadable files: {data.report}")
    systems = {"chance": chance(sounds, imitations),
               "CQT-summary baseline": scoring.mrr_by_category(baseline_scores(sounds, imitations))}
    ties = {}
    if models:
        from vocalsearch_tf.signal.features import ConstantQ

        front_end = ConstantQ(IMINET_CQT)
        sound_specs = spectra.spectrograms(sounds.path, front_end, cache_dir, description="sounds")
        query_specs = spectra.spectrograms(imitations.path, front_end, cache_dir, description="imitations")
        for name, path in models.items():
            model = keras.models.load_model(path, compile=False)
            scores = scoring.retrieval_scores(model, sounds, imitations, sound_specs, query_specs)
            systems[name] = scoring.mrr_by_category(scores)
            ties[name] = scoring.tied_targets_by_category(scores)
            keras.backend.clear_session()
    counts = {CATEGORY_CODES[c]: {"sounds": int((sounds.category == c).sum()),
                                  "imitations": int((imitations.category == c).sum())}
              for c in scoring.categories_in(sounds)}
    return {"data": str(data.root), "counts": counts, "mrr": systems, "tied_targets": ties,
            "models": {k: str(v) for k, v in models.items()}}


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.experiments.transfer_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/transfer_check", help="the check set (VocalSketch layout)")
    parser.add_argument("--models", default=None, help="a run's results folder holding iminet/<scheme>/model_NN.keras")
    parser.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH",
                        help="another .keras pair model, repeatable: each is a row of the one table")
    parser.add_argument("--out", default=None, help="where to write transfer_check.{json,md} (default: --models or --data)")
    parser.add_argument("--cache", default=None, help="spectrogram cache folder")
    args = parser.parse_args(argv)
    models = find_models(Path(args.models) if args.models else None)
    for spec in args.model:
        name, path = model_label(spec, models)
        models[name] = path
    if args.models and not models:
        print(f"no IMINET models under {args.models}/iminet/<scheme>/: chance and the baseline only", file=sys.stderr)
    result = evaluate(args.data, models, Path(args.cache) if args.cache else None)
    result["beats_baseline_in_categories"] = beats_baseline(result)
    frame = table(result)
    out = Path(args.out or args.models or args.data)
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfer_check.json").write_text(json.dumps(result, indent=1))
    counts = ", ".join(f"{c} {v['sounds']} sounds / {v['imitations']} imitations" for c, v in result["counts"].items())
    text = (f"Development check of transfer ({result['data']}): MRR, each imitation ranking the "
            f"sounds of its category ({counts}).\n\n" + frame.round(3).to_markdown() + "\n")
    (out / "transfer_check.md").write_text(text)
    print(text)
    print(f"written: {out / 'transfer_check.json'}, {out / 'transfer_check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
