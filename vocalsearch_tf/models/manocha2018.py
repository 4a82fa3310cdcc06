"""The Siamese MLP N_R of Manocha et al., "Content-based representations of audio using Siamese
neural networks" (ICASSP 2018), here "the paper": its tower as a table, and its builder.
Section numbers refer to the paper. The contrastive loss, the pair sets and the fit are in
`training/manocha2018.py`; the scorers and the protocol in `evaluation/content_retrieval.py`.

- N_R (2.3): 13 509 log-frequency values (79 bands x 171 frames, frames concatenated) ->
  512 -> 256 -> 128, ReLU everywhere, dropout 0.3 between the layers. Both inputs of a pair
  pass through this one tower (shared weights); the 128 outputs are the clip's embedding.

Choices where the paper is silent:
- dropout after fc1 and fc2 ("between all three layers"), none on the embedding;
- each of the 13 509 inputs standardised with its own mean and variance over the training
  clips (a `Normalization` layer; measured on the embedded quick set, N_R^B, margin 10, 30
  epochs at 1e-4: one scalar mean and variance for all inputs, as IMINET's, reached a
  validation MAP of 0.09, per-input moments 0.115), Glorot-uniform kernels, zero biases.
"""

from __future__ import annotations

import keras
import numpy as np

from vocalsearch_tf.config import MANOCHA_LOGFREQ
from vocalsearch_tf.models.spec import Dense, apply_head

TOWER = (
    Dense("fc1", 512, "relu", dropout=0.3),
    Dense("fc2", 256, "relu", dropout=0.3),
    Dense("fc3", 128, "relu"),
)
INPUT_SHAPE = MANOCHA_LOGFREQ.shape  # (79 bands, 171 frames)
EMBEDDING_SIZE = TOWER[-1].units


def concatenated_frames(spectrograms: np.ndarray) -> np.ndarray:
    """`(clips, 13 509)`: each clip's frames one after another, as N_R reads them (2.3)."""
    return np.transpose(spectrograms, (0, 2, 1)).reshape(len(spectrograms), -1)


def input_moments(spectrograms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each of the 13 509 inputs over the training spectrograms."""
    flat = concatenated_frames(spectrograms)
    return flat.mean(axis=0), flat.var(axis=0)


def build_tower(mean=0.0, variance=1.0, layers=TOWER) -> keras.Model:
    """N_R: a `(79, 171)` log-frequency spectrogram -> its 128-d embedding.

    The frames are concatenated in time order (2.3): the spectrogram is transposed to
    (frames, bands) before flattening. `mean` and `variance` standardise the inputs: arrays
    of 13 509 (`input_moments`), or scalars."""
    spectrogram = keras.Input(INPUT_SHAPE, name="log_frequency")
    x = keras.layers.Permute((2, 1), name="frames_first")(spectrogram)
    x = keras.layers.Flatten(name="concatenated_frames")(x)
    axis = None if np.ndim(mean) == 0 else -1
    x = keras.layers.Normalization(axis=axis, mean=mean, variance=variance, name="standardise")(x)
    return keras.Model(spectrogram, apply_head(x, layers), name="manocha_nr")
