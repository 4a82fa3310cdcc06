"""Vocal imitations by a vocal-tract vocoder, for the development check of transfer
(`datasets/packaged.py`): a person shapes their mouth to the sound's spectrum as it moves,
voicing it where the sound is tonal and breathing it where it is noisy.

What it imitates is the sound's coarse spectral envelope over time, squeezed into what a
vocal tract can shape: the sound's 60 Hz - 8 kHz axis warped onto the performer's 120 Hz -
5.5 kHz, smoothed across frequency to a few resonances (a cepstral lifter whose length is
the performer's articulation), followed late in time, its level range compressed. The
source is the performer's own: a glottal pulse train whose pitch moves as the sound's
strongest low partial does (as closely as the performer follows), around the middle of
their vocal range and clipped to it, where the sound is tonal, and breath noise where it
is noisy (its periodicity against the performer's own threshold). What it
does not imitate: no words or syllables, no whistle, no pitch beyond the vocal range.

Independent of the project's other imitation processes (`imitators.py`, eSpeak NG
onomatopoeia; `contour_imitator.py`, a whistle or hum of the pitch contour;
`synthetic/voice.py`, the embedded data's formant voice) by construction: it imports none of
them and shares no code with them (its input checks, too, are its own). Its analysis is a
scipy STFT (band envelope, a windowed autocorrelation's periodicity, a harmonic-product-
spectrum pitch), its synthesis is the source's STFT shaped frame by frame and inverted, and
its recording chain is its own (a few early reflections, mains hum, a soft-clipping preamp).
Deterministic from the analysis, the performer and the generator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import fft, signal

VERSION = 1  # bumped whenever the output changes: check sets written by another are rewritten
RATE = 16_000
FRAME = 512  # 32 ms analysis and synthesis frames
HOP = 128  # 8 ms
DT = HOP / RATE
MAX_SECONDS = 8.0
SOURCE_BAND = (60.0, 7900.0)  # Hz of the sound's spectrum that is imitated
ACTIVE_DB = -35.0  # frames this far under the loudest are silent: the performer stops
FLOOR_DB = -60.0
_FREQS = np.fft.rfftfreq(FRAME, 1 / RATE)


@dataclass(frozen=True)
class Spectrogram:
    """What a vocal tract can follow of a sound: its frame-wise spectrum, noisiness and partial."""

    log_power: np.ndarray  # (frames, bins) dB, peak 0
    loudness: np.ndarray  # (frames,) dB, peak 0
    periodicity: np.ndarray  # (frames,) windowed autocorrelation peak at 70-1000 Hz periods: 1 tonal, ~0 noise
    partial: np.ndarray  # (frames,) Hz of the strongest low partial (harmonic product spectrum)
    start: int  # frames: the active region
    end: int


def _check(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, np.float64)
    if x.ndim != 1:
        raise ValueError(f"vocoder analysis needs mono (1-D) samples, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("vocoder analysis: the sound is empty (no samples)")
    if not np.all(np.isfinite(x)):
        raise ValueError("vocoder analysis: the sound has NaN or infinite (non-finite) samples")
    if np.max(np.abs(x)) < 1e-6:
        raise ValueError("vocoder analysis: the sound is silent (peak under 1e-6)")
    return x


def analyse(samples: np.ndarray, rate: int) -> Spectrogram:
    """The spectrogram a performer follows, of a mono sound at any rate (analysed at 16 kHz)."""
    x = _check(samples)
    if rate != RATE:
        x = signal.resample_poly(x, RATE, int(rate))
    x = np.pad(x, (0, max(0, 4 * FRAME - len(x))))
    _, _, spectrum = signal.stft(x, RATE, window="hann", nperseg=FRAME, noverlap=FRAME - HOP)
    power = np.abs(spectrum.T) ** 2 + 1e-12
    band = (_FREQS >= SOURCE_BAND[0]) & (_FREQS <= SOURCE_BAND[1])
    total = power[:, band].sum(axis=1)
    loudness = 10 * np.log10(total / total.max())
    log_power = 10 * np.log10(power / power.max())
    active = np.flatnonzero(loudness > ACTIVE_DB)
    return Spectrogram(log_power, loudness, _periodicity(power), _partials(power), int(active[0]),
                       int(active[-1]) + 1)


def _periodicity(power: np.ndarray) -> np.ndarray:
    """Each frame's autocorrelation (from its power spectrum, unbiased by the window's own),
    normalised, at its best lag among the periods of 70-1000 Hz."""
    window = np.fft.irfft(np.abs(np.fft.rfft(signal.get_window("hann", FRAME), 2 * FRAME)) ** 2)[:FRAME]
    lags = np.arange(RATE // 1000, RATE // 70)
    padded = np.fft.irfft(power, n=2 * (power.shape[1] - 1), axis=1)[:, :FRAME]
    r = padded[:, lags] / padded[:, :1] * (window[0] / window[lags])
    return np.clip(r.max(axis=1), 0.0, 1.0)


def _partials(power: np.ndarray) -> np.ndarray:
    """Harmonic product spectrum over 3 harmonics, its peak in 70-1000 Hz, per frame."""
    magnitude = np.sqrt(power)
    product = magnitude.copy()
    for h in (2, 3):
        decimated = magnitude[:, ::h]
        product[:, :decimated.shape[1]] *= decimated
        product[:, decimated.shape[1]:] = 0
    search = (_FREQS >= 70) & (_FREQS <= 1000)
    return _FREQS[search][np.argmax(product[:, search], axis=1)]


@dataclass(frozen=True)
class Performer:
    """One virtual person: their voice, how they shape and follow a sound, and their recording."""

    register: str  # male | female
    low: float  # MIDI: their vocal range
    high: float
    warp_low: float  # Hz: where the sound's 60 Hz lands in their mouth
    warp_high: float  # Hz: where its 7.9 kHz lands
    articulation: int  # cepstral coefficients kept: how many resonances they shape
    follow: float  # s: how late the spectrum is followed
    dynamics: float  # fraction of the level range reproduced
    voicing: float  # periodicity under which they breathe instead of voice
    pitch_follow: float  # fraction of the partial's movement they sing (0: a monotone)
    jitter: float  # relative f0 jitter of the pulse train
    tilt: float  # one-pole coefficient of the glottal spectral tilt
    lag: float  # s before they start
    tempo: float  # speed against the sound's
    reflection: float  # gain of the early reflections
    hum_db: float  # mains hum against the voice
    drive: float  # preamp soft-clipping drive
    level_db: float  # peak level, dBFS

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def performers(rng: np.random.Generator, count: int) -> list[Performer]:
    """`count` performers, male and female voices alternating in a seeded order."""
    registers = rng.permutation([("male", "female")[k % 2] for k in range(count)])
    out = []
    for register in registers:
        low = rng.uniform(40, 45) if register == "male" else rng.uniform(50, 56)
        out.append(Performer(
            register=str(register), low=float(low), high=float(low + rng.uniform(14, 20)),
            warp_low=float(rng.uniform(120, 260)), warp_high=float(rng.uniform(3000, 5500)),
            articulation=int(rng.integers(6, 19)), follow=float(rng.uniform(0.02, 0.09)),
            dynamics=float(rng.uniform(0.4, 0.8)), voicing=float(rng.uniform(0.4, 0.7)),
            pitch_follow=float(rng.uniform(0.0, 1.0)), jitter=float(rng.uniform(0.005, 0.03)),
            tilt=float(rng.uniform(0.6, 0.95)), lag=float(rng.uniform(0.15, 1.0)), tempo=float(rng.uniform(0.75, 1.3)),
            reflection=float(rng.uniform(0.1, 0.5)), hum_db=float(rng.uniform(-45, -25)),
            drive=float(rng.uniform(1.0, 4.0)), level_db=float(rng.uniform(-28, -4))))
    return out


def _warp(log_power: np.ndarray, who: Performer) -> np.ndarray:
    """Each frame's dB spectrum on the performer's bins: the sound's band squeezed onto theirs (log-linear)."""
    ratio = np.log(SOURCE_BAND[1] / SOURCE_BAND[0]) / np.log(who.warp_high / who.warp_low)
    voiced_bins = np.clip(_FREQS, who.warp_low, who.warp_high)
    source_hz = SOURCE_BAND[0] * np.exp(np.log(voiced_bins / who.warp_low) * ratio)
    warped = np.stack([np.interp(source_hz, _FREQS, frame) for frame in log_power])
    outside = (_FREQS < who.warp_low) | (_FREQS > who.warp_high)
    return np.where(outside, warped - 30.0, warped)  # a mouth radiates little outside its band


