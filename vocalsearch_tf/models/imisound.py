"""IMISOUND (TASLP VI-C; Zhang & Duan, ICASSP 2016 / JAES 2016), the baseline.

Each clip's whole CQT (IMINET's front-end, every frame of the clip and no padding: see
`ConstantQ.full_length`) is cut into overlapping 525 ms patches; a stacked
auto-encoder with hidden layers of 1000 and 600 units, trained on the training
imitations' patches, codes each patch as 600 values; with the code's delta over time a
patch is 1200 values; six statistics over a clip's patches (maximum, minimum, mean,
median, standard deviation, inter-quartile range) make a 7200-d clip vector; queries
rank candidates by cosine similarity (fitting: `training.imisound`; eq. 3's likelihood:
`evaluation.scoring`).

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
from scipy import stats


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
