"""aisfx's released encoder weights: the PyPI wheel that ships them, a torch-free reader of its
`checkpoint.pth`, the conversion into `models.aisfx`, and a cache of the converted `.keras` model.

Source: aisfx 0.1.2 (`aisfx-0.1.2-py2.py3-none-any.whl` on PyPI, sha256 pinned below), the
pretrained "X-Sequential-CE" model in `aisfx/models/checkpoint.pth`: a pickle of
`(state_dict, ds_dict)` in PyTorch's zip format. Only `embedding_net.*` (the encoder) is used;
the per-dataset classifier heads `fc.*` are left out.

Licence: the pretrained model and paper are under Creative Commons Attribution 4.0
International (CC BY 4.0), (c) 2022 A. B. Ma and A. Lerch (the wheel's LICENSE; its code is MIT).
Cite: A. B. Ma and A. Lerch, "Representation Learning for the Automatic Indexing of Sound
Effects Libraries", in Proc. 23rd International Society for Music Information Retrieval
Conference (ISMIR), Bengaluru, India, 2022, pp. 866-875.

Cache: `cache_dir`, else $VOCALSEARCH_CACHE/aisfx, else ~/.cache/vocalsearch/aisfx. It holds the
wheel (checked against its sha256 whenever it is fetched) and
`aisfx-0.1.2-<wheel sha256[:16]>-c<CONVERTER>.keras` with a `.json` beside it recording the
file's own sha256: a later load checks that hash and rebuilds the model from the wheel, with a
warning, when the file is damaged or missing.
"""

from __future__ import annotations

import codecs
import collections
import hashlib
import io
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.models.aisfx import AISFX, AisfxParams, build_aisfx_encoder, checkpoint_names, keras_kernel

VERSION = "0.1.2"
WHEEL = dl.Archive(
    "https://files.pythonhosted.org/packages/fd/db/25d653f8beeae1277c77da6fbfbc8965ad599afd4218e901406d69cf5551/"
    "aisfx-0.1.2-py2.py3-none-any.whl",
    "sha256:bfe219950715af179e9a1653e7117cc1852baef267cd6596c42cad74afe1d194",
    "aisfx-0.1.2-py2.py3-none-any.whl",
)
CHECKPOINT = "aisfx/models/checkpoint.pth"  # inside the wheel
CONVERTER = 1  # bump when the conversion changes: the cache key holds it


class CheckpointMismatchError(ValueError):
    """A checkpoint lacks an encoder tensor, holds one of another shape, or cannot be read."""


class WheelDownloadError(OSError):
    """The aisfx wheel could not be fetched."""


def default_cache_dir() -> Path:
    root = os.environ.get("VOCALSEARCH_CACHE")
    return Path(root) / "aisfx" if root else Path.home() / ".cache" / "vocalsearch" / "aisfx"


def _cache(cache_dir) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- the wheel ------------------------------------------------------------------------------

def fetch_wheel(cache_dir=None, archive: dl.Archive = WHEEL) -> Path:
    """The aisfx wheel in the cache, downloaded from PyPI when it is not there; its sha256 is
    checked either way (a damaged download is removed and reported by name)."""
    cache = _cache(cache_dir)
    try:
        return Path(dl.fetch(archive, cache))
    except dl.ChecksumMismatchError:
        raise
    except Exception as error:  # URLError, HTTPError, ConnectionError, timeouts
        raise WheelDownloadError(
            f"could not download {archive.fname} from {archive.url} into {cache} ({error}). "
            f"Without network here, fetch it elsewhere (`pip download aisfx=={VERSION} --no-deps`) and copy "
            f"it into {cache}; its sha256 must be {archive.known_hash.split(':', 1)[1]}"
        ) from error


