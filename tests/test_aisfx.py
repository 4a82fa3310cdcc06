"""The aisfx port against the original: the wheel's own PyTorch module (aisfx/models/cnn2d.py) and
its Essentia front-end (aisfx/spectrogram/spectrogram_essentia.py, run in a subprocess with an
Essentia wheel fetched by pip), stage by stage; the torch-free checkpoint reader against
torch.load; the converted model's cache; the downloader's errors.

Needs the network once (the aisfx wheel, 23 MB, and the Essentia wheel, 14 MB, kept in the aisfx
cache: `aisfx_weights.default_cache_dir()`); without it the tests that need them are skipped.
"""

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.io.wavfile

from tests.local_http import RecordingHandler, serving
from vocalsearch_tf import config
from vocalsearch_tf.datasets import aisfx_weights
from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.models import aisfx

RATE = 44_100
# the Essentia release pip picks for CPython 3.11 on Linux x86-64 (the aisfx paper's front-end)
ESSENTIA = "essentia==2.1b6.dev1389"
# Both sides compute in float32. The spectrogram's largest differences (measured 9e-6, on the
# sweep) lie in quiet bands, whose power is the window's leakage from a loud bin: there a
# 2048-point float32 FFT's rounding (~1e-7 of the loud bin) is a large part of the power, and
# Essentia and the port each lie ~1e-5 from a float64 computation. The bound leaves 5x room.
# The embeddings (values up to ~12): measured 1.2e-5 end to end, 4e-6 for the network alone.
SPECTROGRAM_TOLERANCE = 5e-5
EMBEDDING_TOLERANCE = 1e-4


