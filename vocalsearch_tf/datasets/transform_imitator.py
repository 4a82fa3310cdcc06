"""Transformed copies of the sound, for the development check of transfer
(`datasets/packaged.py`): the sox/ffmpeg end of imitation. A performer here is a chain that
bends the sound's pitch and tempo and re-records it the way a phone in a room would.

It keeps what a faithful imitation keeps: the sound's own timbre, rhythm and contour, moved
a few semitones, played faster or slower, band-limited (some chains through a telephone's
8 kHz rate and 8-bit mu-law), with a room's reverberation, background noise and a
soft-clipping preamp. The other processes (`imitators.py`, eSpeak NG onomatopoeia;
`contour_imitator.py`, a whistle or hum; `vocoder_imitator.py`, a voice shaped to the
spectrum) keep only what a voice can: this one bounds the check from the other side, where
an imitation is close to its sound.

Independent of the project's other imitation processes by construction: it imports none of
them and shares no code with them. Its pitch and tempo changes are librosa's phase vocoder,
its filters and resampling scipy's. Deterministic from the sound, the chain and the generator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import signal

VERSION = 1  # bumped whenever the output changes: check sets written by another are rewritten
RATE = 16_000
MAX_SECONDS = 8.0


@dataclass(frozen=True)
class Sound:
    """The sound a chain transforms: 16 kHz mono, peak 1."""

    samples: np.ndarray


def _check(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, np.float64)
    if x.ndim != 1:
        raise ValueError(f"transform analysis needs mono (1-D) samples, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("transform analysis: the sound is empty (no samples)")
    if not np.all(np.isfinite(x)):
        raise ValueError("transform analysis: the sound has NaN or infinite (non-finite) samples")
    if np.max(np.abs(x)) < 1e-6:
        raise ValueError("transform analysis: the sound is silent (peak under 1e-6)")
    return x


def analyse(samples: np.ndarray, rate: int) -> Sound:
    """The sound at 16 kHz, peak-normalised, of a mono sound at any rate."""
    x = _check(samples)
    if rate != RATE:
        x = signal.resample_poly(x, RATE, int(rate))
    return Sound(x / np.max(np.abs(x)))


@dataclass(frozen=True)
class Chain:
    """One transformation chain: how it bends the sound and how it records it."""

    semitones: float  # pitch shift
    tempo: float  # speed against the sound's
    low_cut: float  # Hz, band-pass edges of the recording
    high_cut: float
    telephone: bool  # through 8 kHz and 8-bit mu-law
    reverb_seconds: float  # RT60 of the room
    reverb_wet: float  # gain of the reverberation against the direct sound
    snr_db: float  # background noise under the sound
    drive: float  # preamp soft-clipping drive
    lag: float  # s of room tone before the sound
    level_db: float  # peak level, dBFS

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def performers(rng: np.random.Generator, count: int) -> list[Chain]:
    """`count` chains, pitch shifted down and up alternately, a third of them telephones."""
    directions = rng.permutation([(-1, 1)[k % 2] for k in range(count)])
    phones = rng.permutation([k % 3 == 0 for k in range(count)])
    return [Chain(semitones=float(direction * rng.uniform(0.5, 5.0)), tempo=float(rng.uniform(0.8, 1.25)),
                  low_cut=float(rng.uniform(80, 400)), high_cut=float(rng.uniform(2500, 7000)),
                  telephone=bool(phone), reverb_seconds=float(rng.uniform(0.1, 0.7)),
                  reverb_wet=float(rng.uniform(0.05, 0.4)), snr_db=float(rng.uniform(8, 30)),
                  drive=float(rng.uniform(1.0, 4.0)), lag=float(rng.uniform(0.05, 0.6)),
                  level_db=float(rng.uniform(-26, -4)))
            for direction, phone in zip(directions, phones)]


def _bend(x: np.ndarray, who: Chain, rng: np.random.Generator) -> np.ndarray:
    import librosa

    tempo = who.tempo * float(rng.uniform(0.95, 1.05))
    semitones = who.semitones + float(rng.uniform(-0.5, 0.5))
    x = librosa.effects.time_stretch(x, rate=tempo)
    return librosa.effects.pitch_shift(x, sr=RATE, n_steps=semitones)


def _room(x: np.ndarray, who: Chain, rng: np.random.Generator) -> np.ndarray:
    """Exponentially decaying noise as the room's tail, after the direct sound."""
    length = int(who.reverb_seconds * RATE)
    t = np.arange(length) / RATE
    tail = rng.normal(0, 1, length) * np.exp(-6.91 * t / who.reverb_seconds)
    tail *= who.reverb_wet / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    response = np.concatenate([[1.0], np.zeros(int(0.005 * RATE)), tail])
    return signal.fftconvolve(x, response)[:len(x) + length]


def _telephone(x: np.ndarray) -> np.ndarray:
    narrow = signal.resample_poly(x, 1, 2)
    peak = np.max(np.abs(narrow)) + 1e-12
    mu = 255.0
    companded = np.sign(narrow / peak) * np.log1p(mu * np.abs(narrow / peak)) / np.log1p(mu)
    quantised = np.round(companded * 127) / 127
    expanded = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu * peak
    return signal.resample_poly(expanded, 2, 1)


def _record(x: np.ndarray, who: Chain, rng: np.random.Generator) -> np.ndarray:
    """Room tone before and after, band-pass, telephone, noise, preamp and a peak level."""
    x = np.concatenate([np.zeros(int(who.lag * RATE)), x, np.zeros(int(rng.uniform(0.1, 0.4) * RATE))])
    high = min(who.high_cut, 3400.0) if who.telephone else who.high_cut
    x = signal.sosfilt(signal.butter(4, [who.low_cut, high], btype="bandpass", fs=RATE, output="sos"), x)
    if who.telephone:
        x = _telephone(x)
    power = np.mean(x[np.abs(x) > 0.05 * np.max(np.abs(x))] ** 2)
    noise = signal.lfilter([1.0], [1.0, -0.95], rng.normal(0, 1, len(x)))  # a room's low-heavy noise
    x = x + noise / np.std(noise) * np.sqrt(power * 10 ** (-who.snr_db / 10))
    x = x / np.max(np.abs(x))
    x = np.tanh(who.drive * x) / np.tanh(who.drive)
    peak_db = min(who.level_db + float(rng.uniform(-2, 2)), -1.0)
    return x / np.max(np.abs(x)) * 10 ** (peak_db / 20)


def imitate(sound: Sound, who: Chain, rng: np.random.Generator) -> np.ndarray:
    """One chain's copy of the sound: 16 kHz mono float64, at most 8 s, peak at its level."""
    bent = _bend(sound.samples, who, rng)
    if np.max(np.abs(bent)) < 1e-9:
        raise ValueError("transform imitation came out silent")
    out = _record(_room(bent, who, rng), who, rng)
    return out[:int(MAX_SECONDS * RATE)]
