"""The models a library can be searched with, behind one interface (`Scorer`).

- `default`: IMINET (tied) shipped inside the package (`default_model/`), trained on the
  embedded synthetic data by `make default-model` (train_default.py). Always available, offline.
- any IMINET or TL-IMINET `.keras` under `results/` (the notebooks save `model_NN.keras`),
  or a path to one;
- `imisound`: the IMISOUND baseline (TASLP VI-C), trained once on first use on the
  embedded synthetic data and kept in the cache folder; or a path to an IMISOUND `.npz`
  written by `save_imisound`;
- fusion, `A+B[+C]`: the product of the components' likelihoods (TASLP eq. 2-5). `fusion`
  is `default+imisound` (eq. 4); for three IMINET runs of one seed, `.../iminet/fusion_NN`
  is tied+untied+partial (eq. 2); `<TL-IMINET>+imisound` is eq. 5.
- the Manocha et al. 2018 embedding: a saved N_R tower (`models/manocha2018.py`,
  `tower_NN.keras` under results/), by `_manocha_scorer`, which needs only its saved file, the
  `LogFrequency` front-end and its settings (no import of the training module);
- further systems plug in through `EXTENSION_MODULES`: a module there that defines
  `search_scorer(model: keras.Model, *, name: str, key: str, fingerprint: str) -> Scorer | None`
  is asked about every `.keras` file no built-in adapter takes (returning None when the model
  is not its own); `EmbeddingScorer` below serves twin-embedding systems.

A Scorer splits a model into a candidate side, computed once per library window when a
library is indexed (`candidate_vectors`), and a query side (`query_vector`, then
`window_scores` over the stored vectors). For IMINET and TL-IMINET the candidate side is
the recording tower plus the candidate half of FC1, as in `retrieval.Retriever`: FC1 is
linear in the concatenation, so only the rest of the head runs per (query, window).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from vocalsearch_tf import __version__
from vocalsearch_tf.search.config import ModelLoadError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
DEFAULT_MODEL_FILE = DEFAULT_MODEL_DIR / "iminet_tied.keras"
DEFAULT_MODEL_CARD = DEFAULT_MODEL_DIR / "iminet_tied.json"
SYNTHETIC_NOTE = "trained on the embedded synthetic data, not on real recordings"
EXTENSION_MODULES = ("vocalsearch_tf.models.manocha2018",)
IMISOUND_DATA = {"profile": "ci", "seed": 1}  # the embedded data `imisound` is trained on
CHUNK_ROWS = 16_384  # windows scored per step: bounds the (rows, FC1) block to ~28 MB


class Scorer:
    """One model's two sides. Subclasses set the attributes and the four methods."""

    name: str  # what the user typed or picked: "default", a results/ name, a path
    key: str  # stable identity of the model file (its index folder), independent of weights
    fingerprint: str  # changes whenever the weights change: an index records it
    description: str
    trained_on: str  # "embedded synthetic data ..." or where the model came from
    synthetic: bool  # trained on the embedded synthetic data
    imitation_rate: int
    imitation_samples: int
    recording_rate: int
    recording_samples: int
    dim: int  # width of a candidate vector

    @property
    def components(self) -> list["Scorer"]:
        return [self]

    def candidate_vectors(self, windows: np.ndarray) -> np.ndarray:
        """(windows, dim) float32 from (windows, recording_samples) waveforms."""
        raise NotImplementedError

    def query_vector(self, imitation: np.ndarray) -> np.ndarray:
        """(d,) float32 from one (imitation_samples,) waveform."""
        raise NotImplementedError

    def window_scores(self, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """(windows,) scores, higher = better match; `vectors` may be a memory map."""
        raise NotImplementedError

    def likelihoods(self, best: np.ndarray) -> np.ndarray:
        """Per-sound likelihoods (for fusion) from each sound's best window score."""
        return best

    def label(self) -> str:
        return f"{self.name}: {self.description}" + (f" ({SYNTHETIC_NOTE})" if self.synthetic else "")


def _digest_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def _path_key(prefix: str, path: Path) -> str:
    slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)[:40]
    return f"{prefix}-{slug}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"


