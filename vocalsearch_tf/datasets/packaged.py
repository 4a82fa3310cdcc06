"""The development check of transfer: real recordings from packaged sound libraries,
imitated by several independent processes, in VocalSketch v1.0.4's layout and columns (what
`datasets/vocalsketch.py` loads), with two sidecar tables:

    <dest>/sound_recordings.csv, vocal_imitations.csv      VocalSketch's tables
    <dest>/sound_recordings/<label>.wav                    44.1 kHz mono, at most 4 s
    <dest>/vocal_imitations/included/<label> - <id>.wav    16 kHz mono
    <dest>/provenance.csv     each sound's package, file, part (tuning / confirmation)
    <dest>/imitations.csv     each imitation's process, performer and part

Four categories as in VocalSketch, 40 sounds each (the single synthesizer 30), from 14
Debian packages fetched without root (`apt-get download`, `dpkg-deb -x`; `datasets/debian.py`),
as the tables `POOLS` and `ADDED_POOLS` say:

- acoustic instruments: LMMS's recorded instruments (`lmms-common`), Hydrogen's GM rock kit
  (`hydrogen-data`), acoustic GM programs of `musescore-general-soundfont-small`;
- commercial synthesizers: LMMS's bass and pad samples of commercial synths, Hydrogen's
  TR-808 kit, GM synth programs of the MuseScore font;
- everyday sounds: OpenTTD's sound set (`openttd-opensfx`: vehicles, machines, animals,
  weather), game effects of `pingus-data`, `frozen-bubble-data`, `chromium-bsu-data`,
  Tux Paint's tool sounds (`tuxpaint-data`), LMMS's effects (no speech, no music);
- single synthesizer: one GM synth patch (Lead 2, sawtooth) with different notes, rhythms,
  glides and swells, as VocalSketch's single synthesizer varies one synth's parameters.

Version 4 of the check added `ADDED_POOLS`: drums, loops and game effects (10 sounds in each
of the first three categories: Hydrogen's extra drum kits, acoustic and electronic, LMMS's
beats, and the effects of five more games). In version 3 two sampled-instrument packages
held two thirds of the imitations, and the learnt models led there and trailed on drums and
effects. The added pools' groups come after version 3's, so version 3's sounds keep their
choice, their part and their imitations.

Each sound is imitated by `IMITATIONS_PER_PROCESS` performers of each process of
`imitation_processes` (eSpeak NG onomatopoeia, a contour whistle/hum, a vocoder voice, the
sound transformed as sox would (version 5), and the embedded data's own voice, which is in
distribution and reported apart).

**Split once, by sound**: within each category and pool, half the sounds (a seeded choice)
form the *tuning* part, the rest the *confirmation* part; each imitation belongs to its
sound's part and ranks the sounds of its category in its part (15). Choices are made on
the tuning part; the confirmation part only reports.

`sonic-pi-samples`, `minetest-data` and `sound-theme-freedesktop` are reserved for the
maintainers' independent check, and `fluid-soundfont-gm` / TimGM6mb feed the training
generator: all are refused here. Keep the packages used here out of training in turn.

Files are chosen from sorted lists with a seeded choice; everything is deterministic from
the seed and the package versions (recorded in provenance.csv).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets import gm_render, imitation_processes, opensfx
from vocalsearch_tf.datasets.debian import PackageToolError, fetch_debian, package_root, package_version  # noqa: F401
from vocalsearch_tf.datasets.synthetic.common import random_id, rng_for, write_wav
from vocalsearch_tf.datasets.synthetic.vocalsketch import CATEGORIES, IMITATION_COLUMNS, SOUND_COLUMNS
from vocalsearch_tf.signal import audio

SOUNDS_PER_CATEGORY = 40
SINGLE_SYNTH_SOUNDS = 30  # one patch: more of it would only add to the sound font's share
IMITATIONS_PER_PROCESS = 4  # per sound: this many of a process's performers imitate it
PERFORMERS_PER_PROCESS = 10
PARTS = ("tuning", "confirmation")
RATE = 44_100
MAX_SECONDS = 4.0

# reserved for the maintainers' independent check / possible training sources
RESERVED_PACKAGES = frozenset({"sonic-pi-samples", "minetest-data", "sound-theme-freedesktop"})
TRAINING_PACKAGES = frozenset({"fluid-soundfont-gm", "fluid-soundfont-gs", "timgm6mb-soundfont"})
SOUNDFONT = ("musescore-general-soundfont-small", "usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
LMMS = "usr/share/lmms/samples"
HYDROGEN = "usr/share/hydrogen/data/drumkits"  # hydrogen-data's kits, and hydrogen-drumkits' own


@dataclass(frozen=True)
class Pool:
    """A folder of one package that gives its category `count` sounds."""

    package: str
    folder: str
    count: int
    leave_out: tuple = ()  # file stems: speech, music, electric instruments, empty files
    include: str = ""  # a regular expression the stem must match, if any


POOLS = {
    "acoustic instruments": (
        Pool("lmms-common", f"{LMMS}/instruments", 12, ("bassslap01", "bassslap02", "e_organ01", "e_piano_accord01",
             "e_piano_accord02", "steel_guitar_heavy_distorted01", "steel_guitar_medium_distorted01",
             "steel_guitar_slight_distorted01")),
        Pool("lmms-common", f"{LMMS}/latin", 3),
        Pool("hydrogen-data", f"{HYDROGEN}/GMRockKit", 6, include=r"-Med$|^HandClap$"),
    ),
    "commercial synthesizers": (
        Pool("lmms-common", f"{LMMS}/basses", 8),
        Pool("lmms-common", f"{LMMS}/stringsnpads", 5,
             ("chorus01", "chorus02", "strings01", "bell_choir01", "bell_choir02")),
        Pool("hydrogen-data", f"{HYDROGEN}/TR808EmulationKit", 7),
    ),
    "everyday sounds": (
        Pool("openttd-opensfx", opensfx.FOLDER, 10, ("good_year", "bad_year", "oooh_sound")),
        Pool("pingus-data", "usr/share/games/pingus/data/sounds", 4, ("goodidea", "letsgo", "ohno", "yipee")),
        Pool("frozen-bubble-data", "usr/share/games/frozen-bubble/snd", 4,
             ("frozen-mainzik-1p", "frozen-mainzik-2p", "introzik", "noh", "chatted", "cancel", "menu_change",
              "menu_selected", "pause", "lose", "hurry")),
        Pool("tuxpaint-data", "usr/share/tuxpaint/sounds", 5, ("areyousure", "giggle", "tuxok", "youcannot", "prompt")),
        Pool("chromium-bsu-data", "usr/share/games/chromium-bsu/wav", 3, ("music_game", "music_menu")),
        Pool("lmms-common", f"{LMMS}/effects", 2, ("chroma_sound_effect01", "filter_sweep01", "warp01", "warp02")),
        Pool("lmms-common", f"{LMMS}/misc", 2, ("bass!", "buzz!", "undefined01", "electric_ping01")),
    ),
}
ADDED_POOLS = {  # check version 4: drums, loops and game effects
    "acoustic instruments": (
        Pool("hydrogen-drumkits", f"{HYDROGEN}/ColomboAcousticDrumkit", 4),
        Pool("hydrogen-drumkits", f"{HYDROGEN}/circAfrique v4", 3),
        Pool("hydrogen-drumkits", f"{HYDROGEN}/Millo-Drums_v.1", 3, ("emptySample",)),
    ),
    "commercial synthesizers": (
        Pool("hydrogen-drumkits", f"{HYDROGEN}/ElectricEmpireKit", 4),
        Pool("hydrogen-drumkits", f"{HYDROGEN}/HardElectro1", 3, ("emptySample",)),
        Pool("lmms-common", f"{LMMS}/beats", 3),
    ),
    "everyday sounds": (
        Pool("lbreakout2-data", "usr/share/games/lbreakout2/sounds", 3,
             ("dammit", "damn", "excellent", "verygood", "wontgiveup")),
        Pool("powermanga-data", "usr/share/games/powermanga/sounds", 3),
        Pool("kgoldrunner", "usr/share/kgoldrunner/themes/default", 2, ("completed", "gameover", "victory")),
        Pool("kbounce", "usr/share/kbounce/sounds", 1),
        Pool("kapman", "usr/share/sounds/kapman", 1, ("gameover", "levelup")),
    ),
}
# General MIDI programs of the MuseScore font (0-based), and how many each category renders
GM_ACOUSTIC = {"clarinet": 71, "oboe": 68, "tuba": 58, "alto sax": 65, "marimba": 12, "nylon guitar": 24,
               "harp": 46, "xylophone": 13, "french horn": 60, "bassoon": 70, "accordion": 21, "sitar": 104}
GM_SYNTH = {"square lead": 80, "calliope lead": 82, "chiff lead": 83, "charang lead": 84, "fifths lead": 86,
            "bass and lead": 87, "warm pad": 89, "polysynth pad": 90, "bowed pad": 92, "metallic pad": 93,
            "halo pad": 94, "sweep pad": 95, "synth bass 1": 38, "synth brass 1": 62}
RENDERED = {"acoustic instruments": (GM_ACOUSTIC, 9), "commercial synthesizers": (GM_SYNTH, 10)}
SINGLE_SYNTH_PROGRAM = 81  # Lead 2 (sawtooth)
PACKAGES = tuple(sorted({p.package for table in (POOLS, ADDED_POOLS) for pools in table.values() for p in pools}
                        | {SOUNDFONT[0]}))
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


def _counts_add_up() -> None:
    for category, pools in POOLS.items():
        total = sum(p.count for p in (*pools, *ADDED_POOLS[category])) + RENDERED.get(category, ({}, 0))[1]
        assert total == SOUNDS_PER_CATEGORY, (category, total)


_counts_add_up()


# --- fetching ---------------------------------------------------------------------------------

def fetch_packages(cache: str | Path, packages=PACKAGES) -> dict[str, Path]:
    """`fetch_debian` for the check's packages, refusing reserved and training ones; OpenSFX's
    container unpacked into WAV files."""
    check_allowed(packages)
    roots = fetch_debian(cache, packages)
    if "openttd-opensfx" in roots:
        opensfx.unpack(roots["openttd-opensfx"])
    return roots


# --- choosing and preparing the sounds ------------------------------------------------------

@dataclass(frozen=True)
class Sound:
    label: str
    category: str
    package: str
    source: str  # the file inside the package, or the sound font
    render: dict = field(default_factory=dict, hash=False, compare=False)  # GM rendering, if any
    part: str = ""


def _label(stem: str) -> str:
    return re.sub(r"\s+", " ", "".join(c if c.isalnum() else " " for c in stem)).strip()


def pool_files(roots: dict[str, Path], pool: Pool) -> list[Sound]:
    """The pool's audio files, sorted, without the ones it leaves out."""
    if pool.package not in roots:
        return []
    base = roots[pool.package]
    return [Sound(_label(path.stem), "", pool.package, str(path.relative_to(base)))
            for path in sorted((base / pool.folder).glob("*"))
            if path.suffix.lower() in AUDIO_SUFFIXES and path.stem not in pool.leave_out
            and (not pool.include or re.search(pool.include, path.stem))]


