"""Spectrogram front-ends as Keras layers, computed inside the model graph.

Both layers take a waveform batch `(batch, samples)` at their configured sample rate
and return `(batch, freq, time, 1)` log-magnitude spectrograms. Their kernels are fixed
and rebuilt from the settings, so a saved `.keras` model carries only the settings.

Frames are centred as in librosa (`center=True`, zero padding): frame t is centred on
sample t * hop. A clip longer than `n_frames` frames is truncated at the end; a shorter
one is zero-padded at the end (the padded frames hold the log floor).
"""

from __future__ import annotations

import dataclasses

import keras
import librosa
import numpy as np
import tensorflow as tf

from vocalsearch_tf.config import ConstantQParams, LogFrequencyParams, LogMelParams


def _round_up(value: float, multiple: int) -> int:
    return int(np.ceil(value / multiple) * multiple)


def cqt_kernels(params: ConstantQParams) -> list[tuple[int, np.ndarray]]:
    """Correlation kernels of the CQT, grouped by octave: a list of (length, kernel).

    Each kernel is `(length, 2 * bins_in_group)` float32: real parts, then imaginary.
    Bin k is librosa's Hann wavelet at fmin * 2^(k / bins_per_octave), L1-normalised,
    conjugated and scaled by sqrt(wavelet length), so |frame . kernel| equals
    `abs(librosa.cqt(..., scale=True))`. An octave's kernels share one length, its
    longest wavelet rounded up to `kernel_multiple`: lower octaves need long kernels,
    higher ones short, and grouping saves ~3x the work of padding all to the longest.
    """
    freqs = librosa.cqt_frequencies(params.n_bins, fmin=params.fmin,
                                     bins_per_octave=params.bins_per_octave)
    wavelets, lengths = librosa.filters.wavelet(
        freqs=freqs, sr=params.sample_rate, window="hann", filter_scale=1,
        pad_fft=False, norm=1, dtype=np.complex128,
    )
    centre = wavelets.shape[1] // 2  # sample offset 0 of every (centred) wavelet
    groups = []
    for start in range(0, params.n_bins, params.bins_per_octave):
        members = slice(start, min(start + params.bins_per_octave, params.n_bins))
        length = _round_up(lengths[members].max() + 1, params.kernel_multiple)
        # kernel index j <-> time offset j - length/2 from the frame centre
        padded = np.pad(wavelets[members], ((0, 0), (length, length)))
        window = padded[:, centre + length // 2: centre + length // 2 + length]
        kernel = np.conj(window) * np.sqrt(lengths[members])[:, None]
        groups.append((length, np.concatenate([kernel.real, kernel.imag]).T.astype(np.float32)))
    return groups


def _centred_input(waveform: tf.Tensor, pad: int, hop: int, n_frames: int) -> tf.Tensor:
    """Zero-pad `pad` samples on the left, then truncate or zero-pad the right end so
    exactly the samples of `n_frames` frames of up to 2 * pad samples remain."""
    total = 2 * pad + (n_frames - 1) * hop
    missing = tf.maximum(total - pad - tf.shape(waveform)[1], 0)
    return tf.pad(waveform, [[0, 0], [pad, missing]])[:, :total]


def _span(padded: tf.Tensor, pad: int, length: int, hop: int, n_frames: int) -> tf.Tensor:
    """The samples under `n_frames` frames of `length` centred on t * hop, from a
    `_centred_input` waveform."""
    start = pad - length // 2
    return padded[:, start: start + (n_frames - 1) * hop + length]


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class ConstantQ(keras.layers.Layer):
    """Log-magnitude constant-Q transform, IMINET's front-end (TASLP IV-A).

    Output `(batch, n_bins, n_frames, 1)` = log(|CQT| + log_offset), lowest bin first.
    `magnitude=True` returns |CQT| without the log (parity tests, sonification).
    """

    def __init__(self, params: ConstantQParams | dict | None = None, magnitude: bool = False, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if isinstance(params, dict):
            params = ConstantQParams(**params)
        self.params = params or ConstantQParams()
        self.magnitude = magnitude
        self._groups = [(length, tf.constant(kernel[:, np.newaxis, :]))  # (length, 1, 2 * bins)
                        for length, kernel in cqt_kernels(self.params)]

    def call(self, waveform):
        return self.transform(waveform, self.params.n_frames)

    def full_length(self, waveform) -> tf.Tensor:
        """Every centred frame of the waveforms, 1 + (samples - 1) // hop of them, rather than
        the fixed `n_frames`: a clip's own CQT, cut or padded nowhere."""
        samples = int(tf.shape(waveform)[1])
        return self.transform(waveform, 1 + (samples - 1) // self.params.hop_length)

    def transform(self, waveform, n_frames: int):
        p = self.params
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        pad = max(length for length, _ in self._groups) // 2
        padded = _centred_input(waveform, pad, p.hop_length, n_frames)
        parts = []
        for length, kernel in self._groups:
            # a strided convolution: measured 2x faster on CPU than framing + matmul
            span = _span(padded, pad, length, p.hop_length, n_frames)[..., tf.newaxis]
            response = tf.nn.conv1d(span, kernel, stride=p.hop_length, padding="VALID")
            real, imag = tf.split(response, 2, axis=-1)
            # the floor keeps the gradient finite where the input is exact zeros (padding)
            parts.append(tf.sqrt(tf.maximum(real * real + imag * imag, 1e-20)))
        cqt = tf.transpose(tf.concat(parts, axis=-1), [0, 2, 1])  # (batch, bins, frames)
        if not self.magnitude:
            cqt = tf.math.log(cqt + p.log_offset)
        return cqt[..., tf.newaxis]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.params.n_bins, self.params.n_frames, 1)

    def get_config(self):
        return {**super().get_config(), "params": dataclasses.asdict(self.params),
                "magnitude": self.magnitude}


def centred_window(params: LogMelParams) -> np.ndarray:
    """A periodic Hann window of `win_length` centred in `n_fft` zeros (as librosa pads it)."""
    window = librosa.filters.get_window("hann", params.win_length, fftbins=True)
    return librosa.util.pad_center(window, size=params.n_fft).astype(np.float32)


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class LogMel(keras.layers.Layer):
    """Log mel power spectrogram (TL-IMINET's front-ends, TASLP V-A and V-B).

    Output `(batch, n_mels, n_frames, 1)` = log(mel power + log_offset), lowest band
    first; the mel filterbank is librosa's (Slaney scale and area normalisation).
    `power=True` returns the mel power without the log.
    """

    def __init__(self, params: LogMelParams | dict, power: bool = False, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if isinstance(params, dict):
            params = LogMelParams(**params)
        self.params = params
        self.power = power
        p = params
        self._window = tf.constant(centred_window(p))
        mel = librosa.filters.mel(sr=p.sample_rate, n_fft=p.n_fft, n_mels=p.n_mels,
                                  fmin=p.fmin, fmax=p.fmax)
        self._mel_basis = tf.constant(mel.T.astype(np.float32))  # (n_fft//2+1, n_mels)

    def call(self, waveform):
        p = self.params
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        pad = p.n_fft // 2
        padded = _centred_input(waveform, pad, p.hop_length, p.n_frames)
        span = _span(padded, pad, p.n_fft, p.hop_length, p.n_frames)
        frames = tf.signal.frame(span, p.n_fft, p.hop_length)
        spectrum = tf.signal.rfft(frames * self._window)
        power = tf.math.real(spectrum) ** 2 + tf.math.imag(spectrum) ** 2
        mel = tf.transpose(tf.matmul(power, self._mel_basis), [0, 2, 1])
        if not self.power:
            mel = tf.math.log(mel + p.log_offset)
        return mel[..., tf.newaxis]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.params.n_mels, self.params.n_frames, 1)

    def get_config(self):
        return {**super().get_config(), "params": dataclasses.asdict(self.params),
                "power": self.power}


def log_frequency_filterbank(params: LogFrequencyParams) -> np.ndarray:
    """`(n_fft // 2 + 1, n_bins)` float32: triangles on log-spaced centres, each summing to 1.

    Band k rises from edge k to centre k + 1 and falls to edge k + 2 of `n_bins + 2` edges
    log-spaced from `fmin` to `fmax`; a side narrower than one FFT bin is widened to one bin.
    """
    freqs = np.fft.rfftfreq(params.n_fft, 1.0 / params.sample_rate)
    edges = np.geomspace(params.fmin, params.fmax, params.n_bins + 2)
    bin_width = params.sample_rate / params.n_fft
    weights = np.zeros((len(freqs), params.n_bins))
    for k in range(params.n_bins):
        low, centre, high = edges[k: k + 3]
        left, right = max(centre - low, bin_width), max(high - centre, bin_width)
        rising, falling = (freqs - (centre - left)) / left, ((centre + right) - freqs) / right
        weights[:, k] = np.maximum(0.0, np.minimum(rising, falling))
    return (weights / weights.sum(axis=0, keepdims=True)).astype(np.float32)


@keras.saving.register_keras_serializable(package="vocalsearch_tf")
class LogFrequency(keras.layers.Layer):
    """Log-frequency spectrogram of Manocha et al. 2018 (3.2): STFT power (periodic Hann
    window, uncentred frames) pooled into log-spaced bands, then the natural log.

    Output `(batch, n_bins, n_frames, 1)` = log(band power + log_offset), lowest band first.
    A clip longer than `clip_samples` is truncated at the end, a shorter one zero-padded.
    `power=True` returns the band power without the log.
    """

    def __init__(self, params: LogFrequencyParams | dict | None = None, power: bool = False, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if isinstance(params, dict):
            params = LogFrequencyParams(**params)
        self.params = params or LogFrequencyParams()
        self.power = power
        window = librosa.filters.get_window("hann", self.params.n_fft, fftbins=True)
        self._window = tf.constant(window.astype(np.float32))
        self._bands = tf.constant(log_frequency_filterbank(self.params))

    def call(self, waveform):
        p = self.params
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        missing = tf.maximum(p.clip_samples - tf.shape(waveform)[1], 0)
        waveform = tf.pad(waveform, [[0, 0], [0, missing]])[:, : p.clip_samples]
        frames = tf.signal.frame(waveform, p.n_fft, p.hop_length)  # (batch, n_frames, n_fft)
        spectrum = tf.signal.rfft(frames * self._window)
        power = tf.math.real(spectrum) ** 2 + tf.math.imag(spectrum) ** 2
        bands = tf.transpose(tf.matmul(power, self._bands), [0, 2, 1])
        if not self.power:
            bands = tf.math.log(bands + p.log_offset)
        return bands[..., tf.newaxis]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.params.n_bins, self.params.n_frames, 1)

    def get_config(self):
        return {**super().get_config(), "params": dataclasses.asdict(self.params),
                "power": self.power}
