"""Activation maximisation and sonification."""

import keras
import numpy as np
import pytest

from vocalsearch_tf.config import IMINET_CQT, IMITATION_LOGMEL, RECORDING_LOGMEL
from vocalsearch_tf.experiments import visualize
from vocalsearch_tf.models.tl_iminet import build_classifier, build_tl_iminet
from vocalsearch_tf.signal.features import ConstantQ, LogMel


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    return build_classifier("recording", mean=-4.0, variance=9.0)


def test_leaky_copy_replaces_relu_and_leaves_the_original_untouched(small_model):
    before = [w.copy() for w in small_model.get_weights()]
    copy = visualize.leaky_copy(small_model)
    assert all(layer.activation is keras.activations.relu or layer.activation.__name__ == "relu"
               for layer in small_model.layers if isinstance(layer, keras.layers.Conv2D))
    leaky = [layer for layer in copy.layers if isinstance(layer, keras.layers.Conv2D)]
    assert leaky and all(layer.activation is visualize._leaky for layer in leaky)
    for a, b in zip(copy.get_weights(), small_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = -np.ones((1, 128, 128, 1), np.float32) * 50  # far below the mean: many negative pre-activations
    conv = lambda m: keras.Model(m.inputs, m.get_layer("recording_conv1").output)(x).numpy()
    assert conv(small_model).min() >= 0 and conv(copy).min() < 0  # leaky lets negatives through
    visualize.maximise(copy, "recording_conv2", [1, 2], ["recording"], steps=5)
    for a, b in zip(small_model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_optimisation_raises_the_objective_and_with_the_weak_penalty_the_activation(small_model):
    copy = visualize.leaky_copy(small_model)
    paper = visualize.maximise(copy, "recording_conv3", [0, 7, 20], ["recording"], steps=60)
    assert paper.inputs["recording"].shape == (3, 128, 128)
    assert np.all(paper.objective_end > paper.objective_start)
    weak = visualize.maximise(copy, "recording_conv3", [0, 7, 20], ["recording"], steps=60, penalty="mean")
    assert np.all(weak.end > weak.start + 0.5)
    assert np.all(weak.end > 10 * np.abs(weak.start))


def test_fc1_pair_optimisation_raises_the_neuron():
    keras.utils.set_random_seed(1)
    copy = visualize.leaky_copy(build_tl_iminet())
    result = visualize.maximise(copy, "fc1", [3, 50], ["imitation", "recording"], steps=40, penalty="mean")
    assert set(result.inputs) == {"imitation", "recording"}
    assert result.inputs["imitation"].shape == (2, 39, 482) and result.inputs["recording"].shape == (2, 128, 128)
    assert np.all(result.end > result.start + 1.0)


def test_objective_is_activation_minus_a_tenth_of_the_sum_of_squares():
    activation = np.array([2.0, -1.0], np.float32)
    imitation = np.array([[[1.0, 2.0]], [[0.0, 3.0]]], np.float32)  # (2 patterns, 1, 2)
    recording = np.array([[[1.0], [1.0]], [[2.0], [0.0]]], np.float32)  # (2 patterns, 2, 1)
    expected = activation - 0.1 * np.array([1 + 4 + 1 + 1, 9 + 4], np.float32)
    np.testing.assert_allclose(visualize.objective(activation, [imitation, recording]), expected, rtol=1e-6)
    mean = activation - 0.1 * np.array([5 / 2 + 2 / 2, 9 / 2 + 4 / 2], np.float32)
    np.testing.assert_allclose(visualize.objective(activation, [imitation, recording], "mean"), mean, rtol=1e-6)


def test_representative_neurons_stand_for_each_cluster_of_weights():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2, 40))
    members = np.repeat(centres, [7, 5], axis=0) + 0.05 * rng.standard_normal((12, 40))
    members[3] = centres[0]  # the exact centre of the first group
    x = keras.Input((40,))
    model = keras.Model(x, keras.layers.Dense(12, name="fc1")(x))
    model.get_layer("fc1").set_weights([members.T.astype(np.float32), np.zeros(12, np.float32)])
    chosen = visualize.representative_neurons(model, "fc1", k=2)
    assert 3 in chosen and len([c for c in chosen if c >= 7]) == 1