def clips() -> dict[str, np.ndarray]:
    """A sine sweep (1.5 s), noise (2 s) and a click train (3 s), and a mixture long enough
    for several blocks (5 s), at 44.1 kHz."""
    rng = np.random.default_rng(24)
    t = np.arange(int(1.5 * RATE)) / RATE
    sweep = 0.5 * np.sin(2 * np.pi * 100.0 * (150.0 ** (t / 1.5) - 1) * 1.5 / np.log(150.0))
    noise = 0.1 * rng.standard_normal(2 * RATE)
    clicks = np.zeros(3 * RATE)
    clicks[:: RATE // 10] = 0.9
    clicks[1:: RATE // 10] = -0.6
    t = np.arange(5 * RATE) / RATE
    mixture = 0.3 * np.sin(2 * np.pi * 440 * t) * (t < 2.5) + 0.05 * rng.standard_normal(t.size) * (t > 1.0)
    return {name: x.astype(np.float32) for name, x in
            {"sweep": sweep, "noise": noise, "clicks": clicks, "mixture": mixture}.items()}


def load_file(name: str, path: Path):
    """A module of the wheel by its file, without importing the aisfx package (which imports torch
    and tqdm at the top)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def constants(path: Path) -> dict:
    """The module-level literal assignments of a source file (inference.py's settings)."""
    values = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
            value = value if isinstance(node.targets[0], ast.Tuple) else (value,)
            values.update({target.id: v for target, v in zip(targets, value)})
    return values


@pytest.fixture(scope="session")
def cache_dir():
    return aisfx_weights.default_cache_dir()


@pytest.fixture(scope="session")
def wheel(cache_dir):
    try:
        return aisfx_weights.fetch_wheel(cache_dir)
    except aisfx_weights.WheelDownloadError as error:
        pytest.skip(f"the aisfx wheel cannot be fetched (no network?): {error}")


@pytest.fixture(scope="session")
def source(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked: the original package's files."""
    root = tmp_path_factory.mktemp("aisfx_wheel")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root)
    return root


@pytest.fixture(scope="session")
def original(source):
    """The original encoder, built and loaded as aisfx.inference.load_bestModel / load_weights do
    (torch.load with weights_only=False: since torch 2.6 the default refuses the checkpoint's
    NumPy scalars; the file's sha256 is pinned)."""
    torch = pytest.importorskip("torch")
    cnn2d = load_file("aisfx_cnn2d", source / "aisfx/models/cnn2d.py")
    weights, ds_dict = torch.load(source / aisfx_weights.CHECKPOINT, map_location="cpu", weights_only=False)
    model = cnn2d.CrossNet(cnn2d.EmbeddingNet("max", 3, 1, 64), ds_dict, "cpu")
    model.load_state_dict(weights)
    model.eval()
    preprocessing = load_file("aisfx_preprocessing", source / "aisfx/preprocessing.py")

    def embed(spectrogram: np.ndarray, settings=constants(source / "aisfx/inference.py")) -> np.ndarray:
        """inference.model_get_embedding(spec, emb_hop_size=0.5, drop_partial_block=True): a
        `(frames, bands)` spectrogram -> `(blocks, 512)`."""
        block = settings["EMB_BLOCK_LENGTH"]
        blocks = preprocessing.blocking(spectrogram, block_size=block,
                                        hop_size=preprocessing.compute_hopSize(block, 0.5, spectrogram),
                                        drop_partial_block=True)
        with torch.no_grad():
            return model.get_embedding(torch.Tensor(blocks)).numpy()

    def network(blocks: np.ndarray) -> np.ndarray:
        """get_embedding on the port's `(blocks, bands, frames, 1)` layout."""
        with torch.no_grad():
            return model.get_embedding(torch.Tensor(np.transpose(blocks[..., 0], (0, 2, 1)).copy())).numpy()

    return {"weights": weights, "ds_dict": ds_dict, "embed": embed, "network": network,
            "preprocessing": preprocessing}


@pytest.fixture(scope="session")
def encoder(wheel, cache_dir):
    return aisfx_weights.load_aisfx_encoder(cache_dir)


ESSENTIA_SCRIPT = r"""
import sys, json, importlib.util
import numpy as np
import essentia.standard as es

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

root, out, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
front = load("spectrogram_essentia", root + "/aisfx/spectrogram/spectrogram_essentia.py")
preprocessing = load("preprocessing", root + "/aisfx/preprocessing.py")
found = {}
for path in sys.argv[4:]:
    spec = front.compute_spectrogram(filename=path, **settings)
    found[path.rsplit("/", 1)[1][:-4]] = preprocessing.spectrogram_normalize(spec, spec_norm="original")
bands = es.MelBands(inputSize=1025, numberBands=96, sampleRate=44100.0, lowFrequencyBound=0.0,
                    highFrequencyBound=22050.0, warpingFormula="htkMel", weighting="warping",
                    normalize="unit_sum", type="magnitude", log=False)
found["filterbank"] = np.stack([bands(row) for row in np.eye(1025, dtype=np.float32)])
np.savez(out, **found)
"""


@pytest.fixture(scope="session")
def essentia_reference(source, cache_dir, tmp_path_factory):
    """aisfx's own spectrograms of `clips()` (spectrogram_essentia.compute_spectrogram on WAV
    files, then spectrogram_normalize 'original'), and Essentia's mel filterbank: computed in a
    subprocess, with Essentia from its wheel unpacked in the cache (kept apart from TensorFlow)."""
    env = dict(os.environ)
    if importlib.util.find_spec("essentia") is None:
        folder = cache_dir / ESSENTIA.replace("==", "-")
        if not (folder / "essentia").is_dir():
            download = tmp_path_factory.mktemp("essentia_wheel")
            try:
                result = subprocess.run([sys.executable, "-m", "pip", "download", ESSENTIA, "--no-deps",
                                         "--only-binary=:all:", "-d", str(download)],
                                        capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                pytest.skip(f"Essentia (aisfx's front-end): `pip download {ESSENTIA}` timed out")
            wheels = list(download.glob("essentia-*.whl"))
            if result.returncode or not wheels:
                pytest.skip(f"Essentia (aisfx's front-end) cannot be fetched: {result.stderr.strip()[-300:]}")
            partial = folder.with_name(folder.name + f".{os.getpid()}.part")
            with zipfile.ZipFile(wheels[0]) as archive:
                archive.extractall(partial)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(partial, folder)
        env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    wavs = tmp_path_factory.mktemp("aisfx_clips")
    paths = []
    for name, x in clips().items():
        scipy.io.wavfile.write(wavs / f"{name}.wav", RATE, x)  # float32 WAV: read back exactly
        paths.append(str(wavs / f"{name}.wav"))
    out = wavs / "reference.npz"
    found = constants(source / "aisfx/inference.py")  # main()'s arguments to compute_spectrogram
    settings = {"sr": found["SAMPLE_RATE"], "block_size": found["SPEC_BLOCK_LENGTH"],
                "hop_size": found["SPEC_HOP_LENGTH"], "n_mels": found["MEL_BINS"], "f_min": found["F_MIN"],
                "f_max": found["F_MAX"]}
    result = subprocess.run([sys.executable, "-c", ESSENTIA_SCRIPT, str(source), str(out), json.dumps(settings),
                             *paths],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(out) as found:
        return dict(found)


def test_settings_are_the_wheels(source):
    found = constants(source / "aisfx/inference.py")
    p = config.AisfxLogMelParams()
    assert (found["SAMPLE_RATE"], found["SPEC_BLOCK_LENGTH"], found["SPEC_HOP_LENGTH"], found["MEL_BINS"],
            found["F_MIN"], found["F_MAX"], found["EMB_BLOCK_LENGTH"]) == (
        p.sample_rate, p.n_fft, p.hop_length, p.n_mels, p.fmin, p.fmax, p.n_frames)
    normalize = (source / "aisfx/preprocessing.py").read_text()
    assert re.search(r"mn, mx = 0, ([0-9.]+)", normalize).group(1) == repr(p.norm_max)
    front = (source / "aisfx/spectrogram/spectrogram_essentia.py").read_text()
    for setting in ("warping_formula='htkMel'", "weighting='warping'", "normalize='unit_sum'",
                    "bands_type='power'", "window_type='hann'", "normalized=False", "scale=1e4, shift=1"):
        assert setting in front, setting


def test_the_encoder_is_built_from_its_table():
    network = aisfx.build_aisfx_network()
    convs = [layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert {layer.name for layer in network.layers} >= set(aisfx.checkpoint_names())
    assert network.count_params() == 9 * (64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 256 * 256
                                          + 256 * 512 + 512 * 512) + 4 * 2 * (64 + 128 + 256 + 512)
    assert network.get_layer("conv_block4_conv2_relu").output.shape == (None, 12, 12, 512)
    encoder = aisfx.build_aisfx_encoder()
    assert encoder.predict(np.zeros((2, RATE), np.float32), verbose=0).shape == (2, 512)


def test_checkpoint_reader_gives_what_torch_load_gives(wheel, original):
    state, ds_dict = aisfx_weights.read_state_dict(wheel)
    assert list(state) == list(original["weights"]) and ds_dict == original["ds_dict"]
    for key, tensor in original["weights"].items():
        expected = tensor.numpy()
        assert state[key].dtype == expected.dtype and state[key].shape == expected.shape, key
        np.testing.assert_array_equal(state[key], expected, err_msg=key)


def test_checkpoint_reader_refuses_other_globals(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:  # os.system("echo") as a pickle, protocol 2
        archive.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.")
    with pytest.raises(aisfx_weights.CheckpointMismatchError, match=r"evil.pth.*refusing to load os.system"):
        aisfx_weights.read_checkpoint(path)


def test_a_missing_or_misshapen_tensor_is_named(wheel):
    state, _ = aisfx_weights.read_state_dict(wheel)
    del state["embedding_net.conv_block2.bn1.running_var"]
    state["embedding_net.conv_block3.conv1.weight"] = state["embedding_net.conv_block3.conv1.weight"][:, :5]
    with pytest.raises(aisfx_weights.CheckpointMismatchError) as error:
        aisfx_weights.assign_weights(aisfx.build_aisfx_network(), state, source="some.pth")
    message = str(error.value)
    assert "some.pth" in message and "conv_block2.bn1.running_var missing" in message
    assert "conv_block3.conv1.weight has shape (256, 5, 3, 3)" in message


def test_filterbank_is_essentias(essentia_reference):
    np.testing.assert_allclose(aisfx.mel_filterbank(), essentia_reference["filterbank"], rtol=0, atol=2e-6)


def test_front_end_matches_aisfx_essentia(essentia_reference):
    layer = aisfx.AisfxLogMel()
    for name, x in clips().items():
        expected = essentia_reference[name].T  # (bands, frames)
        found = np.asarray(layer.full_length(x[None]))[0, ..., 0]
        assert found.shape == expected.shape, name  # ceil(samples / hop) + 1 frames
        assert np.abs(found - expected).max() < SPECTROGRAM_TOLERANCE, (name, np.abs(found - expected).max())
        block = np.asarray(layer(x[None]))[0, ..., 0]  # the encoder's block: the first 100 frames, padded
        np.testing.assert_allclose(block, aisfx.blocks(expected)[0, ..., 0], rtol=0, atol=SPECTROGRAM_TOLERANCE)


def test_front_end_matches_numpy():
    """Without Essentia: the layer against the same steps in float64 NumPy."""
    x = clips()["sweep"]
    p = config.AisfxLogMelParams()
    padded = np.pad(x.astype(np.float64), (p.n_fft // 2, p.n_frames * p.hop_length))
    frames = np.stack([padded[t * p.hop_length: t * p.hop_length + p.n_fft] for t in range(p.n_frames)])
    power = np.abs(np.fft.rfft(frames * np.hanning(p.n_fft))) ** 2  # np.hanning: symmetric, as Essentia's
    expected = np.log10(1 + 1e4 * power @ aisfx.mel_filterbank().astype(np.float64)).T / p.norm_max
    found = np.asarray(aisfx.AisfxLogMel()(x[None]))[0, ..., 0]
    np.testing.assert_allclose(found, expected, rtol=0, atol=SPECTROGRAM_TOLERANCE)


def test_network_matches_the_pytorch_module(encoder, original):
    """The network alone, on the same spectrogram blocks (the port's front-end's)."""
    layer, network = aisfx.AisfxLogMel(), encoder.get_layer("aisfx_network")
    inputs = np.concatenate([aisfx.blocks(np.asarray(layer.full_length(x[None]))[0]) for x in clips().values()])
    found = network.predict(inputs, verbose=0)
    expected = original["network"](inputs)
    assert found.shape == expected.shape == (len(inputs), 512)
    assert np.abs(found - expected).max() < EMBEDDING_TOLERANCE, np.abs(found - expected).max()


def test_encoder_matches_aisfx_end_to_end(encoder, original, essentia_reference):
    """Waveform in, embedding out, against aisfx's pipeline (Essentia spectrogram, 'original'
    normalisation, blocking, EmbeddingNet): the encoder gives each clip's first block; the
    long clip's every block through `blocks`."""
    waveforms = clips()
    for name, x in waveforms.items():
        expected = original["embed"](essentia_reference[name])
        found = encoder.predict(x[None], verbose=0)
        assert np.abs(found[0] - expected[0]).max() < EMBEDDING_TOLERANCE, (name, np.abs(found[0] - expected[0]).max())
    long = waveforms["mixture"]
    spectrogram = np.asarray(encoder.get_layer("aisfx_log_mel").full_length(long[None]))[0]
    every = encoder.get_layer("aisfx_network").predict(aisfx.blocks(spectrogram), verbose=0)
    expected = original["embed"](essentia_reference["mixture"])
    assert every.shape == expected.shape and len(every) > 1
    assert np.abs(every - expected).max() < EMBEDDING_TOLERANCE


def test_blocks_are_aisfx_blocking(original):
    rng = np.random.default_rng(0)
    for frames in (30, 100, 149, 150, 151, 260):
        spectrogram = rng.random((frames, 96))
        for drop in (True, False):
            expected = original["preprocessing"].blocking(spectrogram, 100, 50, drop)
            found = aisfx.blocks(spectrogram.T, drop_partial_block=drop)[..., 0]
            np.testing.assert_array_equal(found, np.transpose(expected, (0, 2, 1)))


def test_cache_loads_without_converting_and_rebuilds_a_damaged_file(wheel, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(wheel, cache / wheel.name)
    x = clips()["clicks"][None]
    first = aisfx_weights.load_aisfx_encoder(cache)
    path = aisfx_weights.converted_path(cache)
    stamp, expected = path.stat().st_mtime_ns, first.predict(x, verbose=0)

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    with monkeypatch.context() as patch:
        patch.setattr(aisfx_weights, "convert", no_conversion)
        second = aisfx_weights.load_aisfx_encoder(cache)
        network = aisfx_weights.load_aisfx_encoder(cache, input="spectrogram")
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(second.predict(x, verbose=0), expected)
    assert network.name == "aisfx_network" and network.output.shape == (None, 512)

    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = b"\0" * 64
    path.write_bytes(bytes(damaged))
    with pytest.warns(UserWarning, match="damaged"):
        rebuilt = aisfx_weights.load_aisfx_encoder(cache)
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), expected)
    with monkeypatch.context() as patch:
        patch.setattr(aisfx_weights, "convert", no_conversion)
        aisfx_weights.load_aisfx_encoder(cache)  # the rebuilt file and its record agree


def test_download_errors_name_the_file(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "aisfx-0.1.2-py2.py3-none-any.whl").write_bytes(b"not the wheel")
    RecordingHandler.requests = []
    with serving(www, RecordingHandler) as url:
        archive = dl.Archive(url + "aisfx-0.1.2-py2.py3-none-any.whl", aisfx_weights.WHEEL.known_hash,
                             aisfx_weights.WHEEL.fname)
        with pytest.raises(dl.ChecksumMismatchError, match="aisfx-0.1.2-py2.py3-none-any.whl"):
            aisfx_weights.fetch_wheel(tmp_path / "cache", archive)
        missing = dl.Archive(url + "nothing-here.whl", aisfx_weights.WHEEL.known_hash, aisfx_weights.WHEEL.fname)
        with pytest.raises(aisfx_weights.WheelDownloadError, match=r"aisfx-0.1.2-py2.py3-none-any.whl.*pip download"):
            aisfx_weights.fetch_wheel(tmp_path / "cache", missing)
