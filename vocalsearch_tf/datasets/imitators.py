"""Vocal imitations of real sounds, made by eSpeak NG saying onomatopoeia and re-shaped to
follow the sound: for the transfer check (`datasets/packaged.py`).

A process of its own, unrelated to the embedded data's voice synthesiser
(`synthetic/voice.py`): a sound is first *analysed* (`analyse`: loudness envelope, pYIN
pitch, onsets, brightness, noisiness), then each virtual participant (`participants`)
*imitates* it (`imitate`) the way people do in VocalSketch:

- **what is said** follows the sound's character: a held pitched sound is hummed or sung on
  a vowel ("ooo", "mmm", "eee", brighter sounds on brighter vowels), later notes get a soft
  consonant ("doo", "loo"); noise is a fricative chosen by brightness ("sss", "shhh",
  "fff", "hhh"), with a plosive in front after a sharp attack ("kshh", "tss"); short
  percussive sounds are a plosive and a short vowel ("tuh", "kah", "boh"), one per onset;
- **how** follows the sound: each syllable is rendered by eSpeak NG (a voice and variant
  per participant, speaking flat), then placed at the sound's onsets and stretched to its
  segments, its pitch moved along the sound's contour by TD-PSOLA, and its loudness
  multiplied by the sound's envelope;
- **imperfectly**, as people are: the pitch is folded by octaves into the participant's
  range (sometimes an octave off), pitch moves are compressed, there is a constant pitch
  error and a drift, the pitch contour is smoothed (people lag);
- **loosely in time and level**, as VocalSketch's recordings are: each imitation starts
  0.2-1.5 s late (`LAG_RANGE`), the tempo is off by 0.6-1.6x, a held sound is held partly as
  long as the participant likes (a habit of 0.5-2 s), the envelope is followed only roughly
  (smoothed by 80-300 ms, compressed, blended with the voice's own flat level, a wobble and a
  level per syllable), onsets are jittered, fast sequences get fewer syllables than onsets
  (`events`), and each participant has a recording level (peaks -35 to -3 dBFS,
  `LEVEL_RANGE`, varying by imitation), a microphone band and tilt, a room (up to 1.2 s
  RT60) and a noise floor that runs through the silence before the voice.

Deterministic from the participant and the generator passed in, whatever the process did
before: each syllable is spoken by eSpeak NG from its fresh state, in a forked child. eSpeak NG
comes inside the `espeakng-loader` wheel (a project dependency), called through
`synthetic/speech.py`'s binding.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal

# of the imitation process: a check set written by another version is rewritten. 3: each
# syllable is spoken from eSpeak NG's fresh state, so a write no longer depends on what the
# writing process said before (2 did: a fresh write and an incremental one differed)
VERSION = 3
RATE = 16_000
HOP = 160  # 10 ms analysis frames
_ESPEAK_RATE = 22_050


# --- analysis of the reference ---------------------------------------------------------------

@dataclass
class Sketch:
    """What a listener takes from a sound: frame-wise (10 ms) envelope and pitch, its events."""

    envelope: np.ndarray  # linear RMS, peak 1
    f0: np.ndarray  # Hz, NaN where unpitched
    segments: list  # [(start s, end s)]: one per onset, within the active region
    start: float  # s, first frame above the activity threshold
    end: float
    tonal: bool
    noisy: bool
    centroid: float  # Hz, median over the active frames
    percussive: bool

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.envelope)) * HOP / RATE


def analyse(samples: np.ndarray, rate: int = RATE) -> Sketch:
    import librosa

    from vocalsearch_tf.signal import audio

    x = np.asarray(audio.resample(np.asarray(samples, np.float32), rate, RATE), np.float32)
    x = np.pad(x, (0, max(0, 4096 - len(x))))
    rms = librosa.feature.rms(y=x, frame_length=512, hop_length=HOP)[0]
    envelope = rms / (rms.max() + 1e-12)
    level = 20 * np.log10(envelope + 1e-9)
    active = np.flatnonzero(level > -30)
    first, last = int(active[0]), int(active[-1])
    f0, voiced, probability = librosa.pyin(x, fmin=45, fmax=1800, sr=RATE, frame_length=2048, hop_length=HOP)
    n = len(envelope)
    f0 = np.where(voiced & (level[:len(f0)] > -30), f0, np.nan)[:n]
    f0 = np.pad(f0, (0, n - len(f0)), constant_values=np.nan)
    flatness = librosa.feature.spectral_flatness(y=x, n_fft=1024, hop_length=HOP)[0][:n]
    centroid = librosa.feature.spectral_centroid(y=x, sr=RATE, n_fft=1024, hop_length=HOP)[0][:n]
    span = slice(first, last + 1)
    voiced_fraction = float(np.mean(~np.isnan(f0[span])))
    tonal = voiced_fraction >= 0.35
    noisy = (not tonal) and float(np.median(flatness[span])) > 0.02

    strength = librosa.onset.onset_strength(y=x, sr=RATE, hop_length=HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=strength, sr=RATE, hop_length=HOP, backtrack=True,
                                        delta=0.2)
    onsets = [int(o) for o in onsets if first <= o <= last]
    merged = [first]
    for o in onsets:  # at least 80 ms apart; the first frame is always an onset
        if o - merged[-1] >= 8:
            merged.append(o)
    segments = []
    for k, o in enumerate(merged):
        stop = merged[k + 1] if k + 1 < len(merged) else last + 1
        tail = np.flatnonzero(level[o:stop] > -30)  # the segment ends where its sound fades
        segments.append((o * HOP / RATE, (o + (int(tail[-1]) + 1 if len(tail) else stop - o)) * HOP / RATE))
    duration = (last + 1 - first) * HOP / RATE
    peak = first + int(np.argmax(envelope[span]))
    decays = np.flatnonzero(level[peak:last + 1] < -20)
    percussive = duration < 0.35 or (len(decays) > 0 and decays[0] * HOP / RATE < 0.15 and len(segments) > 1)
    return Sketch(envelope.astype(np.float64), f0.astype(np.float64), segments, first * HOP / RATE,
                  (last + 1) * HOP / RATE, tonal, noisy, float(np.median(centroid[span])), bool(percussive))


# --- the virtual participants -------------------------------------------------------------

VOICES = [  # (eSpeak NG voice+variant, sex): English accents, whose phoneme tables the syllables use
    ("en+m3", "m"), ("en-us+f2", "f"), ("en-gb-scotland+m1", "m"), ("en-029+f4", "f"), ("en-us+m7", "m"),
    ("en-gb-x-rp+f3", "f"), ("en+m5", "m"), ("en-us+f5", "f"), ("en-gb-x-gbclan+m2", "m"), ("en+f1", "f"),
    ("en-gb-x-gbcwmd+m4", "m"), ("en-us+f3", "f"),
]


LAG_RANGE = (0.2, 1.5)  # s: people start late, by this much (VocalSketch's recordings)
LEVEL_RANGE = (-35.0, -3.0)  # dBFS: the peaks of their recordings
LEVEL_SPREAD = 4.0  # dB: one participant's recording level from one imitation to the next


@dataclass(frozen=True)
class Participant:
    voice: str
    sex: str
    pitch_param: int  # eSpeak NG pitch 0-99: the voice's own speaking pitch
    speed: int  # eSpeak NG words a minute
    low: float  # MIDI note range of the voice
    high: float
    care: float  # 0 careless .. 1 careful
    pitch_error: float  # semitones, constant over one imitation (drawn per imitation with this sd)
    interval_scale: float  # how much of the sound's pitch movements are reproduced
    octave_slip: float  # probability of singing an octave off the nearest fold
    lag: tuple  # s, the silence before the imitation starts: (min, max) within LAG_RANGE
    tempo: tuple  # (min, max) factor on the sound's timing
    hold: float  # s, how long the participant holds a sustained sound by habit
    conformity: float  # 0..1: how far a held sound's own length wins over the habit
    jitter: float  # s, onset timing error
    smoothing: float  # s, time constant of pitch following
    envelope_smoothing: float  # s, time constant of loudness following (rough: 80-300 ms)
    envelope_follow: float  # 0..1: weight of the sound's envelope against the voice's own flat one
    dynamics: float  # exponent on the sound's envelope (<1 compresses)
    max_events: int  # more syllables than this are not said: onsets get merged
    syllable_period: float  # s, the fastest the participant repeats a syllable
    vowels: tuple  # favourite vowels, dark to bright
    highpass: float
    lowpass: float
    tilt_db: float  # microphone/proximity: gain above ~1 kHz
    snr_db: float
    room: float  # reverberation mix
    rt60: float
    level_db: float  # the usual peak level of the participant's recordings, dBFS

    def describe(self) -> dict:
        return asdict(self)


def participants(rng: np.random.Generator, count: int = 10) -> list[Participant]:
    order = rng.permutation(len(VOICES))[:count]
    people = []
    for k in order:
        voice, sex = VOICES[int(k)]
        care = float(rng.uniform(0.2, 1.0))
        low = float(rng.uniform(40, 46) if sex == "m" else rng.uniform(52, 57))  # E2-A#2 / E3-A3
        lag_low = float(rng.uniform(LAG_RANGE[0], 0.6))
        people.append(Participant(
            voice=voice, sex=sex, pitch_param=int(rng.integers(30, 70)), speed=int(rng.integers(130, 200)),
            low=low, high=low + float(rng.uniform(17, 26)), care=care,
            pitch_error=float(rng.uniform(0.3, 1.5) + 2.5 * (1 - care)),
            interval_scale=float(rng.uniform(0.5, 0.8) + 0.2 * care),
            octave_slip=float(0.25 * (1 - care)),
            lag=(lag_low, float(rng.uniform(max(lag_low + 0.2, 0.6), LAG_RANGE[1]))),
            tempo=(float(rng.uniform(0.6, 0.95)), float(rng.uniform(1.1, 1.6))),
            hold=float(rng.uniform(0.5, 2.0)), conformity=float(rng.uniform(0.2, 0.5) + 0.3 * care),
            jitter=float(0.02 + 0.08 * (1 - care)), smoothing=float(rng.uniform(0.02, 0.06) + 0.08 * (1 - care)),
            envelope_smoothing=float(rng.uniform(0.08, 0.3)), envelope_follow=float(rng.uniform(0.5, 0.9)),
            dynamics=float(rng.uniform(0.3, 0.8)), max_events=int(rng.integers(2, 6) + round(2 * care)),
            syllable_period=float(rng.uniform(0.15, 0.35)),
            vowels=tuple(rng.choice(["u:", "o:", "O:", "A:", "a", "E", "i:", "m", "3:"], size=4, replace=False)),
            highpass=float(rng.uniform(60, 400)), lowpass=float(rng.uniform(2800, 7600)),
            tilt_db=float(rng.uniform(-6, 6)), snr_db=float(rng.uniform(15, 40)),
            room=float(rng.uniform(0.0, 0.7)), rt60=float(rng.uniform(0.2, 1.2)),
            level_db=float(rng.uniform(LEVEL_RANGE[0] + 5, LEVEL_RANGE[1] - 5)),
        ))
    return people


# --- speaking a syllable -------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def syllable(phonemes: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, float, tuple, tuple]:
    """eSpeak NG saying `phonemes` (its phoneme mnemonics) flat, at 16 kHz, silence trimmed.
    Returns (samples, its own f0 in Hz or 0, (first, last) voiced sample, (first, last)
    sample of its longest unvoiced (noise) stretch)."""
    import librosa

    from vocalsearch_tf.datasets.synthetic.speech import say_from_fresh_state
    from vocalsearch_tf.signal import audio

    raw = say_from_fresh_state(f"[[{phonemes}]]", voice, speed, pitch, 0, seed=0)
    x = audio.resample(raw.astype(np.float32), _ESPEAK_RATE, RATE).astype(np.float64)
    if not np.any(x):
        raise RuntimeError(f"eSpeak NG said nothing for [[{phonemes}]] with voice {voice}")
    x, _ = librosa.effects.trim(x, top_db=40, frame_length=512, hop_length=64)
    x = np.pad(x, (0, max(0, 1024 - len(x))))
    zcr = librosa.feature.zero_crossing_rate(x, frame_length=480, hop_length=HOP, center=False)[0]
    rms = librosa.feature.rms(y=x, frame_length=480, hop_length=HOP, center=False)[0]
    active = rms > 0.05 * rms.max()
    voiced = active & (zcr < 0.3)
    noise = active & (zcr > 0.4)

    def longest(mask):
        best, run_start = (0, 0), None
        for k, on in enumerate(list(mask) + [False]):
            if on and run_start is None:
                run_start = k
            elif not on and run_start is not None:
                best = max(best, (run_start, k), key=lambda r: r[1] - r[0])
                run_start = None
        return best[0] * HOP, min(len(x), best[1] * HOP + 480)

    v_from, v_to = longest(voiced)
    f0 = 0.0
    if v_to - v_from >= 3 * HOP + 480:
        track = librosa.yin(x[v_from:v_to], fmin=50, fmax=500, sr=RATE, frame_length=1024, hop_length=HOP)
        f0 = float(np.median(track))
    return x, f0, (v_from, v_to), longest(noise)


def psola(x: np.ndarray, f0_in: float, f0_out: np.ndarray, length: int) -> np.ndarray:
    """TD-PSOLA: `x` (a voiced sound of nearly constant pitch `f0_in`) to `length` samples
    whose pitch follows `f0_out` (Hz per output sample). Time is mapped linearly."""
    period = RATE / f0_in
    half = int(round(period))
    marks, t = [], float(np.argmax(np.abs(x[:half + 1]))) if len(x) > half else 0.0
    while t < len(x):
        lo, hi = int(max(0, t - period / 4)), int(min(len(x), t + period / 4 + 1))
        marks.append(lo + int(np.argmax(x[lo:hi])) if hi > lo else int(t))
        t = marks[-1] + period
    marks = np.array(marks)
    window = np.hanning(2 * half + 1)
    padded = np.pad(x, (half, half))
    out = np.zeros(length + 2 * half + 1)
    t = 0.0
    while t < length:
        source = t * (len(x) - 1) / max(1, length - 1)
        m = marks[int(np.argmin(np.abs(marks - source)))]
        grain = padded[m:m + 2 * half + 1] * window
        start = int(t)
        out[start:start + len(grain)] += grain
        t += RATE / max(40.0, float(f0_out[min(int(t), len(f0_out) - 1)]))
    return out[half:half + length]


def stretch_noise(x: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Overlap-add of 16 ms grains taken at jittered, linearly mapped places: an unvoiced
    sound made longer or shorter without a buzz."""
    size, hop = 256, 128
    if len(x) < size + 1:
        x = np.pad(x, (0, size + 1 - len(x)))
    window = np.hanning(size)
    out = np.zeros(length + size)
    norm = np.zeros(length + size)
    for start in range(0, length, hop):
        centre = start * (len(x) - size) / max(1, length)
        at = int(np.clip(centre + rng.integers(-hop, hop + 1), 0, len(x) - size))
        out[start:start + size] += x[at:at + size] * window
        norm[start:start + size] += window
    return (out / np.maximum(norm, 0.5))[:length]


