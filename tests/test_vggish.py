"""VGGish: the checkpoint mapping on a checkpoint written with the official variable names
(in the release's V1 format), the front-end against a NumPy port of mel_features.py, the
network against plain TensorFlow ops, PCA postprocessing, and the downloader."""

import hashlib
import json
import threading
from functools import partial
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
import tensorflow as tf

from tests.local_http import RecordingHandler
from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.datasets import vggish_weights
from vocalsearch_tf.models import vggish

# tensorflow/models research/audioset/vggish/vggish_slim.py: TF-Slim scopes, slim.repeat nesting
OFFICIAL = {
    "vggish/conv1/weights": (3, 3, 1, 64), "vggish/conv1/biases": (64,),
    "vggish/conv2/weights": (3, 3, 64, 128), "vggish/conv2/biases": (128,),
    "vggish/conv3/conv3_1/weights": (3, 3, 128, 256), "vggish/conv3/conv3_1/biases": (256,),
    "vggish/conv3/conv3_2/weights": (3, 3, 256, 256), "vggish/conv3/conv3_2/biases": (256,),
    "vggish/conv4/conv4_1/weights": (3, 3, 256, 512), "vggish/conv4/conv4_1/biases": (512,),
    "vggish/conv4/conv4_2/weights": (3, 3, 512, 512), "vggish/conv4/conv4_2/biases": (512,),
    "vggish/fc1/fc1_1/weights": (12288, 4096), "vggish/fc1/fc1_1/biases": (4096,),
    "vggish/fc1/fc1_2/weights": (4096, 4096), "vggish/fc1/fc1_2/biases": (4096,),
    "vggish/fc2/weights": (4096, 128), "vggish/fc2/biases": (128,),
}


def write_v1_checkpoint(path, values: dict) -> None:
    """A TF1 checkpoint in the V1 (single file) format vggish_model.ckpt has."""
    tf.raw_ops.Save(filename=str(path), tensor_names=list(values), data=[tf.constant(v) for v in values.values()])


# the official architecture with fc1 narrowed to 32 units: a 20 MB checkpoint with every official
# name (the full-size shapes are checked on the model itself, without writing 290 MB)
NARROW = vggish.VGGishParams(fc_units=32)


def narrow_shape(name, shape):
    if name.startswith("vggish/fc1/fc1_1"):
        return (12288, 32) if len(shape) == 2 else (32,)
    if name.startswith("vggish/fc1/fc1_2"):
        return (32, 32) if len(shape) == 2 else (32,)
    if name == "vggish/fc2/weights":
        return (32, 128)
    return shape


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    rng = np.random.default_rng(0)
    values = {}
    for name, official in OFFICIAL.items():
        shape = narrow_shape(name, official)
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        scale = np.float32(np.sqrt(3.0 / fan_in) if len(shape) > 1 else 0.05)  # activations of order 1
        values[name] = (rng.random(shape, dtype=np.float32) * 2 - 1) * scale
    values["global_step"] = np.array(1234, np.int64)  # the release holds other variables too
    path = tmp_path_factory.mktemp("vggish") / "vggish_model.ckpt"
    write_v1_checkpoint(path, values)
    pca = tmp_path_factory.mktemp("pca") / "vggish_pca_params.npz"
    np.savez(pca, pca_eigen_vectors=rng.standard_normal((128, 128)).astype(np.float32),
             pca_means=rng.standard_normal((128, 1)).astype(np.float32))
    return path, pca, values


def test_the_keras_model_has_the_official_variables_and_shapes():
    model = vggish.build_vggish()
    assert model.count_params() == sum(int(np.prod(shape)) for shape in OFFICIAL.values())
    for layer, (weights, biases) in vggish.checkpoint_names().items():
        assert tuple(model.get_layer(layer).kernel.shape) == OFFICIAL[weights]
        assert tuple(model.get_layer(layer).bias.shape) == OFFICIAL[biases]
    assert model.output.shape[-1] == 128