def _lifter(warped_db: np.ndarray, coefficients: int) -> np.ndarray:
    """Smooth each frame across frequency to its first `coefficients` cepstral terms."""
    cepstrum = fft.dct(warped_db, type=2, norm="ortho", axis=1)
    cepstrum[:, coefficients:] = 0
    return fft.idct(cepstrum, type=2, norm="ortho", axis=1)


def _smooth(x: np.ndarray, seconds: float) -> np.ndarray:
    """Causal one-pole smoothing along frames, from the first frame's value."""
    a = np.exp(-DT / seconds)
    return signal.lfilter([1 - a], [1, -a], x, axis=0, zi=a * x[:1])[0]


def _pitch(partial: np.ndarray, who: Performer) -> np.ndarray:
    """MIDI pitch per frame: the partial's movement, scaled, around the middle of their range."""
    midi = 69 + 12 * np.log2(partial / 440)
    centre = (who.low + who.high) / 2
    sung = centre + who.pitch_follow * (midi - np.median(midi))
    return np.clip(sung, who.low, who.high)


def _source(midi: np.ndarray, noisy: np.ndarray, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """Glottal pulses at the frame pitches where voiced, breath where noisy; one sample per output sample."""
    n = len(midi) * HOP
    at = np.arange(n) / HOP
    hz = 440 * 2 ** ((np.interp(at, np.arange(len(midi)), midi) - 69) / 12)
    hz *= 1 + who.jitter * signal.lfilter([0.02], [1, -0.98], rng.normal(0, 1, n)) * 7
    phase = np.cumsum(hz) / RATE + rng.uniform()
    pulses = signal.lfilter([1 - who.tilt], [1, -who.tilt], signal.sawtooth(2 * np.pi * phase, 0.9))
    pulses /= np.std(pulses) + 1e-12
    breath = rng.normal(0, 1, n)
    mix = np.interp(at, np.arange(len(noisy)), noisy.astype(float))
    return (1 - mix) * pulses + mix * 0.7 * breath


def imitate(sound: Spectrogram, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """One performer's imitation: 16 kHz mono float64, peak at their level."""
    tempo = who.tempo * float(rng.uniform(0.9, 1.1))
    span = sound.end - sound.start
    frames = int(np.clip(round(span / tempo), 20, (MAX_SECONDS - 2.0) / DT))
    source_frame = np.linspace(sound.start, sound.end - 1, frames)
    nearest = np.round(source_frame).astype(int)
    shape = _smooth(_lifter(_warp(sound.log_power[nearest], who), who.articulation), who.follow)
    loudness = _smooth(sound.loudness[nearest], who.follow)
    noisy = _smooth((sound.periodicity[nearest] < who.voicing).astype(float), 0.03)
    level = who.dynamics * np.maximum(loudness, FLOOR_DB)
    envelope_db = shape - shape.max(axis=1, keepdims=True) + level[:, None]
    gain = 10 ** (envelope_db / 20) * (loudness > ACTIVE_DB)[:, None]
    excitation = _source(_smooth(_pitch(sound.partial[nearest], who), 0.05), noisy, who, rng)
    _, _, spectrum = signal.stft(excitation, RATE, window="hann", nperseg=FRAME, noverlap=FRAME - HOP)
    spectrum = spectrum[:, :frames] * gain.T[:, :spectrum.shape[1]]
    _, voice = signal.istft(spectrum, RATE, window="hann", nperseg=FRAME, noverlap=FRAME - HOP)
    lag = np.zeros(int(who.lag * float(rng.uniform(1.0, 1.3)) * RATE))
    out = np.concatenate([lag, voice, np.zeros(int(rng.uniform(0.1, 0.5) * RATE))])
    return _record(out[:int(MAX_SECONDS * RATE)], who, rng)


def _record(x: np.ndarray, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """Early reflections, mains hum, a soft-clipping preamp and a peak level."""
    if np.max(np.abs(x)) < 1e-9:
        raise ValueError("vocoder imitation came out silent: the sound has no active frames")
    delays = rng.integers(int(0.003 * RATE), int(0.03 * RATE), 4)
    taps = np.zeros(int(delays.max()) + 1)
    taps[0] = 1.0
    taps[delays] += who.reflection * rng.uniform(0.3, 1.0, 4) * rng.choice([-1, 1], 4)
    x = signal.lfilter(taps, [1.0], x)
    x = x / np.max(np.abs(x))
    t = np.arange(len(x)) / RATE
    mains = float(rng.choice([50.0, 60.0]))
    x = x + 10 ** (who.hum_db / 20) * (np.sin(2 * np.pi * mains * t) + 0.3 * np.sin(6 * np.pi * mains * t))
    x = x + 10 ** (-50 / 20) * rng.normal(0, 1, len(x))
    x = np.tanh(who.drive * x) / np.tanh(who.drive)
    peak_db = min(who.level_db + float(rng.uniform(-2, 2)), -1.0)
    return x / np.max(np.abs(x)) * 10 ** (peak_db / 20)
