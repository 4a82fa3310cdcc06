"""VGGish (Hershey et al., ICASSP 2017) in Keras, with its own log-mel patch front-end (the
released checkpoint, PCA parameters and the embedder they make: `datasets.vggish_weights`).

The architecture, front-end and variable names follow tensorflow/models,
`research/audioset/vggish` (vggish_slim.py, vggish_params.py, mel_features.py,
vggish_postprocess.py):
- front-end: 16 kHz mono; 25 ms periodic-Hann windows every 10 ms (400 / 160 samples, no
  centring), 512-point FFT magnitude, 64 HTK-mel bands 125-7500 Hz (DC bin excluded),
  log(mel + 0.01); framed into non-overlapping 0.96 s patches of 96 x 64. A 10 s clip
  gives 10 patches;
- network: conv 3x3 SAME + ReLU and 2x2/2 SAME max-pools: conv1 64, pool, conv2 128, pool,
  conv3_1/3_2 256, pool, conv4_1/4_2 512, pool, flatten, fc1_1/fc1_2 4096 ReLU,
  fc2 128 linear (the embedding);
- postprocessing: PCA (with whitening) from `vggish_pca_params.npz`, optionally the 8-bit
  quantisation of the AudioSet release.

"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class VGGishParams:
    sample_rate: int = 16_000
    window_length: int = 400  # 0.025 s
    hop_length: int = 160  # 0.010 s
    fft_length: int = 512  # next power of two above the window
    n_mels: int = 64
    fmin: float = 125.0
    fmax: float = 7500.0
    log_offset: float = 0.01
    patch_frames: int = 96  # 0.96 s patches, hop 0.96 s
    embedding_size: int = 128
    fc_units: int = 4096  # fc1_1 and fc1_2 (only a test narrows them, to write a small checkpoint)
    quantize_range: tuple[float, float] = (-2.0, 2.0)

    def patches(self, samples: int) -> int:
        frames = 1 + (samples - self.window_length) // self.hop_length
        return 1 + (frames - self.patch_frames) // self.patch_frames


VGGISH = VGGishParams()

# Keras layer -> the checkpoint's variable scope (TF-Slim names; `slim.repeat` nests conv3/conv3_1)
CONV_LAYERS = (("conv1", 64), ("conv2", 128), ("conv3_1", 256), ("conv3_2", 256), ("conv4_1", 512), ("conv4_2", 512))
POOL_AFTER = {"conv1", "conv2", "conv3_2", "conv4_2"}
FC_LAYERS = (("fc1_1", "relu"), ("fc1_2", "relu"), ("fc2", None))  # fc1: params.fc_units; fc2: the embedding
SCOPES = {"conv1": "vggish/conv1", "conv2": "vggish/conv2", "conv3_1": "vggish/conv3/conv3_1",
          "conv3_2": "vggish/conv3/conv3_2", "conv4_1": "vggish/conv4/conv4_1", "conv4_2": "vggish/conv4/conv4_2",
          "fc1_1": "vggish/fc1/fc1_1", "fc1_2": "vggish/fc1/fc1_2", "fc2": "vggish/fc2"}


def checkpoint_names() -> dict[str, tuple[str, str]]:
    """Keras layer name -> (weights variable, biases variable) in vggish_model.ckpt."""
    return {layer: (f"{scope}/weights", f"{scope}/biases") for layer, scope in SCOPES.items()}


def _hertz_to_mel(hertz):
    return 1127.0 * np.log(1.0 + np.asarray(hertz) / 700.0)


def mel_matrix(params: VGGishParams = VGGISH) -> np.ndarray:
    """(fft_length // 2 + 1, n_mels) HTK triangular weights on magnitudes, as mel_features.py."""
    bins = params.fft_length // 2 + 1
    bin_mels = _hertz_to_mel(np.linspace(0.0, params.sample_rate / 2, bins))
    edges = np.linspace(_hertz_to_mel(params.fmin), _hertz_to_mel(params.fmax), params.n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mels[:, None] - lower) / (centre - lower)
    falling = (upper - bin_mels[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # HTK leaves out the DC bin
    return weights


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class VGGishPatches(keras.layers.Layer):
    """Waveform `(batch, samples)` at 16 kHz -> log-mel patches `(batch, patches, 96, 64)`."""

    def __init__(self, params: VGGishParams | dict | None = None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if isinstance(params, dict):
            params = VGGishParams(**{**params, "quantize_range": tuple(params["quantize_range"])})
        self.params = params or VGGISH
        p = self.params
        n = np.arange(p.window_length)
        self._window = tf.constant((0.5 - 0.5 * np.cos(2 * np.pi * n / p.window_length)).astype(np.float32))
        self._mel = tf.constant(mel_matrix(p).astype(np.float32))

    def call(self, waveform):
        p = self.params
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        frames = tf.signal.frame(waveform, p.window_length, p.hop_length)  # no padding, as mel_features.frame
        magnitude = tf.abs(tf.signal.rfft(frames * self._window, [p.fft_length]))
        log_mel = tf.math.log(tf.matmul(magnitude, self._mel) + p.log_offset)
        return tf.signal.frame(log_mel, p.patch_frames, p.patch_frames, axis=1)

    def get_config(self):
        return {**super().get_config(), "params": dataclasses.asdict(self.params)}


def build_vggish(params: VGGishParams = VGGISH) -> keras.Model:
    """The VGGish network: `(batch, 96, 64)` log-mel patches -> `(batch, 128)` embeddings
    (fc2's pre-activations, before PCA). Its 72 M weights start at zero (cheap to build):
    they are meant to be loaded with `load_checkpoint`, not trained from scratch here."""
    patches = keras.Input((params.patch_frames, params.n_mels), name="log_mel_patch")
    x = keras.layers.Reshape((params.patch_frames, params.n_mels, 1), name="reshape")(patches)
    for name, filters in CONV_LAYERS:
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="zeros",
                                name=name)(x)
        if name in POOL_AFTER:
            x = keras.layers.MaxPooling2D(2, 2, padding="same", name=f"pool{name[4]}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for name, activation in FC_LAYERS:
        units = params.embedding_size if name == "fc2" else params.fc_units
        x = keras.layers.Dense(units, activation=activation, kernel_initializer="zeros", name=name)(x)
    return keras.Model(patches, x, name="vggish")
