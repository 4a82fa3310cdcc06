"""Training-time augmentation of log-CQT batches, as in-graph ops.

Real recordings and real voices differ from the embedded data in ways a listener ignores:
level, microphone and room colouring, reverberation, background noise, a singer's key and
tempo. Each of those is a cheap operation on IMINET's log-CQT (one bin per semitone), so
the pair pipeline applies them to every training batch, each example with its own draw:

- pitch shift: whole bins (semitones) up or down, the vacated bins at the floor;
- time stretch: the frame axis resampled linearly, the end cut or padded at the floor;
- time shift: a later or earlier start, as a person who reacts late or a clip cut tight;
- gain and EQ: a level and a smooth random curve over the bins, in dB;
- reverberation: the power spectrogram smeared by an exponential decay over frames;
- noise: a pink-ish floor at a random signal-to-noise ratio, with chi-squared jitter.

Draws are stateless, seeded per batch, so a training run is repeatable.
"""

from __future__ import annotations

import math

import tensorflow as tf

from vocalsearch_tf.config import AugmentationParams


def _uniform(seed, shape, low, high):
    return tf.random.stateless_uniform(shape, seed, low, high)


def _chance(seed, batch, probability):
    return tf.cast(_uniform(seed, [batch], 0.0, 1.0) < probability, tf.float32)


def _shift(x, shifts, axis: int):
    """Move each example `shifts[b]` steps up `axis` (down if negative), filling the
    vacated steps with the floor value of `x`."""
    size = tf.shape(x)[axis]
    source = tf.range(size)[tf.newaxis, :] - shifts[:, tf.newaxis]  # (batch, size)
    inside = (source >= 0) & (source < size)
    shifted = tf.gather(x, tf.clip_by_value(source, 0, size - 1), axis=axis, batch_dims=1)
    mask = inside[:, :, tf.newaxis, tf.newaxis] if axis == 1 else inside[:, tf.newaxis, :, tf.newaxis]
    return tf.where(mask, shifted, tf.reduce_min(x))


def pitch_shift(x, shifts):
    """Shift each example's bins by an integer `shifts[b]` (up = positive)."""
    return _shift(x, shifts, axis=1)


def time_shift(x, shifts):
    """Move each example's frames later by `shifts[b]` (earlier if negative)."""
    return _shift(x, shifts, axis=2)


def time_stretch(x, rates):
    """Resample each example's frames: output frame t reads input frame t * rates[b]."""
    frames = tf.shape(x)[2]
    floor = tf.reduce_min(x)
    position = tf.cast(tf.range(frames), tf.float32)[tf.newaxis, :] * rates[:, tf.newaxis]
    left = tf.floor(position)
    weight = (position - left)[:, tf.newaxis, :, tf.newaxis]
    left = tf.cast(left, tf.int32)
    last = frames - 1
    a = tf.gather(x, tf.minimum(left, last), axis=2, batch_dims=1)
    b = tf.gather(x, tf.minimum(left + 1, last), axis=2, batch_dims=1)
    out = a * (1 - weight) + b * weight
    inside = (left <= last)[:, tf.newaxis, :, tf.newaxis]
    return tf.where(inside, out, floor)


def _smooth_curves(seed, batch, bins, terms: int, depth_db: float):
    """Random smooth curves over bins in dB: a few cosines of random amplitude and phase."""
    position = tf.linspace(0.0, math.pi, bins)[tf.newaxis, tf.newaxis, :]
    order = tf.range(1, terms + 1, dtype=tf.float32)[tf.newaxis, :, tf.newaxis]
    amplitude = _uniform(tf.stack([seed[0], seed[1] + 1]), [batch, terms, 1], -1.0, 1.0) * depth_db / terms
    phase = _uniform(tf.stack([seed[0], seed[1] + 2]), [batch, terms, 1], 0.0, 2 * math.pi)
    return tf.reduce_sum(amplitude * tf.cos(order * position + phase), axis=1)  # (batch, bins)


