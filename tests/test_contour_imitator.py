"""The contour imitator: a whistle or hum follows the sound's pitch and loudness."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from vocalsearch_tf.datasets import contour_imitator as ci

RATE = 44_100


def glide(seconds=2.0):
    """A tone gliding up an octave, 440 Hz to 880 Hz."""
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * np.cumsum(440 * 2 ** (t / seconds)) / RATE)


def frame_rms(y):
    return librosa.feature.rms(y=y, frame_length=512, hop_length=ci.HOP)[0]


def loud_frames(y):
    envelope = frame_rms(y)
    return envelope > 0.3 * envelope.max()


def midi_track(y):
    f0 = librosa.yin(y, fmin=60, fmax=3000, sr=ci.RATE, frame_length=2048, hop_length=ci.HOP)
    on = loud_frames(y)
    n = min(len(f0), len(on))
    return 69 + 12 * np.log2(f0[:n][on[:n]] / 440)


@pytest.fixture(scope="module")
def people():
    everyone = ci.performers(np.random.default_rng(0), 6)
    return {style: [p for p in everyone if p.style == style] for style in ci.STYLES}


@pytest.fixture(scope="module")
def glide_contour():
    return ci.analyse(glide(), RATE)


def test_performers_are_a_seeded_mix_of_whistlers_and_hummers(people):
    assert len(people["whistle"]) == len(people["hum"]) == 3
    again = ci.performers(np.random.default_rng(0), 6)
    assert again == ci.performers(np.random.default_rng(0), 6) != ci.performers(np.random.default_rng(1), 6)
    for who in again:
        low, high = (72, 96) if who.style == "whistle" else (40, 67)
        assert low <= who.low < who.high <= high
        assert who.describe()["style"] == who.style


def test_same_generator_same_imitation_another_another(people, glide_contour):
    who = people["whistle"][0]
    first = ci.imitate(glide_contour, who, np.random.default_rng(3))
    np.testing.assert_array_equal(first, ci.imitate(glide_contour, who, np.random.default_rng(3)))
    assert not np.array_equal(first, ci.imitate(glide_contour, who, np.random.default_rng(4)))


@pytest.mark.parametrize("style", ci.STYLES)
def test_a_rising_glide_is_whistled_or_hummed_rising(style, people, glide_contour):
    assert glide_contour.voiced.mean() > 0.8
    who = people[style][0]
    midi = midi_track(ci.imitate(glide_contour, who, np.random.default_rng(1)))
    quarter = len(midi) // 4
    assert np.median(midi[-quarter:]) - np.median(midi[:quarter]) > 4  # the octave glide, compressed
    assert who.low - 0.5 < np.median(midi) < who.high + 0.5  # in their range (whistle: MIDI 72-96)


def test_two_bursts_give_two_separated_loud_regions(people):
    t = np.arange(int(0.4 * RATE)) / RATE
    burst = 0.5 * np.sin(2 * np.pi * 330 * t)
    sound = np.concatenate([burst, np.zeros(int(0.8 * RATE)), burst])
    contour = ci.analyse(sound, RATE)
    for who in (people["hum"][0], people["whistle"][0]):
        loud = loud_frames(ci.imitate(contour, who, np.random.default_rng(0))).astype(int)
        starts, ends = np.flatnonzero(np.diff(loud) == 1), np.flatnonzero(np.diff(loud) == -1)
        assert len(starts) == len(ends) == 2
        assert starts[1] - ends[0] > 0.3 / ci.DT  # separated by a quiet stretch


def test_noise_is_breathed_not_whistled(people):
    noise = np.random.default_rng(0).normal(0, 0.3, RATE)
    contour = ci.analyse(noise, RATE)
    assert contour.voiced.mean() < 0.1
    tone = ci.analyse(glide(1.0), RATE)

    def flatness(y):
        flat = librosa.feature.spectral_flatness(y=y, n_fft=1024, hop_length=ci.HOP)[0]
        return float(np.median(flat[:len(loud_frames(y))][loud_frames(y)[:len(flat)]]))

    def periodicity(y):  # median over loud frames of the normalised autocorrelation peak (60-3000 Hz lags)
        frames = librosa.util.frame(y, frame_length=2048, hop_length=ci.HOP)
        frames = frames[:, loud_frames(y)[1024 // ci.HOP:][:frames.shape[1]]]
        spectrum = np.fft.rfft(frames * np.hanning(2048)[:, None], n=4096, axis=0)
        r = np.fft.irfft(np.abs(spectrum) ** 2, axis=0)
        return float(np.median(r[ci.RATE // 3000:ci.RATE // 60].max(axis=0) / r[0]))

    for who in (people["whistle"][0], people["hum"][0]):
        breathed = ci.imitate(contour, who, np.random.default_rng(0))
        sung = ci.imitate(tone, who, np.random.default_rng(0))
        assert flatness(breathed) > 10 * flatness(sung)
        assert periodicity(breathed) < 0.5 < 0.8 < periodicity(sung)  # no dominant pitch in the breath


def test_output_is_finite_mono_bounded_in_length_and_level_and_starts_late(people, glide_contour):
    long = ci.analyse(np.tile(glide(), 6), RATE)  # 12 s: the imitation is capped at 8 s
    for who in people["whistle"] + people["hum"]:
        for contour in (glide_contour, long):
            y = ci.imitate(contour, who, np.random.default_rng(5))
            assert y.ndim == 1 and y.dtype == np.float64 and np.all(np.isfinite(y))
            assert len(y) <= ci.MAX_SECONDS * ci.RATE
            assert who.level_db - 6 < 20 * np.log10(np.max(np.abs(y))) < who.level_db + 6
            envelope = frame_rms(y)
            lead = envelope[2:int(who.lag / ci.DT) - 2]  # the lag's frames (clear of the window)
            voice = envelope[loud_frames(y)]
            floor_db = 20 * np.log10(np.sqrt(np.mean(lead ** 2)) / np.sqrt(np.mean(voice ** 2)))
            assert -who.snr_db - 6 < floor_db < -who.snr_db + 3  # the noise floor only, and it is there


def test_short_sounds_are_analysed():
    contour = ci.analyse(0.5 * np.sin(2 * np.pi * 500 * np.arange(400) / RATE), RATE)
    assert contour.end > contour.start and np.all(np.isfinite(contour.envelope))
    assert np.array_equal(contour.voiced, np.isfinite(contour.f0))


def test_analysis_refuses_silent_empty_and_non_finite_sounds():
    with pytest.raises(ValueError, match="silent"):
        ci.analyse(np.zeros(RATE), RATE)
    with pytest.raises(ValueError, match="NaN"):
        ci.analyse(np.full(RATE, np.nan), RATE)
    with pytest.raises(ValueError, match="non-finite"):
        ci.analyse(np.r_[np.zeros(100), np.inf], RATE)
    with pytest.raises(ValueError, match="empty"):
        ci.analyse(np.zeros(0), RATE)
