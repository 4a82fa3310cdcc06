"""A VocalSketch-shaped data set: reference sounds in the four categories, each with
vocal imitations by virtual participants, in VocalSketch v1.0.4's layout and columns.

    <dest>/sound_recordings.csv
    <dest>/vocal_imitations.csv
    <dest>/sound_recordings/<label>.wav            44.1 kHz mono
    <dest>/vocal_imitations/included/<label> - <id>.wav   16 kHz mono
    <dest>/vocal_imitations/excluded/<label> - <id>.wav
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.synthetic import everyday, references, soundfont, voice
from vocalsearch_tf.datasets.synthetic.common import parallel_map, random_id, rng_for, write_wav

CATEGORIES = ("acoustic instruments", "commercial synthesizers", "everyday sounds", "single synthesizer")
SOUND_COLUMNS = ["id", "filename", "sound_label", "sound_label_id", "audio_concept_subset"]
IMITATION_COLUMNS = [
    "id", "filename", "stimulus_type", "included", "draft", "training", "participant_id",
    "satisfaction", "sound_label", "sound_label_id", "sound_recording", "sound_recording_id",
    "audio_concept_subset", "participants_sound_recording_description",
    "participants_sound_recording_description_confidence", "description_match",
]
IMITATIONS_PER_SOUND = 10
# Virtual participants; each sound is imitated by IMITATIONS_PER_SOUND of them, drawn per
# sound (VocalSketch had hundreds of participants, each imitating a few sounds).
PARTICIPANTS = 40
SATISFACTION = ["Completely satisfied", "Mostly satisfied", "Somewhat satisfied",
                "Neither satisfied or dissatisfied", "Somewhat dissatisfied"]
CONFIDENCE = ["Very confident", "Confident", "Neutral", "Not so confident"]


@dataclass(frozen=True)
class Concept:
    label: str
    category: str
    row: object  # the generator table row (None for a single-synthesizer preset)


def all_concepts(seed: int) -> list[Concept]:
    rng = rng_for(seed, "subsynth-numbers")
    numbers = sorted(rng.choice(np.arange(100, 10_000), size=40, replace=False))
    return (
        [Concept(r.label, CATEGORIES[0], r) for r in references.ACOUSTIC_INSTRUMENTS]
        + [Concept(r.label, CATEGORIES[1], r) for r in references.COMMERCIAL_SYNTHS]
        + [Concept(r.label, CATEGORIES[2], r) for r in everyday.EVERYDAY]
        + [Concept(f"subsynth {n}", CATEGORIES[3], None) for n in numbers]
    )


def choose_concepts(seed: int, per_category: dict[str, int] | None) -> list[Concept]:
    """All 240 concepts, or a seeded subset with `per_category[category]` of each."""
    concepts = all_concepts(seed)
    if per_category is None:
        return concepts
    chosen = []
    for category in CATEGORIES:
        members = [c for c in concepts if c.category == category]
        keep = rng_for(seed, "subset", category).choice(len(members), per_category[category], replace=False)
        chosen += [members[i] for i in sorted(keep)]
    return chosen


def render_reference(concept: Concept, seed: int) -> np.ndarray:
    rng = rng_for(seed, "reference", concept.label)
    if concept.category == CATEGORIES[0]:
        audio = references.render_instrument(concept.row, rng)
    elif concept.category == CATEGORIES[1]:
        audio = references.render_synth_patch(concept.row, rng)
    elif concept.category == CATEGORIES[2]:
        audio = everyday.render_everyday(concept.row, rng)
    else:
        audio = references.render_subsynth(rng)
    return references.dsp.normalize(audio, rng.uniform(0.5, 0.95))


def filename_for(label: str) -> str:
    return "".join(c for c in label.replace(" ", "_") if c.isalnum() or c in "_-") + ".wav"


def plan(seed: int, per_category: dict[str, int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two metadata tables, decided from the seed before any audio is rendered.

    Every sound gets one imitation from each of 10 of the virtual participants (included,
    not draft, not training: the rows a loader keeps). Every 10th sound also gets rows a
    loader must drop: a draft (excluded), and an imitation of the label alone.
    """
    participants = [random_id(rng_for(seed, "participant", p)) for p in range(PARTICIPANTS)]
    sounds, imitations = [], []
    for index, concept in enumerate(choose_concepts(seed, per_category)):
        rng = rng_for(seed, "ids", concept.label)
        sound_id, label_id = random_id(rng), random_id(rng)
        filename = filename_for(concept.label)
        sounds.append(dict(id=sound_id, filename=filename, sound_label=concept.label,
                           sound_label_id=label_id, audio_concept_subset=concept.category))
        kinds = ["kept"] * IMITATIONS_PER_SOUND + (["draft", "label"] if index % 10 == 0 else [])
        who = rng_for(seed, "who", concept.label).choice(PARTICIPANTS, IMITATIONS_PER_SOUND, replace=False)
        for k, kind in enumerate(kinds):
            imitation_id = random_id(rng)
            participant = int(who[k % IMITATIONS_PER_SOUND] if kind == "kept" else who[int(rng.integers(IMITATIONS_PER_SOUND))])
            by_label = kind == "label"
            imitations.append(dict(
                id=imitation_id, filename=f"{concept.label} - {imitation_id}.wav",
                stimulus_type="sound label" if by_label else "sound recording",
                included=kind != "draft", draft=kind == "draft", training=False,
                participant_id=participants[participant],
                satisfaction=SATISFACTION[int(rng.integers(len(SATISFACTION)))],
                sound_label=concept.label, sound_label_id=label_id if by_label else np.nan,
                sound_recording=np.nan if by_label else filename,
                sound_recording_id=np.nan if by_label else sound_id,
                audio_concept_subset=concept.category,
                participants_sound_recording_description=np.nan,
                participants_sound_recording_description_confidence=CONFIDENCE[int(rng.integers(len(CONFIDENCE)))],
                description_match=np.nan, _participant=participant,
            ))
    sounds = pd.DataFrame(sounds, columns=SOUND_COLUMNS)
    imitations = pd.DataFrame(imitations)
    return sounds, imitations