def test_maximising_the_tl_iminet_imitation_tower_logs_no_graph_optimiser_error(capfd):
    keras.utils.set_random_seed(2)
    copy = visualize.leaky_copy(build_tl_iminet())
    visualize.maximise(copy, "imitation_conv2", [0, 1], ["imitation"], steps=3)
    assert "remapper failed" not in capfd.readouterr().err


@pytest.mark.parametrize("params", [IMITATION_LOGMEL, RECORDING_LOGMEL], ids=["imitation", "recording"])
def test_mel_sonification_is_finite_of_the_right_length_and_sounds_like_the_pattern(params):
    rate, frames = params.sample_rate, params.n_frames
    pattern = np.full((params.n_mels, frames), np.log(params.log_offset))
    pattern[params.n_mels // 4: params.n_mels // 4 + 3, : frames // 2] = 0.0  # a low band first
    pattern[3 * params.n_mels // 4: 3 * params.n_mels // 4 + 3, frames // 2:] = 0.0  # then a high one
    audio = visualize.sonify_mel(pattern, params)
    assert np.all(np.isfinite(audio)) and 0 < np.max(np.abs(audio)) <= 1
    assert abs(len(audio) - (frames - 1) * params.hop_length) <= params.hop_length
    heard = LogMel(params)(np.pad(audio, (0, params.clip_samples))[None, : params.clip_samples])[0, ..., 0].numpy()
    inner = slice(2, frames - 2)
    assert np.corrcoef(heard[:, inner].ravel(), pattern[:, inner].ravel())[0, 1] > 0.6


def test_cqt_sonification_follows_the_pattern():
    p = IMINET_CQT
    pattern = np.full((p.n_bins, p.n_frames), np.log(p.log_offset))
    pattern[30, :60] = 0.0
    pattern[55, 70:] = 0.0
    audio = visualize.sonify_cqt(pattern, p)
    assert np.all(np.isfinite(audio)) and abs(len(audio) - (p.n_frames - 1) * p.hop_length) <= p.hop_length
    heard = ConstantQ(p, magnitude=True)(np.pad(audio, (0, p.clip_samples))[None, : p.clip_samples])[0, ..., 0].numpy()
    assert np.argmax(heard[:, 20:50].mean(axis=1)) in (29, 30, 31)
    assert np.argmax(heard[:, 80:120].mean(axis=1)) in (54, 55, 56)


def test_patterns_are_read_back_only_for_the_same_models_and_settings(small_model, tmp_path):
    copy = visualize.leaky_copy(small_model)
    first = visualize.maximise_cached(tmp_path, {"model": "a"}, "net", copy, "recording_conv1", [0, 1], ["recording"],
                                      steps=3, seed=0)
    again = visualize.maximise_cached(tmp_path, {"model": "a"}, "net", None, "recording_conv1", [0, 1], ["recording"],
                                      steps=3, seed=0)  # no model needed: read back
    np.testing.assert_array_equal(first.inputs["recording"], again.inputs["recording"])
    np.testing.assert_array_equal(first.objective_end, again.objective_end)
    visualize.maximise_cached(tmp_path, {"model": "b"}, "net", copy, "recording_conv1", [0, 1], ["recording"],
                              steps=3, seed=0)
    visualize.maximise_cached(tmp_path, {"model": "a"}, "net", copy, "recording_conv1", [0, 1], ["recording"],
                              steps=4, seed=0)
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_sonification_is_read_back_only_for_the_same_pattern(tmp_path):
    pattern = np.full((39, 482), -12.0, np.float32)
    pattern[10:14, :] = 0.0  # one loud band
    first = visualize.sonify_cached(tmp_path / "p.wav", pattern, IMITATION_LOGMEL)
    stamp = (tmp_path / "p.digest").read_text()
    again = visualize.sonify_cached(tmp_path / "p.wav", pattern, IMITATION_LOGMEL)
    np.testing.assert_allclose(again, first, atol=1e-6)
    pattern[20:24, :] = 0.0
    visualize.sonify_cached(tmp_path / "p.wav", pattern, IMITATION_LOGMEL)
    assert (tmp_path / "p.digest").read_text() != stamp
