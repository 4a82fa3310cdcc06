"""Fitting IMISOUND's auto-encoder on training patches, and the clip vectors it then gives."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vocalsearch_tf.models.imisound import IMISOUND, ImisoundParams, build_autoencoder, clip_statistics, patches
from vocalsearch_tf.training.recipes import array_dataset, capped_batches, capped_epochs, predict


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
        batches = capped_batches(array_dataset((standard, standard), self.params.batch_size, shuffle_seed=seed))
        history = self.autoencoder.fit(batches, epochs=capped_epochs(self.params.epochs), shuffle=False, verbose=verbose)
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