def imitation_path(dest: Path, row) -> Path:
    return dest / "vocal_imitations" / ("included" if row["included"] else "excluded") / row["filename"]


def _complete(dest: Path, seed: int, concept: Concept, rows: list[dict]) -> bool:
    return ((dest / "sound_recordings" / filename_for(concept.label)).exists()
            and all(imitation_path(dest, row).exists() for row in rows))


def _render_sound_and_imitations(job) -> int:
    """Render one reference and its imitations; skip files that already exist."""
    dest, seed, concept, rows = job
    reference_path = dest / "sound_recordings" / filename_for(concept.label)
    todo = [row for row in rows if not imitation_path(dest, row).exists()]
    if reference_path.exists() and not todo:
        return 0
    audio = render_reference(concept, seed)
    if not reference_path.exists():
        write_wav(reference_path, audio, references.RATE)
    if todo:
        contours = voice.analyse(audio, references.RATE)
        imitators = voice.make_imitators(rng_for(seed, "imitators"), PARTICIPANTS)
        for row in todo:
            rng = rng_for(seed, "imitation", row["id"])
            who = imitators[row["_participant"]]
            if row["stimulus_type"] == "sound label":  # imitating the name, not the sound
                who = dataclasses.replace(who, pitch_error=who.pitch_error + 4,
                                          interval_compression=0.2, smoothing=0.3)
            write_wav(imitation_path(dest, row), voice.imitate(contours, who, rng), voice.RATE)
    return 1 + len(todo)


def write(dest: Path, seed: int, per_category: dict[str, int] | None = None, workers: int = 2) -> dict:
    """Write the data set under `dest` (files that exist are kept). Returns counts."""
    dest = Path(dest)
    soundfont.soundfont_path()  # found or fetched once, before worker processes need it
    sounds, imitations = plan(seed, per_category)
    concepts = {c.label: c for c in choose_concepts(seed, per_category)}
    jobs = [(dest, seed, concepts[label], group.to_dict("records"))
            for label, group in imitations.groupby("sound_label", sort=False)]
    jobs = [job for job in jobs if not _complete(*job)]
    rendered = sum(parallel_map(_render_sound_and_imitations, jobs, workers, "VocalSketch-shaped set"))
    dest.mkdir(parents=True, exist_ok=True)
    sounds.to_csv(dest / "sound_recordings.csv", index=False)
    imitations[IMITATION_COLUMNS].to_csv(dest / "vocal_imitations.csv", index=False)
    return {"sounds": len(sounds), "imitations": len(imitations), "files_rendered": rendered,
            "per_category": sounds.audio_concept_subset.value_counts().to_dict()}
