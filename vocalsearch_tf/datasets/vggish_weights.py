"""VGGish's released weights: the TensorFlow checkpoint `vggish_model.ckpt` and PCA parameters
`vggish_pca_params.npz`, their download, loading into `models.vggish`, and the embedder they make.

No pip package reachable here ships the weights: `download_vggish` fetches the two files
from Google's storage and records their sha256 on first use (later runs verify against it).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vocalsearch_tf.datasets import download as dl
from vocalsearch_tf.models.vggish import VGGISH, VGGishParams, VGGishPatches, build_vggish, checkpoint_names

URLS = {"vggish_model.ckpt": "https://storage.googleapis.com/audioset/vggish_model.ckpt",
        "vggish_pca_params.npz": "https://storage.googleapis.com/audioset/vggish_pca_params.npz"}


class CheckpointMismatchError(ValueError):
    """A checkpoint lacks a VGGish variable or holds one of another shape."""


def load_checkpoint(model: keras.Model, path: str | Path) -> dict[str, str]:
    """Copy every VGGish variable of a TF1 checkpoint (the released V1 single file, or a V2
    prefix) into `model`. Returns {checkpoint variable: Keras weight}; a missing variable or a
    wrong shape is an error naming the file and every problem."""
    path = Path(path)
    try:
        reader = tf.train.load_checkpoint(str(path))
    except Exception as error:  # NotFoundError, DataLossError: not a checkpoint
        raise CheckpointMismatchError(f"{path}: cannot read as a TensorFlow checkpoint ({error})") from error
    shapes = reader.get_variable_to_shape_map()
    problems, mapping, values = [], {}, {}
    for layer_name, names in checkpoint_names().items():
        layer = model.get_layer(layer_name)
        for name, weight in zip(names, (layer.kernel, layer.bias)):
            if name not in shapes:
                problems.append(f"{name} missing")
            elif tuple(shapes[name]) != tuple(weight.shape):
                problems.append(f"{name} has shape {tuple(shapes[name])}, the model needs {tuple(weight.shape)}")
            else:
                values[weight.path] = (weight, reader.get_tensor(name))
                mapping[name] = weight.path
    if problems:
        raise CheckpointMismatchError(f"{path}: not a VGGish checkpoint: " + "; ".join(problems))
    for weight, value in values.values():
        weight.assign(value)
    return mapping


def load_pca(path: str | Path, params: VGGishParams = VGGISH) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvectors (128, 128), means (128,)) from vggish_pca_params.npz."""
    path = Path(path)
    try:
        with np.load(path) as npz:
            matrix, means = npz["pca_eigen_vectors"], npz["pca_means"].reshape(-1)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: not VGGish PCA parameters ({error})") from error
    size = params.embedding_size
    if matrix.shape != (size, size) or means.shape != (size,):
        raise ValueError(f"{path}: PCA shapes {matrix.shape} / {means.shape}, expected ({size}, {size}) / ({size},)")
    return matrix.astype(np.float32), means.astype(np.float32)


def postprocess(embeddings: np.ndarray, pca: tuple[np.ndarray, np.ndarray], quantize: bool = False,
                params: VGGishParams = VGGISH) -> np.ndarray:
    """PCA with whitening, as vggish_postprocess.py; `quantize` adds the release's 8-bit step
    (clip to [-2, 2], scale to 0..255, truncate) and returns uint8."""
    matrix, means = pca
    projected = (embeddings - means) @ matrix.T
    if not quantize:
        return projected.astype(np.float32)
    low, high = params.quantize_range
    return ((np.clip(projected, low, high) - low) * (255.0 / (high - low))).astype(np.uint8)


class VGGish:
    """The front-end, the network with released weights, and PCA: waveforms -> (clips, patches, 128)."""

    def __init__(self, checkpoint: str | Path, pca: str | Path | None, params: VGGishParams = VGGISH):
        self.params = params
        self.front_end = VGGishPatches(params)
        self.network = build_vggish(params)
        self.mapping = load_checkpoint(self.network, checkpoint)
        self.pca = load_pca(pca, params) if pca is not None else None

    def embed(self, waveforms: np.ndarray, batch_size: int = 64, quantize: bool = False) -> np.ndarray:
        """`(clips, samples)` at 16 kHz -> `(clips, patches, 128)`, PCA-whitened when the PCA
        parameters were given (float32; uint8 with `quantize`)."""
        patches = np.asarray(self.front_end(np.asarray(waveforms, np.float32)))
        clips, count = patches.shape[:2]
        flat = self.network.predict(patches.reshape(clips * count, *patches.shape[2:]), batch_size=batch_size, verbose=0)
        if self.pca is not None:
            flat = postprocess(flat, self.pca, quantize, self.params)
        return flat.reshape(clips, count, -1)


def download_vggish(dest: str | Path, urls: dict[str, str] = URLS) -> tuple[Path, Path]:
    """Fetch vggish_model.ckpt and vggish_pca_params.npz into `dest` (skipped when there);
    the first download records each file's sha256 in `dest/hashes.json`, later ones check it."""
    dest = Path(dest)
    paths = [Path(dl.fetch(dl.Archive(url, None, name), dest)) for name, url in urls.items()]
    return paths[0], paths[1]


def files_in(folder: str | Path) -> tuple[Path, Path] | None:
    """(checkpoint, PCA) in `folder` when both are there, else None."""
    folder = Path(folder)
    checkpoint, pca = folder / "vggish_model.ckpt", folder / "vggish_pca_params.npz"
    return (checkpoint, pca) if checkpoint.exists() and pca.exists() else None
