"""A source-filter voice that imitates a sound the way people do.

`analyse` reads what a listener follows in a reference sound: loudness, pitch, noisiness
and brightness, frame by frame. An `Imitator` then re-enacts those contours with a
human voice: a glottal pulse train (with jitter, shimmer and aspiration) through vowel
formants chosen by the reference's brightness, or fricative noise where the reference is
noisy. Each imitator has their own voice (pitch range, vocal-tract length, breathiness),
timing (reaction lag, time-stretch, onset errors), care (contour smoothing, pitch
accuracy, interval compression) and recording chain (band-limiting, background noise).

People imitate in more than one way, so each imitator also has a style: a sung or hummed
vowel ("voice"), a whisper, a whistle, or a "talkbox" voice that shapes its vowel with the
sound's own coarse spectrum, as when someone mouths a timbre. Most start loud onsets with
a consonant ("t", "k", "p", "b"), and some pulse long sounds into syllables ("da-da-da").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import librosa
import numpy as np
from scipy import signal

from vocalsearch_tf.datasets.synthetic import dsp

RATE = 16_000  # imitations are analysed and written at 16 kHz
HOP = 160  # 10 ms contour frames

# Vowel formants (Hz, adult male; Peterson & Barney) from dark to bright.
VOWELS = np.array([
    [300, 870, 2240],   # u
    [570, 840, 2410],   # o
    [730, 1090, 2440],  # a
    [530, 1840, 2480],  # e
    [270, 2290, 3010],  # i
], dtype=float)
FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 150.0])
FORMANT_GAINS = np.array([1.0, 0.6, 0.3])
N_BANDS = 24  # mel bands of the coarse spectrum a talkbox imitator shapes its voice with
STYLES = ("voice", "voice", "voice", "voice", "talkbox", "talkbox", "whistle", "whisper")
# plosive bursts: (centre Hz, bandwidth Hz, duration s); "b" is voiced and dark
CONSONANTS = {"p": (900.0, 900.0, 0.012), "t": (4200.0, 3000.0, 0.015),
              "k": (2200.0, 1500.0, 0.02), "b": (400.0, 400.0, 0.01)}


@dataclass(frozen=True)
class Contours:
    """Frame-wise (10 ms) description of a sound, as a listener might follow it."""

    loudness_db: np.ndarray  # frame RMS in dB
    f0: np.ndarray  # Hz
    noisiness: np.ndarray  # 0 (tonal) .. 1 (noise): spectral flatness, smoothed
    brightness: np.ndarray  # spectral centroid, Hz
    bands: np.ndarray | None = None  # (frames, N_BANDS) log mel-band energies: the coarse spectrum

    @property
    def duration(self) -> float:
        return len(self.loudness_db) * HOP / RATE


def analyse(samples: np.ndarray, rate: int) -> Contours:
    """Contours of a reference sound (any rate; analysed at 16 kHz)."""
    x = librosa.resample(np.asarray(samples, np.float32), orig_sr=rate, target_sr=RATE,
                         res_type="soxr_hq") if rate != RATE else np.asarray(samples, np.float32)
    x = np.pad(x, (0, max(0, 2048 - len(x))))
    spectrum = np.abs(librosa.stft(x, n_fft=1024, hop_length=HOP)) + 1e-10
    rms = librosa.feature.rms(S=spectrum, frame_length=1024)[0]
    loudness = 20 * np.log10(rms + 1e-6)
    f0 = librosa.yin(x, fmin=60, fmax=2000, sr=RATE, frame_length=1024, hop_length=HOP)
    flatness = librosa.feature.spectral_flatness(S=spectrum)[0]
    noisiness = np.clip((np.log10(flatness) + 3.0) / 2.5, 0, 1)  # flatness 1e-3 -> 0, 0.3 -> 1
    centroid = librosa.feature.spectral_centroid(S=spectrum, sr=RATE)[0]
    bands = np.log(librosa.feature.melspectrogram(S=spectrum ** 2, sr=RATE, n_mels=N_BANDS, fmax=RATE / 2) + 1e-10).T
    n = min(len(loudness), len(f0), len(noisiness), len(centroid))
    return Contours(loudness[:n], f0[:n], noisiness[:n], centroid[:n], bands[:n])


@dataclass(frozen=True)
class Imitator:
    """One virtual participant: their voice, timing, care and microphone."""

    participant: int
    f0_low: float  # comfortable pitch range, Hz
    f0_high: float
    tract_scale: float  # formant frequencies relative to an adult male
    jitter: float  # period perturbation, fraction
    shimmer: float  # pulse amplitude perturbation, fraction
    breathiness: float  # aspiration noise relative to the voiced source
    lag: float  # reaction time before starting, s
    stretch: float  # time-stretch of the imitation
    smoothing: float  # contour simplification, s
    pitch_error: float  # systematic pitch offset spread, semitones
    interval_compression: float  # 1 = reproduces pitch excursions fully
    onset_error: float  # timing wobble, s
    noise_threshold: float  # noisiness above which they hiss instead of voicing
    dynamic_range: float  # fraction of the reference's dB range they reproduce
    snr_db: float  # background noise of their recording
    band_low: float  # microphone / channel band, Hz
    band_high: float
    style: str = "voice"  # voice | talkbox | whistle | whisper
    attack: float = 0.0  # chance that a loud onset starts with a consonant
    consonant: str = "t"  # their usual one (see CONSONANTS)
    pulse_rate: float = 0.0  # syllables per second on long sounds; 0 = held


def make_imitators(rng: np.random.Generator, count: int = 10) -> list[Imitator]:
    imitators = []
    for participant in range(count):
        female = participant % 2 == 1
        base = rng.uniform(160, 230) if female else rng.uniform(85, 130)
        imitators.append(Imitator(
            participant=participant,
            f0_low=base * 0.8, f0_high=base * rng.uniform(3.0, 4.5),
            tract_scale=rng.uniform(1.1, 1.22) if female else rng.uniform(0.92, 1.05),
            jitter=rng.uniform(0.004, 0.02), shimmer=rng.uniform(0.02, 0.1),
            breathiness=rng.uniform(0.03, 0.35),
            lag=rng.uniform(0.05, 0.35), stretch=rng.uniform(0.8, 1.25),
            smoothing=rng.uniform(0.02, 0.15), pitch_error=rng.uniform(0.3, 2.5),
            interval_compression=rng.uniform(0.35, 1.0), onset_error=rng.uniform(0.01, 0.08),
            noise_threshold=rng.uniform(0.35, 0.7), dynamic_range=rng.uniform(0.4, 0.9),
            snr_db=rng.uniform(18, 40), band_low=rng.uniform(70, 250),
            band_high=rng.uniform(3500, 7600),
        ))
    for k, who in enumerate(imitators):  # drawn after the voices, which keep their values
        child = rng.random() < 0.15
        imitators[k] = dataclasses.replace(
            who, style=str(rng.choice(STYLES)), attack=float(rng.uniform(0.0, 0.9)),
            consonant=str(rng.choice(list(CONSONANTS))),
            pulse_rate=float(rng.choice([0.0, 0.0, rng.uniform(3.0, 7.0)])),
            **({"f0_low": rng.uniform(220, 280), "f0_high": rng.uniform(700, 1000),
                "tract_scale": rng.uniform(1.25, 1.4)} if child else {}))
    return imitators


def _moving_average(x: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 1:
        return x
    kernel = np.ones(frames) / frames
    return np.convolve(np.pad(x, (frames // 2, frames - 1 - frames // 2), mode="edge"), kernel, "valid")


def _fold_into_range(f0: np.ndarray, low: float, high: float) -> np.ndarray:
    """Move each pitch by whole octaves into [low, high] (people hum 'the same note')."""
    octaves = np.ceil(np.log2(low / f0)).clip(min=0) - np.ceil(np.log2(f0 / high)).clip(min=0)
    return f0 * 2.0 ** octaves


def _performed_contours(c: Contours, who: Imitator, rng) -> tuple[np.ndarray, ...]:
    """The contours as this imitator performs them, on the imitation's frame grid."""
    n_ref = len(c.loudness_db)
    tail = rng.uniform(0.1, 0.4)
    n_out = int((who.lag + rng.uniform(-0.03, 0.05) + who.stretch * n_ref * HOP / RATE + tail) * RATE / HOP)
    t_out = np.arange(n_out) * HOP / RATE
    wobble = who.onset_error * dsp.smooth_noise(rng, n_out, RATE // HOP, 3.0)
    stretch = who.stretch * rng.uniform(0.93, 1.07)
    ref_frame = (t_out - who.lag - wobble) / stretch * RATE / HOP
    inside = (ref_frame >= 0) & (ref_frame <= n_ref - 1)
    idx = np.clip(ref_frame, 0, n_ref - 1)

    def follow(values):
        return np.interp(idx, np.arange(n_ref), values)

    smooth = max(1, int(who.smoothing * RATE / HOP * rng.uniform(0.7, 1.3)))
    loud = _moving_average(follow(c.loudness_db), smooth)
    peak = loud[inside].max() if inside.any() else loud.max()
    level_db = (loud - peak) * who.dynamic_range
    gate = (loud - peak > -45) & inside
    gain = np.where(gate, 10 ** (level_db / 20), 0.0)
    gain = _moving_average(gain, max(2, smooth // 2))

    f0 = follow(np.log2(np.clip(c.f0, 40, 4000)))
    f0 = _moving_average(f0, smooth * 2)
    centre = np.median(f0[gate]) if gate.any() else np.median(f0)
    f0 = centre + (f0 - centre) * who.interval_compression * rng.uniform(0.8, 1.1)
    f0 = 2.0 ** (f0 + (rng.normal(0, who.pitch_error) + 1.2 * dsp.smooth_noise(rng, n_out, 100, 0.7)) / 12)
    f0 = _fold_into_range(f0, who.f0_low, who.f0_high)
    f0 = 2.0 ** _moving_average(np.log2(f0), 5)  # octave jumps become glides

    noisy = _moving_average(follow(c.noisiness), smooth)
    threshold = who.noise_threshold + rng.normal(0, 0.05)
    hiss = 1 / (1 + np.exp(-(noisy - threshold) * 12))
    brightness = _moving_average(follow(np.log(np.clip(c.brightness, 100, 8000))), smooth)
    brightness = np.clip((brightness - np.log(300)) / (np.log(4000) - np.log(300)), 0, 1)
    brightness = np.clip(brightness + rng.normal(0, 0.12), 0, 1)
    bands = None
    if c.bands is not None:
        bands = np.stack([_moving_average(follow(c.bands[:, k]), smooth) for k in range(c.bands.shape[1])], 1)
    return gain, f0, hiss, brightness, bands


def _onsets(gain: np.ndarray) -> np.ndarray:
    """Frames where the performed level jumps up (a new note, hit or syllable)."""
    level = 20 * np.log10(gain + 1e-4)
    rise = level - np.concatenate([np.full(3, -80.0), level[:-3]])
    onset = (rise > 12) & (level > -30)
    return np.flatnonzero(onset & ~np.concatenate([[False], onset[:-1]]))


def _syllables(gain: np.ndarray, rate_hz: float, rng) -> np.ndarray:
    """Pulse a held sound into syllables ("da-da-da") at about `rate_hz`."""
    if rate_hz <= 0:
        return gain
    t = np.arange(len(gain)) * HOP / RATE
    phase = 2 * np.pi * rate_hz * t * (1 + 0.08 * dsp.smooth_noise(rng, len(gain), RATE // HOP, 1.0))
    return gain * (0.1 + 0.9 * (0.5 + 0.5 * np.cos(phase)) ** 1.5)


def _consonants(onsets: np.ndarray, n: int, who: Imitator, rng) -> tuple[np.ndarray, np.ndarray]:
    """Plosive bursts at some onsets, and the gain ramp of the vowel after each (its
    voice-onset time)."""
    bursts, ramp = np.zeros(n), np.ones(n)
    for frame in onsets:
        if rng.random() >= who.attack:
            continue
        name = who.consonant if rng.random() < 0.7 else str(rng.choice(list(CONSONANTS)))
        centre, width, duration = CONSONANTS[name]
        start = frame * HOP
        burst = dsp.burst(rng, RATE, duration * rng.uniform(0.8, 1.5), max(80.0, centre - width / 2),
                          min(RATE / 2 - 100, centre + width / 2), duration)
        stop = min(n, start + len(burst))
        bursts[start:stop] += burst[: stop - start] * rng.uniform(1.0, 2.5)
        vot = int(RATE * (0.005 if name == "b" else rng.uniform(0.015, 0.05)))
        ramp[start:min(n, start + vot)] = np.linspace(0, 1, vot)[: max(0, min(n, start + vot) - start)]
    return bursts, ramp


def _talkbox(carrier: np.ndarray, bands: np.ndarray, rng) -> np.ndarray:
    """Shape `carrier` with the sound's coarse spectrum (mel bands per frame)."""
    spectrum = librosa.stft(carrier, n_fft=512, hop_length=HOP)
    centres = librosa.mel_frequencies(N_BANDS + 2, fmax=RATE / 2)[1:-1]
    freqs = librosa.fft_frequencies(sr=RATE, n_fft=512)
    frames = min(spectrum.shape[1], len(bands))
    log_power = np.stack([np.interp(freqs, centres, bands[t]) for t in range(frames)], 1)
    log_power -= log_power.max(axis=0, keepdims=True)
    amplitude = np.exp(0.5 * rng.uniform(0.5, 0.9) * np.maximum(log_power, -14))  # a mouth flattens it
    shaped = spectrum[:, :frames] * amplitude
    return librosa.istft(shaped, hop_length=HOP, length=len(carrier))


def _per_sample(frames: np.ndarray, n: int) -> np.ndarray:
    return np.interp(np.arange(n) / HOP, np.arange(len(frames)), frames)


def glottal_source(f0: np.ndarray, who: Imitator, rng) -> np.ndarray:
    """Pulse train at f0 (per sample) with jitter and shimmer, shaped to a -6 dB/oct tilt."""
    period_noise = 1 + who.jitter * rng.standard_normal(len(f0))
    phase = np.cumsum(f0 * period_noise / RATE)
    pulses = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
    source = np.zeros(len(f0))
    source[pulses] = 1 + who.shimmer * rng.standard_normal(len(pulses))
    source = signal.lfilter([1.0], [1.0, -1.94, 0.9409], source)  # glottal flow: -12 dB/oct
    source = np.diff(source, prepend=0.0)  # lip radiation: +6 dB/oct
    return source / (np.std(source) + 1e-9)


def imitate(reference: Contours, who: Imitator, rng: np.random.Generator) -> np.ndarray:
    """A 16 kHz vocal imitation of the sound described by `reference`."""
    gain, f0, hiss, brightness, bands = _performed_contours(reference, who, rng)
    gain = _syllables(gain, who.pulse_rate if rng.random() < 0.7 else 0.0, rng)
    n = len(gain) * HOP
    bursts, ramp = _consonants(_onsets(gain), n, who, rng)
    gain_s, f0_s, hiss_s = (_per_sample(v, n) for v in (gain, f0, hiss))
    gain_s = gain_s * ramp
    vowel_pos = _per_sample(brightness, n) * (len(VOWELS) - 1)

    if who.style == "whisper":
        voiced = rng.standard_normal(n)
    else:
        voiced = glottal_source(f0_s, who, rng)
        voiced = voiced + who.breathiness * rng.standard_normal(n) * (1 + 0.5 * np.sign(voiced))
    formants = np.stack([np.interp(vowel_pos, np.arange(len(VOWELS)), VOWELS[:, k]) for k in range(3)])
    formants *= who.tract_scale * rng.uniform(0.95, 1.05)
    vowel = sum(
        g * dsp.time_varying_resonator(voiced, RATE, formants[k], np.full(n, FORMANT_BANDWIDTHS[k]))
        for k, g in enumerate(FORMANT_GAINS)
    )
    if who.style == "whistle":  # a whistled tone, two or three octaves above the hum
        octaves = np.round(np.log2(1400.0 / np.median(f0_s)))  # one shift: the contour keeps its shape
        tone = np.sin(dsp.phase_from_freq(np.clip(f0_s * 2.0 ** octaves, 500.0, 4000.0), RATE))
        vowel = tone + 0.08 * dsp.bandpass(rng.standard_normal(n), RATE, 500, 4000)
    # fricatives: "sss" for bright noise, "shh"/"fff" lower down, "hhh" darkest
    fricative_centre = 1200 + 5000 * _per_sample(brightness, n) ** 1.5
    fricative = dsp.time_varying_resonator(rng.standard_normal(n), RATE, fricative_centre,
                                           0.6 * fricative_centre)
    vowel /= np.std(vowel) + 1e-9
    fricative /= np.std(fricative) + 1e-9
    source = (1 - hiss_s) * vowel + hiss_s * 0.7 * fricative
    if who.style == "talkbox" and bands is not None:
        shaped = _talkbox(voiced * (1 - hiss_s) + hiss_s * rng.standard_normal(n), bands, rng)
        source = 0.35 * source + shaped / (np.std(shaped) + 1e-9)
    voice = gain_s * source + np.max(gain_s) * 0.5 * bursts / (np.std(bursts[bursts != 0]) + 1e-9 if bursts.any() else 1)

    breath = dsp.lowpass(rng.standard_normal(n), RATE, 2500) * dsp.control(
        [(0, 0), (0.02, 1), (min(0.9, who.lag * RATE / n + 0.01), 0), (1, 0)], n)
    voice = voice + 0.05 * breath
    voice = dsp.add_noise_at_snr(rng, voice, who.snr_db + rng.normal(0, 3),
                                 noise=dsp.pink_noise(rng, n))
    voice = dsp.bandpass(voice, RATE, who.band_low, who.band_high, order=3)
    return dsp.fade(dsp.normalize(voice, rng.uniform(0.3, 0.9)), RATE).astype(np.float32)
