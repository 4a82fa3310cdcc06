"""Where a notebook's outputs go, how a run's data is found or made, and the fingerprint
that says whether a finished run still means the same thing."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vocalsearch_tf import __version__
from vocalsearch_tf.config import Profile, get_profile


@dataclass(frozen=True)
class RunDirs:
    """`results/<profile>/<dataset>/` and `figures/<profile>/<dataset>/` of one run."""

    results: Path
    figures: Path

    def data(self) -> Path:
        """The split manifests written by notebook 00 and read by the others."""
        return self.results / "data"


def run_dirs(profile: str, dataset: str, seed: int, results_root: str | Path = "results",
             figures_root: str | Path = "figures") -> RunDirs:
    """`<root>/<profile>/<dataset>/seed<seed>`: runs of different seeds never share a folder."""
    leaf = Path(profile) / dataset / f"seed{seed}"
    dirs = RunDirs(Path(results_root) / leaf, Path(figures_root) / leaf)
    for folder in (dirs.results, dirs.figures, dirs.data()):
        folder.mkdir(parents=True, exist_ok=True)
    return dirs


def synthetic_dir(data_dir: str | Path, profile: Profile, seed: int) -> Path:
    """Where the embedded data of a profile and seed is generated."""
    return Path(data_dir) / "synthetic" / profile.name / f"seed{seed}"


def vocalsketch_root(dataset: str, data_dir: str | Path, profile: str | Profile, seed: int) -> Path:
    """The VocalSketch folder to read: for `synthetic`, the embedded set (generated on
    first use under `data_dir/synthetic/<profile>`); for `vocalsketch`, `data_dir` itself."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    if dataset == "synthetic":
        from vocalsearch_tf.datasets.synthetic import make_synthetic

        dest = synthetic_dir(data_dir, profile, seed)
        make_synthetic(profile, dest, seed=seed, sets=["vocalsketch"])
        return dest / "vocalsketch"
    if dataset == "vocalsketch":
        return Path(data_dir)
    raise ValueError(f"unknown DATASET {dataset!r}: use 'synthetic' or 'vocalsketch'")


def pretraining_root(name: str, dataset: str, data_dir: str | Path, real_dir: str | Path,
                     profile: str | Profile, seed: int) -> Path:
    """The speech ('voxforge') or urban-sound ('urbansound8k') folder for pretraining: for
    DATASET 'synthetic' the embedded set (generated on first use), else `real_dir`."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    if dataset == "synthetic":
        from vocalsearch_tf.datasets.synthetic import make_synthetic

        dest = synthetic_dir(data_dir, profile, seed)
        make_synthetic(profile, dest, seed=seed, sets=[name])
        return dest / name
    return Path(real_dir)


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {"type": type(value).__name__, **dataclasses.asdict(value)}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__} {value!r}")


def plain(value):
    """`value` as it reads back from JSON: dataclasses become dicts, tuples lists."""
    return json.loads(json.dumps(value, default=_plain, sort_keys=True))


@functools.lru_cache(maxsize=None)
def code_digest(package: Path = Path(__file__).resolve().parent) -> str:
    """A hash of the package's Python source: any change to the code that trains or scores
    a run makes its finished runs stale, not only a change of settings."""
    return digest(*[(str(p.relative_to(package)), p.read_text()) for p in sorted(package.rglob("*.py"))])


def fingerprint(**parts) -> dict:
    """Everything that determines a run, as plain JSON, with the package version and a hash
    of its code added. Two runs mean the same thing when their fingerprints are equal."""
    return plain({**parts, "package_version": __version__, "code": code_digest()})


def digest(*values) -> str:
    """A short content hash of arrays, bytes, files' contents or JSON-able values."""
    sha = hashlib.sha256()
    for value in values:
        if isinstance(value, np.ndarray):
            sha.update(f"{value.dtype}{value.shape}".encode())
            sha.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, bytes):
            sha.update(value)
        elif isinstance(value, Path):
            sha.update(value.name.encode())
            sha.update(value.read_bytes())
        else:
            sha.update(json.dumps(value, default=_plain, sort_keys=True).encode())
    return sha.hexdigest()[:16]


def split_digest(dirs: RunDirs) -> str:
    """A hash of notebook 00's split manifests (sounds, imitations, pair tables)."""
    return digest(*sorted(dirs.data().glob("*.csv")))
