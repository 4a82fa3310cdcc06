"""The vocoder imitator: a voice shaped to the sound's moving spectrum, voiced where it is
tonal and breathed where it is noisy."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from vocalsearch_tf.datasets import vocoder_imitator as vi

RATE = 44_100


def band_noise(low, high, seconds=1.5, seed=0):
    x = np.random.default_rng(seed).normal(0, 1, int(seconds * RATE))
    return 0.3 * signal.sosfilt(signal.butter(4, [low, high], btype="bandpass", fs=RATE, output="sos"), x)


def frames_of(y):
    _, _, spectrum = signal.stft(y, vi.RATE, window="hann", nperseg=vi.FRAME, noverlap=vi.FRAME - vi.HOP)
    return np.abs(spectrum.T) ** 2


def loud(power):
    total = power.sum(axis=1)
    return total > 0.1 * total.max()


def centroid(y):
    power = frames_of(y)[loud(frames_of(y))]
    freqs = np.fft.rfftfreq(vi.FRAME, 1 / vi.RATE)
    return float(np.median(power @ freqs / power.sum(axis=1)))


@pytest.fixture(scope="module")
def people():
    return vi.performers(np.random.default_rng(0), 6)


def test_performers_are_seeded_male_and_female_voices(people):
    assert sorted(p.register for p in people) == ["female"] * 3 + ["male"] * 3
    assert people == vi.performers(np.random.default_rng(0), 6) != vi.performers(np.random.default_rng(1), 6)
    for who in people:
        assert 40 <= who.low < who.high <= 76 and 120 <= who.warp_low < who.warp_high <= 5500
        assert who.describe()["register"] == who.register


def test_same_generator_same_imitation_another_another(people):
    sound = vi.analyse(band_noise(500, 1500), RATE)
    first = vi.imitate(sound, people[0], np.random.default_rng(3))
    np.testing.assert_array_equal(first, vi.imitate(sound, people[0], np.random.default_rng(3)))
    assert not np.array_equal(first, vi.imitate(sound, people[0], np.random.default_rng(4)))


def test_a_brighter_sound_gives_a_brighter_imitation(people):
    dark, bright = vi.analyse(band_noise(200, 600), RATE), vi.analyse(band_noise(3000, 6000), RATE)
    for who in people:
        assert centroid(vi.imitate(bright, who, np.random.default_rng(1))) > \
            1.3 * centroid(vi.imitate(dark, who, np.random.default_rng(1)))


def test_tones_are_voiced_and_noise_is_breathed(people):
    t = np.arange(int(1.5 * RATE)) / RATE
    tone = vi.analyse(0.5 * signal.sawtooth(2 * np.pi * 220 * t), RATE)
    noise = vi.analyse(np.random.default_rng(0).normal(0, 0.3, len(t)), RATE)
    assert np.median(tone.periodicity) > 0.9 > 0.4 > np.median(noise.periodicity)
    for who in people:
        sung = vi.analyse(vi.imitate(tone, who, np.random.default_rng(2)), vi.RATE)
        breathed = vi.analyse(vi.imitate(noise, who, np.random.default_rng(2)), vi.RATE)
        on_sung, on_breathed = sung.loudness > -15, breathed.loudness > -15
        assert np.median(sung.periodicity[on_sung]) > 0.7 > 0.5 > np.median(breathed.periodicity[on_breathed])


def test_silences_are_kept_and_the_start_is_late(people):
    burst = band_noise(800, 2000, seconds=0.4)
    sound = vi.analyse(np.concatenate([burst, np.zeros(int(0.8 * RATE)), burst]), RATE)
    for who in people:
        y = vi.imitate(sound, who, np.random.default_rng(0))
        on = loud(frames_of(y)).astype(int)
        starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
        assert len(starts) == len(ends) == 2
        assert starts[1] - ends[0] > 0.3 / vi.DT  # a quiet stretch between the two
        assert starts[0] * vi.DT > 0.9 * who.lag  # they start late


def test_output_is_finite_mono_bounded_in_length_and_level(people):
    long = vi.analyse(np.tile(band_noise(300, 3000), 8), RATE)  # 12 s: the imitation is capped at 8 s
    short = vi.analyse(0.5 * np.sin(2 * np.pi * 500 * np.arange(400) / RATE), RATE)
    for who in people:
        for sound in (long, short):
            y = vi.imitate(sound, who, np.random.default_rng(5))
            assert y.ndim == 1 and y.dtype == np.float64 and np.all(np.isfinite(y))
            assert len(y) <= vi.MAX_SECONDS * vi.RATE
            assert who.level_db - 3 < 20 * np.log10(np.max(np.abs(y))) < min(who.level_db + 3, -0.9)


def test_analysis_refuses_silent_empty_stereo_and_non_finite_sounds():
    with pytest.raises(ValueError, match="silent"):
        vi.analyse(np.zeros(RATE), RATE)
    with pytest.raises(ValueError, match="NaN"):
        vi.analyse(np.full(RATE, np.nan), RATE)
    with pytest.raises(ValueError, match="empty"):
        vi.analyse(np.zeros(0), RATE)
    with pytest.raises(ValueError, match="mono"):
        vi.analyse(np.zeros((RATE, 2)), RATE)


def test_shares_no_code_with_the_other_imitation_processes():
    tree = ast.parse(Path(vi.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.startswith("vocalsearch_tf") for name in imported), imported
