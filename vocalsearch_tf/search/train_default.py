"""`make default-model`: train the two models the search ships, IMINET (tied) and IMISOUND;
`make cqt-summary-model`: the third, the CQT summary's statistics of real recordings.

    python -m vocalsearch_tf.search.train_default [--data-dir data] [--profile quick] [--seeds 1 3]
        [--pitch-scale 0.5] [--only iminet|imisound]
    python -m vocalsearch_tf.search.train_default --only iminet --seeds 5 --out candidate.keras
    python -m vocalsearch_tf.search.train_default --only cqt-summary --real data/real_references
    python -m vocalsearch_tf.search.train_default --only probe-bank --real data/real_references

Which of them `default` stands for is measured, not decided here (`search/choose_default.py`).

Trained on the embedded synthetic data (TASLP IV-D recipe: Adam, early stopping on the
validation loss), so the application works offline right after `make setup`. It is labelled
as such wherever it is used: it has never heard a real recording.

Choices:
- every sound of the generated set serves training (a shipped model needs no test half):
  7 imitations per sound for training, 3 for validation, pairs as in TASLP VI-A;
- except the concepts of the profile-`ci`, seed-0 set: the tests search that set with this
  model, so none of its concepts (e.g. "bagpipes playing", in any rendering) is trained on;
- seeds 1, 3, 4 and 5 (never 0, so even the synthesiser's random draws differ from the test
  set's), each its own data and training, searched as one (`fusion.Ensemble`, their mean
  evidence): on the development check's tuning part the four beat the single seed shipped
  before by +.039 [+.017, +.061] MRR (issue 23;
  `reference/transfer_check/iminet_shipped_ensemble_against_before.md`);
- pitch scale on half the training clips (`augment.pitch_scale`), the recipe of those four.
The model card beside each `.keras` file records the data, the training and the held-out MRR;
`iminet.json` lists the members the search loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from vocalsearch_tf.search import probe_bank
from vocalsearch_tf.search.models import CQT_SUMMARY_FILE, DEFAULT_MODEL_DIR, IMINET_CARD, IMISOUND_FILE, resolve
from vocalsearch_tf.search.scorers import save_cqt_summary

SHIPPED_SEEDS = (1, 3, 4, 5)
SHIPPED_PITCH_SCALE = 0.5
HELD_OUT = {"profile": "ci", "seed": 0}  # the evaluation set the tests use
IMISOUND_DATA = {"profile": "ci", "seed": 1}  # no sound of it is a test sound of ci, seed 0


def held_out_labels(seed: int = HELD_OUT["seed"]) -> set[str]:
    from vocalsearch_tf.config import get_profile
    from vocalsearch_tf.datasets.synthetic.vocalsketch import choose_concepts

    return {c.label for c in choose_concepts(seed, get_profile(HELD_OUT["profile"]).vocalsketch_sounds)}


def training_tables(root: Path, seed: int, real: Path | None = None, real_role: str = "train"):
    """Sounds (all 'train'), imitations with roles, and the train/val pair tables. With
    `real`, the real-reference set joins: with `real_role` 'train' its sounds and imitations
    are split as the embedded ones are; with 'val' it alone is the validation set (early
    stopping on real sounds), the embedded validation imitations left unused."""
    import pandas as pd

    from vocalsearch_tf.datasets import pairs
    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch

    if real_role not in ("train", "val"):
        raise ValueError(f"real_role must be 'train' or 'val', not {real_role!r}")
    data = load_vocalsketch(root)
    excluded = held_out_labels()
    sounds = data.sounds[~data.sounds.label.isin(excluded)].reset_index(drop=True).assign(split="train")
    imitations = data.imitations[data.imitations.sound_id.isin(sounds.sound_id)].reset_index(drop=True)
    extra = None if real is None else _real_set(real, sounds)
    if extra is not None and real_role == "train":
        sounds = pd.concat([sounds, extra.sounds.assign(split="train")], ignore_index=True)
        imitations = pd.concat([imitations, extra.imitations], ignore_index=True)
    imitations = pairs.assign_imitations(imitations, sounds, seed)
    tables = {role: pairs.make_pairs(imitations, sounds, role, seed) for role in ("train", "val")}
    if extra is not None and real_role == "val":
        real_sounds = extra.sounds.assign(split="train")  # the candidates of its own negatives
        real_imitations = extra.imitations.assign(role="val")
        tables["val"] = pairs.make_pairs(real_imitations, real_sounds, "val", seed)
        sounds = pd.concat([sounds, real_sounds], ignore_index=True)
        imitations = pd.concat([imitations.assign(role=imitations.role.replace("val", "unused")), real_imitations],
                               ignore_index=True)
    return sounds, imitations, tables, sorted(excluded & set(data.sounds.label))


def _real_set(real: Path, embedded_sounds):
    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch

    extra = load_vocalsketch(real, per_sound=10**6)  # every imitation of a sound
    if extra.report.skipped:
        raise ValueError(f"the real-reference set has unreadable files: {extra.report}")
    if set(extra.sounds.sound_id) & set(embedded_sounds.sound_id):
        raise ValueError(f"{real}: sound ids clash with the embedded data's")
    return extra


def held_out_mrr(model, data_dir: Path) -> dict:
    """MRR of the target among all sounds of the held-out set (every imitation a query)."""
    from vocalsearch_tf.config import IMINET_CQT
    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
    from vocalsearch_tf.evaluation import metrics
    from vocalsearch_tf.evaluation.retrieval import Retriever
    from vocalsearch_tf.signal import spectra
    from vocalsearch_tf.signal.features import ConstantQ
    from vocalsearch_tf.training import runs

    root = runs.vocalsketch_root("synthetic", data_dir, HELD_OUT["profile"], HELD_OUT["seed"])
    data = load_vocalsketch(root)
    front = ConstantQ(IMINET_CQT)
    sounds = spectra.spectrograms(data.sounds.path, front, data_dir / "cache")
    queries = spectra.spectrograms(data.imitations.path, front, data_dir / "cache")
    scores = Retriever(model).index(sounds).scores(queries)
    column = {sid: k for k, sid in enumerate(data.sounds.sound_id)}
    targets = np.array([column[s] for s in data.imitations.sound_id])
    ranks = metrics.target_ranks(scores, targets)
    return {"set": f"embedded synthetic data, profile {HELD_OUT['profile']}, seed {HELD_OUT['seed']}",
            "sounds": len(data.sounds), "queries": len(data.imitations),
            "mrr_whole_library": float(metrics.mean_reciprocal_rank(ranks)),
            "chance_mrr": float(np.mean(1.0 / np.arange(1, len(data.sounds) + 1)))}


class NotLearntError(RuntimeError):
    """A run whose validation loss never left chance: nothing is written."""


def check_learnt(val_loss: float, seed: int, margin: float = 0.01) -> None:
    """Balanced positive and negative pairs: a model that learnt nothing sits at ln 2, the
    binary cross-entropy of 0.5 (some seeds never leave it; seed 2 of profile quick did)."""
    if not val_loss < np.log(2) - margin:
        raise NotLearntError(f"IMINET did not learn (best validation loss {val_loss:.4f}, chance ln 2 = "
                             f"{np.log(2):.4f}); nothing written: train again with another --seed")


def train(data_dir: Path, out: Path, profile: str = "quick", seed: int = 1,
          real: Path | None = None, real_role: str = "train", time_pooled: bool = False,
          pitch_scale: float = SHIPPED_PITCH_SCALE, max_epochs: int | None = None,
          level_invariant: bool = False, summary: bool = False, weight_decay: float | None = None) -> dict:
    """One IMINET (tied) written to `out`, its card beside it. `max_epochs`: the profile's
    unless given (early stopping ends most runs before it). `weight_decay`: Adam's, decoupled."""
    import keras

    from vocalsearch_tf.config import EMBEDDED_AUGMENTATION, IMINET_CQT, get_profile
    from vocalsearch_tf.datasets.synthetic import GENERATOR_VERSION
    from vocalsearch_tf.models.iminet import build_iminet
    from vocalsearch_tf.signal import augment, spectra
    from vocalsearch_tf.signal.features import ConstantQ
    from vocalsearch_tf.training import recipes, runs

    start = time.perf_counter()
    augmentation = dataclasses.replace(EMBEDDED_AUGMENTATION, p_pitch_scale=pitch_scale)
    data_dir = Path(data_dir)
    root = runs.vocalsketch_root("synthetic", data_dir, profile, seed)
    sounds, imitations, tables, excluded = training_tables(root, seed, real, real_role)
    front = ConstantQ(IMINET_CQT)
    sound_specs = spectra.spectrograms(sounds.path, front, data_dir / "cache", description="sounds")
    imitation_specs = spectra.spectrograms(imitations.path, front, data_dir / "cache", description="imitations")
    train_imitations = imitation_specs[(imitations.role == "train").to_numpy()]
    values = np.concatenate([sound_specs.ravel(), train_imitations.ravel()])
    mean, variance = float(values.mean()), float(values.var())

    runs.set_seed(seed)
    sound_rows = {sid: k for k, sid in enumerate(sounds.sound_id)}
    imitation_rows = {iid: k for k, iid in enumerate(imitations.imitation_id)}
    recipe = dataclasses.replace(recipes.IMINET_RECIPE, start_from_epoch=EMBEDDED_AUGMENTATION.early_stopping_from,
                                 weight_decay=weight_decay)
    datasets = {role: recipes.pair_dataset(tables[role], imitation_rows, sound_rows, imitation_specs,
                                            sound_specs, recipe.batch_size,
                                            shuffle_seed=seed if role == "train" else None,
                                            augment=lambda x, s: augment.augment(x, s, augmentation,
                                                                                 IMINET_CQT.log_offset))
                for role in ("train", "val")}

    def build():
        return build_iminet("tied", keras.layers.Normalization(axis=None, mean=mean, variance=variance,
                                                               name="standardise"), time_pooled=time_pooled,
                            level_invariant=level_invariant, summary=summary)

    model, history = recipes.fit_pair_model(build, datasets["train"], datasets["val"], recipe,
                                             max_epochs or get_profile(profile).max_epochs, progress="default model")
    best = int(np.argmin(history["val_loss"]))
    check_learnt(history["val_loss"][best], seed)
    shipped = build()  # the same weights without optimizer state: a smaller file
    shipped.set_weights(model.get_weights())
    out.parent.mkdir(parents=True, exist_ok=True)
    shipped.save(out)
    card = {
        "description": "IMINET (tied" + (", time-pooled" if time_pooled else "")
                       + (", level-invariant" if level_invariant else "")
                       + (", CQT-statistics branch" if summary else "")
                       + (f", weight decay {weight_decay:g}" if weight_decay else "") + "), shipped",
        "trained_on": f"embedded synthetic data (VocalSketch-shaped, generator version {GENERATOR_VERSION}, "
                      f"profile {profile}, seed {seed})" + (
                          f" and real references ({real}, imitated by the embedded voice; their role: "
                          f"{real_role})" if real else ", not real recordings"),
        "sounds": len(sounds), "imitations": len(imitations),
        "pairs": {role: len(table) for role, table in tables.items()},
        "excluded_concepts": excluded,
        "input_standardisation": {"mean": mean, "variance": variance},
        "recipe": runs.plain(recipe), "augmentation": runs.plain(augmentation),
        "max_epochs": max_epochs or get_profile(profile).max_epochs,
        "epochs": len(history["loss"]), "best_epoch": best + 1,
        "val_loss": history["val_loss"][best], "val_accuracy": history.get("val_accuracy", [None])[best],
        "held_out": held_out_mrr(shipped, data_dir),
        "file_bytes": out.stat().st_size, "package_version": runs.fingerprint()["package_version"],
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def member_file(seed: int) -> str:
    return f"iminet_tied_seed{seed}.keras"


def train_shipped(data_dir: Path, profile: str = "quick", seeds=SHIPPED_SEEDS,
                  pitch_scale: float = SHIPPED_PITCH_SCALE, folder: Path = DEFAULT_MODEL_DIR,
                  max_epochs: int | None = None) -> dict:
    """One IMINET per seed, then `iminet.json`, which makes them the shipped ensemble. Nothing
    shipped changes unless every seed learnt: the members are trained aside, then moved in."""
    import shutil
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".training-") as aside:
        cards = [train(data_dir, Path(aside) / member_file(seed), profile, seed, pitch_scale=pitch_scale,
                       max_epochs=max_epochs)
                 for seed in seeds]
        for seed in seeds:
            for suffix in (".keras", ".json"):
                name = Path(member_file(seed)).with_suffix(suffix).name
                shutil.move(Path(aside) / name, folder / name)
    return write_ensemble_card(folder, seeds, cards, profile, pitch_scale)


