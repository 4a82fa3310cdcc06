"""VoxForge speech (per-language folders of speaker sessions), real or embedded.

Layout: `<root>/<lang>/<session>/wav/*.wav` (or `flac/*.flac`), `<session>/etc/README`
(with "User Name:"), `<session>/etc/PROMPTS`. A speaker is the README's user name;
'anonymous' sessions (or sessions without a README) count each as a speaker of their
own, the closest one can get to VoxForge's unknown identities.

Selection (TASLP V-A): per language, up to N clips from distinct speakers: speakers
are shuffled with the seed and each contributes one clip (its first file by name).
Clips are later cut or padded to 4 s by the front-end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocalsearch_tf.datasets.common import DatasetMissingError, LoadReport, require_dir, unreadable_reason

LANGUAGES = ("nl", "en", "fr", "de", "it", "ru", "es")
AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass
class VoxForge:
    root: Path
    clips: pd.DataFrame  # language, speaker, session, path
    report: LoadReport


def speaker_of(session: Path) -> str:
    readme = session / "etc" / "README"
    user = ""
    if readme.is_file():
        match = re.search(r"^User Name:\s*(\S*)", readme.read_text(errors="replace"), re.MULTILINE)
        user = match.group(1).strip() if match else ""
    if not user or user.lower() == "anonymous":
        return f"anonymous:{session.name}"
    return user


def session_clips(session: Path) -> list[Path]:
    files = []
    for folder in ("wav", "flac"):
        if (session / folder).is_dir():
            files += [p for p in (session / folder).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES]
    return sorted(files)


def load_voxforge(root: str | Path, clips_per_language: int, seed: int = 0,
                  languages=LANGUAGES, check_audio: bool = True) -> VoxForge:
    root = require_dir("voxforge", Path(root))
    rng = np.random.default_rng(seed)
    report = LoadReport("voxforge")
    rows = []
    for language in languages:
        folder = root / language
        if not folder.is_dir():
            raise DatasetMissingError("voxforge", folder, f"no folder for language {language!r}")
        sessions: dict[str, list[Path]] = {}
        for session in sorted(p for p in folder.iterdir() if p.is_dir()):
            sessions.setdefault(speaker_of(session), []).append(session)
        chosen = 0
        for speaker in rng.permutation(sorted(sessions)):
            if chosen == clips_per_language:
                break
            clip = _first_readable(sessions[speaker], report, check_audio)
            if clip is not None:
                rows.append((language, speaker, clip.parent.parent.name, clip))
                chosen += 1
        if chosen < clips_per_language:
            report.warnings.append(f"{language}: only {chosen} speakers with a usable clip, "
                                   f"fewer than the {clips_per_language} asked for")
        report.counts[language] = chosen
    return VoxForge(root, pd.DataFrame(rows, columns=["language", "speaker", "session", "path"]), report)


def _first_readable(sessions: list[Path], report: LoadReport, check_audio: bool) -> Path | None:
    for session in sessions:
        for clip in session_clips(session):
            reason = unreadable_reason(clip) if check_audio else None
            if reason is None:
                return clip
            report.skip(clip, reason)
    return None