def checkpoint_bytes(wheel: str | Path) -> bytes:
    """`aisfx/models/checkpoint.pth` read out of the wheel (a zip) without unpacking it."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(CHECKPOINT)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise CheckpointMismatchError(f"{wheel}: no readable {CHECKPOINT} ({error})") from error


# --- a torch-free reader of PyTorch's zip checkpoints ----------------------------------------

STORAGE_DTYPES = {"DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                  "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _Storage:
    """Stands for a torch storage class in the pickle: only its dtype is used."""

    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2 on a NumPy storage: a strided view, copied."""
    size, stride = tuple(size), tuple(stride)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if len(size) != len(stride) or offset < 0 or min(stride, default=0) < 0 or last >= len(storage):
        raise pickle.UnpicklingError(f"tensor of size {size}, stride {stride} at {offset} overruns its storage")
    if not size:
        return np.array(storage[offset])
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=[s * item for s in stride],
                                           writeable=False)
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _numpy_scalar(dtype, data: bytes):
    """numpy.core.multiarray.scalar, limited to plain dtypes read from bytes."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError(f"refusing numpy scalar of {dtype!r}")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """_codecs.encode as pickle protocol 2 uses it for bytes: latin-1 text only."""
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode(..., {encoding!r})")
    return codecs.encode(text, "latin1")


SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
    **{("torch", name): _Storage(name) for name in STORAGE_DTYPES},
}


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickles a PyTorch zip checkpoint's data.pkl with nothing but the globals above; each
    storage is read from the zip's `<root>/data/<key>` (little-endian, as torch writes them)."""

    def __init__(self, file, archive: zipfile.ZipFile, root: str, source: str):
        super().__init__(file)
        self.archive, self.root, self.source, self.storages = archive, root, source, {}

    def find_class(self, module, name):
        try:
            return SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{self.source}: refusing to load {module}.{name}") from None

    def persistent_load(self, pid):
        kind, storage, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise pickle.UnpicklingError(f"{self.source}: unknown persistent id {pid!r}")
        if key not in self.storages:
            raw = self.archive.read(f"{self.root}/data/{key}")
            self.storages[key] = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"), count=numel)
        return self.storages[key]


def read_checkpoint(source, name: str | None = None) -> object:
    """What `torch.load(source, map_location='cpu')` returns, tensors as NumPy arrays, without
    importing torch. `source`: a path or the file's bytes (PyTorch's zip format, version >= 1.6);
    `name` names it in errors. Globals other than tensors, storages, OrderedDict and plain NumPy
    scalars are refused."""
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "checkpoint")
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointMismatchError(f"{name}: not a PyTorch zip checkpoint ({error})") from error
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pickles:
            raise CheckpointMismatchError(f"{name}: no data.pkl in the archive")
        root = pickles[0].split("/")[0]
        if f"{root}/byteorder" in archive.namelist() and archive.read(f"{root}/byteorder").strip() != b"little":
            raise CheckpointMismatchError(f"{name}: big-endian storages are not supported")
        with archive.open(pickles[0]) as file:
            try:
                return _CheckpointUnpickler(file, archive, root, name).load()
            except (pickle.UnpicklingError, KeyError, ValueError, EOFError) as error:
                raise CheckpointMismatchError(f"{name}: cannot read the checkpoint ({error})") from error


