"""The virtual imitators' styles: whistles, consonant attacks, syllables and the talkbox."""

import dataclasses

import librosa
import numpy as np
import pytest

from vocalsearch_tf.datasets.synthetic import voice
from vocalsearch_tf.datasets.synthetic.common import rng_for

RATE = 16_000


def tone(f0_start, f0_end, seconds=1.5, partials=(1.0, 0.5, 0.3)):
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = np.geomspace(f0_start, f0_end, len(t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    return sum(a * np.sin((k + 1) * phase) for k, a in enumerate(partials)) * np.hanning(len(t)) ** 0.1


@pytest.fixture(scope="module")
def careful():
    """A calm imitator: no lag wobble, no pitch error, a clean microphone."""
    who = voice.make_imitators(rng_for(0, "test-imitators"), 1)[0]
    return dataclasses.replace(who, lag=0.1, stretch=1.0, pitch_error=0.0, interval_compression=1.0,
                               onset_error=0.0, snr_db=60.0, band_low=60.0, band_high=7900.0,
                               noise_threshold=0.9, attack=0.0, pulse_rate=0.0, style="voice")


def pitch_track(y):
    f0, voiced, _ = librosa.pyin(y, fmin=300, fmax=3500, sr=RATE, frame_length=1024, hop_length=160)
    return f0[voiced & np.isfinite(f0)]


def test_a_whistler_follows_a_rising_sound_two_octaves_up(careful):
    contours = voice.analyse(tone(150, 300), RATE)
    y = voice.imitate(contours, dataclasses.replace(careful, style="whistle"), np.random.default_rng(0))
    f0 = pitch_track(y)
    assert len(f0) > 50
    assert 650 < np.median(f0) < 3000
    assert np.median(f0[-len(f0) // 4:]) > 1.5 * np.median(f0[: len(f0) // 4])  # an octave's rise, mostly kept


def test_consonant_attacks_put_a_burst_at_the_onsets(careful):
    hits = np.zeros(int(1.6 * RATE))
    for start in (0.1, 0.6, 1.1):  # three separate plucks
        n = int(0.3 * RATE)
        hits[int(start * RATE):int(start * RATE) + n] += tone(400, 400, 0.3) * np.exp(-np.arange(n) / (0.05 * RATE))
    contours = voice.analyse(hits, RATE)

    def high_band_energy(attack):
        who = dataclasses.replace(careful, attack=attack, consonant="t")
        y = voice.imitate(contours, who, np.random.default_rng(1))
        spectrum = np.abs(librosa.stft(y, n_fft=512, hop_length=160)) ** 2
        return spectrum[librosa.fft_frequencies(sr=RATE, n_fft=512) > 3000].sum() / spectrum.sum()

    assert high_band_energy(1.0) > 2 * high_band_energy(0.0)


def test_syllables_pulse_a_held_sound_at_the_imitators_rate(careful):
    contours = voice.analyse(tone(220, 220, 2.0), RATE)
    who = dataclasses.replace(careful, pulse_rate=5.0)
    rates = []
    for seed in range(6):  # the pulse is used in most, not all, imitations
        y = voice.imitate(contours, who, np.random.default_rng(seed))
        envelope = librosa.feature.rms(y=y, frame_length=400, hop_length=80)[0]  # 200 frames a second
        envelope = envelope[int(0.4 * 200):int(1.8 * 200)]  # the held middle of the sound
        spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
        freqs = np.fft.rfftfreq(len(envelope), 1 / 200)
        rates.append(freqs[np.argmax(spectrum * (freqs > 1.5))])
    assert sum(abs(r - 5.0) < 1.2 for r in rates) >= 3


def test_a_talkbox_voice_takes_the_sounds_spectral_shape(careful):
    dark = tone(200, 200, partials=(1.0, 0.6, 0.3, 0.1, 0.05))
    bright = tone(200, 200, partials=(0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.9, 0.8))

    def centroid(reference, style):
        who = dataclasses.replace(careful, style=style)
        y = voice.imitate(voice.analyse(reference, RATE), who, np.random.default_rng(2))
        return float(np.median(librosa.feature.spectral_centroid(y=y, sr=RATE)))

    assert centroid(bright, "talkbox") > 1.3 * centroid(dark, "talkbox")


def test_imitators_come_in_every_style(careful):
    imitators = voice.make_imitators(rng_for(0, "imitators"), 40)
    assert {w.style for w in imitators} == {"voice", "talkbox", "whistle", "whisper"}
    assert any(w.pulse_rate > 0 for w in imitators) and any(w.attack > 0.5 for w in imitators)