# --- imitating --------------------------------------------------------------------------

def _midi(hz):
    return 69 + 12 * np.log2(np.asarray(hz, float) / 440.0)


def _hz(midi):
    return 440.0 * 2 ** ((np.asarray(midi, float) - 69) / 12)


def _smooth(values: np.ndarray, seconds: float, step: float) -> np.ndarray:
    """One-pole low-pass, forwards only: following lags behind the sound."""
    a = float(np.exp(-step / max(seconds, 1e-3)))
    out = np.empty_like(values)
    state = values[0]
    for k, v in enumerate(values):
        state = a * state + (1 - a) * v
        out[k] = state
    return out


def _fold(midi: np.ndarray, low: float, high: float) -> np.ndarray:
    midi = np.array(midi, float)
    while np.any(midi > high):
        midi = np.where(midi > high, midi - 12, midi)
    while np.any(midi < low):
        midi = np.where(midi < low, midi + 12, midi)
    return midi


def pitch_target(sketch: Sketch, who: Participant, rng: np.random.Generator) -> np.ndarray:
    """The sung pitch per analysis frame (MIDI), NaN outside the sound's pitched frames:
    folded into the voice's range by octaves (sometimes one off), intervals compressed,
    a constant error, a slow drift, smoothed."""
    ref = _midi(sketch.f0)
    pitched = ~np.isnan(ref)
    if not pitched.any():
        return ref
    centre = (who.low + who.high) / 2
    median = float(np.median(ref[pitched]))
    octave = 12 * np.round((median - centre) / 12)
    if rng.random() < who.octave_slip:
        octave += 12 * rng.choice([-1, 1])
    error = rng.normal(0, who.pitch_error)
    drift = np.cumsum(rng.normal(0, 0.04 * (1.5 - who.care), len(ref)))
    sung = median - octave + who.interval_scale * (ref - median) + error + drift
    filled = np.interp(np.arange(len(ref)), np.flatnonzero(pitched), sung[pitched])
    filled = _smooth(filled, who.smoothing, HOP / RATE)
    return np.where(pitched, _fold(filled, who.low, who.high + 3), np.nan)