def _rendered(category: str, names: dict[str, int], count: int, seed: int) -> list[Sound]:
    rng = rng_for(seed, "packaged", "programs", category)
    chosen = sorted(rng.choice(sorted(names), size=count, replace=False))
    sounds = []
    for name in chosen:
        r = rng_for(seed, "packaged", "melody", name)
        low, high = (36, 55) if "bass" in name or name in ("tuba", "bassoon") else (55, 80)
        sounds.append(Sound(f"{name} (GM {names[name]})", category, SOUNDFONT[0], SOUNDFONT[1],
                            {"program": names[name], "notes": gm_render.melody(r, low, high, 3.0), "total": 3.0}))
    return sounds


def _single_synth(seed: int) -> list[Sound]:
    """One patch, many settings: notes, rhythm, a pitch glide and a swell differ."""
    rng = rng_for(seed, "packaged", "single synth")
    numbers = sorted(rng.choice(np.arange(100, 1000), size=SINGLE_SYNTH_SOUNDS, replace=False))
    sounds = []
    for number in numbers:
        r = rng_for(seed, "packaged", "single synth", int(number))
        total = float(r.uniform(1.5, 3.5))
        notes = gm_render.melody(r, 45, 84, total)
        bend = (np.linspace(0, r.choice([-2, 2]), int(total * 100)) if r.random() < 0.4 else None)
        swell = (np.clip(np.linspace(r.uniform(0.1, 0.5), 1.0, int(total * 100)), 0, 1)[::int(r.choice([1, -1]))]
                 if r.random() < 0.4 else None)
        sounds.append(Sound(f"single synth {number}", "single synthesizer", SOUNDFONT[0], SOUNDFONT[1],
                            {"program": SINGLE_SYNTH_PROGRAM, "notes": notes, "total": total,
                             "bend": None if bend is None else bend.round(4).tolist(),
                             "expression": None if swell is None else swell.round(4).tolist()}))
    return sounds