def reverberate(power, decays, length: int):
    """Add an exponentially decaying tail over frames: y_t = sum_k decay^k x_{t-k}, k < length."""
    frames = tf.shape(power)[2]
    k = tf.range(length, dtype=tf.float32)
    weights = decays[:, tf.newaxis] ** k[tf.newaxis, :]  # (batch, length)
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)
    padded = tf.pad(power, [[0, 0], [0, 0], [length - 1, 0], [0, 0]])
    out = tf.zeros_like(power)
    for lag in range(length):
        out += weights[:, lag, tf.newaxis, tf.newaxis, tf.newaxis] * padded[:, :, length - 1 - lag:length - 1 - lag + frames]
    return out


def augment(x, seed, params: AugmentationParams, log_offset: float):
    """One augmented draw of a batch of log(|CQT| + log_offset), shape (batch, bins, frames, 1).
    `seed` is a stateless seed, shape (2,), int32/int64."""
    seed = tf.cast(seed, tf.int32)

    def sub(k):
        return tf.stack([seed[0], seed[1] * 16 + k])

    batch, bins = tf.shape(x)[0], tf.shape(x)[1]
    if params.p_pitch_shift > 0:
        shifts = tf.random.stateless_uniform([batch], sub(0), -params.max_pitch_shift, params.max_pitch_shift + 1,
                                             dtype=tf.int32)
        x = pitch_shift(x, shifts * tf.cast(_chance(sub(1), batch, params.p_pitch_shift), tf.int32))
    if params.p_time_stretch > 0:
        log_rate = _uniform(sub(2), [batch], -math.log(params.max_stretch), math.log(params.max_stretch))
        x = time_stretch(x, tf.exp(log_rate * _chance(sub(3), batch, params.p_time_stretch)))
    if params.p_time_shift > 0:
        delays = tf.random.stateless_uniform([batch], sub(13), -params.max_advance_frames,
                                             params.max_delay_frames + 1, dtype=tf.int32)
        x = time_shift(x, delays * tf.cast(_chance(sub(14), batch, params.p_time_shift), tf.int32))

    magnitude = tf.maximum(tf.exp(x) - log_offset, 0.0)
    level_db = _uniform(sub(4), [batch], -params.gain_db, params.gain_db)[:, tf.newaxis]
    if params.p_eq > 0:
        eq_db = _smooth_curves(sub(5), batch, bins, params.eq_terms, params.eq_db)
        level_db = level_db + eq_db * _chance(sub(6), batch, params.p_eq)[:, tf.newaxis]
    gain = 10.0 ** (level_db / 20.0)
    power = tf.square(magnitude * gain[:, :, tf.newaxis, tf.newaxis])

    if params.p_reverb > 0:
        decay_frames = _uniform(sub(7), [batch], params.reverb_frames[0], params.reverb_frames[1])
        reverberant = reverberate(power, tf.exp(-1.0 / decay_frames), params.reverb_length)
        wet = _chance(sub(8), batch, params.p_reverb)[:, tf.newaxis, tf.newaxis, tf.newaxis]
        power = wet * reverberant + (1 - wet) * power

    if params.p_noise > 0:
        snr_db = _uniform(sub(9), [batch], params.snr_db[0], params.snr_db[1])
        signal = tf.reduce_mean(power, axis=[1, 2, 3])
        # a CQT bin's bandwidth grows with frequency: pink noise is flat here, white rises 3 dB/octave
        tilt_db = _uniform(sub(12), [batch, 1], params.noise_tilt_db[0], params.noise_tilt_db[1])
        octaves = tf.cast(tf.range(bins), tf.float32)[tf.newaxis, :] / params.bins_per_octave
        shape = 10.0 ** (tilt_db * octaves / 10.0)
        shape = (shape / tf.reduce_mean(shape, axis=1, keepdims=True))[:, :, tf.newaxis, tf.newaxis]
        jitter = tf.random.stateless_gamma(tf.shape(power), sub(10), alpha=2.0) / 2.0  # chi-squared, 4 dof, mean 1
        noise_level = signal * 10.0 ** (-snr_db / 10.0) * _chance(sub(11), batch, params.p_noise)
        power = power + noise_level[:, tf.newaxis, tf.newaxis, tf.newaxis] * shape * jitter
    return tf.math.log(tf.sqrt(power) + log_offset)