def _choose_phonemes(sketch: Sketch, who: Participant, index: int, short: bool, rng: np.random.Generator) -> str:
    bright = sketch.centroid
    vowels = who.vowels  # dark .. bright preference order is the participant's own
    rank = int(np.clip(np.log2(max(bright, 100) / 250) / np.log2(6000 / 250) * len(vowels), 0, len(vowels) - 1))
    vowel = vowels[rank] if rng.random() < 0.8 else vowels[int(rng.integers(len(vowels)))]
    if sketch.tonal and not short:
        if index == 0:
            return vowel + "::" if vowel != "m" else "m::"
        return rng.choice(["d", "l", "n", "b"]) + (vowel if vowel != "m" else "u:") + ":"
    if sketch.noisy and not short:
        fricative = "s" if bright > 4500 else "S" if bright > 2500 else "f" if bright > 1400 else "h"
        attack = rng.choice(["k", "t", "p", ""]) if sketch.percussive or rng.random() < 0.3 else ""
        return attack + fricative + ":::"
    plosive = (rng.choice(["t", "k", "tS", "ts"]) if bright > 3000 else rng.choice(["t", "k", "p"]) if bright > 1200
               else rng.choice(["b", "d", "g", "p"]))
    if sketch.noisy and rng.random() < 0.5:
        return plosive + ("S" if bright > 2500 else "h")
    short_vowel = {"u:": "U", "o:": "0", "O:": "0", "A:": "V", "i:": "I", "m": "@", "3:": "@"}.get(vowel, vowel)
    return plosive + short_vowel