def _choose_from_pool(roots, pool: Pool, category: str, seed: int) -> list[Sound]:
    files = [s for s in pool_files(roots, pool) if _readable(roots[s.package] / s.source)]
    if len(files) < pool.count:
        raise ValueError(f"{category}: {pool.package}/{pool.folder} has {len(files)} readable files, "
                         f"{pool.count} needed")
    rng = rng_for(seed, "packaged", "choose", category, pool.package, pool.folder)
    keep = sorted(rng.choice(len(files), pool.count, replace=False))
    return [dataclasses.replace(files[k], category=category) for k in keep]


def assign_parts(groups: list[list[Sound]], category: str, seed: int) -> list[Sound]:
    """Half of each category's sounds to each part, balanced over its pools: each group in
    a seeded order, then the parts alternate through the category's groups."""
    rng = rng_for(seed, "packaged", "parts", category)
    turn = int(rng.integers(2))
    out = []
    for group in groups:
        for k in rng.permutation(len(group)):
            out.append(dataclasses.replace(group[k], part=PARTS[turn]))
            turn = 1 - turn
    return out


def _unique_labels(sounds: list[Sound]) -> list[Sound]:
    """The same stem in two packages (an 'applause' in each) becomes 'applause (package)',
    in two folders of one package 'applause (package folder)'."""
    for extra in (lambda s: s.package, lambda s: f"{s.package} {Path(s.source).parent.name}"):
        labels = pd.Series([s.label for s in sounds])
        clash = labels.duplicated(keep=False).to_numpy()
        sounds = [dataclasses.replace(s, label=f"{s.label.split(' (')[0]} ({extra(s)})") if dup else s
                  for s, dup in zip(sounds, clash)]
    return sounds


