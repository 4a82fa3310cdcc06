"""120 everyday-sound concepts from procedural models and General MIDI sound effects.

`EVERYDAY` is the table: each row names a concept, the model that makes it, and the
model's fixed settings; `render_everyday(row, rng)` draws the rest (timing, exact
pitches, levels) from the generator, so two renderings of a concept are related but not
identical. Models are physically inspired and cheap: modal synthesis for struck objects,
filtered noise for textures, pulse trains for engines and machines, pitch-contoured
harmonic tones with formants for animal calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vocalsearch_tf.datasets.synthetic import dsp
from vocalsearch_tf.datasets.synthetic.soundfont import DRUMS, Note, render

RATE = 44_100

# modal partial ratios and decay times (s) of struck materials
MATERIALS = {
    "metal": ([1.0, 2.76, 5.40, 8.93, 13.3], 1.2),
    "wood": ([1.0, 2.57, 4.10, 6.3], 0.08),
    "glass": ([1.0, 2.32, 4.25, 6.63], 0.5),
    "plastic": ([1.0, 1.86, 3.3], 0.05),
    "ceramic": ([1.0, 2.1, 3.9, 5.8], 0.25),
}


def _n(duration: float) -> int:
    return int(duration * RATE)


def strike(rng, material: str, freq: float, level: float = 1.0, decay_scale: float = 1.0) -> np.ndarray:
    """One hit: an attack noise burst plus the material's decaying modes."""
    ratios, t60 = MATERIALS[material]
    t60 = t60 * decay_scale * rng.uniform(0.7, 1.3)
    n = _n(min(4.0, t60 * 1.2 + 0.05))
    freqs = [freq * r * rng.uniform(0.98, 1.02) for r in ratios]
    amps = [rng.uniform(0.3, 1.0) / (k + 1) ** 0.5 for k in range(len(ratios))]
    modes = dsp.modal(RATE, n, freqs, [t60 / (1 + 0.5 * k) for k in range(len(ratios))], amps)
    click = dsp.burst(rng, RATE, 0.02, freq, min(12000, freq * 8), 0.01)
    return level * (modes + 0.5 * dsp.fit(click, n))


def impacts(rng, duration, material, freq, times, decay_scale=1.0, spread=0.1):
    n = _n(duration)
    return dsp.place_events(n, times, rate=RATE, make=lambda i: strike(
        rng, material, freq * rng.uniform(1 - spread, 1 + spread), rng.uniform(0.6, 1.0), decay_scale))


def model_hits(rng, material, freq, count, gap, decay=1.0, spread=0.1, jitter=0.15):
    times = 0.05 + np.cumsum(np.r_[0, gap * rng.uniform(1 - jitter, 1 + jitter, count - 1)])
    duration = min(4.0, times[-1] + MATERIALS[material][1] * decay + 0.3)
    return impacts(rng, duration, material, freq, times, decay, spread)


def model_bounce(rng, material, freq, first_gap, restitution, decay=1.0):
    gaps = first_gap * restitution ** np.arange(40)
    times = 0.05 + np.cumsum(np.r_[0, gaps[gaps > 0.012]])
    times = times[times < 3.3]
    levels = restitution ** np.arange(len(times))
    n = _n(min(4.0, times[-1] + 0.5))
    return dsp.place_events(n, times, rate=RATE, make=lambda i: levels[i] * strike(rng, material, freq, 1.0, decay))


def model_random_hits(rng, material, freq, rate_hz, duration, decay=1.0, spread=0.3):
    times = np.sort(rng.uniform(0.02, duration - 0.1, max(1, int(rate_hz * duration))))
    return impacts(rng, duration, material, freq, times, decay, spread)


def model_drips(rng, rate_hz, low, high, duration=3.0):
    n = _n(duration)
    times = np.sort(rng.uniform(0.05, duration - 0.2, max(2, int(rate_hz * duration))))

    def drop(i):
        m = _n(rng.uniform(0.03, 0.08))
        f = np.geomspace(rng.uniform(low, high), rng.uniform(low, high) * rng.uniform(1.5, 2.5), m)
        return np.sin(dsp.phase_from_freq(f, RATE)) * dsp.decay_env(m, RATE, m / RATE, 0.001) * rng.uniform(0.4, 1)

    return dsp.place_events(n, times, rate=RATE, make=drop)


