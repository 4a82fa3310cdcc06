"""The smoke switch ($VOCALSEARCH_SMOKE_STEPS): fits cut short, the embedded data at `ci`'s
sizes, results in a folder of their own, and fingerprints that never match a real run's."""

import numpy as np
import pytest
import tensorflow as tf

from vocalsearch_tf import config
from vocalsearch_tf.training import recipes, runs


@pytest.fixture
def smoke(monkeypatch):
    monkeypatch.setenv(config.SMOKE_STEPS_VARIABLE, "3")


@pytest.mark.parametrize("value, steps", [(None, None), ("", None), ("0", None), ("3", 3), (" 12 ", 12)])
def test_the_switch_reads_a_number_of_batches(monkeypatch, value, steps):
    if value is None:
        monkeypatch.delenv(config.SMOKE_STEPS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(config.SMOKE_STEPS_VARIABLE, value)
    assert config.smoke_steps() == steps


@pytest.mark.parametrize("value", ["yes", "-1", "1.5"])
def test_a_switch_that_is_not_a_count_is_an_error(monkeypatch, value):
    monkeypatch.setenv(config.SMOKE_STEPS_VARIABLE, value)
    with pytest.raises(ValueError, match=config.SMOKE_STEPS_VARIABLE):
        config.smoke_steps()


def test_off_nothing_is_capped(monkeypatch):
    monkeypatch.delenv(config.SMOKE_STEPS_VARIABLE, raising=False)
    monkeypatch.setenv(config.SMOKE_RUNS_VARIABLE, "2")  # read only under the switch
    assert recipes.capped_epochs(30) == 30 and recipes.capped_steps(40) == 40
    assert recipes.capped_batch_size(256) == 256
    assert [len(b) for b in recipes.capped_batches(tf.data.Dataset.range(100).batch(40))] == [40, 40, 20]
    assert config.results_folder("paper") == "paper"
    assert config.embedded_data_profile(config.PROFILES["paper"]) is config.PROFILES["paper"]
    assert config.get_profile("paper") is config.PROFILES["paper"]


def test_on_fits_take_n_small_batches_for_at_most_smoke_epochs(smoke):
    assert recipes.capped_epochs(30) == config.SMOKE_EPOCHS and recipes.capped_epochs(1) == 1
    assert recipes.capped_steps(40) == 3 and recipes.capped_steps(2) == 2
    assert recipes.capped_batch_size(256) == config.SMOKE_BATCH_SIZE and recipes.capped_batch_size(4) == 4
    size = config.SMOKE_BATCH_SIZE
    batches = [b.numpy().tolist() for b in recipes.capped_batches(tf.data.Dataset.range(1000).batch(4 * size))]
    assert batches == [list(range(k * 4 * size, k * 4 * size + size)) for k in range(3)]  # each batch's first examples
    assert recipes.capped_batches(tf.data.Dataset.range(1000).batch(4 * size)).cardinality() == 3  # known to Keras
    pairs = tf.data.Dataset.from_tensor_slices(((tf.zeros((64, 2)), tf.ones((64, 3))), tf.range(64))).batch(32)
    (first, second), label = next(iter(recipes.capped_batches(pairs)))
    assert (first.shape, second.shape, label.shape) == ((size, 2), (size, 3), (size,))
    endless = recipes.capped_batches(tf.data.Dataset.range(10).batch(4).repeat(), repeated=True)
    assert [len(b) for b in endless.take(5)] == [4, 4, 2, 4, 4]  # not shortened: its fit counts steps


def test_on_the_profile_keeps_its_settings_and_the_data_is_cis(smoke):
    assert config.get_profile("paper") is config.PROFILES["paper"]  # 10 runs, 30 epochs, 1e-3, ...
    assert config.embedded_data_profile(config.PROFILES["paper"]) is config.PROFILES["ci"]


def test_smoke_runs_caps_every_repetition_count_and_nothing_else(smoke, monkeypatch):
    monkeypatch.setenv(config.SMOKE_RUNS_VARIABLE, "2")
    paper, capped = config.PROFILES["paper"], config.get_profile("paper")
    assert {"n_runs", "manocha_runs", "urban_folds", "coarse_folds"} <= set(config.repetition_fields(paper))
    assert (capped.n_runs, capped.manocha_runs, capped.urban_folds, capped.coarse_folds) == (2, 2, 2, 2)
    assert capped.tl_runs is None  # "as n_runs": 2 as well
    changed = {f for f in vars(paper) if getattr(paper, f) != getattr(capped, f)}
    assert changed == {f for f in config.repetition_fields(paper) if getattr(paper, f) > 2}
    assert config.get_profile("ci").n_runs == 1


def test_on_results_and_figures_go_to_a_smoke_folder(smoke, tmp_path):
    dirs = runs.run_dirs("paper", "synthetic", 0, tmp_path / "results", tmp_path / "figures")
    assert dirs.results == tmp_path / "results" / "paper-smoke" / "synthetic" / "seed0"
    assert dirs.figures == tmp_path / "figures" / "paper-smoke" / "synthetic" / "seed0"
    assert not (tmp_path / "results" / "paper").exists()


def test_a_smoke_run_is_never_reused_by_a_real_run_nor_the_other_way(monkeypatch, tmp_path):
    def run(index, seed):
        return {"value": float(np.float32(index))}

    logged = []
    monkeypatch.setenv(config.SMOKE_STEPS_VARIABLE, "3")
    smoke_fingerprint = runs.fingerprint(profile="paper", seed=0)
    assert smoke_fingerprint["smoke_steps"] == 3
    runs.run_many(tmp_path, 1, run, 0, smoke_fingerprint, log=logged.append)
    monkeypatch.delenv(config.SMOKE_STEPS_VARIABLE)
    real_fingerprint = runs.fingerprint(profile="paper", seed=0)
    assert "smoke_steps" not in real_fingerprint
    runs.run_many(tmp_path, 1, run, 0, real_fingerprint, log=logged.append)
    monkeypatch.setenv(config.SMOKE_STEPS_VARIABLE, "3")
    runs.run_many(tmp_path, 1, run, 0, runs.fingerprint(profile="paper", seed=0), log=logged.append)
    assert [line for line in logged if "training" in line] == [
        f"{tmp_path.name} run 0: not run yet, training",
        f"{tmp_path.name} run 0: smoke_steps changed, training again",
        f"{tmp_path.name} run 0: smoke_steps changed, training again"]
