"""Reference sounds of three VocalSketch categories: acoustic instruments, commercial
synthesizers and single-synthesizer notes. (Everyday sounds are in `everyday.py`.)

Each concept is a row of a table; `render_*` turns a row and a seeded generator into a
44.1 kHz mono clip of 1-4 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocalsearch_tf.datasets.synthetic import dsp
from vocalsearch_tf.datasets.synthetic.soundfont import DRUMS, Note, render

RATE = 44_100


@dataclass(frozen=True)
class Instrument:
    label: str
    program: int  # GM program (0-based); with bank DRUMS, the drum key
    articulation: str  # sustained | plucked | bowed | struck | roll | phrase | trill | vibrato
    low: int  # MIDI key range to draw pitches from
    high: int
    bank: int = 0


# 40 acoustic-instrument concepts (VocalSketch names many of the same instruments).
ACOUSTIC_INSTRUMENTS = [
    Instrument("piano", 0, "struck", 40, 84),
    Instrument("piano playing", 0, "phrase", 48, 84),
    Instrument("harpsichord", 6, "phrase", 48, 80),
    Instrument("celesta", 8, "struck", 60, 96),
    Instrument("orchestra bells", 9, "phrase", 72, 100),
    Instrument("music box", 10, "phrase", 67, 96),
    Instrument("vibraphone sustained", 11, "sustained", 53, 84),
    Instrument("marimba hit with a rubber mallet", 12, "struck", 45, 84),
    Instrument("xylophone", 13, "roll", 65, 96),
    Instrument("tubular bells", 14, "struck", 60, 77),
    Instrument("church organ", 19, "sustained", 36, 72),
    Instrument("accordion playing", 21, "phrase", 53, 77),
    Instrument("harmonica playing", 22, "vibrato", 60, 84),
    Instrument("guitar", 24, "plucked", 40, 76),
    Instrument("guitar playing", 25, "phrase", 40, 76),
    Instrument("bass plucked", 32, "plucked", 28, 52),
    Instrument("violin bowed", 40, "bowed", 55, 88),
    Instrument("viola bowed", 41, "bowed", 48, 79),
    Instrument("cello bowed", 42, "bowed", 36, 67),
    Instrument("bass bowed", 43, "bowed", 28, 55),
    Instrument("violin tremolo", 44, "sustained", 55, 84),
    Instrument("violin plucked", 45, "plucked", 55, 84),
    Instrument("harp playing", 46, "phrase", 43, 91),
    Instrument("timpani roll", 47, "roll", 40, 55),
    Instrument("trumpet", 56, "sustained", 55, 82),
    Instrument("trombone", 57, "vibrato", 40, 70),
    Instrument("tuba", 58, "sustained", 28, 53),
    Instrument("horn", 60, "bowed", 41, 72),
    Instrument("alto sax", 65, "vibrato", 49, 80),
    Instrument("saxophone playing", 66, "phrase", 44, 75),
    Instrument("oboe", 68, "sustained", 58, 88),
    Instrument("bassoon", 70, "sustained", 34, 65),
    Instrument("clarinet", 71, "trill", 50, 84),
    Instrument("flute", 73, "vibrato", 60, 93),
    Instrument("banjo playing", 105, "phrase", 48, 79),
    Instrument("bagpipes playing", 109, "sustained", 55, 74),
    Instrument("triangle", 81, "struck", 0, 0, bank=DRUMS),
    Instrument("tambourine shake roll", 54, "roll", 0, 0, bank=DRUMS),
    Instrument("crash cymbal hit with a stick", 49, "struck", 0, 0, bank=DRUMS),
    Instrument("guiro", 74, "roll", 0, 0, bank=DRUMS),
]


def render_instrument(row: Instrument, rng: np.random.Generator) -> np.ndarray:
    duration = rng.uniform(1.5, 3.8)
    key = int(rng.integers(row.low, row.high + 1)) if row.bank != DRUMS else row.program
    drum = row.program if row.bank == DRUMS else 0
    program = 0 if row.bank == DRUMS else row.program
    velocity = int(rng.integers(70, 120))
    blocks = int(duration * 100) + 1
    bend = expression = None
    a = row.articulation
    if a == "struck":
        notes = [Note(0.02, rng.uniform(0.3, 1.5), key, velocity)]
    elif a == "plucked":
        notes = [Note(0.02, rng.uniform(0.15, 0.6), key, velocity)]
    elif a == "sustained":
        notes = [Note(0.05, duration * rng.uniform(0.6, 0.85), key, velocity)]
    elif a == "bowed":
        notes = [Note(0.05, duration * 0.8, key, velocity)]
        expression = dsp.control([(0, 0.2), (rng.uniform(0.3, 0.6), 1.0), (1, 0.4)], blocks)
    elif a == "vibrato":
        notes = [Note(0.05, duration * 0.8, key, velocity)]
        rate, depth = rng.uniform(4.5, 6.5), rng.uniform(0.15, 0.4)
        bend = depth * np.sin(2 * np.pi * rate * np.arange(blocks) / 100) * dsp.control(
            [(0, 0), (0.3, 0), (0.6, 1), (1, 1)], blocks)
    elif a == "trill":
        step, interval = rng.uniform(0.07, 0.12), int(rng.choice([1, 2]))
        notes = [Note(0.05 + i * step, step * 0.95, key + interval * (i % 2), velocity)
                 for i in range(int(duration * 0.8 / step))]
    elif a == "roll":
        step = rng.uniform(0.05, 0.1)
        count = int(duration * rng.uniform(0.5, 0.8) / step)
        swell = dsp.control([(0, 0.5), (0.7, 1), (1, 0.8)], count)
        notes = [Note(0.02 + i * step, step, key, int(velocity * swell[i] * rng.uniform(0.85, 1)))
                 for i in range(count)]
    elif a == "phrase":
        keys = key + np.cumsum(rng.choice([-5, -3, -2, -1, 0, 2, 3, 4, 5, 7], size=int(rng.integers(3, 7))))
        times = np.cumsum(rng.choice([0.15, 0.25, 0.35, 0.5], size=len(keys)))
        notes = [Note(0.02 + t - times[0], rng.uniform(0.15, 0.5), int(np.clip(k, row.low, row.high)),
                      int(rng.integers(70, 120))) for t, k in zip(times, keys)]
        duration = max(duration, notes[-1].start + notes[-1].duration + 0.3)
    else:
        raise ValueError(f"unknown articulation {a!r}")
    if row.bank == DRUMS:
        notes = [Note(n.start, n.duration, drum, n.velocity) for n in notes]
    duration = min(duration, 4.0)
    audio = render(program, notes, duration, RATE, bank=row.bank, bend=bend, expression=expression)
    return dsp.fade(audio, RATE)


@dataclass(frozen=True)
class SynthPatch:
    label: str
    program: int  # GM synth program
    pattern: str  # held | arpeggio | chord | glide | stabs
    effect: str  # none | delay | tremolo | sweep | ring | chorus | crush | reverse | gate


# 40 commercial-synthesizer concepts: GM synth programs, playing patterns and effects.
COMMERCIAL_SYNTHS = [
    SynthPatch(label, program, pattern, effect)
    for label, program, pattern, effect in [
        ("square lead arpeggio", 80, "arpeggio", "delay"), ("saw lead glide", 81, "glide", "none"),
        ("calliope lead", 82, "held", "tremolo"), ("chiff lead stabs", 83, "stabs", "delay"),
        ("charang lead", 84, "glide", "crush"), ("voice lead", 85, "held", "chorus"),
        ("fifths lead", 86, "stabs", "sweep"), ("bass and lead", 87, "arpeggio", "none"),
        ("new age pad", 88, "chord", "sweep"), ("warm pad swell", 89, "chord", "reverse"),
        ("polysynth pad", 90, "chord", "gate"), ("choir pad", 91, "chord", "chorus"),
        ("bowed pad", 92, "held", "sweep"), ("metallic pad", 93, "chord", "ring"),
        ("halo pad", 94, "held", "delay"), ("sweep pad", 95, "chord", "sweep"),
        ("rain fx", 96, "stabs", "delay"), ("soundtrack fx", 97, "held", "reverse"),
        ("crystal fx", 98, "arpeggio", "delay"), ("atmosphere fx", 99, "chord", "chorus"),
        ("brightness fx", 100, "held", "tremolo"), ("goblins fx", 101, "glide", "ring"),
        ("echo drops fx", 102, "stabs", "delay"), ("sci-fi fx", 103, "glide", "crush"),
        ("synth bass 1 stabs", 38, "stabs", "none"), ("synth bass 2 arpeggio", 39, "arpeggio", "sweep"),
        ("synth strings 1", 50, "chord", "none"), ("synth strings 2 swell", 51, "chord", "reverse"),
        ("synth brass 1", 62, "stabs", "gate"), ("classic synth brass", 63, "chord", "sweep"),
        ("dark attack bass", 38, "held", "ring"), ("thick bass", 39, "glide", "crush"),
        ("ice synth", 98, "chord", "ring"), ("shimmer", 94, "arpeggio", "chorus"),
        ("slow warm swells", 89, "held", "tremolo"), ("synth metallic stars", 93, "arpeggio", "ring"),
        ("synth evolving lead", 81, "arpeggio", "sweep"), ("resonant clouds", 95, "held", "gate"),
        ("photon blast", 103, "stabs", "reverse"), ("freaky moonlight", 101, "held", "chorus"),
    ]
]


def _apply_effect(x: np.ndarray, effect: str, rng) -> np.ndarray:
    n = len(x)
    t = np.arange(n) / RATE
    if effect == "delay":
        d = int(rng.uniform(0.12, 0.3) * RATE)
        out = x.copy()
        for k in range(1, 4):
            out[k * d:] += (0.5 ** k) * x[: n - k * d]
        return out
    if effect == "tremolo":
        return x * (1 - 0.45 * (1 + np.sin(2 * np.pi * rng.uniform(3, 9) * t)))
    if effect == "sweep":
        cutoff = np.exp(dsp.control([(0, np.log(300)), (rng.uniform(0.3, 0.7), np.log(6000)), (1, np.log(500))], n))
        return dsp.time_varying_lowpass(x, RATE, cutoff, resonance=rng.uniform(2, 6))
    if effect == "ring":
        return x * np.sin(2 * np.pi * rng.uniform(80, 900) * t)
    if effect == "chorus":
        delay = (0.012 + 0.004 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t)) * RATE
        return x + 0.7 * np.interp(np.arange(n) - delay, np.arange(n), x)
    if effect == "crush":
        step = int(rng.integers(4, 12))
        levels = 2 ** int(rng.integers(3, 6))
        held = np.repeat(x[::step], step)[:n]
        return np.round(held / (np.max(np.abs(held)) + 1e-9) * levels) / levels
    if effect == "reverse":
        return x[::-1].copy()
    if effect == "gate":
        return x * (np.sin(2 * np.pi * rng.uniform(4, 12) * t) > 0)
    return x


def render_synth_patch(row: SynthPatch, rng: np.random.Generator) -> np.ndarray:
    duration = rng.uniform(1.5, 3.8)
    key = int(rng.integers(36 if row.program in (38, 39) else 48, 76))
    blocks = int(duration * 100) + 1
    bend = None
    if row.pattern == "held":
        notes = [Note(0.03, duration * 0.8, key)]
    elif row.pattern == "chord":
        shape = [0, 4, 7] if rng.random() < 0.5 else [0, 3, 7, 10]
        notes = [Note(0.03, duration * 0.8, key + i) for i in shape]
    elif row.pattern == "arpeggio":
        step = rng.uniform(0.08, 0.2)
        shape = [0, 4, 7, 12] if rng.random() < 0.5 else [0, 3, 7, 10, 12]
        notes = [Note(0.03 + i * step, step * 0.9, key + shape[i % len(shape)]) for i in range(int(duration * 0.85 / step))]
    elif row.pattern == "stabs":
        step = rng.uniform(0.2, 0.45)
        notes = [Note(0.03 + i * step, step * 0.4, key + int(rng.choice([0, 0, 5, 7, 12]))) for i in range(int(duration * 0.85 / step))]
    elif row.pattern == "glide":
        notes = [Note(0.03, duration * 0.85, key)]
        bend = dsp.control([(0, rng.uniform(-2, 0)), (rng.uniform(0.3, 0.7), rng.uniform(0, 2)), (1, rng.uniform(-2, 2))], blocks)
    else:
        raise ValueError(f"unknown pattern {row.pattern!r}")
    audio = render(row.program, notes, duration, RATE, bend=bend)
    return dsp.fade(_apply_effect(audio, row.effect, rng), RATE)


def render_subsynth(rng: np.random.Generator) -> np.ndarray:
    """A random preset of a small subtractive synthesizer: two oscillators and noise,
    a resonant low-pass with its own envelope, an amplitude ADSR and an LFO."""
    duration = rng.uniform(1.0, 3.5)
    n = int(duration * RATE)
    t = np.arange(n) / RATE
    f0 = 440.0 * 2 ** ((rng.integers(28, 84) - 69) / 12)
    lfo = np.sin(2 * np.pi * rng.uniform(0.3, 12) * t + rng.uniform(0, 2 * np.pi))
    lfo_target = rng.choice(["pitch", "filter", "amp", "none"])
    glide = 2 ** (dsp.control([(0, rng.choice([0, 0, -1, 1]) * rng.uniform(0, 1)), (rng.uniform(0.05, 0.5), 0), (1, 0)], n))
    freq = f0 * glide * (2 ** (0.03 * lfo * rng.uniform(0.2, 3)) if lfo_target == "pitch" else 1)
    wave = {"saw": dsp.saw, "square": dsp.square}
    mix = rng.dirichlet([1, 1, 1, 0.4])
    osc = (mix[0] * wave["saw"](freq, RATE) + mix[1] * wave["square"](freq * 2 ** (rng.choice([0, 7, 12, -12]) / 12), RATE)
           + mix[2] * np.sin(dsp.phase_from_freq(freq * rng.choice([0.5, 1, 2]), RATE))
           + mix[3] * rng.standard_normal(n) * 0.5)
    filt_env = dsp.adsr(n, RATE, rng.uniform(0.001, 0.8), rng.uniform(0.05, 1.0), rng.uniform(0, 1), rng.uniform(0.05, 0.6))
    cutoff = rng.uniform(150, 1500) + filt_env * rng.uniform(200, 9000)
    if lfo_target == "filter":
        cutoff = cutoff * 2 ** (lfo * rng.uniform(0.5, 2))
    audio = dsp.time_varying_lowpass(osc, RATE, cutoff, resonance=rng.uniform(0.7, 8))
    amp = dsp.adsr(n, RATE, rng.uniform(0.001, 0.6), rng.uniform(0.05, 1.0), rng.uniform(0.2, 1), rng.uniform(0.05, 0.8))
    if lfo_target == "amp":
        amp = amp * (1 - rng.uniform(0.3, 0.9) * (0.5 + 0.5 * lfo))
    return dsp.fade(audio * amp, RATE)
