"""Where a notebook's outputs go, how a run's data is found or made, and the fingerprint
that says whether a finished run still means the same thing."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from vocalsearch_tf import __version__
from vocalsearch_tf.config import Profile, embedded_data_profile, get_profile, results_folder, smoke_steps


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
    """`<root>/<profile>/<dataset>/seed<seed>`: runs of different seeds never share a folder.
    Under the smoke switch the profile's folder is `<profile>-smoke` (`config.results_folder`)."""
    leaf = Path(results_folder(profile)) / dataset / f"seed{seed}"
    dirs = RunDirs(Path(results_root) / leaf, Path(figures_root) / leaf)
    for folder in (dirs.results, dirs.figures, dirs.data()):
        folder.mkdir(parents=True, exist_ok=True)
    return dirs


def synthetic_dir(data_dir: str | Path, profile: Profile, seed: int) -> Path:
    """Where the embedded data of a profile and seed is generated."""
    return Path(data_dir) / "synthetic" / profile.name / f"seed{seed}"


def embedded_data(data_dir: str | Path, profile: str | Profile, seed: int, sets: list[str]) -> Path:
    """The embedded data's folder for a profile and seed, with `sets` generated there on first
    use. Under the smoke switch it is `ci`'s data, in `ci`'s folder (`config.embedded_data_profile`)."""
    from vocalsearch_tf.datasets.synthetic import make_synthetic

    profile = embedded_data_profile(get_profile(profile) if isinstance(profile, str) else profile)
    dest = synthetic_dir(data_dir, profile, seed)
    make_synthetic(profile, dest, seed=seed, sets=sets)
    return dest


def vocalsketch_root(dataset: str, data_dir: str | Path, profile: str | Profile, seed: int) -> Path:
    """The VocalSketch folder to read: for `synthetic`, the embedded set (generated on
    first use under `data_dir/synthetic/<profile>`); for `vocalsketch`, `data_dir` itself."""
    if dataset == "synthetic":
        return embedded_data(data_dir, profile, seed, ["vocalsketch"]) / "vocalsketch"
    if dataset == "vocalsketch":
        return Path(data_dir)
    raise ValueError(f"unknown DATASET {dataset!r}: use 'synthetic' or 'vocalsketch'")


def pretraining_root(name: str, dataset: str, data_dir: str | Path, real_dir: str | Path,
                     profile: str | Profile, seed: int) -> Path:
    """The speech ('voxforge') or urban-sound ('urbansound8k') folder for pretraining: for
    DATASET 'synthetic' the embedded set (generated on first use), else `real_dir`."""
    if dataset == "synthetic":
        return embedded_data(data_dir, profile, seed, [name]) / name
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
def code_digest(package: Path = Path(__file__).resolve().parents[1]) -> str:
    """A hash of the package's Python source: any change to the code that trains or scores
    a run makes its finished runs stale, not only a change of settings."""
    return digest(*[(str(p.relative_to(package)), p.read_text()) for p in sorted(package.rglob("*.py"))])


def fingerprint(**parts) -> dict:
    """Everything that determines a run, as plain JSON, with the package version and a hash
    of its code added (and the smoke switch's N when it is on). Two runs mean the same thing
    when their fingerprints are equal."""
    smoke = {"smoke_steps": smoke_steps()} if smoke_steps() else {}
    return plain({**parts, **smoke, "package_version": __version__, "code": code_digest()})


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


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow, and makes TF ops deterministic: same seed,
    same numbers on a CPU."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def run_seed(base_seed: int, run: int) -> int:
    return base_seed * 1000 + run


def run_many(out_dir: str | Path, n_runs: int, run: Callable[[int, int], dict], base_seed: int = 0,
             fingerprint: dict | None = None, artifacts: tuple[str, ...] = (),
             log: Callable[[str], None] = print) -> list[dict]:
    """Runs `run(index, seed)` n times, writing each result to `out_dir/run_NN.json` the
    moment it finishes, so a crash loses no finished run.

    A finished run is reused only when its record carries the same `fingerprint` (see
    `fingerprint`) and every file of `artifacts` (names formatted with `index`, such
    as "model_{index:02d}.keras") exists; otherwise it is trained again, and one line says why.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = plain(fingerprint or {})
    results = []
    bar = tqdm(total=n_runs, desc=f"{out_dir.name}: runs", unit="run")
    for index in range(n_runs):
        path = out_dir / f"run_{index:02d}.json"
        record = json.loads(path.read_text()) if path.exists() else None
        files = [out_dir / name.format(index=index) for name in artifacts]
        reason = stale_reason(record, fingerprint, files)
        label = f"{out_dir.name} run {index}"
        if reason is None:
            log(f"{label}: reused (same settings, finished before)")
            results.append(record)
            bar.update(1)
            continue
        log(f"{label}: {reason}, training" if record is None else f"{label}: {reason}, training again")
        seed = run_seed(base_seed, index)
        start = time.perf_counter()
        result = {"run": index, "seed": seed, **run(index, seed), "fingerprint": fingerprint}
        result["seconds"] = round(time.perf_counter() - start, 2)
        result["machine"] = machine()
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")
        os.replace(tmp, path)
        log(f"{label}: finished in {result['seconds']} s")
        results.append(result)
        bar.update(1)
    bar.close()
    return results


@functools.cache
def machine() -> dict:
    """What a run's seconds depend on, beside its settings (not part of the fingerprint: the
    same settings on another machine mean the same run): the libraries, TensorFlow's oneDNN
    kernels, the CPU's vector extensions and the cores."""
    from tensorflow.python.util import _pywrap_util_port

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
            "onednn": bool(_pywrap_util_port.IsMklEnabled()), "cpu_extensions": cpu_extensions(),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}


def cpu_extensions() -> list[str]:
    """The CPU's AVX extensions (Linux), on which TensorFlow's speed depends most."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("flags")), []) if cpuinfo.exists() else []
    return sorted(f for f in flags if f.startswith("avx"))


def stale_reason(record: dict | None, fingerprint: dict, artifacts: list[Path]) -> str | None:
    """Why a finished run's record cannot be reused, or None when it can."""
    if record is None:
        return "not run yet"
    recorded = record.get("fingerprint")
    if recorded is None:
        return "no fingerprint recorded"
    changed = sorted(k for k in set(recorded) | set(fingerprint) if recorded.get(k) != fingerprint.get(k))
    if changed:
        return f"{', '.join(changed)} changed"
    missing = [p.name for p in artifacts if not p.exists()]
    if missing:
        return f"{', '.join(missing)} missing"
    return None


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)