def model_tone(rng, contour, harmonics, duration, vibrato=0.0, noise=0.0, formants=(), am_hz=0.0,
               envelope=((0, 0), (0.05, 1), (0.85, 1), (1, 0))):
    """A harmonic tone following a pitch contour [(pos, Hz)], with optional vibrato,
    amplitude modulation, breath noise and formant emphasis."""
    n = _n(duration)
    freq = np.exp(dsp.control([(p, np.log(f)) for p, f in contour], n))
    t = np.arange(n) / RATE
    if vibrato:
        freq = freq * 2 ** (vibrato * np.sin(2 * np.pi * rng.uniform(4, 7) * t) / 12)
    x = dsp.harmonic_tone(freq, RATE, harmonics)
    for f, bw in formants:
        x = x + 2.0 * dsp.bandpass(x, RATE, f - bw / 2, f + bw / 2)
    if noise:
        x = x + noise * dsp.highpass(rng.standard_normal(n), RATE, 1000) * np.std(x)
    if am_hz:
        x = x * (0.5 + 0.5 * np.sin(2 * np.pi * am_hz * t))
    return x * dsp.control(envelope, n)


def model_calls(rng, contour, harmonics, call_length, count, gap, **tone):
    """Repeated calls (barks, caws, hoots): `count` tones of `call_length` s."""
    calls = [model_tone(rng, [(p, f * rng.uniform(0.93, 1.07)) for p, f in contour], harmonics,
                        call_length * rng.uniform(0.85, 1.15), **tone) for _ in range(count)]
    times = 0.05 + np.cumsum(np.r_[0, gap * rng.uniform(0.8, 1.25, count - 1)])
    n = _n(min(4.0, times[-1] + call_length * 1.2 + 0.1))
    return dsp.place_events(n, times, rate=RATE, make=lambda i: calls[i])


def model_noise(rng, duration, low, high, swell=((0, 0), (0.1, 1), (0.9, 1), (1, 0)), mod_hz=0.0,
                mod_depth=0.0, sweep=None, crackle=0.0, color="white"):
    """Band-limited noise texture with an envelope, modulation, a band sweep, crackle."""
    n = _n(duration)
    base = dsp.pink_noise(rng, n) if color == "pink" else rng.standard_normal(n)
    if sweep is not None:  # centre frequency curve in Hz: a moving resonance
        centre = np.exp(dsp.control([(p, np.log(f)) for p, f in sweep], n))
        x = dsp.time_varying_resonator(base, RATE, centre, centre * rng.uniform(0.1, 0.4))
    else:
        x = dsp.bandpass(base, RATE, low, high)
    t = np.arange(n) / RATE
    if mod_hz:
        x = x * (1 - mod_depth * (0.5 + 0.5 * np.sin(2 * np.pi * mod_hz * t + rng.uniform(0, 6))))
    x = x / (np.std(x) + 1e-9) * dsp.control(swell, n)
    if crackle:
        clicks = dsp.place_events(n, rng.uniform(0, duration, int(crackle * duration)), rate=RATE,
                                  make=lambda i: dsp.burst(rng, RATE, 0.006, 2000, 12000, 0.002) * rng.uniform(1, 6))
        x = x + clicks
    return x


def model_pulses(rng, duration, rate_curve, low, high, pulse_length=0.01, tone=0.0, roughness=0.1,
                 swell=((0, 0), (0.05, 1), (0.95, 1), (1, 0))):
    """A train of filtered pulses whose rate follows [(pos, Hz)]: engines, motors,
    jackhammers, rattles, creaks."""
    n = _n(duration)
    rate = dsp.control(rate_curve, n) * (1 + roughness * dsp.smooth_noise(rng, n, RATE, 8))
    phase = np.cumsum(rate / RATE)
    starts = np.flatnonzero(np.diff(np.floor(phase)) > 0)
    pulse = dsp.burst(rng, RATE, pulse_length, low, high, pulse_length / 2)
    x = np.zeros(n)
    for s in starts:
        stop = min(n, s + len(pulse))
        x[s:stop] += pulse[: stop - s] * rng.uniform(1 - roughness, 1 + roughness)
    if tone:
        x = x / (np.std(x) + 1e-9) + tone * np.sin(2 * np.pi * np.cumsum(rate * 4) / RATE)
    return x * dsp.control(swell, n)


