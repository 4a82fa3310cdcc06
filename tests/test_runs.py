"""A finished run is reused only when it is complete and still means the same thing."""

import dataclasses
import json
import os

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from vocalsearch_tf.config import IMINET_CQT
from vocalsearch_tf.signal import spectra
from vocalsearch_tf.signal.features import ConstantQ
from vocalsearch_tf.training import runs
from vocalsearch_tf.training.recipes import AdamRecipe


def counting_run(out_dir, calls):
    def run(index, seed):
        calls.append(index)
        (out_dir / f"model_{index:02d}.keras").write_text("model")
        return {"mrr": {"AI": index / 10}}
    return run


def series(tmp_path, fingerprint, calls, log=None):
    return runs.run_many(tmp_path, 3, counting_run(tmp_path, calls), 0, fingerprint,
                             ("model_{index:02d}.keras",), log=(log.append if log is not None else lambda m: None))


BASE = runs.fingerprint(profile="ci", dataset="synthetic", seed=0, split="abc", recipe=AdamRecipe(),
                        front_end=IMINET_CQT)


def test_a_matching_complete_run_is_reused(tmp_path):
    calls, log = [], []
    series(tmp_path, BASE, calls)
    series(tmp_path, BASE, calls, log)
    assert calls == [0, 1, 2]
    assert all("reused" in line for line in log)


@pytest.mark.parametrize("change, reason", [
    ({"seed": 1}, "seed changed"),
    ({"recipe": AdamRecipe(learning_rate=1e-4)}, "recipe changed"),
    ({"front_end": dataclasses.replace(IMINET_CQT, hop_length=400)}, "front_end changed"),
    ({"split": "def"}, "split changed"),
])
def test_a_changed_setting_trains_again_and_says_why(tmp_path, change, reason):
    calls, log = [], []
    series(tmp_path, BASE, calls)
    series(tmp_path, runs.fingerprint(**{**{k: v for k, v in BASE.items() if k not in ("package_version", "code")},
                                         **change}),
           calls, log)
    assert calls == [0, 1, 2, 0, 1, 2]
    assert log[0] == f"{tmp_path.name} run 0: {reason}, training again"


def test_a_missing_artifact_trains_that_run_again(tmp_path):
    calls, log = [], []
    series(tmp_path, BASE, calls)
    (tmp_path / "model_01.keras").unlink()
    series(tmp_path, BASE, calls, log)
    assert calls == [0, 1, 2, 1]
    assert f"{tmp_path.name} run 1: model_01.keras missing, training again" in log


def test_a_record_without_fingerprint_is_never_trusted(tmp_path):
    """Such as the run records once committed to the repository."""
    (tmp_path / "run_00.json").write_text(json.dumps({"run": 0, "mrr": {"AI": 0.9}}))
    (tmp_path / "model_00.keras").write_text("model")
    calls = []
    results = series(tmp_path, BASE, calls)
    assert calls == [0, 1, 2]
    assert results[0]["mrr"] == {"AI": 0.0}
    assert json.loads((tmp_path / "run_00.json").read_text())["fingerprint"] == BASE


def test_the_package_version_and_code_are_part_of_every_fingerprint(tmp_path):
    from vocalsearch_tf import __version__
    assert runs.fingerprint(a=1)["package_version"] == __version__
    assert runs.fingerprint(a=1)["code"] == runs.code_digest()
    package = tmp_path / "package"
    (package / "models").mkdir(parents=True)
    (package / "models" / "net.py").write_text("UNITS = 32\n")
    before = runs.code_digest(package)
    (package / "models" / "net.py").write_text("UNITS = 64\n")
    runs.code_digest.cache_clear()
    assert runs.code_digest(package) != before


def test_seeds_never_share_a_folder(tmp_path):
    a = runs.run_dirs("ci", "synthetic", 0, tmp_path / "results", tmp_path / "figures")
    b = runs.run_dirs("ci", "synthetic", 1, tmp_path / "results", tmp_path / "figures")
    assert a.results != b.results and a.figures != b.figures and a.data() != b.data()
    assert a.results == tmp_path / "results" / "ci" / "synthetic" / "seed0"


def test_split_digest_follows_the_manifests(tmp_path):
    dirs = runs.run_dirs("ci", "synthetic", 0, tmp_path / "r", tmp_path / "f")
    (dirs.data() / "sounds.csv").write_text("sound_id,split\n1,train\n")
    before = runs.split_digest(dirs)
    (dirs.data() / "sounds.csv").write_text("sound_id,split\n1,test\n")
    assert runs.split_digest(dirs) != before


def test_spectrogram_cache_is_not_read_stale_after_regeneration_at_the_same_size(tmp_path):
    path = tmp_path / "clip.wav"
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal(16_000).astype(np.float32), 16_000)
    layer = ConstantQ(IMINET_CQT)
    first = spectra.spectrograms([path], layer, tmp_path / "cache")
    size = path.stat().st_size
    sf.write(path, 0.5 * np.sin(np.arange(16_000) * 0.2).astype(np.float32), 16_000)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert path.stat().st_size == size
    second = spectra.spectrograms([path], layer, tmp_path / "cache")
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, spectra.spectrograms([path], layer, None), rtol=1e-6)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_a_finished_run_records_the_machine_it_ran_on_outside_its_fingerprint(tmp_path):
    """Seconds differ 3x between CPUs (oneDNN, AVX-512): each record says what ran it, and a
    record from another machine with the same settings is still reused."""
    first = runs.run_many(tmp_path, 1, counting_run(tmp_path, []), 0, {"a": 1})[0]
    machine = first["machine"]
    assert {"tensorflow", "keras", "numpy", "onednn", "cpu_extensions", "cores"} <= set(machine)
    assert machine["tensorflow"] == tf.__version__ and machine["cores"] >= 1
    record = json.loads((tmp_path / "run_00.json").read_text())
    assert record["machine"] == json.loads(json.dumps(machine))
    record["machine"] = {**machine, "cpu_extensions": ["avx512f"], "onednn": not machine["onednn"]}
    (tmp_path / "run_00.json").write_text(json.dumps(record))
    calls = []
    assert runs.run_many(tmp_path, 1, counting_run(tmp_path, calls), 0, {"a": 1})[0]["machine"]["cpu_extensions"] == ["avx512f"]
    assert calls == []
