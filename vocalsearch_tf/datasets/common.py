"""What every dataset loader shares: the missing-dataset error and the load report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import soundfile as sf

HOW_TO_GET = {
    "vocalsketch": "python -m vocalsearch_tf.datasets download vocalsketch --dest DIR  (or: make download DATASET=vocalsketch)",
    "urbansound8k": "python -m vocalsearch_tf.datasets download urbansound8k --dest DIR  (or: make download DATASET=urbansound8k)",
    "voxforge": "python -m vocalsearch_tf.datasets download voxforge --dest DIR  (or: make download DATASET=voxforge)",
    "esc50": "python -m vocalsearch_tf.datasets download esc50 --dest DIR  (or: make download DATASET=esc50)",
    "vimsketch": "python -m vocalsearch_tf.datasets download vimsketch --dest DIR  (or: make download DATASET=vimsketch)",
    "vocal_imitation_set": "python -m vocalsearch_tf.datasets download vocal-imitation-set --dest DIR  (or: make download DATASET=vocal-imitation-set)",
}
SYNTHETIC = "python -m vocalsearch_tf.datasets make-synthetic --profile quick --dest DIR  (the embedded stand-in)"


class DatasetMissingError(FileNotFoundError):
    """A dataset folder or its metadata is not where it was looked for."""

    def __init__(self, name: str, path: Path, what: str):
        self.name, self.path = name, Path(path)
        super().__init__(
            f"{name}: {what} ({self.path}). Get it with:\n  {HOW_TO_GET[name]}\n"
            f"or generate the embedded stand-in with:\n  {SYNTHETIC}")


@dataclass
class LoadReport:
    """What a loader kept and what it skipped, and why. Nothing is dropped silently."""

    dataset: str
    counts: dict = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: list[str] = field(default_factory=list)

    def skip(self, path, reason: str) -> None:
        self.skipped.append((str(path), reason))

    def __str__(self) -> str:
        lines = [f"{self.dataset}: " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def unreadable_reason(path: Path) -> str | None:
    """Why an audio file cannot be used (missing, undecodable, empty), or None if it can.

    Reads the header only, so checking thousands of files is quick.
    """
    if not path.is_file():
        return "file missing"
    try:
        info = sf.info(str(path))
    except Exception as error:  # libsndfile raises several types for bad headers
        return f"cannot decode ({error})"
    if info.frames == 0:
        return "no samples"
    return None


def require_dir(name: str, path: Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise DatasetMissingError(name, path, "dataset folder not found")
    return path


def read_metadata(name: str, csv: Path, columns, description: str) -> pd.DataFrame:
    """A dataset's metadata table, with a clear error when it is missing or not the one
    expected (`description`, such as "UrbanSound8K's metadata")."""
    if not csv.is_file():
        raise DatasetMissingError(name, csv, f"{csv.relative_to(csv.parent.parent)} not found")
    table = pd.read_csv(csv)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{csv}: columns {missing} missing; is this {description}?")
    return table


def keep_readable(clips: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    """The rows whose `path` is a usable audio file; each other one is named in the report."""
    reasons = [unreadable_reason(p) for p in clips.path]
    for path, reason in zip(clips.path, reasons):
        if reason:
            report.skip(path, reason)
    return clips[[r is None for r in reasons]].reset_index(drop=True)
