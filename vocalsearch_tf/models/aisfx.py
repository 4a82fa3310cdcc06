"""The aisfx sound-effects encoder (Ma & Lerch, ISMIR 2022) in Keras, with its log-mel front-end.

A port of aisfx 0.1.2's `EmbeddingNet('max', 3, 1, 64)` (aisfx/models/cnn2d.py, after the DCASE
2018 cross-task baseline's Cnn_9layers) and of the Essentia front-end its `inference.main` uses
by default (aisfx/spectrogram/spectrogram_essentia.py; settings: `config.AisfxLogMelParams`).
The released weights, their conversion and cache: `datasets.aisfx_weights`.

- network: four blocks of [3x3 conv (stride 1, zero padding 1, no bias) -> batch norm (eps 1e-5,
  running statistics) -> ReLU] x 2, with 64, 128, 256, 512 channels; 2x2 max pooling after
  blocks 1-3 (block 4 pools 1x1, i.e. not at all); then the mean over frequency and the maximum
  over time: a 512-d embedding per block of 100 frames x 96 bands (96 x 100 -> 12 x 12 x 512);
- layout: the house's `(batch, n_mels, frames, 1)`, lowest band first; PyTorch's is
  `(batch, 1, frames, n_mels)`, so kernels are transposed on conversion (`keras_kernel`);
- a clip longer than a block has one embedding per block, blocks every 50 frames, a last
  partial block dropped (aisfx.preprocessing.blocking): `blocks` cuts a full-length spectrogram
  (`AisfxLogMel.full_length`) the same way. A clip shorter than a block is zero-padded: the
  value of silence in this front-end (log10(1 + 0) = 0), as aisfx pads the spectrogram.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from vocalsearch_tf.config import AisfxLogMelParams
from vocalsearch_tf.models.spec import Pool
from vocalsearch_tf.signal.features import _centred_input, _span

AISFX_LOGMEL = AisfxLogMelParams()


@dataclass(frozen=True)
class ConvBN:
    """A 3x3 'same' convolution without bias, batch norm, ReLU: one row of a ConvBlock."""
    block: str  # the checkpoint's block, e.g. "conv_block1"
    index: int  # 1 or 2: its conv1/bn1 or conv2/bn2
    filters: int
    kernel: tuple[int, int] = (3, 3)  # (frequency, time)

    @property
    def conv(self) -> str:
        return f"{self.block}_conv{self.index}"

    @property
    def bn(self) -> str:
        return f"{self.block}_bn{self.index}"


@dataclass(frozen=True)
class AisfxParams:
    """The network's settings; the front-end's are `config.AisfxLogMelParams`."""
    front_end: AisfxLogMelParams = AISFX_LOGMEL
    bn_epsilon: float = 1e-5  # torch.nn.BatchNorm2d's default (eps is not in the state dict)
    embedding_size: int = 512


AISFX = AisfxParams()


def _block(name: str, filters: int, pool: tuple[int, int] | None):
    rows = (ConvBN(name, 1, filters), ConvBN(name, 2, filters))
    return rows + ((Pool(f"{name}_pool", pool),) if pool else ())


# EmbeddingNet(pool_type='max', ks=3, strd=1, hl1=64): channels hl1 * (1, 2, 4, 8)
AISFX_NETWORK = (
    *_block("conv_block1", 64, (2, 2)),
    *_block("conv_block2", 128, (2, 2)),
    *_block("conv_block3", 256, (2, 2)),
    *_block("conv_block4", 512, None),  # pool_size=(1, 1): the identity
)
CHECKPOINT_PREFIX = "embedding_net"


def checkpoint_names(table=AISFX_NETWORK) -> dict[str, str]:
    """Keras layer name -> its module in the aisfx state dict (keys `<module>.weight`, ...)."""
    names = {}
    for row in table:
        if isinstance(row, ConvBN):
            names[row.conv] = f"{CHECKPOINT_PREFIX}.{row.block}.conv{row.index}"
            names[row.bn] = f"{CHECKPOINT_PREFIX}.{row.block}.bn{row.index}"
    return names


def keras_kernel(oihw: np.ndarray) -> np.ndarray:
    """A PyTorch conv weight `(out, in, time, freq)` as a Keras kernel `(freq, time, in, out)`."""
    return np.ascontiguousarray(np.transpose(oihw, (3, 2, 1, 0)))


# --- front-end ------------------------------------------------------------------------------

def _hz_to_htk_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _htk_mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(params: AisfxLogMelParams = AISFX_LOGMEL) -> np.ndarray:
    """`(n_fft // 2 + 1, n_mels)` float32 weights on the power spectrum, as Essentia's MelBands
    (warpingFormula='htkMel', weighting='warping', normalize='unit_sum') builds them through
    TriangularBands: band edges equally spaced in HTK mel; band i takes the bins from
    ceil(edge_i / df) to floor(edge_i+2 / df), each weighted by its mel distance to the nearer
    edge over the edge-to-centre mel step (rising below the centre, falling from it on), and
    the band's weights are divided by their sum."""
    p = params
    bins = p.n_fft // 2 + 1
    edges = _htk_mel_to_hz(np.linspace(_hz_to_htk_mel(p.fmin), _hz_to_htk_mel(p.fmax), p.n_mels + 2))
    freqs = np.arange(bins) * (p.sample_rate / 2.0) / (bins - 1)
    mel, edge_mel = _hz_to_htk_mel(freqs)[:, None], _hz_to_htk_mel(edges)
    low, centre, high = edge_mel[:-2], edge_mel[1:-1], edge_mel[2:]
    rising, falling = (mel - low) / (centre - low), (high - mel) / (high - centre)
    weights = np.where(freqs[:, None] < edges[None, 1:-1], rising, falling)
    inside = (freqs[:, None] >= edges[None, :-2]) & (freqs[:, None] <= edges[None, 2:])
    weights = np.where(inside, np.maximum(weights, 0.0), 0.0)
    return (weights / weights.sum(axis=0, keepdims=True)).astype(np.float32)


