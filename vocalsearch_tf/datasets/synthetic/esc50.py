"""A 50-class environmental-sound set in ESC-50's layout (Piczak, 2015).

    <dest>/meta/esc50.csv   filename, fold, target, category, esc10, src_file, take
    <dest>/audio/<fold>-<src_file>-<take>-<target>.wav   44.1 kHz mono, `seconds` long

The classes, their targets and the ESC-10 subset are ESC-50's. As in ESC-50, clips are
"takes" (A, B, C) cut from one source recording (`src_file`), and all takes of a recording
share one of the 5 folds.

Every class has two or three source models drawn from the other generators (procedural
everyday models and General MIDI sound effects of `everyday.py`, the urban-sound models of
`urban.py`), each with its settings varied per recording (pitch, tempo, counts). Every
recording gets its own conditions: a background (pink, brown or street noise, mains hum,
hiss) at an SNR of -5 to 20 dB, a microphone band (high- and low-pass), a room (a
decaying-noise reverb) and a level; in up to 60 % of its takes a quieter event (5-20 dB
down) of another class plays too. Takes of one recording share model, settings and
conditions; their events differ. Several classes are near-duplicates on purpose, as in the real data
(clock alarm / clock tick, engine / train / airplane, rain / crackling fire).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

from vocalsearch_tf.datasets.synthetic import dsp, everyday, urban
from vocalsearch_tf.datasets.synthetic.common import parallel_map, rng_for, write_wav
from vocalsearch_tf.datasets.synthetic.soundfont import DRUMS

RATE = 44_100
FOLDS = 5
COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
# ESC-50's categories in target order, and its ESC-10 subset
CLASSES = [
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind",
    "pouring_water", "toilet_flush", "thunderstorm",
    "crying_baby", "sneezing", "clapping", "breathing", "coughing", "footsteps", "laughing",
    "brushing_teeth", "snoring", "drinking_sipping",
    "door_wood_knock", "mouse_click", "keyboard_typing", "door_wood_creaks", "can_opening",
    "washing_machine", "vacuum_cleaner", "clock_alarm", "clock_tick", "glass_breaking",
    "helicopter", "chainsaw", "siren", "car_horn", "engine", "train", "church_bells", "airplane",
    "fireworks", "hand_saw",
]
ESC10 = {"dog", "rooster", "rain", "sea_waves", "crackling_fire", "crying_baby", "sneezing",
         "clock_tick", "helicopter", "chainsaw"}
ROWS = {row.label: row for row in everyday.EVERYDAY}
TEXTURES = {"noise", "pulses", "random_hits", "drips"}  # models with a `duration` that can fill a clip


def vary(settings: dict, pitch: float, tempo: float, rng: np.random.Generator) -> dict:
    """A model's settings for one recording: frequencies times `pitch`, rates times
    `tempo`, gaps and call lengths divided by it, event counts +-1."""
    s = dict(settings)
    for key in ("contour", "sweep"):
        if key in s:
            s[key] = [(pos, hz * pitch) for pos, hz in s[key]]
    if "high" in s:
        s["high"] = min(s["high"] * pitch, 19_000.0)
    if "low" in s:
        s["low"] = min(s["low"] * pitch, 0.7 * s.get("high", np.inf))
    if "freq" in s:
        s["freq"] = s["freq"] * pitch
    if "rate_curve" in s:
        s["rate_curve"] = [(pos, rate * tempo) for pos, rate in s["rate_curve"]]
    if "rate_hz" in s:
        s["rate_hz"] = s["rate_hz"] * tempo
    for key in ("gap", "first_gap", "call_length", "period"):
        if key in s:
            s[key] = s[key] / tempo
    if "count" in s:
        s["count"] = max(1, s["count"] + int(rng.integers(-1, 2)))
    if "key" in s and s.get("bank", 0) != DRUMS:
        s["key"] = int(round(s["key"] + 12 * np.log2(pitch)))
    return s


@dataclass(frozen=True)
class Model:
    """A model of `everyday.MODELS` with fixed settings; `fill` stretches a texture's
    duration to the clip."""

    model: str
    settings: dict = field(default_factory=dict)
    fill: bool = False

    def __call__(self, rng, seconds: float, pitch: float, tempo: float) -> np.ndarray:
        settings = vary(self.settings, pitch, tempo, rng)
        if self.fill and "duration" in settings:
            settings["duration"] = seconds
        return everyday.MODELS[self.model](rng, **settings)


def Row(label: str, fill: bool = False, **overrides) -> Model:
    """An everyday concept of `everyday.EVERYDAY`, by label."""
    row = ROWS[label]
    return Model(row.model, {**row.settings, **overrides}, fill and row.model in TEXTURES)


@dataclass(frozen=True)
class Urban:
    """A source model of the urban-sound set (it draws its own settings)."""

    name: str

    def __call__(self, rng, seconds: float, pitch: float, tempo: float) -> np.ndarray:
        return urban.SOURCES[self.name](rng, seconds)


H = [1, 0.8, 0.6, 0.5, 0.4, 0.3]  # a generic harmonic spectrum for calls
SOURCES: dict[str, tuple] = {
    "dog": (Row("dog barking"), Urban("dog_bark"),
            Model("calls", dict(contour=[(0, 350), (0.4, 450), (1, 300)], harmonics=H, call_length=0.25, count=3,
                                gap=0.5, noise=1.0, formants=[(900, 300)]))),
    "rooster": (Row("rooster calling"),
                Model("calls", dict(contour=[(0, 600), (0.1, 900), (0.35, 1000), (0.9, 950), (1, 500)], harmonics=H,
                                    call_length=1.6, count=1, gap=1, noise=0.6, vibrato=0.3, formants=[(1600, 500)]))),
    "pig": (Row("pig oinking"),
            Model("calls", dict(contour=[(0, 150), (0.5, 220), (1, 140)], harmonics=[1, 1, 0.9, 0.8, 0.6, 0.5],
                                call_length=0.35, count=3, gap=0.5, noise=1.2, am_hz=30, formants=[(500, 200)]))),
    "cow": (Row("cow mooing"),
            Model("calls", dict(contour=[(0, 110), (0.5, 140), (1, 100)], harmonics=[1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
                                call_length=2.0, count=1, gap=1, noise=0.3, formants=[(400, 150), (900, 300)]))),
    "frog": (Row("frog croaking"),
             Model("pulses", dict(duration=2.0, rate_curve=[(0, 8), (1, 8)], low=400, high=2500, pulse_length=0.06,
                                  tone=0.5, roughness=0.2), fill=True)),
    "cat": (Row("cat meowing"),
            Model("calls", dict(contour=[(0, 700), (0.3, 1000), (1, 600)], harmonics=[1, 0.6, 0.4, 0.2],
                                call_length=0.6, count=2, gap=0.9, formants=[(1200, 400)])),
            Model("pulses", dict(duration=3.0, rate_curve=[(0, 25), (1, 25)], low=50, high=600, pulse_length=0.03,
                                 roughness=0.3, swell=[(0, 0.2), (0.45, 1), (0.5, 0.2), (0.95, 1), (1, 0.2)]),
                  fill=True)),
    "hen": (Model("calls", dict(contour=[(0, 500), (1, 420)], harmonics=H, call_length=0.08, count=6, gap=0.25,
                                noise=0.5, formants=[(1200, 400)])),
            Model("calls", dict(contour=[(0, 400), (0.2, 900), (1, 600)], harmonics=H, call_length=0.5, count=2,
                                gap=0.6, noise=0.7))),
    "insects": (Row("mosquito flying"), Row("bee buzzing"),
                Model("calls", dict(contour=[(0, 180), (0.5, 200), (1, 170)], harmonics=[1, 0.9, 0.9, 0.8, 0.8, 0.7],
                                    call_length=2.5, count=1, gap=1, am_hz=40, vibrato=0.4))),
    "sheep": (Row("sheep bleating"),
              Model("calls", dict(contour=[(0, 250), (1, 230)], harmonics=H, call_length=1.2, count=1, gap=1,
                                  vibrato=1.5, am_hz=7, noise=0.3, formants=[(700, 250)]))),
    "crow": (Row("crow cawing"),
             Model("calls", dict(contour=[(0, 450), (0.3, 520), (1, 380)], harmonics=[1, 1, 0.9, 0.8, 0.7],
                                 call_length=0.45, count=2, gap=0.7, noise=1.5, formants=[(1200, 400)]))),
    "rain": (Row("rain falling", fill=True, crackle=50), Row("rain on a tin roof", fill=True),
             Model("noise", dict(duration=3.0, low=300, high=8000, crackle=60, color="pink",
                                 swell=[(0, 1), (1, 1)]), fill=True)),
    "sea_waves": (Row("waves breaking"), Row("seashore"),
                  Model("noise", dict(duration=3.8, low=80, high=5000, swell=[(0, 0.3), (0.5, 1), (1, 0.3)],
                                      color="pink"), fill=True)),
    "crackling_fire": (Row("fire crackling", fill=True, crackle=15),
                       Model("noise", dict(duration=3.0, low=80, high=800, crackle=60, color="pink",
                                           swell=[(0, 1), (1, 1)]), fill=True)),
    "crickets": (Row("crickets chirping"),
                 Model("calls", dict(contour=[(0, 5200), (1, 5200)], harmonics=[1, 0.1], call_length=0.05, count=20,
                                     gap=0.12, am_hz=60))),
    "chirping_birds": (Row("birds chirping"), Row("bird tweeting"),
                       Model("calls", dict(contour=[(0, 2500), (0.3, 4000), (0.6, 3000), (1, 4500)],
                                           harmonics=[1, 0.2], call_length=0.25, count=5, gap=0.45, vibrato=2))),
    "water_drops": (Row("water dripping", fill=True),
                    Model("drips", dict(rate_hz=5, low=1000, high=2500, duration=3.0), fill=True)),
    "wind": (Row("wind gusting", fill=True), Row("wind whistling", fill=True)),
    "pouring_water": (Row("water pouring", fill=True),
                      Model("noise", dict(duration=3.0, low=300, high=6000, sweep=[(0, 300), (1, 900)], crackle=40,
                                          color="pink"), fill=True)),
    "toilet_flush": (Row("toilet flushing"), Row("water draining")),
    "thunderstorm": (Model("noise", dict(duration=3.8, low=20, high=300, color="pink", crackle=8,
                                         swell=[(0, 0), (0.05, 1), (0.4, 0.6), (1, 0.1)])),
                     Model("noise", dict(duration=3.5, low=40, high=2000, color="pink", crackle=30,
                                         swell=[(0, 0.2), (0.2, 1), (1, 0.2)]), fill=True)),
    "crying_baby": (Row("baby crying"),
                    Model("calls", dict(contour=[(0, 500), (0.2, 600), (1, 450)], harmonics=H, call_length=1.2,
                                        count=2, gap=1.4, vibrato=0.8, noise=0.3,
                                        formants=[(1300, 500), (3200, 800)]))),
    "sneezing": (Model("calls", dict(contour=[(0, 350), (0.5, 500), (1, 300)], harmonics=H, call_length=0.35, count=1,
                                     gap=1, noise=3.0, formants=[(2500, 1500)],
                                     envelope=[(0, 0), (0.1, 0.3), (0.5, 0.3), (0.55, 1), (1, 0)])),
                 Model("noise", dict(duration=0.6, low=1000, high=9000, swell=[(0, 0), (0.05, 1), (1, 0)]))),
    "clapping": (Row("person clapping", fill=True), Row("hand clap"), Row("applause", fill=True)),
    "breathing": (Row("breath noise"),
                  Model("noise", dict(duration=3.5, low=200, high=3000, color="pink",
                                      swell=[(0, 0), (0.2, 1), (0.35, 0), (0.5, 0), (0.7, 0.7), (0.85, 0), (1, 0)]))),
    "coughing": (Model("calls", dict(contour=[(0, 250), (1, 200)], harmonics=[1, 0.8, 0.6, 0.4], call_length=0.2,
                                     count=2, gap=0.35, noise=4.0, formants=[(1000, 600)])),
                 Model("pulses", dict(duration=1.5, rate_curve=[(0, 3), (1, 3)], low=300, high=4000,
                                      pulse_length=0.15, roughness=0.3))),
    "footsteps": (Row("footsteps walking", fill=True), Row("footsteps running", fill=True)),
    "laughing": (Model("calls", dict(contour=[(0, 300), (1, 260)], harmonics=H, call_length=0.12, count=8, gap=0.2,
                                     noise=0.8, formants=[(800, 300), (1800, 500)])),
                 Model("calls", dict(contour=[(0, 500), (1, 420)], harmonics=H, call_length=0.1, count=10, gap=0.17,
                                     noise=0.6, formants=[(1000, 300), (2500, 600)]))),
    "brushing_teeth": (Model("noise", dict(duration=3.0, low=2000, high=10000, mod_hz=4, mod_depth=0.9), fill=True),
                       Model("pulses", dict(duration=3.0, rate_curve=[(0, 5), (1, 5)], low=2500, high=9000,
                                            pulse_length=0.15, roughness=0.3), fill=True)),
    "snoring": (Row("person snoring", fill=True),
                Model("calls", dict(contour=[(0, 60), (1, 55)], harmonics=[1] * 8, call_length=1.2, count=2, gap=2.0,
                                    noise=2.0, am_hz=25, formants=[(400, 200)]))),
    "drinking_sipping": (Model("noise", dict(duration=0.8, low=500, high=5000, sweep=[(0, 800), (1, 1500)])),
                         Row("water bubbling"), Model("drips", dict(rate_hz=4, low=200, high=600, duration=3.0))),
    "door_wood_knock": (Row("door knocked"), Model("hits", dict(material="wood", freq=120, count=4, gap=0.22))),
    "mouse_click": (Model("hits", dict(material="plastic", freq=3500, count=2, gap=0.4, decay=0.3)),
                    Model("random_hits", dict(material="plastic", freq=2800, rate_hz=2, duration=3.0, decay=0.2),
                          fill=True)),
    "keyboard_typing": (Row("typewriter typing", fill=True),
                        Model("random_hits", dict(material="plastic", freq=1500, rate_hz=7, duration=3.0, decay=0.3,
                                                  spread=0.4), fill=True)),
    "door_wood_creaks": (Row("door creaking"),
                         Model("pulses", dict(duration=2.0, rate_curve=[(0, 80), (0.5, 300), (1, 150)], low=400,
                                              high=4000, pulse_length=0.003, roughness=0.5))),
    "can_opening": (Model("noise", dict(duration=0.8, low=2000, high=12000, crackle=50,
                                        swell=[(0, 0), (0.02, 1), (0.3, 0.3), (1, 0)])),
                    Model("hits", dict(material="metal", freq=2500, count=2, gap=0.3, decay=0.2))),
    "washing_machine": (Urban("air_conditioner"),
                        Model("pulses", dict(duration=3.5, rate_curve=[(0, 1), (1, 1)], low=100, high=1500,
                                             pulse_length=0.5, roughness=0.3, tone=0.2, swell=[(0, 1), (1, 1)]),
                              fill=True)),
    "vacuum_cleaner": (Row("vacuum cleaner", fill=True),
                       Model("noise", dict(duration=3.0, low=200, high=6000, swell=[(0, 1), (1, 1)], mod_hz=0.3,
                                           mod_depth=0.2), fill=True)),
    "clock_alarm": (Row("alarm clock beeping"),
                    Model("random_hits", dict(material="metal", freq=2500, rate_hz=25, duration=3.0, decay=0.3),
                          fill=True)),
    "clock_tick": (Row("clock ticking", fill=True),
                   Model("hits", dict(material="wood", freq=3000, count=6, gap=0.5, decay=0.2, jitter=0.02))),
    "glass_breaking": (Model("random_hits", dict(material="glass", freq=3000, rate_hz=15, duration=1.2, decay=0.5,
                                                 spread=0.5)),
                       Row("ice dropping in glass")),
    "helicopter": (Row("helicopter flying", fill=True), Model("gm", dict(program=125, key=60, duration=3.5))),
    "chainsaw": (Model("pulses", dict(duration=3.0, rate_curve=[(0, 60), (0.3, 150), (1, 140)], low=200, high=5000,
                                      pulse_length=0.005, tone=0.5, roughness=0.15), fill=True),
                 Model("pulses", dict(duration=3.0, rate_curve=[(0, 40), (0.5, 45), (0.6, 160), (1, 150)], low=300,
                                      high=6000, pulse_length=0.004, tone=0.3, roughness=0.2), fill=True)),
    "siren": (Urban("siren"), Row("police siren sounding"), Row("ambulance siren yelping")),
    "car_horn": (Urban("car_horn"), Row("car horn honking")),
    "engine": (Row("car engine idling", fill=True), Row("truck accelerating"), Urban("engine_idling")),
    "train": (Row("train passing", fill=True),
              Model("doppler", dict(duration=3.8, freq=70, harmonics=[1, 0.8, 0.6], noise_band=(100, 4000))),
              Row("train horn")),
    "church_bells": (Row("church bells ringing"),
                     Model("hits", dict(material="metal", freq=220, count=3, gap=0.8, decay=2.0))),
    "airplane": (Row("airplane passing"),
                 Model("noise", dict(duration=3.8, low=100, high=4000, color="pink",
                                     swell=[(0, 0.3), (0.5, 1), (1, 0.4)]), fill=True)),
    "fireworks": (Urban("gun_shot"),
                  Model("noise", dict(duration=2.5, low=500, high=12000, crackle=60, swell=[(0, 0), (0.1, 1), (1, 0)]))),
    "hand_saw": (Row("saw sawing", fill=True),
                 Model("pulses", dict(duration=3.0, rate_curve=[(0, 3), (1, 3)], low=2000, high=9000, pulse_length=0.3,
                                      roughness=0.3), fill=True)),
}
BACKGROUNDS = ("pink", "brown", "street", "hum", "hiss")


@dataclass(frozen=True)
class Recording:
    """What the takes of one source recording share."""

    source: int  # index into the class's SOURCES
    pitch: float
    tempo: float
    background: str
    snr_db: float
    highpass_hz: float
    lowpass_hz: float
    rt60: float  # s
    wet: float
    peak: float
    distractor: float  # probability that a take has a quieter event of another class in it


def recording(seed: int, category: str, src_file: int) -> Recording:
    rng = rng_for(seed, "esc50-recording", category, src_file)
    return Recording(
        source=int(rng.integers(len(SOURCES[category]))), pitch=float(2 ** (rng.uniform(-6, 6) / 12)),
        tempo=float(2 ** rng.uniform(-0.5, 0.5)), background=str(rng.choice(BACKGROUNDS)),
        snr_db=float(rng.uniform(-5, 20)), highpass_hz=float(np.exp(rng.uniform(np.log(30), np.log(400)))),
        lowpass_hz=float(np.exp(rng.uniform(np.log(3000), np.log(18000)))),
        rt60=float(np.exp(rng.uniform(np.log(0.05), np.log(1.0)))), wet=float(rng.uniform(0, 0.6)),
        peak=float(rng.uniform(0.2, 0.95)), distractor=float(rng.uniform(0, 0.6)))


def background(rng, kind: str, n: int) -> np.ndarray:
    if kind == "pink":
        return dsp.pink_noise(rng, n)
    if kind == "brown":
        return dsp.lowpass(dsp.pink_noise(rng, n), RATE, 150)
    if kind == "street":
        return urban.street_background(rng, n)
    if kind == "hum":
        mains = rng.choice([50.0, 60.0])
        return dsp.harmonic_tone(np.full(n, mains), RATE, [1, 0.5, 0.3, 0.2]) + 0.3 * dsp.pink_noise(rng, n)
    return dsp.highpass(rng.standard_normal(n), RATE, 3000)


def place(rng, event: np.ndarray, n: int) -> np.ndarray:
    """`n` samples holding the event: a random excerpt (early ones likelier) of a longer
    event, or a shorter one at a random offset."""
    if len(event) >= n:
        start = int(rng.uniform(0, 1) ** 2 * (len(event) - n))
        return event[start: start + n]
    out = np.zeros(n)
    offset = int(rng.uniform(0, 1) ** 2 * (n - len(event)))
    out[offset: offset + len(event)] = event
    return out


def room(rng, x: np.ndarray, rt60: float, wet: float) -> np.ndarray:
    """A diffuse reverb: convolution with exponentially decaying noise."""
    m = int(min(rt60, 1.0) * RATE)
    response = rng.standard_normal(m) * dsp.decay_env(m, RATE, rt60, attack=0.001)
    tail = signal.fftconvolve(x, response)[: len(x)]
    return x + wet * tail * (np.std(x) / (np.std(tail) + 1e-12))


def render_clip(seed: int, row: dict, seconds: float) -> np.ndarray:
    rec = recording(seed, row["category"], row["src_file"])
    rng = rng_for(seed, "esc50", row["filename"])
    n = int(round(seconds * RATE))
    make = SOURCES[row["category"]][rec.source]
    event = place(rng, make(rng, seconds, rec.pitch, rec.tempo), n)
    event = event / (np.std(event) + 1e-9)
    if rng.random() < rec.distractor:  # another class's event, 5-20 dB quieter
        other = str(rng.choice([c for c in CLASSES if c != row["category"]]))
        sources = SOURCES[other]
        intruder = place(rng, sources[int(rng.integers(len(sources)))](rng, seconds, 1.0, 1.0), n)
        event = event + intruder / (np.std(intruder) + 1e-9) * 10 ** (-rng.uniform(5, 20) / 20)
    mix = dsp.add_noise_at_snr(rng, event, rec.snr_db + rng.uniform(-3, 3), background(rng, rec.background, n))
    mix = room(rng, mix, rec.rt60, rec.wet)
    mix = dsp.lowpass(dsp.highpass(mix, RATE, rec.highpass_hz), RATE, rec.lowpass_hz)
    return dsp.fade(dsp.normalize(mix, rec.peak), RATE)


def plan(seed: int, clips_per_class: int, classes=None) -> pd.DataFrame:
    """The metadata table: per class, source recordings of 1-3 takes until the class has
    `clips_per_class` clips; recordings go round the 5 folds."""
    rows, src_file = [], 100_000
    for target, category in enumerate(CLASSES):
        rng = rng_for(seed, "esc50-plan", category)
        made = recordings = 0
        while made < clips_per_class:
            src_file += int(rng.integers(1, 3000))
            takes = int(min(rng.choice([1, 1, 2, 3]), clips_per_class - made))
            fold = 1 + (recordings + target) % FOLDS
            for k in range(takes):
                take = "ABC"[k]
                rows.append(dict(filename=f"{fold}-{src_file}-{take}-{target}.wav", fold=fold, target=target,
                                 category=category, esc10=category in ESC10, src_file=src_file, take=take))
            made += takes
            recordings += 1
    table = pd.DataFrame(rows, columns=COLUMNS)
    if classes is not None:
        table = table[table.category.isin(classes)].reset_index(drop=True)
    return table


def _render(job) -> int:
    dest, seed, row, seconds = job
    path = dest / "audio" / row["filename"]
    if path.exists():
        return 0
    write_wav(path, render_clip(seed, row, seconds), RATE)
    return 1


def write(dest: Path, seed: int, clips_per_class: int | None, seconds: float = 5.0, workers: int = 2,
          classes=None) -> dict:
    """Writes the set (or, with `classes`, those classes only); files that exist are kept."""
    if clips_per_class is None:
        return {"clips": 0, "skipped": "this profile sets no esc50_clips_per_class"}
    dest = Path(dest)
    table = plan(seed, clips_per_class, classes)
    jobs = [(dest, seed, row, seconds) for row in table.to_dict("records")
            if not (dest / "audio" / row["filename"]).exists()]
    written = parallel_map(_render, jobs, workers, "ESC-50-layout set")
    (dest / "meta").mkdir(parents=True, exist_ok=True)
    table.to_csv(dest / "meta" / "esc50.csv", index=False)
    return {"clips": len(table), "clips_written": int(sum(written)), "clip_seconds": seconds,
            "per_fold": table.fold.value_counts().sort_index().to_dict()}
