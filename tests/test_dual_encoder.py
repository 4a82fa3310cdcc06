"""The dual encoder's builder: two aisfx towers that share no weights, a 128-d projection and unit
embeddings; towers copied from aisfx's released weights (when the wheel can be fetched) or freshly
initialised; frozen blocks; a saved model reloads; the waveform encoder."""

import keras
import numpy as np
import pytest

from vocalsearch_tf.datasets import aisfx_weights
from vocalsearch_tf.models import aisfx, dual_encoder

AISFX_PARAMS = aisfx.build_aisfx_network().count_params()


def blocks(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.7, (n, 96, 100, 1)).astype("float32")


@pytest.fixture(scope="module")
def random_model():
    keras.utils.set_random_seed(0)
    return dual_encoder.build_dual_encoder()


def test_two_towers_of_unit_128_d_embeddings_share_no_weight(random_model):
    assert random_model.name == "dual_encoder_random"
    assert [i.name for i in random_model.inputs] == ["imitation", "reference"]
    assert random_model.output.shape == (None, 256)
    assert random_model.count_params() == 2 * (AISFX_PARAMS + 512 * 128 + 128)
    towers = [dual_encoder.tower(random_model, side) for side in dual_encoder.SIDES]
    assert not {id(w) for w in towers[0].weights} & {id(w) for w in towers[1].weights}
    x = blocks(3)
    pair = random_model.predict([x, x], verbose=0)
    np.testing.assert_allclose(np.linalg.norm(pair[:, :128], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(pair[:, 128:], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(pair[:, :128], towers[0].predict(x, verbose=0), atol=1e-6)
    assert np.abs(pair[:, :128] - pair[:, 128:]).max() > 1e-3  # freshly initialised apart


def test_frozen_blocks_leave_the_first_blocks_untrained():
    model = dual_encoder.build_dual_encoder(params=dual_encoder.DualEncoderParams(frozen_blocks=2))
    network = dual_encoder.tower(model, "imitation").get_layer("aisfx_network")
    frozen = {layer.name for layer in network.layers if not layer.trainable and layer.weights}
    assert frozen == {f"conv_block{b}_{kind}{i}" for b in (1, 2) for kind in ("conv", "bn") for i in (1, 2)}
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    block_1_2 = 9 * (64 + 64 * 64 + 64 * 128 + 128 * 128) + 2 * 2 * (64 + 128)  # kernels, gamma and beta
    assert trainable == 2 * (AISFX_PARAMS - 2 * 2 * (64 + 128 + 256 + 512) - block_1_2 + 512 * 128 + 128)
    with pytest.raises(ValueError, match="frozen_blocks must be 0..4"):
        dual_encoder.build_dual_encoder(params=dual_encoder.DualEncoderParams(frozen_blocks=5))


def test_a_saved_dual_encoder_reloads_and_encodes_waveforms(random_model, tmp_path):
    random_model.save(tmp_path / "dual.keras")
    loaded = keras.saving.load_model(tmp_path / "dual.keras")
    x = blocks(2, 1)
    np.testing.assert_array_equal(loaded.predict([x, x], verbose=0), random_model.predict([x, x], verbose=0))
    encoder = dual_encoder.waveform_encoder(random_model, "reference")
    waveform = 0.1 * np.sin(2 * np.pi * 440 * np.arange(44_100) / 44_100).astype("float32")
    expected = dual_encoder.tower(random_model, "reference").predict(aisfx.AisfxLogMel()(waveform[None]), verbose=0)
    np.testing.assert_allclose(encoder.predict(waveform[None], verbose=0), expected, atol=1e-6)
    with pytest.raises(ValueError, match="unknown side"):
        dual_encoder.build_tower("recording")


def test_towers_start_from_aisfx_released_weights():
    try:
        released = aisfx_weights.load_aisfx_encoder()
    except aisfx_weights.WheelDownloadError as error:
        pytest.skip(f"the aisfx wheel cannot be fetched (no network?): {error}")
    model = dual_encoder.build_dual_encoder(released)
    assert model.name == "dual_encoder_aisfx"
    x = blocks(2, 2)
    expected = released.get_layer("aisfx_network").predict(x, verbose=0)
    for side in dual_encoder.SIDES:
        network = dual_encoder.tower(model, side).get_layer("aisfx_network")
        np.testing.assert_array_equal(network.predict(x, verbose=0), expected)
