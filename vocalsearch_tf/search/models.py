"""The models a library can be searched with, by name, and which of them is the default.

Shipped inside the package (`default_model/`), offline, rebuilt by `make default-model`
(train_default.py), both trained on the embedded synthetic data:
- `iminet`: IMINET (tied), trained with several seeds and searched as one (`fusion.Ensemble`:
  the members' mean evidence; `iminet.json` lists them);
- `imisound`: the IMISOUND baseline (TASLP VI-C);
- `cqt-summary`: the CQT-summary baseline (each clip's per-bin log-CQT mean and standard
  deviation, cosine), standardised by statistics of real recordings of other packages
  (`make cqt-summary-model`); it learns no pairs;
- `fusion`: iminet x imisound x cqt-summary, calibrated (`search/fusion.py`) with the weights
  fitted on the development check's tuning part (`default_model/measured.json`);
- `default`: chosen by measurement on the development check's tuning part (real recordings,
  imitations by independent processes; `search/choose_default.py` writes `measured.json`):
  IMISOUND (unsupervised, no imitation-sound pairs) unless another beats it beyond noise. Each built-in's
  card carries its numbers on the confirmation part, beside chance and the CQT-summary baseline.

Also: any IMINET or TL-IMINET `.keras` under `results/` (the notebooks save `model_NN.keras`),
or a path to one; an IMISOUND `.npz` written by `save_imisound` or a CQT summary's by
`save_cqt_summary`; fusion `A+B[+C]`, the paper's
product of likelihoods (TASLP eq. 2-5) unless every part carries a fitted weight; for three
IMINET runs of one seed, `.../iminet/fusion_NN` is tied+untied+partial (eq. 2); the Manocha et
al. 2018 embedding (a saved N_R tower, `tower_NN.keras`), by `_manocha_scorer`, which needs
only its saved file, the `LogFrequency` front-end and its settings; a dual encoder of notebook 10
(`model_NN.keras` under `field_today/`), by `_dual_encoder_scorer`: its imitation tower for the
query, its reference tower for each window, cosine. Further systems plug in
through `EXTENSION_MODULES`: a module there that defines
`search_scorer(model: keras.Model, *, name: str, key: str, fingerprint: str) -> Scorer | None`
is asked about every `.keras` file no built-in adapter takes (returning None when the model
is not its own); `scorers.EmbeddingScorer` serves twin-embedding systems.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vocalsearch_tf.search import probe_bank
from vocalsearch_tf.search.config import ModelLoadError
from vocalsearch_tf.search.fusion import Ensemble, Fusion
from vocalsearch_tf.search.scorers import (SYNTHETIC_NOTE, CqtSummaryScorer, EmbeddingScorer,  # noqa: F401
                                           ImisoundScorer, PairScorer, Scorer, _digest_file, _path_key,
                                           save_imisound)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
IMINET_CARD = DEFAULT_MODEL_DIR / "iminet.json"  # the shipped IMINET: its members (seeds) and what they learnt from
IMISOUND_FILE = DEFAULT_MODEL_DIR / "imisound.npz"
CQT_SUMMARY_FILE = DEFAULT_MODEL_DIR / "cqt_summary.npz"
MEASURED = DEFAULT_MODEL_DIR / "measured.json"  # the development check's numbers and the choice
FUSION_PARTS = ("iminet", "imisound", "cqt-summary")  # the built-in `fusion`'s
LEARNED_PARTS = ("iminet",)  # learnt imitation-sound pairs: guarded in `fusion-guarded` (`fusion.guarded_logits`)
BUILT_IN = (*FUSION_PARTS, "fusion", "fusion-guarded")
FALLBACK_DEFAULT = "imisound"  # learns no imitation-sound pairs; the default unless a measurement finds better
EXTENSION_MODULES = ("vocalsearch_tf.models.manocha2018",)


def measured() -> dict:
    """`default_model/measured.json`: per built-in model its development-check numbers, the
    fitted fusion weights and the chosen default ({} when it is missing)."""
    return json.loads(MEASURED.read_text()) if MEASURED.is_file() else {}


def default_name() -> str:
    """The built-in model `default` stands for."""
    choice = measured().get("default", FALLBACK_DEFAULT)
    if choice not in BUILT_IN:
        raise ModelLoadError(f"{MEASURED}: default {choice!r} is not one of {BUILT_IN}")
    return choice


def iminet_members() -> list[Path]:
    """The shipped IMINET's `.keras` files, one per training seed (`iminet.json`)."""
    if not IMINET_CARD.is_file():
        raise ModelLoadError(f"the shipped model's card {IMINET_CARD} is missing; rebuild it with `make default-model`")
    return [DEFAULT_MODEL_DIR / member["file"] for member in json.loads(IMINET_CARD.read_text())["members"]]