def essentia_hann(length: int) -> np.ndarray:
    """Essentia's 'hann' window: symmetric, 0.5 - 0.5 cos(2 pi n / (length - 1)), not normalised."""
    n = np.arange(length)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / (length - 1))).astype(np.float32)


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class AisfxLogMel(keras.layers.Layer):
    """aisfx's normalised log-mel spectrogram: waveforms `(batch, samples)` at 44.1 kHz ->
    `(batch, n_mels, n_frames, 1)` = log10(1 + 1e4 * mel power) / 9.4578, lowest band first.

    Frame t covers samples [t * hop - n_fft / 2, t * hop + n_fft / 2), zero beyond the clip:
    Essentia's FrameCutter (startFromZero=False). A clip is truncated or zero-padded to
    `n_frames` frames; `full_length` gives all ceil(samples / hop) + 1 frames Essentia makes.
    (Essentia's zero-phase window rotation leaves the magnitude spectrum unchanged.)
    `power=True` returns the mel power without log and scaling.
    """

    def __init__(self, params: AisfxLogMelParams | dict | None = None, power: bool = False, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if isinstance(params, dict):
            params = AisfxLogMelParams(**params)
        self.params = params or AISFX_LOGMEL
        self.power = power
        self._window = tf.constant(essentia_hann(self.params.n_fft))
        self._mel_basis = tf.constant(mel_filterbank(self.params))

    def call(self, waveform):
        return self.transform(waveform, self.params.n_frames)

    def full_length(self, waveform) -> tf.Tensor:
        """Every frame Essentia cuts from clips of this length: ceil(samples / hop) + 1."""
        samples = int(tf.shape(waveform)[1])
        return self.transform(waveform, -(-samples // self.params.hop_length) + 1)

    def transform(self, waveform, n_frames: int):
        p = self.params
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        pad = p.n_fft // 2
        padded = _centred_input(waveform, pad, p.hop_length, n_frames)
        frames = tf.signal.frame(_span(padded, pad, p.n_fft, p.hop_length, n_frames), p.n_fft, p.hop_length)
        spectrum = tf.signal.rfft(frames * self._window)
        power = tf.math.real(spectrum) ** 2 + tf.math.imag(spectrum) ** 2
        mel = tf.transpose(tf.matmul(power, self._mel_basis), [0, 2, 1])
        if not self.power:
            mel = tf.math.log1p(p.log_scale * mel) * (1.0 / (np.log(10.0) * p.norm_max))
        return mel[..., tf.newaxis]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.params.n_mels, self.params.n_frames, 1)

    def get_config(self):
        return {**super().get_config(), "params": dataclasses.asdict(self.params), "power": self.power}


def blocks(spectrogram: np.ndarray, params: AisfxLogMelParams = AISFX_LOGMEL,
           drop_partial_block: bool = True) -> np.ndarray:
    """A full-length spectrogram `(n_mels, frames[, 1])` cut as aisfx.preprocessing.blocking cuts
    it (block `n_frames`, hop `block_hop`): `(blocks, n_mels, n_frames, 1)`, zero-padded at the
    end; a last partial block is dropped with `drop_partial_block` (the default of aisfx)."""
    spectrogram = np.asarray(spectrogram)
    spectrogram = spectrogram[..., 0] if spectrogram.ndim == 3 else spectrogram
    size, hop, frames = params.n_frames, params.block_hop, spectrogram.shape[1]
    count = int(np.ceil((frames - size) / hop + 1))
    if (frames - size) % hop != 0 and drop_partial_block:
        count -= 1
    count = max(count, 1)
    padded = np.pad(spectrogram, ((0, 0), (0, size)))
    return np.stack([padded[:, i * hop: i * hop + size] for i in range(count)])[..., np.newaxis]


# --- network --------------------------------------------------------------------------------

def make_row(row, epsilon: float):
    """The Keras layers of one table row: (conv, batch norm, ReLU) for a ConvBN, a max pool for a Pool."""
    if isinstance(row, ConvBN):
        return (keras.layers.Conv2D(row.filters, row.kernel, padding="same", use_bias=False, name=row.conv),
                keras.layers.BatchNormalization(epsilon=epsilon, momentum=0.9, name=row.bn),  # torch momentum 0.1
                keras.layers.ReLU(name=f"{row.conv}_relu"))
    if isinstance(row, Pool):
        return (keras.layers.MaxPooling2D(row.size, name=row.name),)
    raise TypeError(f"unknown layer row {row!r}")


def embedding_head(x, name: str = "embedding"):
    """Mean over frequency, then maximum over time: `(batch, freq, time, channels)` -> `(batch, channels)`."""
    x = keras.layers.AveragePooling2D((x.shape[1], 1), name="frequency_mean")(x)
    return keras.layers.GlobalMaxPooling2D(name=name)(x)


def build_aisfx_network(params: AisfxParams = AISFX, table=AISFX_NETWORK) -> keras.Model:
    """The network alone: aisfx spectrogram blocks `(batch, n_mels, n_frames, 1)` -> `(batch, 512)`.
    Freshly initialised; `datasets.aisfx_weights` loads the released weights."""
    spectrogram = keras.Input((*params.front_end.shape, 1), name="aisfx_spectrogram")
    x = spectrogram
    for row in table:
        for layer in make_row(row, params.bn_epsilon):
            x = layer(x)
    return keras.Model(spectrogram, embedding_head(x), name="aisfx_network")


def build_aisfx_encoder(params: AisfxParams = AISFX, input: str = "waveform") -> keras.Model:
    """The aisfx encoder. `input="waveform"`: 44.1 kHz waveforms `(batch, samples)` of any length
    -> the 512-d embedding of each clip's first block (the front-end in the graph; clips are cut
    or padded to 100 frames, 2.32 s). `input="spectrogram"`: the network alone
    (`build_aisfx_network`). The waveform model holds the network as its layer "aisfx_network"."""
    if input == "spectrogram":
        return build_aisfx_network(params)
    if input != "waveform":
        raise ValueError(f"unknown input {input!r}: 'waveform' or 'spectrogram'")
    waveform = keras.Input((None,), name="waveform")
    spectrogram = AisfxLogMel(params.front_end, name="aisfx_log_mel")(waveform)
    return keras.Model(waveform, build_aisfx_network(params)(spectrogram), name="aisfx_encoder")
