"""Vocal imitations by contour resynthesis: a person whistles or hums a sound's pitch contour
and follows its loudness, breathing a "hhh"/"shh" where the sound has no pitch. For the
development check of transfer (`datasets/packaged.py`).

It imitates what a listener can whistle or hum: pitch (folded by octaves into the
performer's range, intervals compressed, smoothed, with vibrato and a constant error),
loudness (smoothed and compressed), timing (a late start, a tempo off by up to 40 %). It
does not speak, has no formants, and says no onomatopoeia.

Independent of the project's other two imitation processes by construction: its own
analysis (YIN, not pYIN; autocorrelation voicing), its own synthesis (a phase-accumulated
sinusoid, or a harmonic hum low-passed like a closed mouth), its own recording chain.
Deterministic from the performer and the generator passed in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import signal

VERSION = 1  # bumped whenever the output changes: check sets written by another are rewritten
RATE = 16_000
HOP = 160  # 10 ms frames
MAX_SECONDS = 8.0
STYLES = ("whistle", "hum")


@dataclass(frozen=True)
class Contour:
    """What can be whistled of a sound: frame-wise loudness and pitch."""

    envelope: np.ndarray  # linear RMS, peak 1
    f0: np.ndarray  # Hz, NaN where unpitched
    centroid: float  # Hz, median spectral centroid over the active frames
    start: float  # s: the active region (above -30 dB of the peak)
    end: float

    @property
    def voiced(self) -> np.ndarray:
        return np.isfinite(self.f0)


def analyse(samples: np.ndarray, rate: int) -> Contour:
    import librosa

    x = np.asarray(samples, np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"contour analysis needs mono samples, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("contour analysis: the sound has NaN or infinite (non-finite) samples")
    if np.max(np.abs(x)) < 1e-6:
        raise ValueError("contour analysis: the sound is silent")
    if rate != RATE:
        x = signal.resample_poly(x, RATE, rate)
    x = np.pad(x, (0, max(0, 4096 - len(x))))
    rms = librosa.feature.rms(y=x, frame_length=1024, hop_length=HOP)[0]
    envelope = rms / rms.max()
    f0 = librosa.yin(x, fmin=50, fmax=2000, sr=RATE, frame_length=2048, hop_length=HOP)
    n = min(len(envelope), len(f0))
    envelope, f0 = envelope[:n], f0[:n]
    frames = librosa.util.frame(np.pad(x, 1024), frame_length=2048, hop_length=HOP)[:, :n]
    periodic = np.array([_periodicity(frames[:, k], RATE / f) for k, f in enumerate(f0)])
    f0 = np.where((periodic > 0.5) & (envelope > 10 ** (-35 / 20)), f0, np.nan)
    active = np.flatnonzero(envelope > 10 ** (-30 / 20))
    spectrum = np.abs(librosa.stft(x, n_fft=1024, hop_length=HOP))[:, :n]
    centroid = librosa.feature.spectral_centroid(S=spectrum, sr=RATE)[0]
    return Contour(envelope, f0, float(np.median(centroid[active])), active[0] * HOP / RATE,
                   (active[-1] + 1) * HOP / RATE)


def _periodicity(frame: np.ndarray, period: float) -> float:
    """Normalised autocorrelation at the YIN period (1: periodic, 0: noise)."""
    lag = int(round(period))
    if lag < 1 or lag >= len(frame) // 2:
        return 0.0
    a, b = frame[:-lag], frame[lag:]
    return float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + 1e-12))


@dataclass(frozen=True)
class Performer:
    style: str  # whistle | hum
    low: float  # MIDI range of the performer's whistle or hum
    high: float
    lag: float  # s before the imitation starts
    tempo: float  # factor on the sound's timing
    smoothing: float  # s: how slowly the pitch follows
    envelope_smoothing: float  # s
    dynamics: float  # exponent on the envelope (<1 compresses)
    interval_scale: float  # how much of the pitch movement is reproduced
    pitch_error: float  # semitones, sd of a constant error per imitation
    vibrato_hz: float
    vibrato_cents: float
    breath: float  # noise mixed into the tone
    highpass: float  # Hz: the microphone's band
    lowpass: float
    snr_db: float
    level_db: float  # peak level of the recording, dBFS

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def performers(rng: np.random.Generator, count: int = 10) -> list[Performer]:
    out = []
    for k in range(count):
        style = STYLES[k % 2]
        low = float(rng.uniform(72, 78)) if style == "whistle" else float(rng.uniform(40, 52))
        out.append(Performer(
            style=style, low=low, high=low + float(rng.uniform(14, 20)), lag=float(rng.uniform(0.2, 1.2)),
            tempo=float(rng.uniform(0.7, 1.4)), smoothing=float(rng.uniform(0.03, 0.15)),
            envelope_smoothing=float(rng.uniform(0.05, 0.25)), dynamics=float(rng.uniform(0.4, 0.9)),
            interval_scale=float(rng.uniform(0.6, 1.0)), pitch_error=float(rng.uniform(0.2, 1.5)),
            vibrato_hz=float(rng.uniform(4.0, 6.5)), vibrato_cents=float(rng.uniform(5, 40)),
            breath=float(rng.uniform(0.02, 0.2) if style == "whistle" else rng.uniform(0.01, 0.08)),
            highpass=float(rng.uniform(80, 300)), lowpass=float(rng.uniform(3500, 7500)),
            snr_db=float(rng.uniform(15, 40)), level_db=float(rng.uniform(-30, -6))))
    return out


def _smooth(x: np.ndarray, seconds: float) -> np.ndarray:
    """One-pole smoothing, forwards then backwards (no lag drift)."""
    a = np.exp(-HOP / RATE / max(seconds, 1e-3))
    y = signal.lfilter([1 - a], [1, -a], x)
    return signal.lfilter([1 - a], [1, -a], y[::-1])[::-1]


def _pitch(contour: Contour, who: Performer, n: int, rng: np.random.Generator) -> np.ndarray:
    """Frame-wise MIDI pitch the performer produces, over the stretched active region."""
    first, last = int(contour.start * RATE / HOP), int(np.ceil(contour.end * RATE / HOP))
    f0 = contour.f0[first:last]
    frames = np.linspace(0, max(len(f0) - 1, 0), n)
    voiced = np.isfinite(f0)
    if voiced.sum() >= 2:
        midi = 69 + 12 * np.log2(np.interp(frames, np.flatnonzero(voiced), f0[voiced]) / 440)
    else:  # nothing pitched: the pitch the sound's brightness suggests
        midi = np.full(n, 69 + 12 * np.log2(np.clip(contour.centroid, 100, 4000) / 440))
    centre = (who.low + who.high) / 2
    median = float(np.median(midi))
    midi = median + who.interval_scale * (midi - median)
    midi += 12 * np.round((centre - median) / 12)  # one octave shift: the contour keeps its shape
    midi = np.clip(midi, who.low - 3, who.high + 3) + rng.normal(0, who.pitch_error)
    return _smooth(midi, who.smoothing)


def imitate(contour: Contour, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """One performer's imitation: 16 kHz mono float64, peak at the performer's level."""
    tempo = who.tempo * float(rng.uniform(0.9, 1.1))
    seconds = float(np.clip((contour.end - contour.start) * tempo, 0.15, MAX_SECONDS - 2.0))
    frames = max(2, int(seconds * RATE / HOP))
    first, last = int(contour.start * RATE / HOP), int(np.ceil(contour.end * RATE / HOP))
    source = np.linspace(first, max(last - 1, first), frames)
    envelope = np.interp(source, np.arange(len(contour.envelope)), contour.envelope)
    envelope = np.clip(_smooth(envelope, who.envelope_smoothing), 0, None) ** who.dynamics
    voiced = np.interp(source, np.arange(len(contour.f0)), contour.voiced.astype(float)) > 0.5
    midi = _pitch(contour, who, frames, rng)
    n = frames * HOP
    t = np.arange(n) / RATE
    per_sample = lambda v: np.interp(np.arange(n) / HOP, np.arange(len(v)), v)  # noqa: E731
    hz = 440 * 2 ** ((per_sample(midi) - 69) / 12)
    hz *= 2 ** (who.vibrato_cents / 1200 * np.sin(2 * np.pi * who.vibrato_hz * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(hz) / RATE
    if who.style == "whistle":
        tone = np.sin(phase)
    else:  # a hum: harmonics falling off as 1/k^2 behind closed lips (low-passed near 1 kHz)
        tone = sum(np.sin(k * phase) / k ** 2 for k in range(1, 9))
        tone = signal.sosfilt(signal.butter(2, 1000, fs=RATE, output="sos"), tone)
    tone /= np.std(tone) + 1e-12
    centre = float(np.clip(contour.centroid, 1000, 6000))
    hiss = signal.sosfilt(signal.butter(2, [centre / 1.6, min(centre * 1.6, 7900)], btype="bandpass", fs=RATE,
                                        output="sos"), rng.normal(0, 1, n))
    hiss /= np.std(hiss) + 1e-12
    pitched = per_sample(_smooth(voiced.astype(float), 0.03))
    mix = pitched * (tone + who.breath * hiss) + (1 - pitched) * 0.6 * hiss
    voice = per_sample(envelope) * mix
    fade = min(n // 4, int(0.01 * RATE))
    voice[:fade] *= np.linspace(0, 1, fade)
    voice[-fade:] *= np.linspace(1, 0, fade)
    lag = who.lag * float(rng.uniform(0.8, 1.2))
    out = np.concatenate([np.zeros(int(lag * RATE)), voice, np.zeros(int(rng.uniform(0.1, 0.6) * RATE))])
    return _record(out[:int(MAX_SECONDS * RATE)], who, rng)


def _record(x: np.ndarray, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """A microphone band, a noise floor through the silences too, a peak level."""
    x = signal.sosfilt(signal.butter(2, [who.highpass, who.lowpass], btype="bandpass", fs=RATE, output="sos"), x)
    rms = np.sqrt(np.mean(x[np.abs(x) > 0.1 * np.max(np.abs(x))] ** 2)) + 1e-12
    floor = signal.sosfilt(signal.butter(1, 3000, fs=RATE, output="sos"), rng.normal(0, 1, len(x)))
    x = x + floor / (np.std(floor) + 1e-12) * rms * 10 ** (-who.snr_db / 20)
    level = float(np.clip(who.level_db + rng.normal(0, 2.0), -35, -3))
    return x / np.max(np.abs(x)) * 10 ** (level / 20)
