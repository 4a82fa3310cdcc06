"""A library's sounds as the index reads them: which files, their durations (checked against
their data), the windows each one is cut into, and those windows' samples.

Any file may be damaged or not audio at all: every problem is a typed `audio.AudioError`
naming the file, which the indexer lists in its report and goes on. A header is not trusted
further than the data it describes: a file that claims years of audio in a few kilobytes is
indexed as the audio it holds, and the window list is bounded before it is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from vocalsearch_tf.search.config import AUDIO_SUFFIXES, WINDOWS, WindowParams
from vocalsearch_tf.signal import audio

# Sample rates a sound can have (the lowest telephony and the highest ultrasound recorders
# are well inside); a header outside is damaged, and reading windows at it is meaningless.
AUDIO_RATES = (1_000, 2_000_000)


@dataclass(frozen=True)
class FileStat:
    rel: str  # POSIX path relative to the library
    size: int
    mtime_ns: int


def inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def scan(library: Path, index_root: Path | None = None) -> list[FileStat]:
    """Audio files under `library` (by suffix, hidden files and folders left out), sorted."""
    found = []
    for folder, dirs, names in os.walk(library):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(folder)
        if index_root is not None and inside(here, index_root):
            dirs[:] = []
            continue
        for name in names:
            if name.startswith(".") or Path(name).suffix.lower() not in AUDIO_SUFFIXES:
                continue
            path = here / name
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished or a dangling link; the reader reports nothing to index
            found.append(FileStat(path.relative_to(library).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: f.rel)


def window_starts(duration: float, params: WindowParams = WINDOWS) -> tuple[np.ndarray, bool]:
    """Window starts in seconds, the last one aligned to the sound's end; and whether the
    sound is longer than `max_windows` windows cover (then only its beginning is used)."""
    if duration <= params.seconds:
        return np.zeros(1), False
    count = int(np.floor((duration - params.seconds) / params.hop_seconds + 1e-9)) + 1
    aligned_end = (count - 1) * params.hop_seconds + params.seconds < duration - 1e-6
    truncated = count + aligned_end > params.max_windows
    # only the kept starts are built: a damaged header may claim years (billions of windows)
    starts = np.arange(min(count, params.max_windows)) * params.hop_seconds
    if aligned_end and not truncated:
        starts = np.append(starts, duration - params.seconds)
    return starts, truncated


def read_windows(path: Path, starts: np.ndarray, targets: dict[int, int]) -> dict[int, np.ndarray]:
    """For each target sample rate, `(windows, samples)`: mono float32 clips that begin at
    `starts` (seconds), resampled and cut or zero-padded to that rate's length."""
    seconds = max(length / rate for rate, length in targets.items())
    out = {rate: np.zeros((len(starts), length), np.float32) for rate, length in targets.items()}
    try:
        with sf.SoundFile(str(path)) as f:
            native = f.samplerate
            for row, start in enumerate(starts):
                f.seek(min(int(round(start * native)), max(f.frames - 1, 0)))
                block = f.read(int(np.ceil(seconds * native)) + 1, dtype="float32", always_2d=True)
                if not len(block):
                    raise audio.AudioDecodeError(path, f"no audio data at {start:.1f} s, where its header "
                                                       f"says the sound goes on (a damaged file)")
                if not np.all(np.isfinite(block)):
                    raise audio.NonFiniteAudioError(path, "holds NaN or infinite samples")
                mono = block.mean(axis=1)
                for rate, length in targets.items():
                    out[rate][row] = audio.fix_length(audio.resample(mono, native, rate), length)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise audio.AudioDecodeError(path, f"cannot decode as audio ({error})") from error
    return out


def audio_duration(path: Path) -> float:
    """Seconds, from the header; typed errors for files that are not usable audio."""
    if not path.is_file():  # a named pipe would block the reader for ever
        raise audio.AudioDecodeError(path, "not a regular file (a named pipe, socket or device): not read")
    if path.stat().st_size == 0:
        raise audio.EmptyAudioError(path, "the file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as error:  # libsndfile raises several types for bad headers
        reason = getattr(error, "error_string", None) or str(error)
        raise audio.AudioDecodeError(path, f"cannot decode as audio ({reason})") from error
    if info.frames <= 0 or info.samplerate <= 0:
        raise audio.EmptyAudioError(path, "contains no samples")
    if not AUDIO_RATES[0] <= info.samplerate <= AUDIO_RATES[1]:
        raise audio.AudioDecodeError(path, f"its header gives a sample rate of {info.samplerate} Hz, not an audio "
                                           "rate (a damaged header)")
    return info.frames / info.samplerate


def _has_frame_at(f: sf.SoundFile, frame: int) -> bool:
    try:
        f.seek(min(frame, max(f.frames - 1, 0)))
        return len(f.read(1, dtype="float32")) > 0
    except (sf.LibsndfileError, RuntimeError):  # a seek past the data
        return False


def checked_duration(path: Path, claimed: float, params: WindowParams = WINDOWS) -> tuple[float, str]:
    """`claimed` (the header's duration), or when the data ends before the last window the
    header implies, the duration of the audio there is, and a note saying so. Reads one
    frame; decodes the file to count its frames only when the header overstates it (and then
    no further than an index reads)."""
    starts, _ = window_starts(claimed, params)
    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            if _has_frame_at(f, int(round(starts[-1] * rate))):
                return claimed, ""
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise audio.AudioDecodeError(path, f"cannot decode as audio ({error})") from error
    frames, limit = 0, int(np.ceil((starts[-1] + params.seconds) * rate))
    try:
        with sf.SoundFile(str(path)) as f:  # afresh: a failed seek may leave the decoder unusable
            while frames < limit:
                block = f.read(min(1 << 16, limit - frames), dtype="float32", always_2d=True)
                if not len(block):
                    break
                frames += len(block)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise audio.AudioDecodeError(path, f"its header claims {claimed:.4g} s of audio, but the data ends before "
                                           f"{starts[-1]:.0f} s and cannot be read to its end (a damaged file)") from None
    if frames == 0:
        raise audio.EmptyAudioError(path, f"contains no samples (its header claims {claimed:.4g} s)")
    return frames / rate, (f"its header claims {claimed:.4g} s of audio, the file holds {frames / rate:.1f} s: "
                           "indexed as that")