def choose_sounds(roots: dict[str, Path], seed: int, added: dict = ADDED_POOLS) -> list[Sound]:
    """`SOUNDS_PER_CATEGORY` sounds per category (a seeded choice from each pool's sorted
    readable files, and seeded GM renderings), each with its part. The `added` pools come
    last: without them, the sounds and parts are version 3's."""
    sounds = []
    for category in CATEGORIES:
        if category == "single synthesizer":
            groups = [_single_synth(seed)]
        else:
            groups = [_choose_from_pool(roots, pool, category, seed) for pool in POOLS[category]]
            if category in RENDERED:
                names, count = RENDERED[category]
                groups.append(_rendered(category, names, count, seed))
            groups += [_choose_from_pool(roots, pool, category, seed) for pool in added.get(category, ())]
        sounds += assign_parts(groups, category, seed)
    sounds = _unique_labels(sounds)
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
        return prepare(gm_render.render(path, sound.render), RATE)
    samples, rate = audio.load(path)  # mono, the file's own rate
    return prepare(samples, rate)


# --- writing ----------------------------------------------------------------------------------

def filename_for(label: str) -> str:
    return "".join(c for c in label.replace(" ", "_") if c.isalnum() or c in "_-") + ".wav"


def plan(sounds: list[Sound], seed: int, processes=tuple(imitation_processes.PROCESSES),
         per_process: int = IMITATIONS_PER_PROCESS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """VocalSketch's two tables (all imitations included), and per imitation its process,
    performer and part (the `imitations.csv` columns, beside VocalSketch's)."""
    ids = {(p, k): random_id(rng_for(seed, "packaged", "participant", p, k))
           for p in processes for k in range(PERFORMERS_PER_PROCESS)}
    sound_rows, imitation_rows = [], []
    for sound in sounds:
        rng = rng_for(seed, "packaged", "ids", sound.label)
        sound_id, label_id = random_id(rng), random_id(rng)
        filename = filename_for(sound.label)
        sound_rows.append(dict(id=sound_id, filename=filename, sound_label=sound.label,
                               sound_label_id=label_id, audio_concept_subset=sound.category))
        for process in processes:
            who = rng_for(seed, "packaged", "performers", process, sound.label).choice(
                PERFORMERS_PER_PROCESS, per_process, replace=False)
            for performer in sorted(int(k) for k in who):
                imitation_id = random_id(rng)
                imitation_rows.append(dict(
                    id=imitation_id, filename=f"{sound.label} - {imitation_id}.wav", stimulus_type="sound recording",
                    included=True, draft=False, training=False, participant_id=ids[(process, performer)],
                    satisfaction=SATISFACTION[int(rng.integers(len(SATISFACTION)))], sound_label=sound.label,
                    sound_label_id=np.nan, sound_recording=filename, sound_recording_id=sound_id,
                    audio_concept_subset=sound.category, participants_sound_recording_description=np.nan,
                    participants_sound_recording_description_confidence=CONFIDENCE[int(rng.integers(len(CONFIDENCE)))],
                    description_match=np.nan, process=process, performer=performer, part=sound.part))
    return pd.DataFrame(sound_rows, columns=SOUND_COLUMNS), pd.DataFrame(imitation_rows)


def _versions(marker: Path) -> dict[str, int]:
    """The process versions a set was written with (none recorded: every process is stale)."""
    if not marker.exists():
        return {}
    content = json.loads(marker.read_text())
    return content.get("versions", {}) if isinstance(content, dict) else {}


def write_set(dest: str | Path, sounds: list[Sound], references: dict[str, np.ndarray], seed: int,
              provenance: dict[str, dict] | None = None, processes=tuple(imitation_processes.PROCESSES),
              per_process: int = IMITATIONS_PER_PROCESS) -> dict:
    """Write references (44.1 kHz arrays by label) and their imitations under `dest`. Files
    written before are kept unless the process that wrote them has changed since."""
    dest = Path(dest)
    sound_table, imitation_table = plan(sounds, seed, processes, per_process)
    makers = {name: imitation_processes.process(name) for name in processes}
    performers = {name: p.performers(rng_for(seed, "packaged", "performers", name), PERFORMERS_PER_PROCESS)
                  for name, p in makers.items()}
    marker = dest / "processes.json"
    before = _versions(marker)
    stale = {name for name, p in makers.items() if before.get(name) != p.version()}
    for sound, row in zip(sounds, sound_table.itertuples()):
        reference = references[sound.label]
        write_wav(dest / "sound_recordings" / row.filename, reference, RATE)
        mine = imitation_table[imitation_table.sound_label == sound.label]
        todo = [im for im in mine.itertuples(index=False)
                if im.process in stale or not (dest / "vocal_imitations" / "included" / im.filename).exists()]
        analyses = {}
        for im in todo:
            maker = makers[im.process]
            if im.process not in analyses:
                analyses[im.process] = maker.analyse(audio.resample(reference, RATE, imitation_processes.RATE))
            voice = maker.imitate(analyses[im.process], performers[im.process][im.performer],
                                  rng_for(seed, "packaged", "imitation", im.id))
            write_wav(dest / "vocal_imitations" / "included" / im.filename, voice, imitation_processes.RATE)
    sound_table.to_csv(dest / "sound_recordings.csv", index=False)
    imitation_table[IMITATION_COLUMNS].to_csv(dest / "vocal_imitations.csv", index=False)
    imitation_table[["filename", "process", "performer", "part", "sound_label"]].to_csv(
        dest / "imitations.csv", index=False)
    rows = [{"filename": filename_for(s.label), "sound_label": s.label, "category": s.category, "part": s.part,
             "package": s.package, "source": s.source,
             "rendering": json.dumps({k: v for k, v in s.render.items() if k in ("program", "notes", "total")})
             if s.render else "", **(provenance or {}).get(s.label, {})} for s in sounds]
    pd.DataFrame(rows).to_csv(dest / "provenance.csv", index=False)
    marker.write_text(json.dumps({
        "versions": {name: p.version() for name, p in makers.items()},
        "in_distribution": [name for name, p in makers.items() if p.in_distribution],
        "performers": {name: [makers[name].describe(w) for w in who] for name, who in performers.items()}},
        indent=1, default=str))
    return {"sounds": len(sound_table), "imitations": len(imitation_table),
            "per_category": sound_table.audio_concept_subset.value_counts().to_dict(),
            "per_part": imitation_table.part.value_counts().to_dict(),
            "per_process": imitation_table.process.value_counts().to_dict()}


def write(dest: str | Path, cache: str | Path, seed: int = 0) -> dict:
    """Fetch the packages (if needed), choose and prepare the sounds, write the check set."""
    roots = fetch_packages(cache)
    sounds = choose_sounds(roots, seed)
    references = {s.label: lead_in(load_sound(s, roots), lead_in_seconds(s.label, seed)) for s in sounds}
    versions = {p: package_version(Path(cache), p) for p in PACKAGES}
    provenance = {s.label: {"deb": versions[s.package], **_licence(roots, s)} for s in sounds}
    return write_set(dest, sounds, references, seed, provenance)


def _licence(roots: dict[str, Path], sound: Sound) -> dict:
    """OpenSFX names each sound's author and licence beside it."""
    note = (roots[sound.package] / sound.source).with_suffix(".txt")
    return {"credit": note.read_text().strip()} if sound.package == "openttd-opensfx" and note.exists() else {}


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
    except (PackageToolError, ReservedPackageError, opensfx.OpenSfxError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