@functools.lru_cache(maxsize=None)
def _front_end(shape: tuple):
    """The front-end layer whose output has `shape` (the pair models take spectrograms)."""
    from vocalsearch_tf.config import IMINET_CQT, IMITATION_LOGMEL, RECORDING_LOGMEL
    from vocalsearch_tf.signal.features import ConstantQ, LogMel

    for params, layer in ((IMINET_CQT, ConstantQ), (IMITATION_LOGMEL, LogMel), (RECORDING_LOGMEL, LogMel)):
        if tuple(shape) == (*params.shape, 1):
            return layer(params)
    return None


_ACTIVATIONS = ("relu", "sigmoid", "linear")


def _dense(layer) -> tuple[np.ndarray, np.ndarray, str]:
    """(kernel, bias, activation name) of a Dense layer of the head."""
    name = layer.get_config()["activation"]
    if name not in _ACTIVATIONS:
        raise ModelLoadError(f"layer {layer.name}: activation {name!r} is not supported for search")
    return np.asarray(layer.kernel, np.float32), np.asarray(layer.bias, np.float32), name


def _activate(x, name: str):
    import tensorflow as tf

    return tf.nn.relu(x) if name == "relu" else tf.sigmoid(x) if name == "sigmoid" else x


class PairScorer(Scorer):
    """IMINET or TL-IMINET: towers `imitation_features` / `recording_features`, head fc1..."""

    def __init__(self, model, name: str, key: str, fingerprint: str, description: str,
                 trained_on: str = "", synthetic: bool = False):
        import tensorflow as tf

        from vocalsearch_tf.evaluation.retrieval import head_layers, towers

        self.name, self.key, self.fingerprint = name, key, fingerprint
        self.description, self.trained_on, self.synthetic = description, trained_on, synthetic
        imitation_front = _front_end(tuple(model.inputs[0].shape[1:]))
        recording_front = _front_end(tuple(model.inputs[1].shape[1:]))
        if imitation_front is None or recording_front is None:
            raise ModelLoadError(f"{name}: inputs {[tuple(i.shape[1:]) for i in model.inputs]} match no "
                                 "front-end (IMINET's CQT 72x129, TL-IMINET's log-mel 39x482 / 128x128)")
        self.imitation_rate = imitation_front.params.sample_rate
        self.imitation_samples = imitation_front.params.clip_samples
        self.recording_rate = recording_front.params.sample_rate
        self.recording_samples = recording_front.params.clip_samples
        imitation_tower, recording_tower = towers(model)
        first, *rest = head_layers(model)
        kernel, bias, first_activation = _dense(first)
        width = imitation_tower.output.shape[-1]
        self._w_query, self._w_candidate, self._bias = kernel[:width], kernel[width:], bias
        layers = [(tf.constant(k), tf.constant(b), a) for k, b, a in map(_dense, rest)]
        self.dim = kernel.shape[1]

        def head(query, block):  # the rest of the head on (query, window) sums; eager: no tracing
            hidden = _activate(block + query, first_activation)
            for k, b, activation in layers:
                hidden = _activate(tf.matmul(hidden, k) + b, activation)
            return hidden[:, 0]

        self._head = head
        # A process's first query runs eagerly (tracing the graph costs ~0.8 s, too much for a
        # one-shot `vocalsearch query`); later ones run the traced graph (~4x faster each).
        self._imitation_eager = lambda x: imitation_tower(imitation_front(x), training=False)
        self._imitation_graph = tf.function(self._imitation_eager, reduce_retracing=True)
        self._queries = 0
        self._recording = tf.function(lambda x: recording_tower(recording_front(x), training=False),
                                      reduce_retracing=True)

    def candidate_vectors(self, windows):
        features = np.asarray(self._recording(np.asarray(windows, np.float32)))
        return (features @ self._w_candidate + self._bias).astype(np.float32)

    def query_vector(self, imitation):
        self._queries += 1
        tower = self._imitation_eager if self._queries == 1 else self._imitation_graph
        features = np.asarray(tower(np.asarray(imitation, np.float32)[None]))
        return (features @ self._w_query)[0].astype(np.float32)

    def window_scores(self, query, vectors):
        out = np.empty(len(vectors), np.float32)
        for start in range(0, len(vectors), CHUNK_ROWS):
            block = np.asarray(vectors[start:start + CHUNK_ROWS], np.float32)
            out[start:start + len(block)] = self._head(query, block).numpy()
        return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max()) if len(logits) else logits
    return weights / weights.sum() if len(logits) else weights


