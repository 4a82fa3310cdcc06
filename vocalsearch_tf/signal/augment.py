"""Training-time augmentation of log-CQT batches, as in-graph ops.

Real recordings and real voices differ from the embedded data in ways a listener ignores:
level, microphone and room colouring, reverberation, background noise, a singer's key and
tempo. Each of those is a cheap operation on IMINET's log-CQT (one bin per semitone) or on
its power, so the pair pipeline applies them to every training batch, each example with
its own draw:

- pitch shift: whole bins (semitones) up or down, the vacated bins at the floor;
- pitch scale (off unless asked for): the bins stretched or squeezed about a pivot, as a
  voice that squeezes a sound's range into its own (interpolated, outside at the floor);
- time stretch: the frame axis resampled linearly, the end cut or padded with silence;
- time shift: a later or earlier start, as a person who reacts late or a clip cut tight;
- gain and EQ: a level and a smooth random curve over the bins, in dB;
- reverberation: the power spectrogram smeared by an exponential decay over frames;
- noise: a pink-ish floor at a random signal-to-noise ratio, with chi-squared jitter.

Draws are stateless, seeded per batch, so a training run is repeatable. `augment_aisfx` applies
the same operations to the aisfx encoder's normalised log-mel (`models.aisfx.AisfxLogMel`).
"""

from __future__ import annotations

import math

import tensorflow as tf

from vocalsearch_tf.config import AisfxLogMelParams, AugmentationParams


def _uniform(seed, shape, low, high):
    return tf.random.stateless_uniform(shape, seed, low, high)


def _chance(seed, batch, probability):
    return tf.cast(_uniform(seed, [batch], 0.0, 1.0) < probability, tf.float32)


def pitch_shift(x, shifts):
    """Shift each example's bins by an integer `shifts[b]` (up = positive), filling the
    vacated bins with the floor value of `x` (a log-CQT)."""
    bins = tf.shape(x)[1]
    source = tf.range(bins)[tf.newaxis, :] - shifts[:, tf.newaxis]  # (batch, bins)
    inside = (source >= 0) & (source < bins)
    shifted = tf.gather(x, tf.clip_by_value(source, 0, bins - 1), axis=1, batch_dims=1)
    return tf.where(inside[:, :, tf.newaxis, tf.newaxis], shifted, tf.reduce_min(x))


def pitch_scale(x, scales, pivots):
    """Scale each example's bins about bin `pivots[b]` by `scales[b]` (< 1 squeezes the
    spectrum towards the pivot), linearly interpolated; bins read from outside at the floor."""
    bins = tf.shape(x)[1]
    out = tf.cast(tf.range(bins), tf.float32)[tf.newaxis, :]
    position = pivots[:, tf.newaxis] + (out - pivots[:, tf.newaxis]) / scales[:, tf.newaxis]  # (batch, bins)
    left = tf.floor(position)
    weight = (position - left)[:, :, tf.newaxis, tf.newaxis]
    left = tf.cast(left, tf.int32)
    read = lambda k: tf.gather(x, tf.clip_by_value(k, 0, bins - 1), axis=1, batch_dims=1)  # noqa: E731
    scaled = read(left) * (1 - weight) + read(left + 1) * weight
    inside = (position >= 0) & (position <= tf.cast(bins - 1, tf.float32))
    return tf.where(inside[:, :, tf.newaxis, tf.newaxis], scaled, tf.reduce_min(x))


# The operations over time are linear in the power spectrogram, so each is a matrix per
# example, (batch, frames, frames), applied as `power @ matrix` on every bin: one batched
# matmul for all of them, several times faster on a CPU than gathers along the frame axis.

def warp_matrix(frames, shifts, rates):
    """Output frame t reads input frame (t - shifts[b]) * rates[b], linearly interpolated:
    a later start for a positive shift, a faster tempo for a rate above 1. Frames read from
    outside the clip are silent."""
    position = (tf.cast(tf.range(frames), tf.float32)[tf.newaxis, :]
                - tf.cast(shifts, tf.float32)[:, tf.newaxis]) * rates[:, tf.newaxis]  # (batch, out)
    left = tf.floor(position)
    weight = (position - left)[:, :, tf.newaxis]
    left = tf.cast(left, tf.int32)
    reads = tf.one_hot(left, frames) * (1 - weight) + tf.one_hot(left + 1, frames) * weight  # out of range: 0
    return tf.transpose(reads, [0, 2, 1])