# --- references written from the official code ------------------------------------------------

def reference_examples(data, rate=16000):
    """mel_features.log_mel_spectrogram + vggish_input.waveform_to_examples, in NumPy."""
    window, hop, fft = 400, 160, 512

    def frame(x, length, step):
        count = 1 + (len(x) - length) // step
        return np.stack([x[i * step: i * step + length] for i in range(count)])

    hann = 0.5 - 0.5 * np.cos(2 * np.pi / window * np.arange(window))
    spectrogram = np.abs(np.fft.rfft(frame(data, window, hop) * hann, fft))
    to_mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)
    bins = to_mel(np.linspace(0.0, rate / 2, spectrogram.shape[1]))
    edges = np.linspace(to_mel(125.0), to_mel(7500.0), 66)
    weights = np.empty((spectrogram.shape[1], 64))
    for i in range(64):
        lower, centre, upper = edges[i:i + 3]
        weights[:, i] = np.maximum(0.0, np.minimum((bins - lower) / (centre - lower), (upper - bins) / (upper - centre)))
    weights[0, :] = 0.0
    log_mel = np.log(spectrogram @ weights + 0.01)
    return frame(log_mel, 96, 96)


def reference_network(patches, values):
    """vggish_slim.define_vggish_slim with tf.nn ops on the checkpoint's arrays."""
    x = tf.constant(patches[..., None], tf.float32)
    for scope in ("conv1", "conv2", "conv3/conv3_1", "conv3/conv3_2", "conv4/conv4_1", "conv4/conv4_2"):
        x = tf.nn.relu(tf.nn.conv2d(x, values[f"vggish/{scope}/weights"], 1, "SAME") + values[f"vggish/{scope}/biases"])
        if scope in ("conv1", "conv2", "conv3/conv3_2", "conv4/conv4_2"):
            x = tf.nn.max_pool2d(x, 2, 2, "SAME")
    x = tf.reshape(x, [x.shape[0], -1])
    for scope in ("fc1/fc1_1", "fc1/fc1_2"):
        x = tf.nn.relu(x @ values[f"vggish/{scope}/weights"] + values[f"vggish/{scope}/biases"])
    return (x @ values["vggish/fc2/weights"] + values["vggish/fc2/biases"]).numpy()


def test_every_official_variable_is_mapped_and_outputs_are_reproduced(checkpoint):
    path, pca, values = checkpoint
    assert {name for pair in vggish.checkpoint_names().values() for name in pair} == set(OFFICIAL)
    model = vggish.build_vggish(NARROW)
    mapping = vggish_weights.load_checkpoint(model, path)
    assert set(mapping) == set(OFFICIAL)  # every variable, each to its own Keras weight
    assert len(set(mapping.values())) == len(OFFICIAL)
    for name, weight_path in mapping.items():
        weight = next(w for w in model.weights if w.path == weight_path)
        assert np.array_equal(weight.numpy(), values[name])
    t = np.arange(3 * 16000) / 16000
    waveform = (0.5 * np.sin(2 * np.pi * 1000 * t) + 0.05 * np.random.default_rng(1).standard_normal(len(t)))
    patches = reference_examples(waveform)
    assert patches.shape == (3, 96, 64)
    expected = reference_network(patches.astype(np.float32), values)
    assert model(patches.astype(np.float32)).numpy() == pytest.approx(expected, rel=1e-4, abs=1e-4)
    # end to end: front-end, network and PCA of the released postprocessor
    full = vggish_weights.VGGish(path, pca, NARROW)
    with np.load(pca) as npz:
        matrix, means = npz["pca_eigen_vectors"], npz["pca_means"]
    embedded = full.embed(waveform[None].astype(np.float32))
    assert embedded.shape == (1, 3, 128)
    assert embedded[0] == pytest.approx(np.dot(matrix, expected.T - means).T, rel=1e-3, abs=1e-3)


