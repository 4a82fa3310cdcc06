"""The in-graph front-ends against librosa and nnAudio, and their Keras behaviour."""

import keras
import librosa
import numpy as np
import pytest

from vocalsearch_tf.config import IMINET_CQT, IMITATION_LOGMEL, RECORDING_LOGMEL
from vocalsearch_tf.signal.features import ConstantQ, LogMel

INTERIOR = slice(8, -8)  # frames whose analysis windows lie inside the clip


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def relative_error(ours, reference):
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


def make_signals(sample_rate, length):
    t = np.arange(length) / sample_rate
    sweep = librosa.chirp(fmin=50, fmax=3000, sr=sample_rate, length=length)
    noise = 0.1 * np.random.default_rng(0).standard_normal(length)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 277.18, 329.63, 880.0)) / 4
    return {"sweep": sweep, "noise": noise, "chord": chord}


CQT_SIGNALS = make_signals(IMINET_CQT.sample_rate, IMINET_CQT.clip_samples)


@pytest.fixture(scope="module")
def cqt_magnitude():
    layer = ConstantQ(IMINET_CQT, magnitude=True)
    return lambda x: layer(np.asarray(x, np.float32)[None])[0, ..., 0].numpy()


@pytest.mark.parametrize("name", sorted(CQT_SIGNALS))
def test_constant_q_matches_librosa(cqt_magnitude, name):
    p = IMINET_CQT
    x = CQT_SIGNALS[name].astype(np.float32)
    reference = np.abs(librosa.cqt(x, sr=p.sample_rate, hop_length=p.hop_length, fmin=p.fmin,
                                   n_bins=p.n_bins, bins_per_octave=p.bins_per_octave))
    ours = cqt_magnitude(x)
    assert ours.shape == reference.shape == (72, 129)
    a, b = ours[:, INTERIOR], reference[:, INTERIOR]
    assert correlation(a, b) >= 0.999
    assert relative_error(a, b) <= 0.02


@pytest.mark.parametrize("name", sorted(CQT_SIGNALS))
def test_constant_q_matches_nnaudio(cqt_magnitude, name):
    torch = pytest.importorskip("torch")
    from nnAudio.features import CQT1992v2

    p = IMINET_CQT
    x = CQT_SIGNALS[name].astype(np.float32)
    nn_cqt = CQT1992v2(sr=p.sample_rate, hop_length=p.hop_length, fmin=p.fmin, n_bins=p.n_bins,
                       bins_per_octave=p.bins_per_octave, output_format="Magnitude", verbose=False)
    with torch.no_grad():
        reference = nn_cqt(torch.from_numpy(x)[None]).numpy()[0]
    ours = cqt_magnitude(x)
    assert correlation(ours[:, INTERIOR], reference[:, : ours.shape[1]][:, INTERIOR]) >= 0.99


def test_constant_q_bins_follow_pitch(cqt_magnitude):
    p = IMINET_CQT
    t = np.arange(p.clip_samples) / p.sample_rate
    for midi_offset in (0, 17, 40, 70):  # 50 Hz * 2^(k/12)
        freq = p.fmin * 2 ** (midi_offset / 12)
        spectrum = cqt_magnitude(np.sin(2 * np.pi * freq * t))[:, INTERIOR].mean(axis=1)
        assert int(np.argmax(spectrum)) == midi_offset


@pytest.mark.parametrize("params", [IMITATION_LOGMEL, RECORDING_LOGMEL], ids=["imitation", "recording"])
@pytest.mark.parametrize("name", ["noise", "sweep"])
def test_log_mel_matches_librosa(params, name):
    x = make_signals(params.sample_rate, params.clip_samples)[name].astype(np.float32)
    reference = librosa.feature.melspectrogram(
        y=x, sr=params.sample_rate, n_fft=params.n_fft, hop_length=params.hop_length,
        win_length=params.win_length, window="hann", center=True, pad_mode="constant",
        n_mels=params.n_mels, fmin=params.fmin, fmax=params.fmax)
    reference = np.log(reference + params.log_offset)
    ours = LogMel(params)(x[None])[0, ..., 0].numpy()
    assert ours.shape == reference.shape
    assert relative_error(ours, reference) <= 0.01


@pytest.mark.parametrize(
    "layer, seconds, shape",
    [(ConstantQ(IMINET_CQT), 3.0, (72, 129)), (ConstantQ(IMINET_CQT), 5.0, (72, 129)),
     (LogMel(IMITATION_LOGMEL), 4.0, (39, 482)), (LogMel(IMITATION_LOGMEL), 1.0, (39, 482)),
     (LogMel(RECORDING_LOGMEL), 3.0, (128, 128)), (LogMel(RECORDING_LOGMEL), 4.0, (128, 128))],
)
def test_exact_output_shapes(layer, seconds, shape):
    rate = layer.params.sample_rate
    batch = np.zeros((2, int(seconds * rate)), np.float32)
    assert tuple(layer(batch).shape) == (2, *shape, 1)
    assert layer.compute_output_shape((2, batch.shape[1])) == (2, *shape, 1)


def test_long_clips_are_truncated_and_short_ones_padded():
    p = IMINET_CQT
    layer = ConstantQ(p)
    x = CQT_SIGNALS["chord"].astype(np.float32)
    full = layer(x[None]).numpy()
    longer = layer(np.concatenate([x, np.ones(16_000, np.float32)])[None]).numpy()
    # the appended second only reaches the frames whose windows overlap it
    assert np.allclose(full[:, :, :100], longer[:, :, :100], atol=1e-4)
    short = layer(x[None, : p.clip_samples // 2]).numpy()
    assert np.allclose(short[0, :, -5:, 0], np.log(p.log_offset), atol=1e-3)


def test_batch_items_are_independent():
    layer = LogMel(IMITATION_LOGMEL)
    rng = np.random.default_rng(1)
    batch = rng.standard_normal((3, IMITATION_LOGMEL.clip_samples)).astype(np.float32)
    together = layer(batch).numpy()
    alone = layer(batch[1:2]).numpy()
    # compared as mel power: a batch and a single clip may take other float32 kernels, whose
    # rounding the log magnifies near its 1e-8 floor (see tests/test_table1.py's assert_same_cqt)
    power = lambda log_mel: np.exp(log_mel) - IMITATION_LOGMEL.log_offset
    np.testing.assert_allclose(power(together[1:2]), power(alone), rtol=0, atol=1e-5 * power(alone).max())


def test_layers_have_no_trainable_weights_and_survive_keras_save(tmp_path):
    waveform = keras.Input((IMINET_CQT.clip_samples,))
    cqt = ConstantQ(IMINET_CQT, name="cqt")(waveform)
    pooled = keras.layers.GlobalAveragePooling2D()(cqt)
    model = keras.Model(waveform, keras.layers.Dense(1)(pooled))
    assert len(model.get_layer("cqt").trainable_weights) == 0
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    x = CQT_SIGNALS["sweep"][None].astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), restored.predict(x, verbose=0), rtol=1e-5)
    assert restored.get_layer("cqt").params == IMINET_CQT

    mel_in = keras.Input((RECORDING_LOGMEL.clip_samples,))
    mel_model = keras.Model(mel_in, LogMel(RECORDING_LOGMEL, name="mel")(mel_in))
    mel_model.save(tmp_path / "mel.keras")
    assert keras.models.load_model(tmp_path / "mel.keras").get_layer("mel").params == RECORDING_LOGMEL