def _fricative(phonemes: str) -> bool:
    return phonemes.rstrip(":").lstrip("ktp")[-1:] in ("s", "S", "f", "h")


def events(segments: list, who: Participant) -> list:
    """The sound's segments as the participant says them: onsets closer than the
    participant's fastest syllable rate are joined, and more than `max_events` syllables
    are merged (every k-th kept, joined), so fast sequences get fewer syllables than onsets."""
    joined = []
    for start, end in segments:
        if joined and start - joined[-1][0] < who.syllable_period:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    if len(joined) > who.max_events:
        k = int(np.ceil(len(joined) / who.max_events))
        joined = [(joined[i][0], joined[min(i + k, len(joined)) - 1][1]) for i in range(0, len(joined), k)]
    return joined


def _envelope(sketch: Sketch, start: float, end: float, n: int, who: Participant,
              rng: np.random.Generator) -> np.ndarray:
    """The loudness a participant gives one syllable: the sound's envelope over the segment,
    squeezed onto the syllable, smoothed (late), compressed and only partly followed, with
    the voice's own attack, a level of its own and a slow wobble."""
    step = HOP / RATE
    frames = max(2, int(np.ceil(n / HOP)) + 1)
    source = (start + np.linspace(0, 1, frames) * (end - start)) / step
    env = np.interp(source, np.arange(len(sketch.envelope)), sketch.envelope, left=0.0, right=0.0)
    env = _smooth(env, who.envelope_smoothing, step)
    env = who.envelope_follow * np.maximum(env, 0.02) ** who.dynamics + (1 - who.envelope_follow)
    knots = rng.normal(0, 1.5, max(2, int(n / RATE / 0.25) + 2))  # dB, a knot every ~250 ms
    env *= 10 ** (np.interp(np.linspace(0, len(knots) - 1, frames), np.arange(len(knots)), knots) / 20)
    env *= 10 ** (rng.normal(0, 2.0) / 20)
    out = np.interp(np.arange(n), np.linspace(0, n, frames), env)
    attack = min(n // 3, int(rng.uniform(0.01, 0.06) * RATE))
    if attack:
        out[:attack] *= np.linspace(0, 1, attack)
    return out


def imitate(sketch: Sketch, who: Participant, rng: np.random.Generator, info: dict | None = None) -> np.ndarray:
    """One participant's imitation of an analysed sound: 16 kHz mono float64. `info`, if
    given, receives the draws (start delay, tempo, peak level, syllables)."""
    tempo = float(rng.uniform(*who.tempo))
    lag = float(rng.uniform(*who.lag))
    segments = events(sketch.segments, who)
    target = pitch_target(sketch, who, rng)
    centre = (who.low + who.high) / 2
    unpitched = centre - 3 + float(np.clip(3 * np.log2(max(sketch.centroid, 100) / 1000), -3, 6)) + rng.normal(0, 1.5)
    step = HOP / RATE
    pieces, total = [], lag
    for index, (start, end) in enumerate(segments):
        begin = lag if index == 0 else lag + tempo * (start - sketch.start) + abs(rng.normal(0, who.jitter))
        length = tempo * (end - start) * float(rng.uniform(0.8, 1.25))
        if len(segments) == 1 or end - start > 0.5:  # a held sound, held partly as long as the participant likes
            habit = who.hold * float(rng.uniform(0.7, 1.4))
            length = length ** who.conformity * habit ** (1 - who.conformity)
        length = float(np.clip(length, 0.08, 3.5))
        pieces.append((begin, length, start, end))
        total = max(total, begin + length)
    out = np.zeros(int((total + 1.5) * RATE) + RATE)
    previous_end = 0
    for index, (begin, length, start, end) in enumerate(pieces):
        short = length < 0.25 or (sketch.percussive and not sketch.tonal)
        phonemes = _choose_phonemes(sketch, who, index, short, rng)
        x, f0_natural, (voiced_from, voiced_to), (noise_from, noise_to) = syllable(
            phonemes, who.voice, who.speed, who.pitch_param)
        n = int(length * RATE)
        frames = (start + np.arange(n) / max(n, 1) * (end - start)) / step  # the contour, squeezed onto the syllable
        wanted = np.interp(frames, np.arange(len(target)), target, left=np.nan, right=np.nan)
        wanted = np.where(np.isnan(wanted), unpitched if np.all(np.isnan(wanted)) else np.nanmedian(wanted), wanted)
        if f0_natural > 0 and not _fricative(phonemes):
            head = x[:min(voiced_from, int(0.12 * RATE))]
            body = x[voiced_from:voiced_to]
            if short:  # said at its own length, its pitch moved as a whole
                body_len = min(len(body), max(int(0.06 * RATE), n - len(head)))
            else:
                body_len = max(int(0.05 * RATE), n - len(head))
            voiced = psola(body, f0_natural, _hz(wanted[len(head):len(head) + body_len]
                                                 if len(wanted) > len(head) else wanted[-1:]), body_len)
            if short:
                voiced *= np.linspace(1, 0.2, body_len) ** 2
            piece = np.concatenate([head, voiced])
        else:  # a fricative: its noise, stretched if the sound is held, a burst in front after an attack
            hiss = x[noise_from:noise_to] if noise_to - noise_from >= 256 else x
            piece = stretch_noise(hiss, max(n, int(0.08 * RATE)) if not short else min(n, len(hiss)) + 256, rng)
            if phonemes[0] in "ktp":
                burst = int(0.03 * RATE)
                piece[:burst] *= 1 + 2 * np.exp(-np.arange(burst) / (0.006 * RATE))
        piece = piece / (np.sqrt(np.mean(piece ** 2)) + 1e-9)
        piece *= _envelope(sketch, start, end, len(piece), who, rng)
        fade = min(len(piece) // 4, int(0.015 * RATE))
        if fade:
            piece[-fade:] *= np.linspace(1, 0, fade)
        at = int(begin * RATE) if index == 0 else max(int(begin * RATE), previous_end - int(0.02 * RATE))
        out[at:at + len(piece)] += piece[:len(out) - at]
        previous_end = min(len(out), at + len(piece))
    out = out[:max(previous_end, int(0.3 * RATE)) + int(rng.uniform(0.1, 1.0) * RATE)]
    level = float(np.clip(who.level_db + rng.normal(0, LEVEL_SPREAD), *LEVEL_RANGE))
    if info is not None:
        info.update(lag=lag, tempo=tempo, level_db=level, syllables=len(pieces), onsets=len(sketch.segments),
                    seconds=len(out) / RATE)
    return microphone(out, who, rng, level)


def microphone(x: np.ndarray, who: Participant, rng: np.random.Generator, level_db: float = -6.0) -> np.ndarray:
    """A room, a microphone band and tilt, a noise floor and a recording level (peak, dBFS)."""
    if who.room > 0:
        n = int(who.rt60 * RATE)
        impulse = rng.normal(0, 1, n) * np.exp(-6.9 * np.arange(n) / n)
        wet = signal.fftconvolve(x, impulse)[:len(x)]
        x = x + who.room * wet * np.sqrt(np.sum(x ** 2) / (np.sum(wet ** 2) + 1e-12))
    sos = signal.butter(2, [who.highpass, who.lowpass], btype="bandpass", fs=RATE, output="sos")
    x = signal.sosfilt(sos, x)
    low = signal.sosfilt(signal.butter(1, 1000, fs=RATE, output="sos"), x)
    x = low + 10 ** (who.tilt_db / 20) * (x - low)
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    noise = signal.sosfilt(signal.butter(1, 2000, fs=RATE, output="sos"), rng.normal(0, 1, len(x)))
    x = x + noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12) * rms * 10 ** (-who.snr_db / 20)
    return x / np.max(np.abs(x)) * 10 ** (level_db / 20)