def test_front_end_matches_mel_features(checkpoint):
    rng = np.random.default_rng(2)
    waveform = rng.uniform(-0.5, 0.5, 16000 * 10 + 123)
    ours = vggish.VGGishPatches()(waveform[None].astype(np.float32)).numpy()[0]
    reference = reference_examples(waveform)
    assert ours.shape == reference.shape == (10, 96, 64)  # a 10 s clip gives 10 patches
    assert ours == pytest.approx(reference, abs=2e-4)
    assert vggish.VGGISH.patches(16000 * 10) == 10


def test_postprocessing_is_the_released_pca_and_quantisation(checkpoint):
    _, pca_path, _ = checkpoint
    pca = vggish_weights.load_pca(pca_path)
    embeddings = np.random.default_rng(3).standard_normal((5, 128)).astype(np.float32)
    matrix, means = pca
    official = np.dot(matrix, (embeddings.T - means.reshape(-1, 1))).T
    assert vggish_weights.postprocess(embeddings, pca) == pytest.approx(official, rel=1e-4, abs=1e-4)
    quantized = vggish_weights.postprocess(embeddings, pca, quantize=True)
    assert quantized.dtype == np.uint8
    assert np.array_equal(quantized, ((np.clip(official, -2, 2) + 2) * (255.0 / 4)).astype(np.uint8))


def test_wrong_checkpoint_names_every_problem(tmp_path, checkpoint):
    bad = tmp_path / "bad.ckpt"
    write_v1_checkpoint(bad, {"vggish/conv1/weights": np.zeros((3, 3, 1, 32), np.float32),
                              "vggish/conv1/biases": np.zeros(64, np.float32)})
    with pytest.raises(vggish_weights.CheckpointMismatchError) as info:
        vggish_weights.load_checkpoint(vggish.build_vggish(NARROW), bad)
    message = str(info.value)
    assert str(bad) in message and "vggish/conv1/weights has shape (3, 3, 1, 32)" in message
    assert "vggish/fc2/biases missing" in message and "vggish/conv1/biases" not in message
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(vggish_weights.CheckpointMismatchError, match="cannot read as a TensorFlow checkpoint"):
        vggish_weights.load_checkpoint(vggish.build_vggish(NARROW), tmp_path / "junk.ckpt")
    np.savez(tmp_path / "pca.npz", pca_eigen_vectors=np.zeros((64, 128)), pca_means=np.zeros(128))
    with pytest.raises(ValueError, match="PCA shapes"):
        vggish_weights.load_pca(tmp_path / "pca.npz")
    assert vggish_weights.files_in(tmp_path) is None


def test_download_records_sha256_then_checks_it(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "vggish_model.ckpt").write_bytes(b"weights" * 100)
    (www / "vggish_pca_params.npz").write_bytes(b"pca" * 100)
    RecordingHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RecordingHandler, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        urls = {name: url + name for name in vggish_weights.URLS}
        checkpoint, pca = vggish_weights.download_vggish(tmp_path / "vggish", urls)
        assert checkpoint.read_bytes() == b"weights" * 100 and pca.name == "vggish_pca_params.npz"
        hashes = json.loads((tmp_path / "vggish" / "hashes.json").read_text())
        assert hashes["vggish_model.ckpt"] == "sha256:" + hashlib.sha256(b"weights" * 100).hexdigest()
        assert vggish_weights.files_in(tmp_path / "vggish") == (checkpoint, pca)
        vggish_weights.download_vggish(tmp_path / "vggish", urls)
        assert len(RecordingHandler.requests) == 2  # the second call found both files and their hashes
        checkpoint.unlink()
        (www / "vggish_model.ckpt").write_bytes(b"other weights")
        with pytest.raises(dl.ChecksumMismatchError, match="vggish_model.ckpt"):
            vggish_weights.download_vggish(tmp_path / "vggish", urls)
    finally:
        httpd.shutdown()
        httpd.server_close()
