"""IMISOUND (TASLP VI-C; Zhang & Duan, ICASSP 2016 / JAES 2016), the baseline.

Each clip's whole CQT (IMINET's front-end, every frame of the clip and no padding: see
`ConstantQ.full_length`) is cut into overlapping 525 ms patches; a stacked
auto-encoder with hidden layers of 1000 and 600 units, trained on the training
imitations' patches, codes each patch as 600 values; with the code's delta over time a
patch is 1200 values; six statistics over a clip's patches (maximum, minimum, mean,
median, standard deviation, inter-quartile range) make a 7200-d clip vector; queries
rank candidates by cosine similarity.

Choices where the paper is silent: patches of 20 CQT frames (20 x 26.25 ms = 525 ms)
with a hop of 10 frames (50 % overlap); patch vectors standardised per dimension with
the training patches' mean and deviation; sigmoid hidden units; the auto-encoder trained
end to end (1440-1000-600-1000-1440, mean squared error, Adam) rather than layer-wise;
the delta is the central difference between neighbouring patches' codes (np.gradient);
a clip shorter than one patch repeats its frames to fill it (its statistics then come from
its own frames alone); eq. 3's softmax runs over the whole test library, every test sound
of every category (the N candidates of the paper), so a query's likelihoods sum to one over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from scipy import stats

from vocalsearch_tf.evaluation.baselines import cosine_scores as cosine_similarity  # noqa: F401 (re-exported)
from vocalsearch_tf.training.recipes import array_dataset, predict


@dataclass(frozen=True)
class ImisoundParams:
    patch_frames: int = 20  # 525 ms at a 26.25 ms hop
    patch_hop: int = 10
    hidden: tuple[int, int] = (1000, 600)
    learning_rate: float = 1e-3
    batch_size: int = 256
    epochs: int = 30


IMISOUND = ImisoundParams()
STATISTICS = ("max", "min", "mean", "median", "std", "iqr")


def patches(spectrogram: np.ndarray, params: ImisoundParams = IMISOUND) -> np.ndarray:
    """(patches, bins * patch_frames) from a (bins, frames[, 1]) spectrogram."""
    spec = np.asarray(spectrogram)
    spec = spec[..., 0] if spec.ndim == 3 else spec
    if spec.shape[1] < params.patch_frames:
        spec = np.tile(spec, (1, -(-params.patch_frames // spec.shape[1])))[:, :params.patch_frames]
    starts = range(0, spec.shape[1] - params.patch_frames + 1, params.patch_hop)
    return np.stack([spec[:, s:s + params.patch_frames].ravel() for s in starts])


def clip_statistics(codes: np.ndarray) -> np.ndarray:
    """The 6 statistics per dimension of [codes, delta(codes)]: (patches, d) -> 12 d values."""
    delta = np.gradient(codes, axis=0) if len(codes) > 1 else np.zeros_like(codes)
    sequence = np.concatenate([codes, delta], axis=1)
    return np.concatenate([
        sequence.max(axis=0), sequence.min(axis=0), sequence.mean(axis=0),
        np.median(sequence, axis=0), sequence.std(axis=0), stats.iqr(sequence, axis=0),
    ])


def build_autoencoder(input_dim: int, params: ImisoundParams = IMISOUND) -> tuple[keras.Model, keras.Model]:
    """(auto-encoder, encoder) with sigmoid hidden layers 1000-600(-1000) and a linear output."""
    first, code = params.hidden
    x = keras.Input((input_dim,), name="patch")
    h = keras.layers.Dense(first, activation="sigmoid", name="encode1")(x)
    z = keras.layers.Dense(code, activation="sigmoid", name="code")(h)
    h = keras.layers.Dense(first, activation="sigmoid", name="decode1")(z)
    out = keras.layers.Dense(input_dim, name="reconstruction")(h)
    return keras.Model(x, out, name="imisound_sae"), keras.Model(x, z, name="imisound_encoder")


class Imisound:
    """Fit on training spectrograms, then embed clips and score queries against candidates."""

    def __init__(self, params: ImisoundParams = IMISOUND):
        self.params = params
        self.autoencoder = self.encoder = None
        self.mean = self.scale = None
        self.history: dict = {}

    def fit(self, spectrograms, seed: int = 0, verbose: int = 0,
            strategy: tf.distribute.Strategy | None = None) -> "Imisound":
        data = np.concatenate([patches(s, self.params) for s in spectrograms])
        self.mean, self.scale = data.mean(axis=0), data.std(axis=0) + 1e-6
        keras.utils.set_random_seed(seed)
        with (strategy or tf.distribute.get_strategy()).scope():
            self.autoencoder, self.encoder = build_autoencoder(data.shape[1], self.params)
            self.autoencoder.compile(keras.optimizers.Adam(self.params.learning_rate), "mse")
        standard = (data - self.mean) / self.scale
        history = self.autoencoder.fit(array_dataset((standard, standard), self.params.batch_size, shuffle_seed=seed),
                                       epochs=self.params.epochs, shuffle=False, verbose=verbose)
        self.history = {k: [float(v) for v in values] for k, values in history.history.items()}
        return self

    @property
    def vector_size(self) -> int:
        return 12 * self.params.hidden[-1]

    def embed(self, spectrograms) -> np.ndarray:
        """(clips, 7200) clip vectors from (bins, frames) spectrograms of any lengths."""
        per_clip = [patches(s, self.params) for s in spectrograms]
        codes = predict(self.encoder, (np.concatenate(per_clip) - self.mean) / self.scale, 1024)
        bounds = np.cumsum([0] + [len(p) for p in per_clip])
        return np.stack([clip_statistics(codes[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])


def log_likelihood(similarity: np.ndarray) -> np.ndarray:
    """The log of TASLP eq. 3, in float64: log-softmax over the library (axis 1) of minus
    the cosine distance (1 - similarity)."""
    logits = -(1.0 - np.asarray(similarity, dtype=np.float64))
    logits = logits - logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def likelihood(similarity: np.ndarray) -> np.ndarray:
    """TASLP eq. 3: softmax over the library of minus the cosine distance (1 - similarity)."""
    return np.exp(log_likelihood(similarity))