def reverb_matrix(frames, decays, length: int):
    """An exponentially decaying tail: y_t = sum_k w_k x_{t-k}, k < length, w_k ~ decays[b]^k,
    normalised to keep the energy."""
    weights = decays[:, tf.newaxis] ** tf.range(length, dtype=tf.float32)[tf.newaxis, :]  # (batch, length)
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)
    lag = tf.range(frames)[tf.newaxis, :] - tf.range(frames)[:, tf.newaxis]  # (in, out): t - s
    return tf.einsum("bk,kst->bst", weights, tf.one_hot(lag, length, axis=0))  # lags outside [0, length): 0


def along_time(power, matrix):
    """Apply a (batch, frames, frames) matrix to every bin of (batch, bins, frames, 1)."""
    return tf.matmul(power[..., 0], matrix)[..., tf.newaxis]


def time_shift(power, shifts):
    """Move each example's frames later by `shifts[b]` (earlier if negative); silence behind."""
    return along_time(power, warp_matrix(tf.shape(power)[2], shifts, tf.ones_like(shifts, tf.float32)))


def time_stretch(power, rates):
    """Resample each example's frames: output frame t reads input frame t * rates[b]."""
    return along_time(power, warp_matrix(tf.shape(power)[2], tf.zeros_like(rates, tf.int32), rates))


def reverberate(power, decays, length: int):
    """Add an exponentially decaying tail over frames (`reverb_matrix`)."""
    return along_time(power, reverb_matrix(tf.shape(power)[2], decays, length))


def _smooth_curves(seed, batch, bins, terms: int, depth_db: float):
    """Random smooth curves over bins in dB: a few cosines of random amplitude and phase."""
    position = tf.linspace(0.0, math.pi, bins)[tf.newaxis, tf.newaxis, :]
    order = tf.range(1, terms + 1, dtype=tf.float32)[tf.newaxis, :, tf.newaxis]
    amplitude = _uniform(tf.stack([seed[0], seed[1] + 1]), [batch, terms, 1], -1.0, 1.0) * depth_db / terms
    phase = _uniform(tf.stack([seed[0], seed[1] + 2]), [batch, terms, 1], 0.0, 2 * math.pi)
    return tf.reduce_sum(amplitude * tf.cos(order * position + phase), axis=1)  # (batch, bins)


