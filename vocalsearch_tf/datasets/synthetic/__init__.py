"""Embedded default data: offline generators that write the real datasets' layouts.

`make_synthetic(profile, dest)` writes, under `dest`:

    vocalsketch/    a VocalSketch v1.0.4-shaped set (vocalsketch.py)
    voxforge/       a 7-language speech set in VoxForge's layout (speech.py)
    urbansound8k/   a 10-class urban-sound set in UrbanSound8K's layout (urban.py)
    sonyc_ust/      10 s urban soundscapes in SONYC-UST's layout, mixed from urban.py's sources (sonyc.py)
    esc50/          a 50-class environmental-sound set in ESC-50's layout (esc50.py)
    manifest.json   generator version, seed, profile and what each set holds

Everything is determined by the seed. Files that exist are kept, so an interrupted run
resumes; a manifest written by another seed, profile or generator version is an error
rather than a silent mix. One process writes a folder at a time (a lock file): notebooks
that run at once and need the same set wait for it instead of writing it twice.
"""

from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from pathlib import Path

from vocalsearch_tf.config import Profile, get_profile

GENERATOR_VERSION = "2"  # 2: imitator styles, consonants, syllables, 40 participants, FluidR3 (issue 17)
SETS = ("vocalsketch", "voxforge", "urbansound8k", "sonyc_ust", "esc50")


class ManifestMismatchError(RuntimeError):
    """`dest` holds data generated with other settings."""


def _check_manifest(path: Path, expected: dict) -> dict:
    if not path.exists():
        return {**expected, "sets": {}}
    manifest = json.loads(path.read_text())
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise ManifestMismatchError(
                f"{path}: this folder holds synthetic data made with {key}={manifest.get(key)!r}, "
                f"not {value!r}; choose another destination or delete it")
    return manifest


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_synthetic(profile: str | Profile = "quick", dest: str | Path = "data/synthetic/quick",
                   seed: int = 0, workers: int = 2, sets=SETS) -> dict:
    """Generate (or complete) the embedded data sets; returns the manifest."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    dest = Path(dest)
    with _locked(dest):
        return _make(profile, dest, seed, workers, sets)


def _make(profile: Profile, dest: Path, seed: int, workers: int, sets) -> dict:
    from vocalsearch_tf.datasets.synthetic import esc50, sonyc, soundfont, speech, urban, vocalsketch

    soundfont.soundfont_path()  # found or fetched once (under the lock), before worker processes need it
    manifest_path = dest / "manifest.json"
    manifest = _check_manifest(manifest_path, {"generator_version": GENERATOR_VERSION, "seed": seed,
                                               "profile": profile.name})
    writers = {
        "vocalsketch": lambda: vocalsketch.write(dest / "vocalsketch", seed, profile.vocalsketch_sounds, workers),
        "voxforge": lambda: speech.write(dest / "voxforge", seed, profile.speech_clips_per_language, workers),
        "urbansound8k": lambda: urban.write(dest / "urbansound8k", seed, profile.urban_clips_per_class, workers),
        "sonyc_ust": lambda: sonyc.write(dest / "sonyc_ust", seed, profile.sonyc_ust_clips, workers),
        "esc50": lambda: esc50.write(dest / "esc50", seed, profile.esc50_clips_per_class, profile.esc50_seconds,
                                     workers),
    }
    for name in sets:
        start = time.perf_counter()
        stats = writers[name]()
        stats["seconds"] = round(time.perf_counter() - start, 1)
        manifest["sets"][name] = stats
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")  # progress survives a crash
    return manifest