def write_ensemble_card(folder: Path, seeds, cards: list[dict], profile: str, pitch_scale: float) -> dict:
    """`iminet.json`: the members (one `iminet_tied_seedS.keras` per seed, with `cards`, what
    `train` wrote beside each) that the search loads as the shipped IMINET."""
    from vocalsearch_tf.datasets.synthetic import GENERATOR_VERSION

    k = len(seeds)
    ensemble = {
        "description": "IMINET (tied), shipped" + (f": an ensemble of {k} seeds (mean evidence)" if k > 1 else ""),
        "trained_on": f"embedded synthetic data (VocalSketch-shaped, generator version {GENERATOR_VERSION}, "
                      f"profile {profile}, seed{'s' if k > 1 else ''} {', '.join(map(str, seeds))}; pitch scale "
                      f"{pitch_scale:g}), not real recordings",
        "members": [{"file": member_file(seed), "seed": seed, "best_epoch": card["best_epoch"],
                     "val_loss": card["val_loss"], "held_out_mrr": card["held_out"]["mrr_whole_library"]}
                    for seed, card in zip(seeds, cards)],
    }
    (folder / IMINET_CARD.name).write_text(json.dumps(ensemble, indent=2) + "\n")
    return ensemble


def train_imisound(data_dir: Path, out: Path = IMISOUND_FILE) -> Path:
    """IMISOUND (TASLP VI-C) fitted on the imitations of the embedded synthetic data (profile
    ci, seed 1) with the quick profile's epochs; about a minute on 2 cores."""
    from vocalsearch_tf.config import IMINET_CQT, PROFILES
    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
    from vocalsearch_tf.models.imisound import IMISOUND
    from vocalsearch_tf.search.scorers import save_imisound
    from vocalsearch_tf.signal import spectra
    from vocalsearch_tf.signal.features import ConstantQ
    from vocalsearch_tf.training import runs
    from vocalsearch_tf.training.imisound import Imisound

    profile, seed = IMISOUND_DATA["profile"], IMISOUND_DATA["seed"]
    data = load_vocalsketch(runs.vocalsketch_root("synthetic", Path(data_dir), profile, seed))
    specs = spectra.spectrograms(data.imitations.path, ConstantQ(IMINET_CQT), Path(data_dir) / "cache")
    params = dataclasses.replace(IMISOUND, epochs=PROFILES["quick"].imisound_epochs)
    model = Imisound(params).fit(specs, seed=0)
    return save_imisound(model, out, trained_on=f"embedded synthetic data (profile {profile}, seed {seed}, "
                                                f"{len(specs)} imitations), not real recordings")