class EmbeddingScorer(Scorer):
    """A twin-embedding system: each side is a vector, compared by cosine similarity or
    minus the Euclidean distance. Likelihoods for fusion are the softmax over the library of
    the similarity, as TASLP eq. 3 does for IMISOUND."""

    def __init__(self, embed_imitation, embed_recording, *, name: str, key: str, fingerprint: str,
                 description: str, imitation_rate: int, imitation_samples: int, recording_rate: int,
                 recording_samples: int, dim: int, metric: str = "cosine", trained_on: str = "",
                 synthetic: bool = False):
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', not {metric!r}")
        self._embed_imitation, self._embed_recording, self.metric = embed_imitation, embed_recording, metric
        self.name, self.key, self.fingerprint, self.description = name, key, fingerprint, description
        self.trained_on, self.synthetic, self.dim = trained_on, synthetic, dim
        self.imitation_rate, self.imitation_samples = imitation_rate, imitation_samples
        self.recording_rate, self.recording_samples = recording_rate, recording_samples

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, np.float32)
        if self.metric == "cosine":
            vectors = vectors / (np.linalg.norm(vectors, axis=-1, keepdims=True) + 1e-12)
        return vectors

    def candidate_vectors(self, windows):
        return self._prepare(self._embed_recording(np.asarray(windows, np.float32)))

    def query_vector(self, imitation):
        return self._prepare(self._embed_imitation(np.asarray(imitation, np.float32)[None]))[0]

    def window_scores(self, query, vectors):
        out = np.empty(len(vectors), np.float32)
        for start in range(0, len(vectors), CHUNK_ROWS):
            block = np.asarray(vectors[start:start + CHUNK_ROWS])
            if self.metric == "cosine":
                out[start:start + len(block)] = block @ query
            else:
                out[start:start + len(block)] = -np.linalg.norm(block - query, axis=1)
        return out

    def likelihoods(self, best):
        # cosine: eq. 3, softmax of minus the cosine distance 1 - similarity
        return _softmax(best - 1.0 if self.metric == "cosine" else best)


class ImisoundScorer(EmbeddingScorer):
    """IMISOUND (TASLP VI-C): SAE codes of CQT patches, six statistics, cosine; eq. 3 likelihoods."""

    def __init__(self, path: Path, name: str = "imisound", key: str | None = None):
        from vocalsearch_tf.config import IMINET_CQT

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = {k: data[k] for k in data.files}
            params = json.loads(str(weights.pop("params")))
            trained_on = str(weights.pop("trained_on"))
            self._mean, self._scale = weights["mean"], weights["scale"]
            self._layers = [(weights["encode1_kernel"], weights["encode1_bias"]),
                            (weights["code_kernel"], weights["code_bias"])]
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"cannot load IMISOUND model {path}: {error}. An IMISOUND file is "
                                 "the .npz written by vocalsearch_tf.search.models.save_imisound") from error
        from vocalsearch_tf.models.imisound import ImisoundParams

        self.params = ImisoundParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
        self._front = _front_end((*IMINET_CQT.shape, 1))
        code = self._layers[-1][0].shape[1]
        super().__init__(self._embed, self._embed, name=name, key=key or _path_key("imisound", path),
                         fingerprint=_digest_file(path), description="IMISOUND (SAE + statistics, cosine; TASLP VI-C)",
                         imitation_rate=IMINET_CQT.sample_rate, imitation_samples=IMINET_CQT.clip_samples,
                         recording_rate=IMINET_CQT.sample_rate, recording_samples=IMINET_CQT.clip_samples,
                         dim=12 * code, metric="cosine", trained_on=trained_on,
                         synthetic="synthetic" in trained_on)

    def _embed(self, waveforms: np.ndarray) -> np.ndarray:
        from vocalsearch_tf.models.imisound import clip_statistics, patches

        spectrograms = np.asarray(self._front(waveforms))
        vectors = []
        for spectrogram in spectrograms:
            x = (patches(spectrogram, self.params) - self._mean) / self._scale
            for kernel, bias in self._layers:
                x = expit(x @ kernel + bias)
            vectors.append(clip_statistics(x))
        return np.stack(vectors).astype(np.float32)