def augment(x, seed, params: AugmentationParams, log_offset: float):
    """One augmented draw of a batch of log(|CQT| + log_offset), shape (batch, bins, frames, 1).
    `seed` is a stateless seed, shape (2,), int32/int64."""
    seed = tf.cast(seed, tf.int32)

    def sub(k):
        return tf.stack([seed[0], seed[1] * 16 + k])

    def later(k):  # draws added after the first 16, which must leave those unchanged
        return tf.stack([seed[0] + 1_000_003, seed[1] * 16 + k])

    # static sizes where known (a pipeline's batches have them), so the matrices' index
    # patterns are constants of the graph
    batch = tf.shape(x)[0]
    bins, frames = (x.shape[k] if x.shape[k] is not None else tf.shape(x)[k] for k in (1, 2))
    if params.p_pitch_shift > 0:
        shifts = tf.random.stateless_uniform([batch], sub(0), -params.max_pitch_shift, params.max_pitch_shift + 1,
                                             dtype=tf.int32)
        x = pitch_shift(x, shifts * tf.cast(_chance(sub(1), batch, params.p_pitch_shift), tf.int32))
    if params.p_pitch_scale > 0:
        scales = _uniform(later(0), [batch], params.pitch_scale[0], params.pitch_scale[1])
        scales = 1.0 + (scales - 1.0) * _chance(later(1), batch, params.p_pitch_scale)
        pivots = _uniform(later(2), [batch], 0.0, tf.cast(bins - 1, tf.float32))
        x = pitch_scale(x, scales, pivots)

    magnitude = tf.maximum(tf.exp(x) - log_offset, 0.0)
    level_db = _uniform(sub(4), [batch], -params.gain_db, params.gain_db)[:, tf.newaxis]
    if params.p_eq > 0:
        eq_db = _smooth_curves(sub(5), batch, bins, params.eq_terms, params.eq_db)
        level_db = level_db + eq_db * _chance(sub(6), batch, params.p_eq)[:, tf.newaxis]
    gain = 10.0 ** (level_db / 20.0)
    power = tf.square(magnitude * gain[:, :, tf.newaxis, tf.newaxis])

    if params.p_time_stretch > 0 or params.p_time_shift > 0:
        log_rate = _uniform(sub(2), [batch], -math.log(params.max_stretch), math.log(params.max_stretch))
        rates = tf.exp(log_rate * _chance(sub(3), batch, params.p_time_stretch))
        delays = tf.random.stateless_uniform([batch], sub(13), -params.max_advance_frames,
                                             params.max_delay_frames + 1, dtype=tf.int32)
        delays = delays * tf.cast(_chance(sub(14), batch, params.p_time_shift), tf.int32)
        power = along_time(power, warp_matrix(frames, delays, rates))
    if params.p_reverb > 0:
        decay_frames = _uniform(sub(7), [batch], params.reverb_frames[0], params.reverb_frames[1])
        wet = _chance(sub(8), batch, params.p_reverb)[:, tf.newaxis, tf.newaxis]
        tail = reverb_matrix(frames, tf.exp(-1.0 / decay_frames), params.reverb_length)
        power = along_time(power, wet * tail + (1 - wet) * tf.eye(frames)[tf.newaxis])

    if params.p_noise > 0:
        snr_db = _uniform(sub(9), [batch], params.snr_db[0], params.snr_db[1])
        signal = tf.reduce_mean(power, axis=[1, 2, 3])
        # a CQT bin's bandwidth grows with frequency: pink noise is flat here, white rises 3 dB/octave
        tilt_db = _uniform(sub(12), [batch, 1], params.noise_tilt_db[0], params.noise_tilt_db[1])
        octaves = tf.cast(tf.range(bins), tf.float32)[tf.newaxis, :] / params.bins_per_octave
        shape = 10.0 ** (tilt_db * octaves / 10.0)
        shape = (shape / tf.reduce_mean(shape, axis=1, keepdims=True))[:, :, tf.newaxis, tf.newaxis]
        # chi-squared with 4 degrees of freedom over 4 (mean 1): half a sum of two exponentials
        uniform = 1.0 - tf.random.stateless_uniform(tf.concat([[2], tf.shape(power)], 0), sub(10))  # (0, 1]
        jitter = -tf.math.log(uniform[0] * uniform[1]) / 2.0
        noise_level = signal * 10.0 ** (-snr_db / 10.0) * _chance(sub(11), batch, params.p_noise)
        power = power + noise_level[:, tf.newaxis, tf.newaxis, tf.newaxis] * shape * jitter
    return tf.math.log(tf.sqrt(power) + log_offset)


def augment_aisfx(x, seed, params: AugmentationParams, front_end: AisfxLogMelParams):
    """`augment` on a batch of aisfx log-mel blocks, s = log10(1 + c * power) / m, shape (batch,
    bands, frames, 1): turned into log magnitude, augmented, and turned back. The magnitude
    floor 1 / sqrt(c) puts log(magnitude + floor) at aisfx's own knee (power 1 / c); the
    two conversions are inverses, so with every draw switched off the input comes back (to rounding)."""
    floor = 1.0 / math.sqrt(front_end.log_scale)
    to_natural_log = front_end.norm_max * math.log(10.0)  # s * this = ln(1 + c * power)
    power = tf.math.expm1(tf.cast(x, tf.float32) * to_natural_log) / front_end.log_scale
    log_magnitude = tf.math.log(tf.sqrt(tf.maximum(power, 0.0)) + floor)
    augmented = augment(log_magnitude, seed, params, floor)
    power = tf.square(tf.maximum(tf.exp(augmented) - floor, 0.0))
    return tf.math.log1p(front_end.log_scale * power) / to_natural_log
