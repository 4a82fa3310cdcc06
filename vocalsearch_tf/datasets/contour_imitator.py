"""Vocal imitations by contour resynthesis, for the development check of transfer
(`datasets/packaged.py`): a person whistles or hums a sound's pitch contour and follows its
loudness, breathing a "shh"/"hh" where the sound has no pitch.

What it imitates is what a listener can whistle or hum back: the pitch (folded by octaves
into the performer's range, intervals compressed a little, followed late and smoothly, with
vibrato and a constant pitch error), the loudness (followed with a fast attack and a slow
release, compressed, with a short onset on each loud attack), the silences (the performer
stops when the sound stops) and the timing (a late start, a tempo of its own). Where the
sound is loud but unpitched, the performer either holds the last pitch quietly or breathes
noise band-passed around the sound's brightness. What it does not imitate: no speech, no
syllables or onomatopoeia, no vowels or formants, no timbre beyond whistle, hum and breath.

Independent of the project's other two imitation processes (`imitators.py`, eSpeak NG
onomatopoeia; `synthetic/voice.py`, a formant source-filter voice) by construction: it
imports neither and shares no code with them: its own analysis (YIN, not pYIN, with voicing
from the normalised autocorrelation at the YIN period), its own synthesis (a sinusoid whose
phase is accumulated from the f0 track, or a 1/k^2 harmonic hum low-passed like a closed
mouth) and its own recording chain (a small room, a Butterworth microphone band, a noise
floor that runs through the silences, a peak level). Deterministic from the contour, the
performer and the generator passed in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import librosa
import numpy as np
from scipy import ndimage, signal

VERSION = 2  # bumped whenever the output changes: check sets written by another are rewritten
RATE = 16_000
HOP = 160  # 10 ms frames
MAX_SECONDS = 8.0
MIN_SAMPLES = 4096  # shorter sounds are padded with silence before the analysis
STYLES = ("whistle", "hum")
VOICING = 0.5  # normalised autocorrelation at the YIN period above which a frame is pitched
UNVOICED_DB = -35.0  # frames this far under the peak are unpitched
ACTIVE_DB = -30.0  # the active region: frames above this (dB of the peak)
DT = HOP / RATE


@dataclass(frozen=True)
class Contour:
    """What can be whistled of a sound: frame-wise (10 ms) loudness and pitch."""

    envelope: np.ndarray  # linear RMS, peak 1
    f0: np.ndarray  # Hz, NaN where unpitched
    voiced: np.ndarray  # bool frames (where f0 is finite)
    centroid: float  # Hz, median spectral centroid over the active frames
    start: float  # s: the active region (above -30 dB of the peak)
    end: float


def analyse(samples: np.ndarray, rate: int) -> Contour:
    """The contour of a mono sound at any rate (analysed at 16 kHz)."""
    x = np.asarray(samples, np.float64)
    if x.ndim != 1:
        raise ValueError(f"contour analysis needs mono (1-D) samples, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("contour analysis: the sound is empty (no samples)")
    if not np.all(np.isfinite(x)):
        raise ValueError("contour analysis: the sound has NaN or infinite (non-finite) samples")
    if np.max(np.abs(x)) < 1e-6:
        raise ValueError("contour analysis: the sound is silent (peak under 1e-6)")
    if rate != RATE:
        x = signal.resample_poly(x, RATE, int(rate))
    x = np.pad(x, (0, max(0, MIN_SAMPLES - len(x))))
    rms = librosa.feature.rms(y=x, frame_length=512, hop_length=HOP)[0]
    f0 = librosa.yin(x, fmin=50, fmax=2000, sr=RATE, frame_length=2048, hop_length=HOP)
    spectrum = np.abs(librosa.stft(x, n_fft=1024, hop_length=HOP))
    centroid = librosa.feature.spectral_centroid(S=spectrum, sr=RATE)[0]
    n = min(len(rms), len(f0), len(centroid))
    envelope, f0, centroid = rms[:n] / rms.max(), f0[:n], centroid[:n]
    frames = librosa.util.frame(np.pad(x, 1024), frame_length=2048, hop_length=HOP)[:, :n]
    periodic = np.array([_periodicity(frames[:, k], RATE / f) for k, f in enumerate(f0)])
    voiced = (periodic > VOICING) & (envelope > 10 ** (UNVOICED_DB / 20))
    active = np.flatnonzero(envelope > 10 ** (ACTIVE_DB / 20))
    return Contour(envelope, np.where(voiced, f0, np.nan), voiced, float(np.median(centroid[active])),
                   active[0] * DT, (active[-1] + 1) * DT)


def _periodicity(frame: np.ndarray, period: float) -> float:
    """Normalised autocorrelation at the YIN period (best of the lags around it): 1 periodic, ~0 noise."""
    best = 0.0
    for lag in (int(np.floor(period)), int(np.ceil(period))):
        if 1 <= lag < len(frame) // 2:
            a, b = frame[:-lag], frame[lag:]
            best = max(best, float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + 1e-12)))
    return best


@dataclass(frozen=True)
class Performer:
    """One virtual person: how they whistle or hum, follow, and record."""

    style: str  # whistle | hum
    register: str  # whistle | male | female
    low: float  # MIDI: the range they whistle or hum in
    high: float
    lag: float  # s of silence before they start
    tempo: float  # speed against the sound's (>1: faster, shorter)
    smoothing: float  # s: how late and smoothly the pitch follows
    envelope_smoothing: float  # s: the release of the loudness they follow
    dynamics: float  # exponent on the envelope (<1 compresses)
    interval_scale: float  # fraction of the pitch movement reproduced (0.7-1)
    pitch_error: float  # semitones: size of their constant error (0.2-1.5)
    hold: float  # chance they hold the last pitch (rather than breathe) where the sound is unpitched
    vibrato_hz: float
    vibrato_cents: float
    breath: float  # noise fraction mixed into the tone
    room: float  # s: RT60 of their room
    highpass: float  # Hz: the microphone's band
    lowpass: float
    snr_db: float  # of the noise floor against the voice
    level_db: float  # peak level of their recordings, dBFS

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def performers(rng: np.random.Generator, count: int) -> list[Performer]:
    """`count` performers, half whistlers and half hummers (in a seeded order)."""
    styles = rng.permutation([STYLES[k % 2] for k in range(count)])
    out = []
    for style in styles:
        if style == "whistle":
            register, low = "whistle", rng.uniform(72, 79)
            high = min(96.0, low + rng.uniform(14, 20))
        else:
            register = str(rng.choice(["male", "female"]))
            low = rng.uniform(40, 46) if register == "male" else rng.uniform(50, 55)
            high = min(60.0 if register == "male" else 67.0, low + rng.uniform(12, 16))
        out.append(Performer(
            style=str(style), register=register, low=float(low), high=float(high),
            lag=float(rng.uniform(0.2, 1.2)), tempo=float(rng.uniform(0.7, 1.4)),
            smoothing=float(rng.uniform(0.03, 0.15)), envelope_smoothing=float(rng.uniform(0.05, 0.25)),
            dynamics=float(rng.uniform(0.4, 0.9)), interval_scale=float(rng.uniform(0.7, 1.0)),
            pitch_error=float(rng.uniform(0.2, 1.5)), hold=float(rng.uniform(0.0, 0.6)),
            vibrato_hz=float(rng.uniform(4.0, 6.5)), vibrato_cents=float(rng.uniform(5, 40)),
            breath=float(rng.uniform(0.03, 0.2) if style == "whistle" else rng.uniform(0.01, 0.06)),
            room=float(rng.uniform(0.05, 0.4)), highpass=float(rng.uniform(80, 300)),
            lowpass=float(rng.uniform(3500, 7500)), snr_db=float(rng.uniform(15, 40)),
            level_db=float(rng.uniform(-30, -6))))
    return out


def _follow(x: np.ndarray, attack: float, release: float) -> np.ndarray:
    """An envelope follower: rises within `attack` s, falls within `release` s."""
    up, down = np.exp(-DT / attack), np.exp(-DT / release)
    y, prev = np.empty_like(x), 0.0
    for k, v in enumerate(x):
        a = up if v > prev else down
        prev = y[k] = a * prev + (1 - a) * v
    return y


def _lagged(x: np.ndarray, seconds: float) -> np.ndarray:
    """Causal one-pole smoothing from the first value: people follow pitch late."""
    a = np.exp(-DT / seconds)
    return signal.lfilter([1 - a], [1, -a], x, zi=[a * x[0]])[0]


def _onsets(envelope: np.ndarray, first: int, last: int) -> np.ndarray:
    """Source frames in [first, last) where the sound attacks: +9 dB within 30 ms, to above -20 dB."""
    db = 20 * np.log10(np.concatenate([np.full(3, 1e-3), envelope]) + 1e-6)
    rise = (db[3:] - db[:-3] > 9) & (db[3:] > -20)
    found, kept = np.flatnonzero(rise[first:last]) + first, []
    for k in found:
        if not kept or k - kept[-1] >= 10:
            kept.append(int(k))
    return np.array(kept, int)


def _pitch(contour: Contour, who: Performer, source: np.ndarray, voiced: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    """Frame-wise MIDI pitch the performer produces on the stretched frames."""
    centre = (who.low + who.high) / 2
    if not voiced.any():
        return np.full(len(source), centre)
    held = np.where(contour.voiced, contour.f0, np.nan)  # the last pitch held through unpitched frames
    index = np.maximum.accumulate(np.where(contour.voiced, np.arange(len(held)), 0))
    held = held[index]
    held = np.where(np.isfinite(held), held, contour.f0[np.flatnonzero(contour.voiced)[0]])
    midi = np.interp(source, np.arange(len(held)), 69 + 12 * np.log2(held / 440))
    median = float(np.median(midi[voiced]))
    midi = median + who.interval_scale * (midi - median)
    midi += rng.choice([-1.0, 1.0]) * who.pitch_error * rng.uniform(0.7, 1.0)
    shifts = 12 * np.arange(-8, 9)  # the octave that keeps most of the tune inside the range
    outside = [np.sum(np.clip(midi[voiced] + s - who.high, 0, None) + np.clip(who.low - midi[voiced] - s, 0, None))
               + 1e-3 * abs(median + s - centre) for s in shifts]
    midi = midi + shifts[int(np.argmin(outside))]
    midi = np.where(midi > who.high, who.high + np.minimum(0.3 * (midi - who.high), 2), midi)  # strained ends
    midi = np.where(midi < who.low, who.low - np.minimum(0.3 * (who.low - midi), 2), midi)
    return _lagged(midi, who.smoothing)


def _band(x: np.ndarray, low: float, high: float, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, [low, min(high, 0.49 * RATE)], btype="bandpass", fs=RATE,
                                        output="sos"), x)


def imitate(contour: Contour, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """One performer's imitation of a contour: 16 kHz mono float64, peak at their level."""
    first, last = int(round(contour.start / DT)), int(round(contour.end / DT))
    tempo = who.tempo * float(rng.uniform(0.9, 1.1))
    seconds = float(np.clip((last - first) * DT / tempo, 0.15, MAX_SECONDS - 2.2))
    frames = max(2, int(round(seconds / DT)))
    source = np.linspace(first, max(last - 1, first), frames)  # source frame of each imitation frame
    nearest = np.round(source).astype(int)
    envelope = np.interp(source, np.arange(len(contour.envelope)), contour.envelope)
    pitched_sound = contour.voiced[first:last].mean() >= 0.1
    voiced = ndimage.binary_opening(contour.voiced[nearest] & pitched_sound, np.ones(3, bool))
    midi = _pitch(contour, who, source, voiced, rng)
    # loudness: they stop where the sound is silent (gaps under 120 ms bridged), follow the rest roughly
    active = np.pad(envelope > 10 ** (ACTIVE_DB / 20), 12)
    active = ndimage.binary_closing(active, np.ones(12, bool))[12:-12]
    amplitude = _follow(envelope, 0.02, who.envelope_smoothing) ** who.dynamics
    amplitude *= _lagged(np.r_[0.0, active[1:]].astype(float), 0.015)
    n = frames * HOP
    t = np.arange(n) / RATE
    per_sample = lambda v: np.interp(t / DT, np.arange(frames), v)  # noqa: E731
    hz = 440 * 2 ** ((per_sample(midi) - 69) / 12)
    hz *= 2 ** (who.vibrato_cents / 1200 * np.sin(2 * np.pi * who.vibrato_hz * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(hz) / RATE + rng.uniform(0, 2 * np.pi)
    if who.style == "whistle":
        tone = np.sin(phase)
    else:  # a hum: harmonics falling off as 1/k^2 behind closed lips, low-passed near 1 kHz ("mmm")
        tone = sum(np.sin(k * phase) / k ** 2 for k in range(1, 11))
        tone = signal.sosfilt(signal.butter(2, 1000, fs=RATE, output="sos"), tone)
    tone /= np.std(tone) + 1e-12
    centre = float(np.clip(contour.centroid, 1000, 6000))  # "shh" around the sound's brightness
    hiss = _band(rng.normal(0, 1, n), centre / 1.6, centre * 1.6)
    hiss /= np.std(hiss) + 1e-12
    hold = pitched_sound and rng.random() < who.hold  # unpitched but loud: hold the last pitch quietly
    pitched = per_sample(_lagged(voiced.astype(float), 0.02))
    unpitched = 0.35 * tone + 0.25 * hiss if hold else 0.8 * hiss
    voice = pitched * (tone + who.breath * hiss) + (1 - pitched) * unpitched
    gain = np.ones(n)  # a short onset on each loud attack: an accent, and a puff of air for a whistle
    for onset in _onsets(contour.envelope, first, last):
        at = int(np.searchsorted(source, onset) * HOP)
        span = np.arange(n - at) / RATE
        gain[at:] += 0.6 * np.exp(-span / 0.03)
        if who.style == "whistle":
            puff = min(n - at, int(0.02 * RATE))
            voice[at:at + puff] += 1.5 * hiss[at:at + puff] * np.exp(-np.arange(puff) / (0.005 * RATE))
    voice *= gain * per_sample(amplitude)
    lag = who.lag * float(rng.uniform(1.0, 1.2))
    out = np.concatenate([np.zeros(int(lag * RATE)), voice, np.zeros(int(rng.uniform(0.1, 0.6) * RATE))])
    return _record(out[:int(MAX_SECONDS * RATE)], who, rng)


def _record(x: np.ndarray, who: Performer, rng: np.random.Generator) -> np.ndarray:
    """A small room, the microphone's band, a noise floor through the silences too, a peak level."""
    length = max(2, int(who.room * RATE))
    response = rng.normal(0, 1, length) * np.exp(-6.9 * np.arange(length) / length)  # -60 dB at RT60
    response *= 0.3 / (np.sqrt(np.sum(response ** 2)) + 1e-12)
    x = _band(x + signal.fftconvolve(x, response)[:len(x)], who.highpass, who.lowpass)
    frames = librosa.feature.rms(y=x, frame_length=512, hop_length=HOP)[0]
    level = np.sqrt(np.mean(frames[frames > 0.1 * frames.max()] ** 2)) + 1e-12
    floor = _band(signal.sosfilt(signal.butter(1, 2000, fs=RATE, output="sos"), rng.normal(0, 1, len(x))),
                  who.highpass, who.lowpass)
    x = x + floor / (np.std(floor) + 1e-12) * level * 10 ** (-who.snr_db / 20)
    peak_db = min(who.level_db + float(rng.uniform(-3, 3)), -1.0)
    return x / np.max(np.abs(x)) * 10 ** (peak_db / 20)