def save_imisound(model, path: str | Path, trained_on: str) -> Path:
    """An IMISOUND fitted with `training.imisound.Imisound` as one `.npz` (encoder weights,
    patch standardisation, settings) that `ImisoundScorer` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"mean": model.mean.astype(np.float32), "scale": model.scale.astype(np.float32),
              "params": np.array(json.dumps(dataclasses.asdict(model.params))), "trained_on": np.array(trained_on)}
    for layer in ("encode1", "code"):
        kernel, bias = model.encoder.get_layer(layer).get_weights()
        arrays[f"{layer}_kernel"], arrays[f"{layer}_bias"] = kernel, bias
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def embedded_imisound(cache_root: Path, log=print) -> Path:
    """The `imisound` model: trained once on the imitations of the embedded synthetic data
    (profile ci, seed 1: no sound of it is a test sound of profile ci, seed 0) and kept
    under `cache_root/models/`. Offline; about a minute the first time on 2 cores."""
    from vocalsearch_tf.config import IMINET_CQT, PROFILES
    from vocalsearch_tf.datasets.synthetic import GENERATOR_VERSION
    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
    from vocalsearch_tf.models.imisound import IMISOUND
    from vocalsearch_tf.training.imisound import Imisound
    from vocalsearch_tf.signal import spectra
    from vocalsearch_tf.signal.features import ConstantQ
    from vocalsearch_tf.training import runs

    profile, seed = IMISOUND_DATA["profile"], IMISOUND_DATA["seed"]
    path = Path(cache_root) / "models" / f"imisound-synthetic-{profile}-seed{seed}-gen{GENERATOR_VERSION}-v{__version__}.npz"
    if path.exists():
        return path
    log(f"imisound: training it once on the embedded synthetic data (profile {profile}, seed {seed}); "
        "this takes about a minute")
    root = runs.vocalsketch_root("synthetic", Path(cache_root) / "data", profile, seed)
    data = load_vocalsketch(root)
    specs = spectra.spectrograms(data.imitations.path, ConstantQ(IMINET_CQT), Path(cache_root) / "data" / "cache")
    params = dataclasses.replace(IMISOUND, epochs=PROFILES["quick"].imisound_epochs)
    model = Imisound(params).fit(specs, seed=0)
    return save_imisound(model, path, trained_on=f"embedded synthetic data (profile {profile}, seed {seed}, "
                                                 f"{len(specs)} imitations)")


class Fusion(Scorer):
    """TASLP eq. 2-5: the product of the components' per-sound likelihoods."""

    def __init__(self, parts: list[Scorer], name: str | None = None):
        flat = [c for part in parts for c in part.components]
        if len(flat) < 2:
            raise ModelLoadError("a fusion needs at least two models, e.g. default+imisound")
        if len({c.key for c in flat}) < len(flat):
            raise ModelLoadError(f"a fusion of a model with itself ({'+'.join(c.name for c in flat)}) adds nothing")
        self._parts = flat
        self.name = name or "+".join(c.name for c in flat)
        self.key = "+".join(c.key for c in flat)
        self.fingerprint = "+".join(c.fingerprint for c in flat)
        self.description = "fusion, product of likelihoods (TASLP eq. 2-5) of " + " and ".join(
            c.description for c in flat)
        self.synthetic = any(c.synthetic for c in flat)
        self.trained_on = "; ".join(f"{c.name}: {c.trained_on}" for c in flat)

    @property
    def components(self):
        return list(self._parts)


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
    for adapter in [_manocha_scorer] + [module.search_scorer for module in extensions()]:
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


