"""10 s urban soundscapes in SONYC-UST's layout, mixed from the embedded urban-sound sources.

    <dest>/annotations.csv            one row per (clip, annotator), SONYC-UST's columns (v1 or v2)
    <dest>/dcase-ust-taxonomy.yaml    the 8 coarse / 29 fine classes
    <dest>/audio/<sensor>_<n>.wav     10 s, 44.1 kHz mono
    <dest>/soundscapes.csv            the mixer's own record (not in SONYC-UST): events, SNRs, truth

The mixer is a small numpy one (scaper, the usual soundscape synthesiser, needs
`soxbindings`, which has no wheel here and does not build without libsox headers). Like
scaper it places foreground events at random onsets over a background at a drawn SNR:
- background: urban.py's street background, with a sensor-specific colour and level (the
  splits are sensor-disjoint, as SONYC-UST v1's are), and in some clips an unlabelled
  air-conditioner hum (SONYC's taxonomy has no class for it);
- foreground: urban.py's source models, mapped to the coarse categories by SOURCES below;
  0 to 3 categories per clip (LABEL_COUNTS: about a quarter of the labelled clips are
  multi-label, as among the paper's test queries), each event 1.5-10 s long at -4 to
  +14 dB against the background.
Annotators: 3 volunteers per clip from a pool, each with their own sensitivity, false
alarms and skips (-1); they miss quiet events more often and confuse the three machine
categories; validate (and test) clips also get two SONYC team annotators (ids < 0) and the
verified ground truth (id 0), which is the mixer's truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.sonyc_ust import COARSE, FINE, columns
from vocalsearch_tf.datasets.synthetic import dsp, urban
from vocalsearch_tf.datasets.synthetic.common import parallel_map, rng_for, write_wav

RATE = urban.RATE
SECONDS = 10.0
# urban-sound source model -> (coarse category, fine class) it is annotated as
SOURCES = {
    "engine_idling": ("1_engine", "1-2_medium-sounding-engine"),
    "jackhammer": ("2_machinery-impact", "2-2_jackhammer"),
    "gun_shot": ("3_non-machinery-impact", "3-1_non-machinery-impact"),
    "drilling": ("4_powered-saw", "4-2_small-medium-rotating-saw"),  # a rotating whine, saw-like
    "car_horn": ("5_alert-signal", "5-1_car-horn"),
    "siren": ("5_alert-signal", "5-3_siren"),
    "street_music": ("6_music", "6-1_stationary-music"),
    "children_playing": ("7_human-voice", "7-1_person-or-small-group-talking"),
    "dog_bark": ("8_dog", "8-1_dog-barking-whining"),
}
AMBIENCE = "air_conditioner"
IMPULSIVE = {"gun_shot", "car_horn", "dog_bark"}  # short events: 1.5-4 s windows
# share of clips with 0, 1, 2, 3 coarse categories
LABEL_COUNTS = {0: 0.04, 1: 0.71, 2: 0.20, 3: 0.05}
# how often each category is drawn (engines dominate real city recordings)
CATEGORY_WEIGHTS = {"1_engine": 0.24, "2_machinery-impact": 0.11, "3_non-machinery-impact": 0.09,
                    "4_powered-saw": 0.10, "5_alert-signal": 0.14, "6_music": 0.10, "7_human-voice": 0.14,
                    "8_dog": 0.08}
SNR_DB = (-4.0, 14.0)
# a volunteer hearing category B present sometimes tags category A (machines sound alike)
CONFUSIONS = {("1_engine", "2_machinery-impact"): 0.12, ("2_machinery-impact", "1_engine"): 0.08,
              ("4_powered-saw", "2_machinery-impact"): 0.10, ("2_machinery-impact", "4_powered-saw"): 0.08,
              ("1_engine", "4_powered-saw"): 0.06}
VOLUNTEERS_PER_CLIP = 3
TEAM = (-1, -2)
CLIPS_PER_SENSOR = 30


def _sensors(count: int, first: int) -> list[int]:
    return list(range(first, first + max(2, int(np.ceil(count / CLIPS_PER_SENSOR)))))


def plan(seed: int, counts: dict[str, int]) -> pd.DataFrame:
    """One row per soundscape: split, sensor, file name, ambience, events, true labels."""
    rows, first_sensor = [], 0
    categories = list(CATEGORY_WEIGHTS)
    weights = np.array(list(CATEGORY_WEIGHTS.values()))
    for split, count in counts.items():
        sensors = _sensors(count, first_sensor)
        first_sensor = sensors[-1] + 1
        rng = rng_for(seed, "sonyc-plan", split)
        for index in range(count):
            sensor = sensors[index % len(sensors)]
            n_labels = int(rng.choice(list(LABEL_COUNTS), p=list(LABEL_COUNTS.values())))
            chosen = rng.choice(len(categories), n_labels, replace=False, p=weights)
            events = []
            for k in sorted(chosen):
                sources = [s for s, (c, _) in SOURCES.items() if c == categories[k]]
                source = str(rng.choice(sources))
                duration = rng.uniform(1.5, 4.0) if source in IMPULSIVE else rng.uniform(3.0, SECONDS)
                events.append({"source": source, "onset": round(float(rng.uniform(0, SECONDS - duration)), 3),
                               "duration": round(float(duration), 3), "snr_db": round(float(rng.uniform(*SNR_DB)), 2)})
            truth = {c: int(any(SOURCES[e["source"]][0] == c for e in events)) for c in COARSE}
            rows.append({"split": split, "sensor_id": sensor, "audio_filename": f"{sensor:02d}_{len(rows):06d}.wav",
                         "ambience": bool(rng.random() < 0.35), "events": events, **truth})
    return pd.DataFrame(rows)


def _background(seed: int, sensor: int, rng, n: int, ambience: bool) -> np.ndarray:
    character = rng_for(seed, "sonyc-sensor", sensor)  # every clip of a sensor sounds alike
    tilt, hiss = character.uniform(0.5, 2.0), character.uniform(0.02, 0.2)
    street = urban.street_background(rng, n)
    background = dsp.lowpass(street, RATE, 1500 * tilt) + hiss * dsp.highpass(street, RATE, 3000)
    if ambience:
        hum = urban.SOURCES[AMBIENCE](rng, SECONDS)[:n]
        background = background / _rms(background) + character.uniform(0.3, 1.0) * dsp.fit(hum, n) / _rms(hum)
    return background / _rms(background)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2)) + 1e-9)


def _render(job) -> int:
    dest, seed, clip = job
    path = dest / "audio" / clip["audio_filename"]
    if path.exists():
        return 0
    rng = rng_for(seed, "sonyc", clip["audio_filename"])
    n = int(SECONDS * RATE)
    mix = _background(seed, clip["sensor_id"], rng, n, clip["ambience"])
    for event in clip["events"]:
        start, length = int(event["onset"] * RATE), int(event["duration"] * RATE)
        sound = dsp.fade(dsp.fit(urban.SOURCES[event["source"]](rng, event["duration"]), length), RATE, 0.01, 0.1)
        length = min(length, n - start)
        mix[start:start + length] += sound[:length] / _rms(sound[:length]) * 10 ** (event["snr_db"] / 20)
    write_wav(path, dsp.fade(dsp.normalize(mix, rng.uniform(0.3, 0.9)), RATE), RATE)
    return 1


def _volunteers(seed: int, count: int) -> pd.DataFrame:
    rng = rng_for(seed, "sonyc-volunteers")
    return pd.DataFrame({"annotator_id": 1000 + rng.choice(9000, count, replace=False),
                         "sensitivity": rng.uniform(0.75, 0.98, count), "false_alarm": rng.uniform(0.005, 0.04, count),
                         "skip": rng.uniform(0.0, 0.05, count)})


def _tags(rng, clip: dict, sensitivity: float, false_alarm: float, skip: float, quiet_db: float) -> dict:
    """One annotator's coarse presence values (1 / 0 / -1) for a clip."""
    loudest = {}
    for event in clip["events"]:
        category = SOURCES[event["source"]][0]
        loudest[category] = max(loudest.get(category, -99.0), event["snr_db"])
    tags = {}
    for category in COARSE:
        if rng.random() < skip:
            tags[category] = -1
        elif category in loudest:  # quiet events are missed more often
            heard = sensitivity / (1 + np.exp(-(loudest[category] - quiet_db) / 3))
            tags[category] = int(rng.random() < heard)
        else:
            confusion = max([p for (tagged, heard), p in CONFUSIONS.items() if tagged == category and heard in loudest],
                            default=0.0)
            tags[category] = int(rng.random() < max(false_alarm, confusion))
    return tags


