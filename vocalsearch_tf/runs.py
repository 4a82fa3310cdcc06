"""Where a notebook's outputs go, and how a run's data is found or made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vocalsearch_tf.config import Profile, get_profile


@dataclass(frozen=True)
class RunDirs:
    """`results/<profile>/<dataset>/` and `figures/<profile>/<dataset>/` of one run."""

    results: Path
    figures: Path

    def data(self) -> Path:
        """The split manifests written by notebook 00 and read by the others."""
        return self.results / "data"


def run_dirs(profile: str, dataset: str, results_root: str | Path = "results",
             figures_root: str | Path = "figures") -> RunDirs:
    dirs = RunDirs(Path(results_root) / profile / dataset, Path(figures_root) / profile / dataset)
    for folder in (dirs.results, dirs.figures, dirs.data()):
        folder.mkdir(parents=True, exist_ok=True)
    return dirs


def vocalsketch_root(dataset: str, data_dir: str | Path, profile: str | Profile, seed: int) -> Path:
    """The VocalSketch folder to read: for `synthetic`, the embedded set (generated on
    first use under `data_dir/synthetic/<profile>`); for `vocalsketch`, `data_dir` itself."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    if dataset == "synthetic":
        from vocalsearch_tf.datasets.synthetic import make_synthetic

        dest = Path(data_dir) / "synthetic" / profile.name
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

        dest = Path(data_dir) / "synthetic" / profile.name
        make_synthetic(profile, dest, seed=seed, sets=[name])
        return dest / name
    return Path(real_dir)
