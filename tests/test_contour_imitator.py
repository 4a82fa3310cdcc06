"""The contour imitator: a whistle or hum follows the sound's pitch and loudness."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from vocalsearch_tf.datasets import contour_imitator as ci

RATE = 44_100


def glide(seconds=3.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * np.cumsum(440 * 2 ** (t / seconds)) / RATE)


def loud_frames(y):
    envelope = librosa.feature.rms(y=y, frame_length=1024, hop_length=ci.HOP)[0]
    return envelope > 0.3 * envelope.max()


@pytest.fixture(scope="module")
def people():
    everyone = ci.performers(np.random.default_rng(0), 6)
    return {style: [p for p in everyone if p.style == style] for style in ci.STYLES}


def test_same_generator_same_imitation_another_another(people):
    contour = ci.analyse(glide(1.5), RATE)
    who = people["whistle"][0]
    first = ci.imitate(contour, who, np.random.default_rng(3))
    np.testing.assert_array_equal(first, ci.imitate(contour, who, np.random.default_rng(3)))
    assert not np.array_equal(first, ci.imitate(contour, who, np.random.default_rng(4)))


@pytest.mark.parametrize("style", ci.STYLES)
def test_a_rising_glide_is_whistled_or_hummed_rising(style, people):
    contour = ci.analyse(glide(), RATE)
    assert contour.voiced.mean() > 0.8
    who = people[style][0]
    y = ci.imitate(contour, who, np.random.default_rng(1))
    f0 = librosa.yin(y, fmin=60, fmax=3000, sr=ci.RATE, frame_length=2048, hop_length=ci.HOP)
    on = loud_frames(y)[:len(f0)]
    midi = 69 + 12 * np.log2(f0[:len(on)][on] / 440)
    quarter = len(midi) // 4
    assert np.median(midi[-quarter:]) - np.median(midi[:quarter]) > 4  # the octave glide, compressed
    assert who.low - 4 < np.median(midi) < who.high + 4


def test_two_bursts_give_two_loud_regions(people):
    t = np.arange(int(0.4 * RATE)) / RATE
    burst = 0.5 * np.sin(2 * np.pi * 330 * t)
    sound = np.concatenate([burst, np.zeros(int(0.8 * RATE)), burst])
    y = ci.imitate(ci.analyse(sound, RATE), people["hum"][0], np.random.default_rng(0))
    loud = loud_frames(y).astype(int)
    assert np.sum(np.diff(loud) == 1) + loud[0] == 2


def test_noise_is_breathed_not_whistled(people):
    noise = np.random.default_rng(0).normal(0, 0.3, RATE)
    contour = ci.analyse(noise, RATE)
    assert contour.voiced.mean() < 0.1
    who = people["whistle"][0]
    flat = lambda y: float(np.median(librosa.feature.spectral_flatness(y=y, n_fft=1024, hop_length=ci.HOP)[0][
        loud_frames(y)]))  # noqa: E731
    breathed = ci.imitate(contour, who, np.random.default_rng(0))
    whistled = ci.imitate(ci.analyse(glide(1.0), RATE), who, np.random.default_rng(0))
    assert flat(breathed) > 20 * flat(whistled)


def test_output_is_finite_mono_bounded_in_length_and_level_and_starts_late(people):
    contour = ci.analyse(glide(), RATE)
    for who in people["whistle"] + people["hum"]:
        y = ci.imitate(contour, who, np.random.default_rng(5))
        assert y.ndim == 1 and np.all(np.isfinite(y)) and len(y) <= ci.MAX_SECONDS * ci.RATE
        assert who.level_db - 7 < 20 * np.log10(np.max(np.abs(y))) < who.level_db + 7
        lead = y[:int(0.7 * who.lag * ci.RATE)]
        assert np.max(np.abs(lead)) < 0.2 * np.max(np.abs(y))  # the noise floor only, before the voice


def test_analysis_refuses_silent_and_non_finite_sounds():
    with pytest.raises(ValueError, match="silent"):
        ci.analyse(np.zeros(RATE), RATE)
    with pytest.raises(ValueError, match="NaN"):
        ci.analyse(np.full(RATE, np.nan), RATE)
    with pytest.raises(ValueError, match="mono"):
        ci.analyse(np.zeros(0), RATE)