def card(name: str) -> dict:
    """What the application says of a built-in model: its description, what it was trained
    on, and its measured numbers (`measured.json`) when there are any."""
    cards = {
        "iminet": {"description": "IMINET (tied), shipped", "trained_on": "embedded synthetic data"},
        "imisound": {"description": "IMISOUND baseline (TASLP VI-C), shipped", "trained_on": "embedded synthetic data"},
        "cqt-summary": {"description": "CQT summary (per-bin log-CQT mean and std, cosine), shipped",
                        "trained_on": "statistics of real recordings"},
        "fusion": {"description": "iminet x imisound x cqt-summary, calibrated fusion",
                   "trained_on": "embedded synthetic data and statistics of real recordings"},
        "fusion-guarded": {"description": "fusion whose iminet counts per query only as far as its ranking agrees "
                                          "with cqt-summary's over the library and a bank of real recordings "
                                          "(for imitations unlike the check's)",
                           "trained_on": "embedded synthetic data and statistics of real recordings"},
    }
    if name == "iminet" and IMINET_CARD.is_file():
        shipped = json.loads(IMINET_CARD.read_text())
        cards["iminet"] = {"description": shipped.get("description", cards["iminet"]["description"]),
                           "trained_on": shipped.get("trained_on", "embedded synthetic data")}
    out = dict(cards[name])
    out.update(measured().get("models", {}).get(name, {}))
    return out


def measurement_note(name: str) -> str:
    """One line: the model's MRR per category on the check's confirmation part (95 %
    intervals), beside chance and the CQT-summary baseline, or that it was not measured."""
    numbers, check = card(name).get("confirmation"), measured().get("check", {})
    if not numbers:
        return "not measured on real recordings"
    per = ", ".join(f"{c} {v['mrr']:.2f} [{v['low']:.2f}, {v['high']:.2f}]" for c, v in numbers.items())
    beside = []
    if check.get("chance"):
        beside.append("chance " + " / ".join(f"{v:.2f}" for v in check["chance"].values()))
    baseline = measured().get("models", {}).get("CQT-summary baseline", {}).get("confirmation")
    if baseline:
        beside.append("CQT-summary baseline " + " / ".join(f"{v['mrr']:.2f}" for v in baseline.values()))
    return (f"MRR on {check.get('what', 'the development check')}, confirmation part: {per}"
            + (f" ({'; '.join(beside)})" if beside else ""))


def default_reason() -> str:
    """Why `default` is what it is, in words: what the choice was measured on, or that it was not."""
    content = measured()
    chosen = default_name()
    if "default" not in content:
        return f"the default: {chosen}, which learns no imitation-sound pairs; not measured on real recordings (`make measure-search`)"
    against = content.get("against_preferred", {})
    gaps = ", ".join(f"{n} {d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" for n, d in against.items())
    held_up = "learned part at chance" in content.get("chosen_on", "")  # the rule of measured.json's time
    if chosen == FALLBACK_DEFAULT:
        how = f"no model beat the unsupervised {FALLBACK_DEFAULT} beyond noise"
        how += " and held up with its learned part at chance" if held_up else ""
    else:
        how = f"it beat the unsupervised {FALLBACK_DEFAULT}"
        how += ", and still ranks as well as it if IMINET ranks at chance" if held_up else ""
    balanced = ", every source package weighing the same" if "package" in content.get("chosen_on", "") else ""
    return (f"the default: {chosen}, chosen on the tuning part of the development check of transfer "
            f"(real recordings): {how}" + (f" (MRR against {FALLBACK_DEFAULT}{balanced}: {gaps})" if gaps else ""))


def _load_keras(path: Path):
    import keras

    import vocalsearch_tf.signal.features  # noqa: F401 (registers ConstantQ and LogMel for loading)

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        raise ModelLoadError(f"cannot load model {path}: {type(error).__name__}: {str(error).splitlines()[0][:300]}") from error