def default_scorer() -> Scorer:
    if not DEFAULT_MODEL_FILE.is_file():
        raise ModelLoadError(f"the shipped default model {DEFAULT_MODEL_FILE} is missing; rebuild it with "
                             "`make default-model`")
    card = json.loads(DEFAULT_MODEL_CARD.read_text()) if DEFAULT_MODEL_CARD.is_file() else {}
    return load_keras_scorer(DEFAULT_MODEL_FILE, name="default",
                             description=card.get("description", "IMINET (tied), shipped default"),
                             trained_on=card.get("trained_on", "embedded synthetic data"), key="default")


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
                else "Manocha 2018" if any("manocha" in part for part in rel.parts) else "model")
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
    card = json.loads(DEFAULT_MODEL_CARD.read_text()) if DEFAULT_MODEL_CARD.is_file() else {}
    built_in = [
        ModelEntry("default", "default", card.get("description", "IMINET (tied), shipped default"), True),
        ModelEntry("imisound", "imisound", "IMISOUND baseline (TASLP VI-C), trained on first use", True),
        ModelEntry("fusion", "default+imisound", "default x IMISOUND (TASLP eq. 4)", True),
    ]
    return built_in + discover(results_dir)


_CACHE: dict = {}


def resolve(spec: str, results_dir: Path | None = None, cache_root: Path | None = None, log=print) -> Scorer:
    """A Scorer from a name of `available_models`, a path (.keras or IMISOUND .npz), or
    `A+B[+C]` (fusion). Loaded models are kept for the life of the process (per file state)."""
    from vocalsearch_tf.search.config import default_index_root

    spec = spec.strip()
    if not spec:
        raise ModelLoadError("no model given; use 'default'")
    named = {entry.name: entry for entry in available_models(results_dir)}
    entry = named.get(spec)
    if entry is not None and entry.spec != spec:
        if "+" in entry.spec:  # a named fusion: `fusion`, `.../iminet/fusion_NN`
            return Fusion([resolve(part, results_dir, cache_root, log) for part in entry.spec.split("+")], name=spec)
        return _cached((entry.spec, _state(Path(entry.spec))),  # a file found under results/
                       lambda: load_keras_scorer(Path(entry.spec), name=spec, description=entry.description))
    if "+" in spec and not Path(spec).exists():
        return Fusion([resolve(part, results_dir, cache_root, log) for part in spec.split("+")])
    if spec == "default":
        return _cached(("default", _state(DEFAULT_MODEL_FILE)), default_scorer)
    if spec == "imisound":
        path = embedded_imisound(Path(cache_root or default_index_root()), log)
        return _cached(("imisound", _state(path)), lambda: ImisoundScorer(path, key="imisound"))
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix == ".npz":
            return _cached((str(path.resolve()), _state(path)), lambda: ImisoundScorer(path, name=spec))
        return _cached((str(path.resolve()), _state(path)), lambda: load_keras_scorer(path, name=spec))
    choices = ", ".join(sorted(named))
    raise ModelLoadError(f"unknown model {spec!r}: not a file and not one of: {choices} "
                         "(or A+B to fuse two models)")


def _state(path: Path) -> tuple:
    stat = path.stat() if path.exists() else None
    return (stat.st_size, stat.st_mtime_ns) if stat else None


def _cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]