def model_siren(rng, low, high, period, shape, duration=3.5):
    n = _n(duration)
    t = np.arange(n) / RATE
    phase = (t / period + rng.uniform(0, 1)) % 1
    if shape == "wail":
        position = 0.5 - 0.5 * np.cos(2 * np.pi * phase)
    elif shape == "yelp":
        position = phase
    else:  # hi-lo
        position = (phase > 0.5).astype(float)
        position = dsp.lowpass(position, RATE, 30)
    freq = low * (high / low) ** position
    x = dsp.harmonic_tone(freq, RATE, [1, 0.5, 0.4, 0.2, 0.15, 0.1])
    return x * dsp.control([(0, 0), (0.03, 1), (0.97, 1), (1, 0)], n)


def model_doppler(rng, duration, freq, harmonics, noise_band, approach=True):
    """A source passing by: rising then falling loudness, pitch falling through the pass."""
    n = _n(duration)
    t = np.linspace(-1, 1, n) if approach else np.linspace(0, 1.5, n)
    shift = 1 + 0.06 * (-np.tanh(3 * t))
    tone = dsp.harmonic_tone(freq * shift, RATE, harmonics)
    noise = dsp.bandpass(rng.standard_normal(n), RATE, *noise_band)
    loudness = 1 / (1 + 6 * t ** 2)
    return (tone / (np.std(tone) + 1e-9) + 1.5 * noise / (np.std(noise) + 1e-9)) * loudness


def model_gm(rng, program, key, duration, bank=0, count=1, gap=0.5):
    """A General MIDI sound effect (programs 120-127, drum-kit keys)."""
    notes = [Note(0.03 + i * gap * rng.uniform(0.85, 1.15), min(duration * 0.8, gap * 0.9 if count > 1 else duration * 0.8),
                  key + int(rng.integers(-2, 3)) * (bank != DRUMS), int(rng.integers(80, 127))) for i in range(count)]
    return render(program, notes, duration, RATE, bank=bank)


@dataclass(frozen=True)
class Everyday:
    label: str
    model: str
    settings: dict = field(default_factory=dict)


def _rows(model: str, entries) -> list[Everyday]:
    return [Everyday(label, model, settings) for label, settings in entries]