def read_state_dict(wheel: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """(state_dict, ds_dict) of the wheel's checkpoint, as the package's `load_weights` gets them."""
    name = f"{wheel}!{CHECKPOINT}"
    loaded = read_checkpoint(checkpoint_bytes(wheel), name)
    if not (isinstance(loaded, tuple) and len(loaded) == 2 and isinstance(loaded[0], dict)):
        raise CheckpointMismatchError(f"{name}: expected (state_dict, ds_dict), got {type(loaded).__name__}")
    return loaded


# --- conversion -----------------------------------------------------------------------------

def assign_weights(model: keras.Model, state: dict[str, np.ndarray], source: str = "checkpoint") -> dict[str, str]:
    """Copy the encoder's tensors of an aisfx state dict into `model` (the network, or an encoder
    holding it as "aisfx_network"): conv kernels OIHW -> (freq, time, in, out), batch norm
    weight/bias/running_mean/running_var -> gamma/beta/moving mean/moving variance. Returns
    {state dict key: Keras weight}; a missing key or a wrong shape is an error naming `source`
    and every problem."""
    network = model.get_layer("aisfx_network") if any(l.name == "aisfx_network" for l in model.layers) else model
    problems, values, mapping = [], [], {}
    for layer_name, module in checkpoint_names().items():
        layer = network.get_layer(layer_name)
        if isinstance(layer, keras.layers.Conv2D):
            pairs = [("weight", layer.kernel, keras_kernel)]  # (tensor suffix, Keras weight, reshaping)
        else:
            pairs = [("weight", layer.gamma, None), ("bias", layer.beta, None),
                     ("running_mean", layer.moving_mean, None), ("running_var", layer.moving_variance, None)]
        for suffix, weight, to_keras in pairs:
            key = f"{module}.{suffix}"
            if key not in state:
                problems.append(f"{key} missing")
                continue
            value = np.asarray(state[key], np.float32)
            value = to_keras(value) if to_keras else value
            if value.shape != tuple(weight.shape):
                problems.append(f"{key} has shape {np.shape(state[key])}, {weight.path} needs {tuple(weight.shape)}")
            else:
                values.append((weight, value))
                mapping[key] = weight.path
    if problems:
        raise CheckpointMismatchError(f"{source}: not the aisfx encoder: " + "; ".join(problems))
    for weight, value in values:
        weight.assign(value)
    return mapping


def convert(wheel: str | Path, params: AisfxParams = AISFX) -> keras.Model:
    """The waveform encoder with the wheel's weights."""
    state, _ = read_state_dict(wheel)
    model = build_aisfx_encoder(params)
    assign_weights(model, state, source=f"{wheel}!{CHECKPOINT}")
    return model


def converted_path(cache_dir=None, archive: dl.Archive = WHEEL) -> Path:
    digest = archive.known_hash.split(":", 1)[1]
    return _cache(cache_dir) / f"aisfx-{VERSION}-{digest[:16]}-c{CONVERTER}.keras"


def _cached(path: Path) -> keras.Model | None:
    """The cached model when it and its record agree; None (with a warning) when it is damaged."""
    record = path.with_suffix(".json")
    if not path.exists():
        return None
    try:
        expected = json.loads(record.read_text())["keras_sha256"]
    except (OSError, ValueError, KeyError):
        warnings.warn(f"{path}: no readable record {record.name}; converting the weights again", stacklevel=3)
        return None
    if _sha256(path) != expected:
        warnings.warn(f"{path}: damaged (sha256 differs from {record.name}); converting the weights again",
                      stacklevel=3)
        return None
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # a file that hashes right but does not load: a Keras change
        warnings.warn(f"{path}: cannot be loaded ({error}); converting the weights again", stacklevel=3)
        return None


def load_aisfx_encoder(cache_dir=None, input: str = "waveform") -> keras.Model:
    """The aisfx encoder with its released weights: waveforms at 44.1 kHz -> 512-d embeddings
    (`input="spectrogram"`: the network alone, on `models.aisfx.AisfxLogMel` blocks).

    The first call fetches the wheel (23 MB), converts the checkpoint and saves the model in
    the cache (`converted_path`); later calls load that file."""
    if input not in ("waveform", "spectrogram"):
        raise ValueError(f"unknown input {input!r}: 'waveform' or 'spectrogram'")
    path = converted_path(cache_dir)
    model = _cached(path)
    if model is None:
        wheel = fetch_wheel(cache_dir)
        model = convert(wheel)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.part.keras")  # parallel runs: no torn files
        model.save(partial)
        record = {"keras_sha256": _sha256(partial), "wheel": WHEEL.fname, "wheel_sha256": WHEEL.known_hash,
                  "source": WHEEL.url, "converter": CONVERTER, "licence": "CC BY 4.0 (Ma & Lerch 2022)"}
        partial_record = partial.with_suffix(".json")
        partial_record.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(partial, path)
        os.replace(partial_record, path.with_suffix(".json"))
    return model.get_layer("aisfx_network") if input == "spectrogram" else model
