"""A 10-class urban-sound set in UrbanSound8K's layout.

    <dest>/metadata/UrbanSound8K.csv   slice_file_name, fsID, start, end, salience, fold, classID, class
    <dest>/audio/fold1 .. fold10/<fsID>-<classID>-<occurrence>-<slice>.wav   44.1 kHz mono, <= 4 s

As in UrbanSound8K, slices are cut from longer "source recordings" (one fsID each), and
all slices of a recording fall in the same fold. Each class has several source models
with random settings; a street-noise background plays under every clip, louder for
background (salience 2) than for foreground (salience 1) events.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.synthetic import dsp, everyday, voice
from vocalsearch_tf.datasets.synthetic.common import parallel_map, rng_for, write_wav
from vocalsearch_tf.datasets.synthetic.soundfont import DRUMS, Note, render

RATE = 44_100
CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
           "engine_idling", "gun_shot", "jackhammer", "siren", "street_music"]
COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
FOLDS = 10


def _air_conditioner(rng, seconds):
    hum = everyday.model_pulses(rng, seconds, [(0, rng.uniform(25, 60))] * 2, 60, rng.uniform(400, 3000),
                                pulse_length=0.02, tone=rng.uniform(0.2, 1.0), roughness=0.05,
                                swell=[(0, 1), (1, 1)])
    air = everyday.model_noise(rng, seconds, rng.uniform(50, 300), rng.uniform(2000, 9000),
                               swell=[(0, 1), (1, 1)], color="pink")
    return hum / (np.std(hum) + 1e-9) * rng.uniform(0.2, 1) + air


def _car_horn(rng, seconds):
    f = rng.uniform(300, 520)
    return everyday.model_calls(rng, [(0, f), (1, f * rng.uniform(0.97, 1.0))], [1, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3],
                                rng.uniform(0.2, 1.2), int(rng.integers(1, 4)), rng.uniform(0.3, 1.2))


def _children_playing(rng, seconds):
    """Several children's voices babbling and calling at once (the imitation voice model
    driven by random loudness and pitch contours)."""
    n_frames = int(seconds * voice.RATE / voice.HOP)
    mix = np.zeros(n_frames * voice.HOP + voice.HOP * 200)
    for child in range(int(rng.integers(2, 6))):
        who = voice.make_imitators(rng, 1)[0]
        who = dataclasses.replace(who, f0_low=rng.uniform(220, 300), f0_high=rng.uniform(500, 900),
                                  tract_scale=rng.uniform(1.25, 1.4), lag=0.0, stretch=1.0,
                                  style="voice", pulse_rate=0.0)
        syllables = (dsp.smooth_noise(rng, n_frames, 100, rng.uniform(3, 6)) > rng.uniform(-0.2, 0.4)).astype(float)
        contours = voice.Contours(
            loudness_db=np.where(syllables > 0, -20 + 6 * dsp.smooth_noise(rng, n_frames, 100, 2), -90),
            f0=np.exp(np.log(rng.uniform(250, 450)) + 0.3 * dsp.smooth_noise(rng, n_frames, 100, 3)),
            noisiness=np.clip(0.3 * dsp.smooth_noise(rng, n_frames, 100, 5), 0, 1),
            brightness=np.exp(np.log(1200) + 0.8 * dsp.smooth_noise(rng, n_frames, 100, 4)))
        part = voice.imitate(contours, who, rng) * rng.uniform(0.3, 1)
        mix[: len(part)] += part[: len(mix)]
    import soxr

    return soxr.resample(mix, voice.RATE, RATE)


def _dog_bark(rng, seconds):
    f = rng.uniform(300, 900)
    return everyday.model_calls(rng, [(0, f), (0.3, f * 1.4), (1, f * 0.8)], [1, 0.8, 0.7, 0.5, 0.4, 0.3, 0.2],
                                rng.uniform(0.1, 0.3), int(rng.integers(1, 6)), rng.uniform(0.25, 0.7),
                                noise=rng.uniform(0.2, 1.0), formants=[(rng.uniform(800, 1600), 400)])


def _drilling(rng, seconds):
    top = rng.uniform(150, 500)
    return everyday.model_pulses(rng, seconds, [(0, top * 0.4), (0.15, top), (0.8, top * rng.uniform(0.8, 1)), (1, top)],
                                 rng.uniform(300, 1000), rng.uniform(3000, 9000), pulse_length=0.003,
                                 tone=rng.uniform(0.2, 1.0))


def _engine_idling(rng, seconds):
    rate = rng.uniform(12, 45)
    return everyday.model_pulses(rng, seconds, [(0, rate), (1, rate * rng.uniform(0.95, 1.05))], 40,
                                 rng.uniform(400, 1500), pulse_length=rng.uniform(0.01, 0.03),
                                 tone=rng.uniform(0, 0.5), roughness=rng.uniform(0.05, 0.2), swell=[(0, 1), (1, 1)])


def _gun_shot(rng, seconds):
    n = int(seconds * RATE)
    if rng.random() < 0.3:
        return render(127, [Note(rng.uniform(0, 1), 0.5, int(rng.integers(55, 70)))], seconds, RATE)
    shots = np.sort(rng.uniform(0.05, max(0.1, seconds - 1.0), int(rng.integers(1, 4))))

    def shot(i):
        crack = dsp.burst(rng, RATE, 0.05, 500, 12000, rng.uniform(0.01, 0.04))
        boom = dsp.burst(rng, RATE, 1.2, 40, 600, rng.uniform(0.3, 0.9))
        return 3 * dsp.fit(crack, len(boom)) + boom

    return dsp.place_events(n, shots, rate=RATE, make=shot)


def _jackhammer(rng, seconds):
    return everyday.model_pulses(rng, seconds, [(0, rng.uniform(15, 30))] * 2, rng.uniform(200, 600),
                                 rng.uniform(3000, 8000), pulse_length=rng.uniform(0.015, 0.04),
                                 roughness=0.2, swell=[(0, 1), (1, 1)])


def _siren(rng, seconds):
    shape = str(rng.choice(["wail", "yelp", "hilo"]))
    low = rng.uniform(400, 800)
    period = {"wail": rng.uniform(2, 5), "yelp": rng.uniform(0.2, 0.5), "hilo": rng.uniform(0.8, 1.5)}[shape]
    return everyday.model_siren(rng, low, low * rng.uniform(1.3, 2.3), period, shape, seconds)


def _street_music(rng, seconds):
    program = int(rng.choice([21, 24, 25, 40, 56, 65, 73, 105, 114]))
    key = int(rng.integers(55, 72))
    step = rng.uniform(0.15, 0.4)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    melody = [Note(i * step, step * 0.9, key + int(rng.choice(scale))) for i in range(int(seconds / step))]
    music = render(program, melody, seconds, RATE)
    if rng.random() < 0.6:
        beat = [Note(i * step * 2, 0.1, int(rng.choice([36, 38, 42]))) for i in range(int(seconds / (2 * step)))]
        music = music + 0.7 * render(0, beat, seconds, RATE, bank=DRUMS)
    return music


SOURCES = {name: fn for name, fn in zip(CLASSES, [
    _air_conditioner, _car_horn, _children_playing, _dog_bark, _drilling,
    _engine_idling, _gun_shot, _jackhammer, _siren, _street_music])}


def street_background(rng, n: int) -> np.ndarray:
    rumble = dsp.lowpass(dsp.pink_noise(rng, n), RATE, rng.uniform(200, 800))
    hiss = dsp.highpass(rng.standard_normal(n), RATE, 2000) * 0.05
    return (rumble / (np.std(rumble) + 1e-9) + hiss) * (1 + 0.3 * dsp.smooth_noise(rng, n, RATE, 0.5))


def plan(seed: int, clips_per_class: int) -> pd.DataFrame:
    """The metadata table: per class, source recordings of 1-4 slices until the class
    has `clips_per_class` slices; recordings spread over the 10 folds."""
    rows, fs_id = [], 100_000
    for class_id, name in enumerate(CLASSES):
        rng = rng_for(seed, "urban-plan", name)
        made = 0
        recording = 0
        while made < clips_per_class:
            fs_id += int(rng.integers(1, 500))
            slices = int(min(rng.integers(1, 5), clips_per_class - made))
            salience = int(rng.choice([1, 2], p=[0.6, 0.4]))
            fold = 1 + (recording + class_id) % FOLDS
            start = float(rng.uniform(0, 20))
            for k in range(slices):
                length = 4.0 if rng.random() < 0.8 else float(rng.uniform(1.0, 4.0))
                rows.append(dict(slice_file_name=f"{fs_id}-{class_id}-0-{k}.wav", fsID=fs_id,
                                 start=round(start, 6), end=round(start + length, 6), salience=salience,
                                 fold=fold, classID=class_id, **{"class": name}))
                start += length
            made += slices
            recording += 1
    return pd.DataFrame(rows, columns=COLUMNS)


def _render_slice(job) -> int:
    dest, seed, row = job
    path = dest / "audio" / f"fold{row['fold']}" / row["slice_file_name"]
    if path.exists():
        return 0
    rng = rng_for(seed, "urban", row["slice_file_name"])
    seconds = row["end"] - row["start"]
    event = dsp.fit(SOURCES[row["class"]](rng, seconds), int(seconds * RATE))
    event = event / (np.std(event) + 1e-9)
    snr = rng.uniform(8, 25) if row["salience"] == 1 else rng.uniform(-6, 4)
    mix = dsp.add_noise_at_snr(rng, event, snr, street_background(rng, len(event)))
    write_wav(path, dsp.fade(dsp.normalize(mix, rng.uniform(0.3, 0.9)), RATE), RATE)
    return 1


def write(dest: Path, seed: int, clips_per_class: int, workers: int = 2) -> dict:
    dest = Path(dest)
    table = plan(seed, clips_per_class)
    jobs = [(dest, seed, row) for row in table.to_dict("records")
            if not (dest / "audio" / f"fold{row['fold']}" / row["slice_file_name"]).exists()]
    written = parallel_map(_render_slice, jobs, workers, "urban-sound set")
    (dest / "metadata").mkdir(parents=True, exist_ok=True)
    table.to_csv(dest / "metadata" / "UrbanSound8K.csv", index=False)
    return {"clips": len(table), "clips_written": int(sum(written)),
            "per_fold": table.fold.value_counts().sort_index().to_dict()}