EVERYDAY: list[Everyday] = [
    # struck, dropped and knocked objects
    *_rows("hits", [
        ("door knocked", dict(material="wood", freq=180, count=3, gap=0.18)),
        ("hammer hitting", dict(material="metal", freq=900, count=4, gap=0.45, decay=0.3)),
        ("pan struck", dict(material="metal", freq=420, count=1, gap=1, decay=1.5)),
        ("woodblock tapping", dict(material="wood", freq=900, count=6, gap=0.25)),
        ("glass clinking", dict(material="glass", freq=2400, count=2, gap=0.35)),
        ("stapler stapling", dict(material="plastic", freq=1800, count=2, gap=0.7)),
        ("keys jingling", dict(material="metal", freq=3500, count=9, gap=0.06, spread=0.4, jitter=0.5, decay=0.2)),
        ("swords clashing", dict(material="metal", freq=2200, count=3, gap=0.5, decay=0.6, spread=0.25)),
        ("gong ringing", dict(material="metal", freq=110, count=1, gap=1, decay=3.0)),
    ]),
    *_rows("bounce", [
        ("ping-pong playing", dict(material="plastic", freq=3000, first_gap=0.45, restitution=0.85)),
        ("basketball bouncing", dict(material="wood", freq=95, first_gap=0.5, restitution=0.8)),
        ("coin dropping", dict(material="metal", freq=4200, first_gap=0.25, restitution=0.7, decay=0.4)),
        ("bowling ball falling", dict(material="wood", freq=60, first_gap=0.3, restitution=0.5, decay=3)),
        ("marble in a glass bowl", dict(material="glass", freq=3300, first_gap=0.2, restitution=0.88, decay=0.3)),
        ("ice dropping in glass", dict(material="glass", freq=2100, first_gap=0.15, restitution=0.6)),
    ]),
    *_rows("random_hits", [
        ("typewriter typing", dict(material="plastic", freq=2500, rate_hz=9, duration=3.0, decay=0.5)),
        ("rain on a tin roof", dict(material="metal", freq=3000, rate_hz=40, duration=3.0, decay=0.1, spread=0.5)),
        ("pinball playing", dict(material="metal", freq=1800, rate_hz=6, duration=3.5, decay=0.6, spread=0.5)),
        ("chopping vegetables", dict(material="wood", freq=400, rate_hz=5, duration=3.0, spread=0.2)),
        ("cards shuffling", dict(material="plastic", freq=4000, rate_hz=70, duration=1.5, decay=0.3, spread=0.4)),
    ]),
    *_rows("drips", [
        ("water dripping", dict(rate_hz=2.5, low=700, high=1400)),
        ("water bubbling", dict(rate_hz=25, low=300, high=900)),
        ("river gurgling", dict(rate_hz=12, low=200, high=700)),
    ]),
    # bells and tones
    *_rows("calls", [
        ("church bells ringing", dict(contour=[(0, 330), (1, 328)], harmonics=[1, 0, 0.6, 0, 0.5, 0.3, 0, 0.25], call_length=1.0, count=3, gap=0.9, envelope=[(0, 0), (0.01, 1), (1, 0)])),
        ("bicycle bell ringing", dict(contour=[(0, 2600), (1, 2600)], harmonics=[1, 0, 0.3, 0, 0.2], call_length=0.35, count=2, gap=0.18, am_hz=18, envelope=[(0, 0), (0.02, 1), (1, 0)])),
        ("doorbell ringing", dict(contour=[(0, 660), (0.5, 660), (0.51, 520), (1, 520)], harmonics=[1, 0.1, 0.3], call_length=1.4, count=1, gap=1, envelope=[(0, 0), (0.01, 1), (0.5, 0.4), (0.51, 1), (1, 0)])),
        ("telephone ringing", dict(contour=[(0, 480), (1, 480)], harmonics=[1, 0.8, 0.6, 0.5], call_length=1.0, count=2, gap=1.6, am_hz=20)),
        ("alarm clock beeping", dict(contour=[(0, 3000), (1, 3000)], harmonics=[1, 0, 0.3], call_length=0.1, count=8, gap=0.2)),
        ("microwave beeping", dict(contour=[(0, 1800), (1, 1800)], harmonics=[1, 0, 0.2], call_length=0.4, count=3, gap=0.7)),
        ("truck reversing beeps", dict(contour=[(0, 1100), (1, 1100)], harmonics=[1, 0.2, 0.2], call_length=0.5, count=3, gap=1.0)),
        ("smoke alarm", dict(contour=[(0, 3200), (1, 3200)], harmonics=[1, 0, 0.5, 0, 0.3], call_length=0.5, count=3, gap=0.9, noise=0.1)),
        ("sonar pinging", dict(contour=[(0, 1500), (1, 1480)], harmonics=[1], call_length=1.5, count=2, gap=1.8, envelope=[(0, 0), (0.01, 1), (1, 0)])),
        ("cuckoo clock", dict(contour=[(0, 720), (0.45, 720), (0.5, 580), (1, 580)], harmonics=[1, 0.2], call_length=0.6, count=2, gap=0.9)),
        ("car horn honking", dict(contour=[(0, 420), (1, 415)], harmonics=[1, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3], call_length=0.5, count=2, gap=0.7)),
        ("boat horn sounding", dict(contour=[(0, 95), (1, 92)], harmonics=[1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], call_length=2.5, count=1, gap=1)),
        ("train horn", dict(contour=[(0, 311), (1, 300)], harmonics=[1, 0.7, 0.5, 0.35, 0.25], call_length=1.2, count=2, gap=1.4, formants=[(370, 60), (470, 80)])),
        ("tea kettle whistling", dict(contour=[(0, 1400), (0.5, 2100), (1, 2200)], harmonics=[1, 0.05], call_length=3.2, count=1, gap=1, noise=0.6, envelope=[(0, 0), (0.4, 0.5), (0.6, 1), (1, 1)])),
        ("person whistling", dict(contour=[(0, 1200), (0.3, 1500), (0.6, 1100), (1, 1800)], harmonics=[1], call_length=2.5, count=1, gap=1, vibrato=0.3, noise=0.15)),
        ("laser zapping", dict(contour=[(0, 4000), (1, 300)], harmonics=[1, 0.5, 0.3], call_length=0.25, count=4, gap=0.35)),
        ("slide whistle", dict(contour=[(0, 500), (0.6, 2000), (1, 700)], harmonics=[1, 0.1], call_length=2.2, count=1, gap=1)),
        ("mosquito flying", dict(contour=[(0, 560), (0.3, 600), (0.7, 530), (1, 580)], harmonics=[1, 0.8, 0.6, 0.5, 0.4, 0.3], call_length=3.0, count=1, gap=1, vibrato=0.8, envelope=[(0, 0), (0.3, 1), (0.6, 0.4), (1, 0.9)])),
        ("bee buzzing", dict(contour=[(0, 220), (0.5, 240), (1, 210)], harmonics=[1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], call_length=2.8, count=1, gap=1, vibrato=0.5)),
        # animal calls
        ("dog barking", dict(contour=[(0, 500), (0.3, 700), (1, 400)], harmonics=[1, 0.8, 0.7, 0.5, 0.4, 0.3, 0.2], call_length=0.18, count=4, gap=0.45, noise=0.6, formants=[(1200, 400)])),
        ("cat meowing", dict(contour=[(0, 500), (0.4, 800), (1, 450)], harmonics=[1, 0.7, 0.5, 0.3, 0.2], call_length=1.0, count=1, gap=1, formants=[(900, 300), (2200, 500)])),
        ("cow mooing", dict(contour=[(0, 140), (0.3, 170), (1, 110)], harmonics=[1, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2], call_length=2.5, count=1, gap=1, formants=[(500, 200)])),
        ("sheep bleating", dict(contour=[(0, 350), (1, 320)], harmonics=[1, 0.7, 0.6, 0.4, 0.3], call_length=0.9, count=2, gap=1.2, vibrato=1.2, am_hz=9, formants=[(1000, 300)])),
        ("duck quacking", dict(contour=[(0, 300), (1, 250)], harmonics=[1, 0.9, 0.9, 0.8, 0.8, 0.7, 0.6], call_length=0.25, count=4, gap=0.4, noise=0.3, formants=[(1500, 500)])),
        ("crow cawing", dict(contour=[(0, 600), (1, 500)], harmonics=[1, 1, 0.9, 0.8, 0.7, 0.6], call_length=0.35, count=3, gap=0.6, noise=1.0)),
        ("owl hooting", dict(contour=[(0, 380), (0.3, 400), (1, 360)], harmonics=[1, 0.1], call_length=0.5, count=3, gap=0.7, noise=0.05)),
        ("rooster calling", dict(contour=[(0, 500), (0.15, 800), (0.8, 750), (1, 450)], harmonics=[1, 0.8, 0.6, 0.4, 0.3], call_length=2.0, count=1, gap=1, noise=0.4, formants=[(1400, 400)])),
        ("birds chirping", dict(contour=[(0, 3500), (0.5, 5500), (1, 3000)], harmonics=[1, 0.1], call_length=0.09, count=12, gap=0.22)),
        ("crickets chirping", dict(contour=[(0, 4600), (1, 4600)], harmonics=[1, 0.05], call_length=0.25, count=6, gap=0.55, am_hz=30)),
        ("frog croaking", dict(contour=[(0, 180), (1, 160)], harmonics=[1, 0.9, 0.8, 0.7, 0.6, 0.5], call_length=0.4, count=3, gap=0.7, am_hz=25)),
        ("wolf howling", dict(contour=[(0, 400), (0.25, 700), (0.8, 650), (1, 450)], harmonics=[1, 0.3, 0.15], call_length=3.2, count=1, gap=1, vibrato=0.2)),
        ("lion growling", dict(contour=[(0, 90), (0.5, 110), (1, 70)], harmonics=[1, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4], call_length=2.0, count=1, gap=1, noise=1.5, am_hz=12)),
        ("pig oinking", dict(contour=[(0, 200), (1, 170)], harmonics=[1, 0.9, 0.8, 0.6], call_length=0.2, count=4, gap=0.35, noise=0.8, formants=[(600, 200)])),
        ("donkey hawing", dict(contour=[(0, 300), (0.5, 800), (1, 250)], harmonics=[1, 0.8, 0.6, 0.4, 0.3], call_length=0.7, count=3, gap=0.8, noise=0.5)),
        ("elephant trumpeting", dict(contour=[(0, 500), (0.3, 900), (1, 700)], harmonics=[1, 0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4], call_length=1.8, count=1, gap=1, noise=0.5)),
        ("monkey calling", dict(contour=[(0, 800), (0.5, 1600), (1, 900)], harmonics=[1, 0.5, 0.3], call_length=0.3, count=5, gap=0.4, noise=0.2)),
        ("baby crying", dict(contour=[(0, 420), (0.3, 520), (1, 380)], harmonics=[1, 0.8, 0.6, 0.5, 0.4, 0.3], call_length=0.9, count=2, gap=1.2, formants=[(1100, 400), (3000, 800)], noise=0.2)),
        ("woman screaming", dict(contour=[(0, 700), (0.3, 1000), (1, 800)], harmonics=[1, 0.7, 0.6, 0.5, 0.4], call_length=1.6, count=1, gap=1, vibrato=0.6, noise=0.4, formants=[(1000, 300), (2500, 600)])),
        ("man humming", dict(contour=[(0, 120), (0.4, 150), (1, 130)], harmonics=[1, 0.5, 0.3, 0.15], call_length=2.5, count=1, gap=1, formants=[(300, 100)])),
    ]),
    *_rows("siren", [
        ("police siren sounding", dict(low=650, high=1500, period=4.0, shape="wail")),
        ("ambulance siren yelping", dict(low=700, high=1600, period=0.35, shape="yelp")),
        ("european siren hi-lo", dict(low=440, high=590, period=1.2, shape="hilo")),
        ("air raid siren", dict(low=200, high=500, period=7.0, shape="wail")),
    ]),
    # engines, vehicles and machines
    *_rows("pulses", [
        ("car engine idling", dict(duration=3.0, rate_curve=[(0, 28), (1, 28)], low=60, high=600, pulse_length=0.02, tone=0.2)),
        ("truck accelerating", dict(duration=3.5, rate_curve=[(0, 20), (0.8, 70), (1, 75)], low=50, high=900, pulse_length=0.015, tone=0.3)),
        ("motorcycle revving", dict(duration=3.0, rate_curve=[(0, 40), (0.3, 140), (0.6, 60), (0.8, 150), (1, 50)], low=100, high=2500, pulse_length=0.006, tone=0.3)),
        ("lawn mower starting", dict(duration=3.5, rate_curve=[(0, 5), (0.2, 8), (0.35, 0.5), (0.5, 40), (1, 45)], low=80, high=2000, pulse_length=0.01, roughness=0.3)),
        ("jackhammer hammering", dict(duration=3.0, rate_curve=[(0, 22), (1, 22)], low=300, high=5000, pulse_length=0.03, roughness=0.2)),
        ("drill drilling", dict(duration=3.0, rate_curve=[(0, 120), (0.2, 380), (0.7, 320), (1, 380)], low=500, high=6000, pulse_length=0.003, tone=0.6)),
        ("helicopter flying", dict(duration=3.5, rate_curve=[(0, 11), (1, 12)], low=80, high=1200, pulse_length=0.05, roughness=0.05)),
        ("woodpecker pecking", dict(duration=2.0, rate_curve=[(0, 18), (0.4, 18), (0.41, 0.2), (0.6, 0.2), (0.61, 18), (1, 18)], low=800, high=4000, pulse_length=0.01)),
        ("rattlesnake rattling", dict(duration=3.0, rate_curve=[(0, 50), (1, 45)], low=3000, high=12000, pulse_length=0.012, roughness=0.3)),
        ("door creaking", dict(duration=2.5, rate_curve=[(0, 40), (0.5, 180), (1, 90)], low=300, high=3000, pulse_length=0.004, roughness=0.4)),
        ("zipper opening", dict(duration=1.5, rate_curve=[(0, 60), (1, 220)], low=1500, high=9000, pulse_length=0.003, roughness=0.3)),
        ("clock ticking", dict(duration=3.5, rate_curve=[(0, 2), (1, 2)], low=2000, high=8000, pulse_length=0.008, roughness=0.02)),
        ("horse galloping", dict(duration=3.0, rate_curve=[(0, 6), (1, 6.5)], low=100, high=1500, pulse_length=0.04, roughness=0.35)),
        ("train passing", dict(duration=3.8, rate_curve=[(0, 3), (1, 3.3)], low=200, high=3000, pulse_length=0.07, roughness=0.2, swell=[(0, 0.2), (0.5, 1), (1, 0.3)])),
        ("machine gun firing", dict(duration=2.0, rate_curve=[(0, 12), (1, 12)], low=100, high=6000, pulse_length=0.06, roughness=0.1, swell=[(0, 1), (0.8, 1), (0.85, 0), (1, 0)])),
        ("heart beating", dict(duration=3.0, rate_curve=[(0, 2.4), (1, 2.4)], low=30, high=150, pulse_length=0.12, roughness=0.1)),
        ("fan whirring", dict(duration=3.5, rate_curve=[(0, 30), (0.3, 45), (1, 45)], low=100, high=2000, pulse_length=0.02, tone=0.4, roughness=0.05)),
        ("footsteps walking", dict(duration=3.5, rate_curve=[(0, 1.9), (1, 1.9)], low=80, high=2500, pulse_length=0.09, roughness=0.15)),
        ("footsteps running", dict(duration=3.0, rate_curve=[(0, 3.2), (1, 3.2)], low=100, high=3500, pulse_length=0.06, roughness=0.15)),
        ("person clapping", dict(duration=3.0, rate_curve=[(0, 3), (1, 3)], low=800, high=5000, pulse_length=0.03, roughness=0.1)),
        ("saw sawing", dict(duration=3.5, rate_curve=[(0, 2.2), (1, 2.2)], low=1500, high=8000, pulse_length=0.25, roughness=0.2, tone=0.2)),
        ("sandpaper rubbing", dict(duration=3.0, rate_curve=[(0, 3), (1, 3)], low=2000, high=10000, pulse_length=0.2, roughness=0.2)),
        ("person snoring", dict(duration=3.8, rate_curve=[(0, 0.5), (1, 0.5)], low=60, high=700, pulse_length=0.9, roughness=0.1)),
    ]),
    *_rows("doppler", [
        ("car passing", dict(duration=3.5, freq=90, harmonics=[1, 0.7, 0.5, 0.3], noise_band=(200, 3000))),
        ("motorcycle driving away", dict(duration=3.0, freq=140, harmonics=[1, 0.8, 0.7, 0.6, 0.5], noise_band=(300, 5000), approach=False)),
        ("airplane passing", dict(duration=3.8, freq=260, harmonics=[1, 0.3, 0.2], noise_band=(100, 2000))),
        ("spacecraft engine", dict(duration=3.5, freq=55, harmonics=[1, 0.9, 0.9, 0.8, 0.8], noise_band=(40, 1200))),
    ]),
    # textures
    *_rows("noise", [
        ("wind whistling", dict(duration=3.5, low=300, high=3000, sweep=[(0, 500), (0.3, 900), (0.6, 600), (1, 1100)])),
        ("wind gusting", dict(duration=3.5, low=80, high=1500, swell=[(0, 0.1), (0.3, 1), (0.5, 0.3), (0.8, 1), (1, 0.1)], color="pink")),
        ("waves breaking", dict(duration=3.8, low=100, high=8000, swell=[(0, 0.05), (0.3, 1), (1, 0.1)], color="pink", crackle=20)),
        ("rain falling", dict(duration=3.5, low=500, high=12000, crackle=120)),
        ("food frying", dict(duration=3.0, low=2000, high=12000, crackle=250)),
        ("fire crackling", dict(duration=3.5, low=100, high=1500, crackle=25, color="pink")),
        ("toilet flushing", dict(duration=3.8, low=150, high=4000, swell=[(0, 0), (0.05, 1), (0.5, 0.8), (1, 0.1)], sweep=[(0, 2500), (0.4, 900), (1, 300)], crackle=15)),
        ("water pouring", dict(duration=3.0, low=200, high=4000, sweep=[(0, 400), (1, 1600)])),
        ("water draining", dict(duration=3.5, low=100, high=3000, sweep=[(0, 900), (1, 300)], mod_hz=6, mod_depth=0.6)),
        ("shower running", dict(duration=3.5, low=1000, high=14000)),
        ("vacuum cleaner", dict(duration=3.5, low=300, high=9000, mod_hz=0.5, mod_depth=0.3, sweep=[(0, 800), (0.1, 2500), (1, 2400)])),
        ("paper tearing", dict(duration=1.2, low=1500, high=10000, swell=[(0, 0), (0.05, 1), (0.9, 1), (1, 0)], crackle=150)),
        ("paper crumpling", dict(duration=2.5, low=2000, high=12000, crackle=90, swell=[(0, 0.2), (0.5, 0.6), (1, 0.1)])),
        ("velcro ripping", dict(duration=1.0, low=1000, high=8000, mod_hz=80, mod_depth=0.9, crackle=300)),
        ("whoosh", dict(duration=1.2, low=300, high=6000, sweep=[(0, 300), (0.5, 3500), (1, 600)], swell=[(0, 0), (0.5, 1), (1, 0)])),
        ("applause", dict(duration=3.5, low=600, high=8000, crackle=200, swell=[(0, 0), (0.1, 1), (0.8, 1), (1, 0.2)])),
        ("electrical interference", dict(duration=3.0, low=50, high=12000, mod_hz=50, mod_depth=0.9, crackle=60)),
        ("nose blowing", dict(duration=1.5, low=200, high=2500, sweep=[(0, 600), (0.5, 350), (1, 500)], swell=[(0, 0), (0.1, 1), (0.8, 1), (1, 0)])),
    ]),
    # single sound effects of the General MIDI set and its drum kit
    *_rows("gm", [
        ("gun firing", dict(program=127, key=60, duration=1.5)),
        ("seashore", dict(program=122, key=60, duration=3.5)),
        ("bird tweeting", dict(program=123, key=72, duration=2.0)),
        ("breath noise", dict(program=121, key=60, duration=2.0)),
        ("guitar fret noise", dict(program=120, key=60, duration=1.5, count=3, gap=0.4)),
        ("hand clap", dict(program=0, key=39, duration=2.0, bank=DRUMS, count=4, gap=0.4)),
        ("cowbell ringing", dict(program=0, key=56, duration=2.0, bank=DRUMS, count=3, gap=0.5)),
        ("vibraslap rattling", dict(program=0, key=58, duration=2.0, bank=DRUMS)),
        ("drums playing", dict(program=0, key=36, duration=2.5, bank=DRUMS, count=6, gap=0.35)),
    ]),
]


def render_everyday(row: Everyday, rng: np.random.Generator) -> np.ndarray:
    model = MODELS[row.model]
    audio = model(rng, **row.settings)
    return dsp.fade(dsp.fit(audio, int(np.clip(len(audio), _n(1.0), _n(4.0)))), RATE)


MODELS = {
    "hits": model_hits, "bounce": model_bounce, "random_hits": model_random_hits, "drips": model_drips,
    "calls": model_calls, "siren": model_siren, "pulses": model_pulses, "doppler": model_doppler,
    "noise": model_noise, "gm": model_gm,
}
