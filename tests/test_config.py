import pytest

from vocalsearch_tf import config


def test_front_end_settings_are_the_papers():
    cqt = config.IMINET_CQT
    assert (cqt.sample_rate, cqt.fmin, cqt.n_bins, cqt.bins_per_octave) == (16_000, 50.0, 72, 12)
    assert cqt.hop_length / cqt.sample_rate == pytest.approx(0.02625)
    assert cqt.shape == (72, 129)
    assert config.IMITATION_LOGMEL.shape == (39, 482)
    assert config.IMITATION_LOGMEL.win_length / 16_000 == pytest.approx(0.00833, abs=3e-5)
    assert config.RECORDING_LOGMEL.shape == (128, 128)
    assert config.RECORDING_LOGMEL.hop_length / 44_100 == pytest.approx(0.023, abs=5e-4)


def test_params_are_frozen():
    with pytest.raises(Exception):
        config.IMINET_CQT.n_bins = 10


def test_profiles(monkeypatch):
    assert config.get_profile("paper").n_runs == 10
    assert config.get_profile("paper").speech_clips_per_language == 8000
    monkeypatch.setenv("VOCALSEARCH_PROFILE", "quick")
    assert config.get_profile().name == "quick"
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        config.get_profile("fast")


def test_language_id_learning_rate_per_profile():
    from vocalsearch_tf.training.pretrain import language_id_recipe

    get_profile = config.get_profile
    assert language_id_recipe(get_profile("paper")).learning_rate == 1e-3
    assert language_id_recipe(get_profile("quick")).learning_rate == 1e-4
    assert language_id_recipe(get_profile("quick")).patience == 8
