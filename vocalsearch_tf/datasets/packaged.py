"""A development check of transfer: real recordings from packaged sound libraries, with
vocal imitations made by eSpeak NG speaking onomatopoeia (`datasets/imitators.py`), in
VocalSketch v1.0.4's layout and columns (what `datasets/vocalsketch.py` loads):

    <dest>/sound_recordings.csv
    <dest>/vocal_imitations.csv
    <dest>/sound_recordings/<label>.wav                    44.1 kHz mono, at most 4 s
    <dest>/vocal_imitations/included/<label> - <id>.wav    16 kHz mono
    <dest>/provenance.csv                                  each sound's package and file

Four categories as in VocalSketch, 10 sounds each, 10 imitations per sound (one by each
of 10 virtual participants). The sounds come from Debian packages fetched without root
(`apt-get download`, then `dpkg-deb -x` into a cache folder):

- acoustic instruments: LMMS's recorded instrument samples (`lmms-common`) and notes of
  acoustic General MIDI programs rendered from `musescore-general-soundfont-small`;
- commercial synthesizers: LMMS's bass, pad and string samples of commercial synths
  (`lmms-common`) and GM synth programs of the MuseScore font;
- everyday sounds: game sound effects (`pingus-data`, `frozen-bubble-data`) and LMMS's
  effect and miscellaneous samples (no speech, no music);
- single synthesizer: one GM synth patch of the MuseScore font (Lead 2, sawtooth) played
  with different notes, rhythms, glides and swells, as VocalSketch's single synthesizer
  varies one synth's parameters.

`sonic-pi-samples`, `minetest-data` and `sound-theme-freedesktop` are reserved for the
maintainers' independent check, and `fluid-soundfont-gm` / TimGM6mb may feed the training
generator: all are refused here. Keep the packages used here out of training in turn.

Files are chosen from sorted lists with a seeded choice; everything is deterministic
from the seed and the package versions (recorded in provenance.csv).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets import imitators
from vocalsearch_tf.datasets.debian import PackageToolError, fetch_debian, package_root, package_version  # noqa: F401
from vocalsearch_tf.datasets.synthetic.common import random_id, rng_for, write_wav
from vocalsearch_tf.datasets.synthetic.vocalsketch import CATEGORIES, IMITATION_COLUMNS, SOUND_COLUMNS
from vocalsearch_tf.signal import audio

SOUNDS_PER_CATEGORY = 10
IMITATIONS_PER_SOUND = 10
RATE = 44_100
MAX_SECONDS = 4.0

# reserved for the maintainers' independent check / possible training sources
RESERVED_PACKAGES = frozenset({"sonic-pi-samples", "minetest-data", "sound-theme-freedesktop"})
TRAINING_PACKAGES = frozenset({"fluid-soundfont-gm", "fluid-soundfont-gs", "timgm6mb-soundfont"})
PACKAGES = ("lmms-common", "musescore-general-soundfont-small", "pingus-data", "frozen-bubble-data")
SOUNDFONT = ("musescore-general-soundfont-small", "usr/share/sounds/sf3/MuseScore_General_Lite.sf3")

LMMS = "usr/share/lmms/samples"
# (package, folder inside it, file stems to leave out: speech, music, malformed names)
POOLS = {
    "acoustic instruments": [("lmms-common", f"{LMMS}/instruments", ()), ("lmms-common", f"{LMMS}/latin", ())],
    "commercial synthesizers": [
        ("lmms-common", f"{LMMS}/basses", ()),
        ("lmms-common", f"{LMMS}/stringsnpads", ("chorus01", "chorus02", "strings01", "bell_choir01", "bell_choir02")),
    ],
    "everyday sounds": [
        ("pingus-data", "usr/share/games/pingus/data/sounds", ("goodidea", "letsgo", "ohno", "yipee")),
        ("frozen-bubble-data", "usr/share/games/frozen-bubble/snd",
         ("frozen-mainzik-1p", "frozen-mainzik-2p", "introzik", "noh", "chatted", "cancel", "menu_change",
          "menu_selected", "pause", "lose", "hurry")),
        ("lmms-common", f"{LMMS}/effects", ("chroma_sound_effect01", "filter_sweep01", "warp01", "warp02")),
        ("lmms-common", f"{LMMS}/misc", ("bass!", "buzz!", "undefined01", "electric_ping01")),
    ],
}
# how many of each category's sounds are recorded samples; the rest are rendered from the font
SAMPLED = {"acoustic instruments": 6, "commercial synthesizers": 6, "everyday sounds": 10, "single synthesizer": 0}
# General MIDI programs of the MuseScore font (0-based)
GM_ACOUSTIC = {"clarinet": 71, "oboe": 68, "tuba": 58, "alto sax": 65, "marimba": 12, "nylon guitar": 24,
               "harp": 46, "xylophone": 13, "french horn": 60, "bassoon": 70, "accordion": 21, "sitar": 104}
GM_SYNTH = {"square lead": 80, "calliope lead": 82, "chiff lead": 83, "charang lead": 84, "fifths lead": 86,
            "bass and lead": 87, "warm pad": 89, "polysynth pad": 90, "bowed pad": 92, "metallic pad": 93,
            "halo pad": 94, "sweep pad": 95, "synth bass 1": 38, "synth brass 1": 62}
SINGLE_SYNTH_PROGRAM = 81  # Lead 2 (sawtooth)
AUDIO_SUFFIXES = {".wav", ".ogg", ".flac"}

SATISFACTION = ["Completely satisfied", "Mostly satisfied", "Somewhat satisfied",
                "Neither satisfied or dissatisfied", "Somewhat dissatisfied"]
CONFIDENCE = ["Very confident", "Confident", "Neutral", "Not so confident"]


class ReservedPackageError(ValueError):
    """A package kept out of this check (the maintainers' independent check or training)."""


def check_allowed(packages) -> None:
    for name in packages:
        if name in RESERVED_PACKAGES:
            raise ReservedPackageError(f"{name} is reserved for the maintainers' independent check: "
                                       "it must stay out of the development check and of training")
        if name in TRAINING_PACKAGES:
            raise ReservedPackageError(f"{name} may feed the embedded training data: a check of "
                                       "transfer must not use it")


# --- fetching ---------------------------------------------------------------------------------

def fetch_packages(cache: str | Path, packages=PACKAGES) -> dict[str, Path]:
    """`fetch_debian` for the check's packages, refusing reserved and training ones."""
    check_allowed(packages)
    return fetch_debian(cache, packages)


# --- choosing and preparing the sounds ------------------------------------------------------

@dataclass(frozen=True)
class Sound:
    label: str
    category: str
    package: str
    source: str  # the file inside the package, or the sound font
    render: dict = field(default_factory=dict, hash=False, compare=False)  # GM rendering, if any


def _label(stem: str) -> str:
    return "".join(c if c.isalnum() else " " for c in stem).strip().replace("  ", " ")


def _pool(roots: dict[str, Path], category: str) -> list[Sound]:
    pool = []
    for package, folder, leave_out in POOLS.get(category, []):
        if package not in roots:
            continue
        base = roots[package]
        for path in sorted((base / folder).glob("*")):
            if path.suffix.lower() in AUDIO_SUFFIXES and path.stem not in leave_out:
                pool.append(Sound(_label(path.stem), category, package, str(path.relative_to(base))))
    return pool


def _melody(rng: np.random.Generator, low: int, high: int, total: float) -> list[tuple[float, float, int, int]]:
    """(start, duration, key, velocity): one held note, a few notes, or a repeated note."""
    kind = rng.choice(["held", "phrase", "repeat"])
    key = int(rng.integers(low, high))
    if kind == "held":
        return [(0.0, float(rng.uniform(1.0, total - 0.6)), key, int(rng.integers(80, 120)))]
    notes, t = [], 0.0
    count = int(rng.integers(3, 7))
    step = float(rng.uniform(0.2, min(0.6, (total - 0.8) / count)))
    for _ in range(count):
        if kind == "phrase":
            key = int(np.clip(key + rng.choice([-5, -3, -2, 2, 3, 4, 5, 7]), low, high))
        notes.append((t, step * float(rng.uniform(0.6, 0.95)), key, int(rng.integers(70, 120))))
        t += step
    return notes


def _rendered(category: str, names: dict[str, int], count: int, seed: int) -> list[Sound]:
    rng = rng_for(seed, "packaged", "programs", category)
    chosen = sorted(rng.choice(sorted(names), size=count, replace=False))
    sounds = []
    for name in chosen:
        r = rng_for(seed, "packaged", "melody", name)
        low, high = (36, 55) if "bass" in name or name in ("tuba", "bassoon") else (55, 80)
        sounds.append(Sound(f"{name} (GM {names[name]})", category, SOUNDFONT[0], SOUNDFONT[1],
                            {"program": names[name], "notes": _melody(r, low, high, 3.0), "total": 3.0}))
    return sounds


def _single_synth(seed: int) -> list[Sound]:
    """One patch, ten settings: notes, rhythm, a pitch glide and a swell differ."""
    rng = rng_for(seed, "packaged", "single synth")
    numbers = sorted(rng.choice(np.arange(100, 1000), size=SOUNDS_PER_CATEGORY, replace=False))
    sounds = []
    for number in numbers:
        r = rng_for(seed, "packaged", "single synth", int(number))
        total = float(r.uniform(1.5, 3.5))
        notes = _melody(r, 45, 84, total)
        bend = (np.linspace(0, r.choice([-2, 2]), int(total * 100)) if r.random() < 0.4 else None)
        swell = (np.clip(np.linspace(r.uniform(0.1, 0.5), 1.0, int(total * 100)), 0, 1)[::int(r.choice([1, -1]))]
                 if r.random() < 0.4 else None)
        sounds.append(Sound(f"single synth {number}", "single synthesizer", SOUNDFONT[0], SOUNDFONT[1],
                            {"program": SINGLE_SYNTH_PROGRAM, "notes": notes, "total": total,
                             "bend": None if bend is None else bend.round(4).tolist(),
                             "expression": None if swell is None else swell.round(4).tolist()}))
    return sounds


def choose_sounds(roots: dict[str, Path], seed: int) -> list[Sound]:
    """Ten sounds per category: a seeded choice from the sorted readable files of each
    category's folders, and seeded General MIDI renderings."""
    sounds = []
    for category in CATEGORIES:
        if category == "single synthesizer":
            sounds += _single_synth(seed)
            continue
        pool = [s for s in _pool(roots, category) if _readable(roots[s.package] / s.source)]
        n = SAMPLED[category]
        if len(pool) < n:
            raise ValueError(f"{category}: only {len(pool)} readable files in the packages, {n} needed")
        keep = sorted(rng_for(seed, "packaged", "choose", category).choice(len(pool), n, replace=False))
        sounds += [pool[k] for k in keep]
        rest = SOUNDS_PER_CATEGORY - n
        if rest:
            sounds += _rendered(category, GM_ACOUSTIC if category == CATEGORIES[0] else GM_SYNTH, rest, seed)
    labels = [s.label for s in sounds]
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate labels among the chosen sounds: {labels}")
    return sounds


def _readable(path: Path) -> bool:
    try:
        samples, _ = audio.load(path)
    except Exception:  # noqa: BLE001 - a malformed file in a package is left out
        return False
    return samples.size > 0 and not audio.is_silent(samples, -60.0)


def render_gm(font: Path, spec: dict, rate: int = RATE) -> np.ndarray:
    """Render notes on a GM program of `font` (SF2 or SF3) with tinysoundfont."""
    synth = _font_synth(str(font), rate)
    sfid = 0
    synth.program_select(0, sfid, 0, spec["program"])
    synth.pitchbend_range(0, 2)
    step = rate // 100
    total = spec["total"] + 0.5
    events = sorted([(s, 1, k, v) for s, d, k, v in spec["notes"]] + [(s + d, 0, k, v) for s, d, k, v in spec["notes"]],
                    key=lambda e: (e[0], e[1]))
    out, cursor = [], 0
    bend, expression = spec.get("bend"), spec.get("expression")
    for b in range(int(np.ceil(total * rate / step))):
        now = b * step / rate
        while cursor < len(events) and events[cursor][0] <= now:
            _, on, key, velocity = events[cursor]
            synth.noteon(0, key, velocity) if on else synth.noteoff(0, key)
            cursor += 1
        if bend is not None:
            synth.pitchbend(0, int(np.clip(8192 + bend[min(b, len(bend) - 1)] / 2 * 8191, 0, 16383)))
        if expression is not None:
            synth.control_change(0, 11, int(np.clip(expression[min(b, len(expression) - 1)] * 127, 0, 127)))
        out.append(np.frombuffer(synth.generate(step), dtype=np.float32).reshape(-1, 2).mean(axis=1))
    synth.pitchbend(0, 8192)
    synth.control_change(0, 11, 127)
    synth.notes_off()
    synth.sounds_off()
    synth.generate(step * 20)  # flush voices so the next rendering starts clean
    return np.concatenate(out).astype(np.float64)


_SYNTHS: dict = {}


def _font_synth(font: str, rate: int):
    try:
        import tinysoundfont
    except ImportError as error:
        raise ImportError("tinysoundfont is needed to render the sound font: "
                          "pip install --no-deps tinysoundfont==0.3.7 (make setup does this)") from error

    if (font, rate) not in _SYNTHS:
        synth = tinysoundfont.Synth(samplerate=rate)
        synth.sfload(font)
        _SYNTHS[(font, rate)] = synth
    return _SYNTHS[(font, rate)]


def prepare(samples: np.ndarray, rate: int, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Mono at 44.1 kHz from the first sound above -50 dB of the peak, at most `max_seconds`
    (a 50 ms fade-out where cut), trailing silence dropped, peak 0.9."""
    samples = np.asarray(samples, np.float64)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    samples = audio.resample(samples, rate, RATE) if rate != RATE else samples
    peak = np.max(np.abs(samples)) if samples.size else 0.0
    if peak <= 0:
        raise ValueError("silent sound")
    loud = np.flatnonzero(np.abs(samples) > peak * 10 ** (-50 / 20))
    samples = samples[max(0, loud[0] - int(0.005 * RATE)): loud[-1] + 1]
    limit = int(max_seconds * RATE)
    if len(samples) > limit:
        samples = samples[:limit].copy()
        fade = int(0.05 * RATE)
        samples[-fade:] *= np.linspace(1, 0, fade)
    return 0.9 * samples / np.max(np.abs(samples))


def lead_in(samples: np.ndarray, seconds: float, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """`seconds` of silence (a -70 dB noise floor) in front, as many real files have, the end
    cut (with a 50 ms fade) to stay within `max_seconds`."""
    if seconds <= 0:
        return samples
    n = int(seconds * RATE)
    floor = np.random.default_rng(n).normal(0, 10 ** (-70 / 20), n)
    out = np.concatenate([floor, samples])
    limit = int(max_seconds * RATE)
    if len(out) > limit:
        out = out[:limit].copy()
        fade = int(0.05 * RATE)
        out[-fade:] *= np.linspace(1, 0, fade)
    return out


def lead_in_seconds(label: str, seed: int) -> float:
    """Half the references start at once, the others after 50-600 ms of silence (seeded)."""
    rng = rng_for(seed, "packaged", "lead in", label)
    return float(rng.uniform(0.05, 0.6)) if rng.random() < 0.5 else 0.0


def load_sound(sound: Sound, roots: dict[str, Path]) -> np.ndarray:
    path = roots[sound.package] / sound.source
    if sound.render:
        return prepare(render_gm(path, sound.render), RATE)
    samples, rate = audio.load(path)  # mono, the file's own rate
    return prepare(samples, rate)


# --- writing ----------------------------------------------------------------------------------

def filename_for(label: str) -> str:
    return "".join(c for c in label.replace(" ", "_") if c.isalnum() or c in "_-") + ".wav"


def plan(sounds: list[Sound], seed: int, per_sound: int = IMITATIONS_PER_SOUND) -> tuple[pd.DataFrame, pd.DataFrame]:
    """VocalSketch's two tables: every sound, one included imitation from each participant."""
    participants = [random_id(rng_for(seed, "packaged", "participant", p)) for p in range(per_sound)]
    sound_rows, imitation_rows = [], []
    for sound in sounds:
        rng = rng_for(seed, "packaged", "ids", sound.label)
        sound_id, label_id = random_id(rng), random_id(rng)
        filename = filename_for(sound.label)
        sound_rows.append(dict(id=sound_id, filename=filename, sound_label=sound.label,
                               sound_label_id=label_id, audio_concept_subset=sound.category))
        for p in range(per_sound):
            imitation_id = random_id(rng)
            imitation_rows.append(dict(
                id=imitation_id, filename=f"{sound.label} - {imitation_id}.wav", stimulus_type="sound recording",
                included=True, draft=False, training=False, participant_id=participants[p],
                satisfaction=SATISFACTION[int(rng.integers(len(SATISFACTION)))], sound_label=sound.label,
                sound_label_id=np.nan, sound_recording=filename, sound_recording_id=sound_id,
                audio_concept_subset=sound.category, participants_sound_recording_description=np.nan,
                participants_sound_recording_description_confidence=CONFIDENCE[int(rng.integers(len(CONFIDENCE)))],
                description_match=np.nan, participant=p))
    return pd.DataFrame(sound_rows, columns=SOUND_COLUMNS), pd.DataFrame(imitation_rows)


def write_set(dest: str | Path, sounds: list[Sound], references: dict[str, np.ndarray], seed: int,
              provenance: dict[str, dict] | None = None, per_sound: int = IMITATIONS_PER_SOUND) -> dict:
    """Write references (44.1 kHz arrays by label) and their imitations under `dest`."""
    dest = Path(dest)
    sound_table, imitation_table = plan(sounds, seed, per_sound)
    people = imitators.participants(rng_for(seed, "packaged", "participants"), per_sound)
    marker = dest / "participants.json"
    stale = marker.exists() and _imitator_version(marker) != imitators.VERSION
    for sound, row in zip(sounds, sound_table.itertuples()):
        reference = references[sound.label]
        write_wav(dest / "sound_recordings" / row.filename, reference, RATE)
        todo = [im for im in imitation_table[imitation_table.sound_label == sound.label].itertuples(index=False)
                if stale or not (dest / "vocal_imitations" / "included" / im.filename).exists()]
        if not todo:  # files that exist are kept, unless an older imitator wrote them
            continue
        sketch = imitators.analyse(audio.resample(reference, RATE, imitators.RATE), imitators.RATE)
        for im in todo:
            path = dest / "vocal_imitations" / "included" / im.filename
            voice = imitators.imitate(sketch, people[im.participant], rng_for(seed, "packaged", "imitation", im.id))
            write_wav(path, voice, imitators.RATE)
    sound_table.to_csv(dest / "sound_recordings.csv", index=False)
    imitation_table[IMITATION_COLUMNS].to_csv(dest / "vocal_imitations.csv", index=False)
    rows = [{"filename": filename_for(s.label), "sound_label": s.label, "category": s.category,
             "package": s.package, "source": s.source,
             "rendering": json.dumps({k: v for k, v in s.render.items() if k in ("program", "notes", "total")})
             if s.render else "", **(provenance or {}).get(s.label, {})} for s in sounds]
    pd.DataFrame(rows).to_csv(dest / "provenance.csv", index=False)
    marker.write_text(json.dumps({"imitator_version": imitators.VERSION,
                                  "participants": [p.describe() for p in people]}, indent=1))
    return {"sounds": len(sound_table), "imitations": len(imitation_table),
            "per_category": sound_table.audio_concept_subset.value_counts().to_dict()}


def _imitator_version(marker: Path) -> int:
    """The imitator version a set was written with (1: before versions were recorded)."""
    content = json.loads(marker.read_text())
    return int(content.get("imitator_version", 1)) if isinstance(content, dict) else 1


def write(dest: str | Path, cache: str | Path, seed: int = 0) -> dict:
    """Fetch the packages (if needed), choose and prepare the sounds, write the check set."""
    roots = fetch_packages(cache)
    sounds = choose_sounds(roots, seed)
    references = {s.label: lead_in(load_sound(s, roots), lead_in_seconds(s.label, seed)) for s in sounds}
    versions = {p: package_version(Path(cache), p) for p in PACKAGES}
    provenance = {s.label: {"deb": versions[s.package]} for s in sounds}
    return write_set(dest, sounds, references, seed, provenance)


def stats(dest: str | Path) -> pd.DataFrame:
    """Duration and loudness of every written file, per category and kind (sanity checks)."""
    dest = Path(dest)
    sounds = pd.read_csv(dest / "sound_recordings.csv")
    imitations = pd.read_csv(dest / "vocal_imitations.csv")
    rows = []
    for kind, table, folder in (("sound", sounds, "sound_recordings"),
                                ("imitation", imitations, "vocal_imitations/included")):
        for r in table.itertuples():
            x, rate = audio.load(dest / folder / r.filename)
            rms = np.sqrt(np.mean(x ** 2))
            rows.append({"kind": kind, "category": r.audio_concept_subset, "seconds": len(x) / rate,
                         "rms_db": 20 * np.log10(rms + 1e-12), "peak": float(np.max(np.abs(x))),
                         "silent": bool(audio.is_silent(x, -60.0)), "file": r.filename})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.datasets.packaged", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="apt-get download + dpkg-deb -x the packages into the cache")
    fetch.add_argument("--cache", default="data/packages")
    make = sub.add_parser("write", help="write the check set (fetching the packages if needed)")
    make.add_argument("--cache", default="data/packages")
    make.add_argument("--dest", default="data/transfer_check")
    make.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            for name, root in fetch_packages(args.cache).items():
                print(f"{name}: {root}")
            return 0
        print(write(args.dest, args.cache, args.seed))
        table = stats(args.dest)
        summary = table.groupby(["kind", "category"]).agg(
            files=("file", "size"), seconds_min=("seconds", "min"), seconds_median=("seconds", "median"),
            seconds_max=("seconds", "max"), rms_db_median=("rms_db", "median"), rms_db_min=("rms_db", "min"),
            silent=("silent", "sum"))
        print(summary.round(2).to_string())
        if table.silent.any():
            print("silent files:", ", ".join(table.file[table.silent]), file=sys.stderr)
            return 1
        return 0
    except (PackageToolError, ReservedPackageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
