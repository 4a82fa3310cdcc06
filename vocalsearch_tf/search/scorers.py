"""What a search model is to the application: a `Scorer`, split into a candidate side and a
query side, and the kinds of it.

A Scorer's candidate side is computed once per library window when a library is indexed
(`candidate_vectors`); its query side (`query_vector`, then `window_scores` over the stored
vectors) runs per search. For IMINET and TL-IMINET (`PairScorer`) the candidate side is the
recording tower plus the candidate half of FC1, as in `retrieval.Retriever`: FC1 is linear in
the concatenation, so only the rest of the head runs per (query, window). Twin-embedding
systems (`EmbeddingScorer`: IMISOUND, Manocha 2018, extensions) store one vector per window.

Each Scorer also says how its scores become evidence for fusion (`evidence`: a score on a
scale where a softmax over the library is a likelihood, e.g. a logit for a sigmoid output),
and may carry an `inverse_temperature` fitted on validation imitations (`search/fusion.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

import numpy as np
from scipy.special import expit, logit

from vocalsearch_tf.search.config import ModelLoadError

SYNTHETIC_NOTE = "trained on the embedded synthetic data, not on real recordings"
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
    # beta of the calibrated likelihood softmax(beta * evidence) over a library; None: not calibrated
    inverse_temperature: float | None = None

    @property
    def components(self) -> list["Scorer"]:
        return [self]

    @property
    def shares(self) -> list[float]:
        """What each component counts for in a fusion (an ensemble's members 1/K each)."""
        return [1.0] * len(self.components)

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
        """Per-sound likelihoods as the paper fuses them (TASLP eq. 2-5), from each sound's
        best window score."""
        return best

    def evidence(self, best: np.ndarray) -> np.ndarray:
        """Best-window scores on the scale a calibrated likelihood softmax(beta * evidence)
        takes them (float64): the score itself unless a subclass says otherwise."""
        return np.asarray(best, np.float64)

    def probe_evidence(self, queries: list[np.ndarray]) -> list[np.ndarray | None] | None:
        """Per component, its evidence over a probe bank for the query vectors (a guarded
        fusion's, `search.probe_bank`); None: no bank."""
        return None

    def combine(self, best: list[np.ndarray], probe: list[np.ndarray | None] | None = None) -> np.ndarray:
        """Each sound's ranking score from its components' best-window scores (aligned rows)
        and, for a guarded fusion, their evidence over the probe bank."""
        return self.likelihoods(best[0])

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
        self._sigmoid_out = (layers[-1][2] if layers else first_activation) == "sigmoid"
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

    def evidence(self, best):
        # a head ending in a sigmoid: its logit is the linear score a softmax calibrates (float32
        # sigmoids reach 0 and 1; the clip bounds their logits at float32's resolution near 1)
        best = np.asarray(best, np.float64)
        return logit(np.clip(best, 1e-7, 1 - 1e-7)) if self._sigmoid_out else best


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


class CqtSummaryScorer(EmbeddingScorer):
    """The CQT-summary baseline as a search model: the per-bin mean and standard deviation over
    time of IMINET's log-CQT (`evaluation.baselines.cqt_summary`), standardised by statistics
    of real recordings (`save_cqt_summary`), compared by cosine. It learns no pairs; as a
    baseline it standardises over each query's candidates, which a library index cannot."""

    def __init__(self, path: Path, name: str = "cqt-summary", key: str | None = None):
        from vocalsearch_tf.config import IMINET_CQT

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                self._mean, self._scale = data["mean"].astype(np.float32), data["scale"].astype(np.float32)
                trained_on = str(data["trained_on"])
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"cannot load the CQT-summary model {path}: {error}. It is the .npz written by "
                                 "vocalsearch_tf.search.scorers.save_cqt_summary") from error
        self._front = _front_end((*IMINET_CQT.shape, 1))
        super().__init__(self._embed, self._embed, name=name, key=key or _path_key("cqt-summary", path),
                         fingerprint=_digest_file(path),
                         description="CQT summary (per-bin mean and std of the log-CQT over time, cosine)",
                         imitation_rate=IMINET_CQT.sample_rate, imitation_samples=IMINET_CQT.clip_samples,
                         recording_rate=IMINET_CQT.sample_rate, recording_samples=IMINET_CQT.clip_samples,
                         dim=len(self._mean), metric="cosine", trained_on=trained_on, synthetic=False)

    def _embed(self, waveforms: np.ndarray) -> np.ndarray:
        from vocalsearch_tf.evaluation.baselines import cqt_summary

        features = cqt_summary(np.asarray(waveforms, np.float32), self._front.params, layer=self._front)
        return ((features - self._mean) / self._scale).astype(np.float32)


def save_cqt_summary(features: np.ndarray, path: str | Path, trained_on: str) -> Path:
    """The statistics `CqtSummaryScorer` standardises with: the mean and standard deviation of
    each dimension of `features` (clips, 2 * bins), CQT summaries of real recordings."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2 or not np.isfinite(features).all():
        raise ValueError(f"save_cqt_summary needs finite (clips >= 2, dims) features, not shape {features.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, mean=features.mean(axis=0).astype(np.float32),
             scale=(features.std(axis=0) + 1e-6).astype(np.float32), trained_on=np.array(trained_on))
    tmp.replace(path)
    return path


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
