"""Audio input: load -> mono -> resample -> fix length, with typed errors naming the file.

Reads WAV, FLAC and OGG (libsndfile through `soundfile`): any sample rate, any channel
count, 8/16/24/32-bit integer or float samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


class AudioError(ValueError):
    """A file that cannot be used as audio. `path` names it, `problem` says why."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class AudioFileMissingError(AudioError, FileNotFoundError):
    """The file does not exist."""


class AudioDecodeError(AudioError):
    """Not an audio file, an unsupported format, or a corrupt/truncated header."""


class EmptyAudioError(AudioError):
    """The file decodes to zero samples."""


class NonFiniteAudioError(AudioError):
    """The file holds NaN or infinite samples."""


def load(
    path: str | Path,
    sample_rate: int | None = None,
    *,
    max_seconds: float | None = None,
) -> tuple[np.ndarray, int]:
    """Read `path` as mono float32 in [-1, 1], resampled to `sample_rate` if given.

    `max_seconds` reads only the beginning of the file, so a huge file costs no more
    than the part that is used. Returns `(samples, rate)`.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileMissingError(path, "no such file")
    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            frames = -1 if max_seconds is None else int(np.ceil(max_seconds * rate))
            samples = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioDecodeError(path, f"cannot decode as audio ({error})") from error
    if samples.size == 0:
        raise EmptyAudioError(path, "contains no samples")
    if not np.all(np.isfinite(samples)):
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        raise NonFiniteAudioError(path, f"{bad} samples are NaN or infinite")
    mono = samples.mean(axis=1)
    if sample_rate is not None and sample_rate != rate:
        mono = resample(mono, rate, sample_rate)
        rate = sample_rate
    return mono.astype(np.float32, copy=False), rate


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality)."""
    if rate == target_rate:
        return samples
    return soxr.resample(samples, rate, target_rate, quality="HQ").astype(np.float32)


def fix_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Truncate the end, or zero-pad the end, to exactly `length` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def load_clip(path: str | Path, sample_rate: int, length: int) -> np.ndarray:
    """`load` then `fix_length`: the fixed-size mono clip a front-end expects."""
    samples, _ = load(path, sample_rate, max_seconds=length / sample_rate + 0.1)
    return fix_length(samples, length)


def is_silent(samples: np.ndarray, threshold_db: float = -80.0) -> bool:
    """True when the clip's peak is below `threshold_db` dBFS."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return peak <= 10 ** (threshold_db / 20)


def write(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write a mono clip (creates parent folders)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(samples, dtype=np.float32), sample_rate, subtype=subtype)
    return path