def load_keras_scorer(path: Path, name: str | None = None, description: str | None = None,
                      trained_on: str | None = None, key: str | None = None) -> Scorer:
    """A `.keras` file as a Scorer: IMINET/TL-IMINET, or a model an extension module claims."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    model = _load_keras(path)
    name = name or str(path)
    fingerprint = _digest_file(path)
    layer_names = {layer.name for layer in model.layers}
    if {"imitation_features", "recording_features", "fc1"} <= layer_names and len(model.inputs) == 2:
        kind = "TL-IMINET" if model.name.startswith("tl_iminet") else "IMINET"
        return PairScorer(model, name, key or _path_key("keras", path), fingerprint,
                          description or f"{kind} ({model.name}, {path.name})",
                          trained_on if trained_on is not None else _trained_on_from_path(path),
                          synthetic=("synthetic" in path.parts) if trained_on is None else "synthetic" in trained_on)
    key = key or _path_key("keras", path)
    for adapter in [_manocha_scorer, _dual_encoder_scorer] + [module.search_scorer for module in extensions()]:
        scorer = adapter(model, name=name, key=key, fingerprint=fingerprint)
        if scorer is not None:
            if not scorer.trained_on:  # where it was saved says what it learnt from
                scorer.trained_on = trained_on or _trained_on_from_path(path)
                scorer.synthetic = "synthetic" in scorer.trained_on
            return scorer
    raise ModelLoadError(f"{path}: a Keras model ({model.name}) but not one vocalsearch can search with: an "
                         "IMINET/TL-IMINET pair model has layers imitation_features, recording_features and fc1")


def _manocha_scorer(model, *, name: str, key: str, fingerprint: str) -> Scorer | None:
    """Manocha et al. 2018's N_R tower: one embedding per 2 s clip of a log-frequency
    spectrogram, compared by Euclidean distance (their eq. 2); one tower for both sides.
    It learnt sound-to-sound similarity (sound classes), not imitations."""
    if not model.name.startswith("manocha"):
        return None
    from vocalsearch_tf.config import MANOCHA_LOGFREQ
    from vocalsearch_tf.signal.features import LogFrequency

    if tuple(model.inputs[0].shape[1:]) != MANOCHA_LOGFREQ.shape:
        raise ModelLoadError(f"{name}: a Manocha tower expects {MANOCHA_LOGFREQ.shape}, "
                             f"this one {tuple(model.inputs[0].shape[1:])}")
    front = LogFrequency(MANOCHA_LOGFREQ)

    def embed(waveforms):
        return np.asarray(model(front(waveforms)[..., 0], training=False))

    rate, samples = MANOCHA_LOGFREQ.sample_rate, MANOCHA_LOGFREQ.clip_samples
    return EmbeddingScorer(embed, embed, name=name, key=key, fingerprint=fingerprint,
                           description=f"Manocha 2018 N_R embedding ({model.name}; Euclidean; trained on sound "
                                       "classes, not imitations)",
                           imitation_rate=rate, imitation_samples=samples, recording_rate=rate,
                           recording_samples=samples, dim=int(model.outputs[0].shape[-1]), metric="euclidean")


def _dual_encoder_scorer(model, *, name: str, key: str, fingerprint: str) -> Scorer | None:
    """A dual encoder (`models.dual_encoder`, notebook 10): the imitation tower embeds the query,
    the reference tower each window, both on aisfx's log-mel of the clip's first 2.32 s at
    44.1 kHz; unit embeddings compared by cosine."""
    if not model.name.startswith("dual_encoder"):
        return None
    from vocalsearch_tf.models.aisfx import AISFX, AisfxLogMel
    from vocalsearch_tf.models.dual_encoder import SIDES, tower

    names = {layer.name for layer in model.layers}
    if not {f"{side}_tower" for side in SIDES} <= names:
        raise ModelLoadError(f"{name}: a dual encoder ({model.name}) without the towers {', '.join(SIDES)}")
    front = AisfxLogMel(AISFX.front_end)

    def encoder(side: str):
        encode = tower(model, side)
        return lambda waveforms: np.asarray(encode(front(waveforms), training=False))

    rate, samples = AISFX.front_end.sample_rate, AISFX.front_end.clip_samples
    source = "aisfx's weights" if model.name.endswith("aisfx") else "random initialisation"
    return EmbeddingScorer(encoder("imitation"), encoder("reference"), name=name, key=key, fingerprint=fingerprint,
                           description=f"dual encoder ({model.name}: aisfx towers from {source}, NT-Xent; cosine)",
                           imitation_rate=rate, imitation_samples=samples, recording_rate=rate,
                           recording_samples=samples, dim=int(model.outputs[0].shape[-1]) // 2, metric="cosine")


def _trained_on_from_path(path: Path) -> str:
    if "synthetic" in path.parts:
        return f"embedded synthetic data ({path.parent})"
    return f"see {path.parent}"


def extensions() -> list:
    """Modules of EXTENSION_MODULES that exist and define `search_scorer`."""
    found = []
    for name in EXTENSION_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                continue
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "search_scorer"):
            found.append(module)
    return found


@dataclass(frozen=True)
class ModelEntry:
    """One line of the models list: `spec` is what `resolve` takes."""

    name: str
    spec: str
    description: str
    synthetic: bool


def discover(results_dir: Path | None) -> list[ModelEntry]:
    """Pair models saved under `results_dir` (pretraining classifiers left out), and for each
    run index with all three IMINET configurations, their eq. 2 fusion."""
    if results_dir is None or not Path(results_dir).is_dir():
        return []
    results_dir = Path(results_dir)
    entries = []
    files = sorted(p for p in results_dir.rglob("*.keras") if "pretrain" not in p.relative_to(results_dir).parts)
    for path in files:
        rel = path.relative_to(results_dir).with_suffix("")
        kind = ("TL-IMINET" if "tl_iminet" in rel.parts else "IMINET" if "iminet" in rel.parts
                else "Manocha 2018" if any("manocha" in part for part in rel.parts)
                else "dual encoder" if rel.parent.name.startswith("dual_encoder") else "model")
        entries.append(ModelEntry(rel.as_posix(), str(path), f"{kind} {rel.parent.name}, {rel.name}",
                                  "synthetic" in rel.parts))
    for folder in sorted({p.parent.parent for p in files if p.parent.parent.name == "iminet"}):
        for tied in sorted((folder / "tied").glob("model_*.keras")):
            trio = [folder / sharing / tied.name for sharing in ("tied", "untied", "partial")]
            if all(p.is_file() for p in trio):
                rel = (folder / f"fusion_{tied.stem.split('_')[-1]}").relative_to(results_dir).as_posix()
                entries.append(ModelEntry(rel, "+".join(map(str, trio)),
                                          f"IMINET tied x untied x partial, {tied.stem} (TASLP eq. 2)",
                                          "synthetic" in folder.parts))
    return entries


def available_models(results_dir: Path | None = None) -> list[ModelEntry]:
    """Everything `resolve` can load by name: the built-ins, then what `results_dir` holds."""
    chosen = default_name()
    synthetic = lambda name: "synthetic" in card(name)["trained_on"]  # noqa: E731
    built_in = [ModelEntry("default", "default", f"{card(chosen)['description']} ({default_reason()})", synthetic(chosen))]
    built_in += [ModelEntry(name, name, card(name)["description"], synthetic(name)) for name in BUILT_IN]
    return built_in + discover(results_dir)


_CACHE: dict = {}


def _built_in(name: str) -> Scorer:
    """A shipped model, with its fitted weight for fusion (`measured.json`) when there is one."""
    info = card(name)
    if name in ("fusion", "fusion-guarded"):
        return _shipped_fusion(guarded=name == "fusion-guarded")
    if name == "iminet":
        return _shipped_iminet(info)
    path, make, kind = ((IMISOUND_FILE, "default-model", ImisoundScorer) if name == "imisound"
                        else (CQT_SUMMARY_FILE, "cqt-summary-model", CqtSummaryScorer))
    if not path.is_file():
        raise ModelLoadError(f"the shipped model {path} is missing; rebuild it with `make {make}`")
    scorer = _cached((name, _state(path)), lambda: kind(path, name=name, key=f"{name}-shipped"))
    scorer.inverse_temperature = info.get("beta")
    return scorer


def _shipped_fusion(guarded: bool = False) -> Scorer:
    """`FUSION_PARTS` with the weights `measured.json` fitted (a part weighted 0 is left out),
    or, not measured, the paper's product of all of them; `guarded`: its `LEARNED_PARTS`
    weighed per query by their agreement with the others (calibrated only)."""
    weights = measured().get("fusion_weights")
    names = [n for n in FUSION_PARTS if weights is None or weights.get(n, 0) > 0]
    parts = [_built_in(n) for n in names]
    betas = None if weights is None else [weights[n] * share for n, part in zip(names, parts) for share in part.shares]
    return Fusion(parts, name="fusion-guarded" if guarded else "fusion", betas=betas,
                  calibrated_on=measured().get("check", {}).get("tuning", ""),
                  guarded=[guarded and n in LEARNED_PARTS for n in names],
                  probe=probe_bank.load() if guarded else None)


def _shipped_iminet(info: dict) -> Scorer:
    """The shipped IMINET: one model, or the ensemble of its seeds (`Ensemble`: mean evidence)."""
    paths = iminet_members()
    for path in paths:
        if not path.is_file():
            raise ModelLoadError(f"the shipped model {path} is missing; rebuild it with `make default-model`")
    members = [_cached(("shipped", str(path), _state(path)),
                       lambda path=path: load_keras_scorer(path, name="iminet" if len(paths) == 1 else f"iminet {path.stem.removeprefix('iminet_tied_')}",
                                                           description=f"IMINET ({path.stem})",
                                                           trained_on=info["trained_on"], key=f"iminet-shipped-{path.stem}"))
               for path in paths]
    if len(members) == 1:
        members[0].inverse_temperature = info.get("beta")
        return members[0]
    return Ensemble(members, name="iminet", description=info["description"], trained_on=info["trained_on"],
                    inverse_temperature=info.get("beta"), calibrated_on=measured().get("check", {}).get("tuning", ""))


def _as_default(scorer: Scorer) -> Scorer:
    """`default`: the chosen built-in under the name the user asked for (same index)."""
    alias = copy.copy(scorer)
    alias.name = "default"
    alias.description = f"{scorer.description} ({default_reason()})"
    return alias


def resolve(spec: str, results_dir: Path | None = None, cache_root: Path | None = None, log=print) -> Scorer:
    """A Scorer from a name of `available_models`, a path (.keras or IMISOUND .npz), or
    `A+B[+C]` (fusion). Loaded models are kept for the life of the process (per file state).
    `cache_root` and `log` are kept for callers of the time IMISOUND trained on first use."""
    spec = spec.strip()
    if not spec:
        raise ModelLoadError("no model given; use 'default'")
    if spec == "default":
        return _as_default(_built_in(default_name()))
    if spec in BUILT_IN:
        return _built_in(spec)
    named = {entry.name: entry for entry in available_models(results_dir)}
    entry = named.get(spec)
    if entry is not None and entry.spec != spec:
        if "+" in entry.spec:  # a named fusion: `.../iminet/fusion_NN`
            return Fusion([resolve(part, results_dir, cache_root, log) for part in entry.spec.split("+")], name=spec)
        return _cached((entry.spec, _state(Path(entry.spec))),  # a file found under results/
                       lambda: load_keras_scorer(Path(entry.spec), name=spec, description=entry.description))
    if "+" in spec and not Path(spec).exists():
        return Fusion([resolve(part, results_dir, cache_root, log) for part in spec.split("+")])
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix == ".npz":
            return _cached((str(path.resolve()), _state(path)), lambda: _npz_scorer(path, spec))
        return _cached((str(path.resolve()), _state(path)), lambda: load_keras_scorer(path, name=spec))
    choices = ", ".join(sorted(named))
    raise ModelLoadError(f"unknown model {spec!r}: not a file and not one of: {choices} "
                         "(or A+B to fuse two models)")


def _npz_scorer(path: Path, name: str) -> Scorer:
    """An `.npz` model: the CQT summary's statistics (`save_cqt_summary`) or, otherwise, IMISOUND."""
    try:
        with np.load(path, allow_pickle=False) as data:
            statistics_only = "encode1_kernel" not in data.files and {"mean", "scale"} <= set(data.files)
    except (OSError, ValueError):
        statistics_only = False  # ImisoundScorer names the file and the problem
    return (CqtSummaryScorer if statistics_only else ImisoundScorer)(path, name=name)


def _state(path: Path) -> tuple:
    stat = path.stat() if path.exists() else None
    return (stat.st_size, stat.st_mtime_ns) if stat else None


def _cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]