def _row(rng, clip: dict, annotator: int, tags: dict, verified: bool) -> dict:
    row = {"split": clip["split"], "sensor_id": clip["sensor_id"], "audio_filename": clip["audio_filename"],
           "annotator_id": annotator}
    true_fine = {SOURCES[e["source"]][0]: SOURCES[e["source"]][1] for e in clip["events"]}
    for category in COARSE:
        value, fine = tags[category], None
        if value == 1:
            sure = category in true_fine and (verified or rng.random() < 0.75)
            fine = true_fine[category] if sure else next(f for f in FINE[category] if "-X_" in f or len(FINE[category]) == 1)
        for f in FINE[category]:
            row[f"{f}_presence"] = -1 if value == -1 else int(value == 1 and f == fine)
            row[f"{f}_proximity"] = (str(rng.choice(["near", "far", "notsure"]))
                                     if value == 1 and f == fine and not verified else "-1")
        row[f"{category}_presence"] = value
    return row


def annotate(seed: int, clips: pd.DataFrame, version: int) -> pd.DataFrame:
    """annotations.csv: volunteers for every clip; team and verified rows for validate/test."""
    pool = _volunteers(seed, max(12, len(clips) // 8))
    rows = []
    for clip in clips.to_dict("records"):
        rng = rng_for(seed, "sonyc-annotators", clip["audio_filename"])
        for person in pool.iloc[rng.choice(len(pool), VOLUNTEERS_PER_CLIP, replace=False)].itertuples():
            tags = _tags(rng, clip, person.sensitivity, person.false_alarm, person.skip, quiet_db=-6.0)
            rows.append(_row(rng, clip, int(person.annotator_id), tags, verified=False))
        if clip["split"] != "train":
            for member in TEAM:
                rows.append(_row(rng, clip, member, _tags(rng, clip, 0.97, 0.005, 0.0, quiet_db=-10.0), verified=False))
            rows.append(_row(rng, clip, 0, {c: clip[c] for c in COARSE}, verified=True))
    table = pd.DataFrame(rows)
    if version >= 2:
        table = table.merge(_place_and_time(seed, clips), on="audio_filename")
    return table[columns(version)]


def _place_and_time(seed: int, clips: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for clip in clips.itertuples():
        where, when = rng_for(seed, "sonyc-sensor", clip.sensor_id), rng_for(seed, "sonyc-time", clip.audio_filename)
        rows.append({"audio_filename": clip.audio_filename, "borough": int(where.choice([1, 3, 4])),
                     "block": int(where.integers(100, 9999)), "latitude": round(40.70 + where.uniform(0, 0.1), 3),
                     "longitude": round(-74.00 + where.uniform(0, 0.1), 3), "year": int(when.integers(2016, 2020)),
                     "week": int(when.integers(1, 53)), "day": int(when.integers(0, 7)), "hour": int(when.integers(0, 24))})
    return pd.DataFrame(rows)


def taxonomy_yaml() -> str:
    lines = ["coarse:"] + [f"  {c.split('_')[0]}: {c.split('_', 1)[1]}" for c in COARSE] + ["fine:"]
    for category in COARSE:
        lines.append(f"  {category.split('_')[0]}:")
        for fine in FINE[category]:
            code, name = fine.split("_", 1)
            lines.append(f"    {code.split('-')[1]}: {name}")
    return "\n".join(lines) + "\n"


def write(dest: Path, seed: int, clips: tuple[int, int] | None, workers: int = 2, version: int = 1) -> dict:
    """Write the set: `clips` = (train, validate) soundscapes; version 2 adds a test split
    of the validate size and the time and place columns."""
    if clips is None:
        return {"clips": 0, "skipped": "this profile sets no sonyc_ust_clips"}
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    counts = {"train": clips[0], "validate": clips[1], **({"test": clips[1]} if version >= 2 else {})}
    table = plan(seed, counts)
    record = table.assign(events=[";".join(f"{e['source']}@{e['onset']}+{e['duration']}s@{e['snr_db']}dB"
                                           for e in events) for events in table.events])
    # a clip on disk is kept only when the last run planned the same soundscape under its name
    # (other clip counts give other names to other soundscapes)
    before = dest / "soundscapes.csv"
    kept = set()
    if before.exists():
        old = pd.read_csv(before, keep_default_na=False).astype(str).set_index("audio_filename")
        new = record.astype(str).set_index("audio_filename")
        same = new.index.intersection(old.index)
        kept = {name for name in same if (old.loc[name, new.columns] == new.loc[name]).all()}
    planned = set(table.audio_filename)
    for stale in (dest / "audio").glob("*.wav") if (dest / "audio").is_dir() else ():
        if stale.name not in planned:
            stale.unlink()
    jobs = []
    for clip in table.to_dict("records"):
        path = dest / "audio" / clip["audio_filename"]
        if path.exists() and clip["audio_filename"] not in kept:
            path.unlink()
        if not path.exists():
            jobs.append((dest, seed, clip))
    written = parallel_map(_render, jobs, workers, "SONYC-UST-layout soundscapes")
    annotate(seed, table, version).to_csv(dest / "annotations.csv", index=False)
    (dest / "dcase-ust-taxonomy.yaml").write_text(taxonomy_yaml())
    record.to_csv(before, index=False)
    labels = table[list(COARSE)].to_numpy()
    return {"clips": len(table), "clips_written": int(sum(written)), "version": version,
            **{f"{split} clips": int(n) for split, n in counts.items()},
            "multi-label share of labelled clips": round(float((labels.sum(1) >= 2).sum() / max(1, (labels.sum(1) >= 1).sum())), 3)}