def fit_cqt_summary(real_dir: Path, out: Path = CQT_SUMMARY_FILE) -> Path:
    """The CQT-summary model's standardisation: statistics of the CQT summaries of the
    real-reference set's recordings (packages neither check uses; no imitation, no pair)."""
    import pandas as pd

    from vocalsearch_tf.config import IMINET_CQT
    from vocalsearch_tf.datasets.real_references import PACKAGES
    from vocalsearch_tf.evaluation.baselines import cqt_summary
    from vocalsearch_tf.signal import audio

    folder = Path(real_dir) / "sound_recordings"
    paths = sorted(folder.glob("*.wav"))
    if len(paths) < 2:
        raise FileNotFoundError(f"{folder}: no real-reference set here; write it with `make real-references`")
    clips = np.stack([audio.load_clip(p, IMINET_CQT.sample_rate, IMINET_CQT.clip_samples) for p in paths])
    provenance = Path(real_dir) / "provenance.csv"
    packages = sorted(pd.read_csv(provenance).package.unique()) if provenance.exists() else list(PACKAGES)
    return save_cqt_summary(cqt_summary(clips), out, trained_on=(
        f"statistics of {len(paths)} real recordings ({', '.join(packages)}; packages neither check uses), "
        "no imitations"))


def to_train(only: str | None, candidate: bool) -> set[str]:
    """The models a call trains: `only`, or IMINET and IMISOUND; a candidate (`--out`) is one
    IMINET, and nothing shipped is written beside it."""
    if candidate and only in (None, "iminet"):
        return {"iminet"}
    return {only} if only else {"iminet", "imisound"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.search.train_default", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="where the embedded data is generated (default data/)")
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "paper"], help="IMINET's data")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SHIPPED_SEEDS),
                        help="IMINET's data and training, one model each (default: %(default)s)")
    parser.add_argument("--only", choices=["iminet", "imisound", "cqt-summary", "probe-bank"], default=None,
                        help="one model; cqt-summary and fusion-guarded's probe bank (real recordings: "
                        "`make real-references`) only this way")
    parser.add_argument("--real", default=None, help="a real-reference set to train on as well "
                        "(`python -m vocalsearch_tf.datasets.real_references`; a candidate, with --out)")
    parser.add_argument("--real-role", choices=["train", "val"], default="train",
                        help="train on the real references, or stop early on them alone")
    parser.add_argument("--time-pooled", action="store_true", help="the towers' maximum over time (a candidate)")
    parser.add_argument("--level-invariant", action="store_true",
                        help="each clip less its loudest cell before the towers (a candidate)")
    parser.add_argument("--summary", action="store_true",
                        help="each clip's per-bin mean and variance over time beside its tower's features (a candidate)")
    parser.add_argument("--weight-decay", type=float, default=None, metavar="W",
                        help="Adam's decoupled weight decay (a candidate; the shipped recipe has none)")
    parser.add_argument("--pitch-scale", type=float, default=SHIPPED_PITCH_SCALE, metavar="P",
                        help="squeeze the bins of a fraction P of the training clips (default: %(default)s)")
    parser.add_argument("--max-epochs", type=int, default=None, help="IMINET's epoch limit (default: the profile's)")
    parser.add_argument("--out", default=None, help="a candidate: one seed's IMINET written here, nothing shipped")
    args = parser.parse_args(argv)
    candidate_options = ((args.real and args.only not in ("cqt-summary", "probe-bank")) or args.time_pooled
                         or args.level_invariant or args.summary or args.weight_decay)
    if args.out is None and candidate_options:
        parser.error("--real, --time-pooled, --level-invariant, --summary and --weight-decay train candidates: "
                     "give --out")
    if args.out is not None and len(args.seeds) != 1:
        parser.error("--out trains one candidate: give one seed")
    todo = to_train(args.only, candidate=args.out is not None)
    if "iminet" in todo:
        try:
            if args.out is None:
                print(json.dumps(train_shipped(Path(args.data_dir), args.profile, args.seeds, args.pitch_scale,
                                                      max_epochs=args.max_epochs), indent=2))
            else:
                out = Path(args.out)
                card = train(Path(args.data_dir), out, args.profile, args.seeds[0],
                             Path(args.real) if args.real else None, args.real_role, args.time_pooled,
                             args.pitch_scale, args.max_epochs, args.level_invariant, args.summary,
                             args.weight_decay)
                print(json.dumps(card, indent=2))
                print(f"wrote {out} ({card['file_bytes'] / 1e6:.2f} MB) and {out.with_suffix('.json')}")
        except NotLearntError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if "imisound" in todo:
        path = train_imisound(Path(args.data_dir))
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.only == "cqt-summary":
        try:
            path = fit_cqt_summary(Path(args.real or "data/real_references"))
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"wrote {path}")
    if args.only == "probe-bank":
        recordings = Path(args.real or "data/real_references") / "sound_recordings"
        if not recordings.is_dir():
            print(f"error: {recordings} is missing: `make real-references` writes it", file=sys.stderr)
            return 1
        path = probe_bank.build(recordings, [resolve(name) for name in probe_bank.BANK_MODELS])
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    elif args.only in (None, "iminet") and args.out is None:
        print("fusion-guarded's probe bank holds the previous weights' vectors: its guard tests the library "
              "alone until `make probe-bank`", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
