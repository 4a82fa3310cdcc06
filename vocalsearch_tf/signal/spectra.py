"""Spectrograms of many clips, computed once with a front-end layer and cached on disk."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vocalsearch_tf.signal import audio


def _cache_key(paths, layer) -> str:
    """The layer's settings and each file's path, size and modification time: a file
    regenerated or replaced (even at the same size) gets a new key."""
    entries = [(str(Path(p).resolve()), s.st_size, s.st_mtime_ns) for p in paths for s in [Path(p).stat()]]
    blob = json.dumps({"layer": type(layer).__name__, "params": dataclasses.asdict(layer.params),
                       "files": entries}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def spectrograms(paths, layer, cache_dir: str | Path | None = None, batch: int = 32,
                 description: str = "spectrograms") -> np.ndarray:
    """`(clips, freq, time, 1)` float32 from a `ConstantQ` or `LogMel` layer.

    Clips are loaded at the layer's sample rate and cut or zero-padded to its length. With
    `cache_dir`, the array is stored under a key made of the layer's settings and the
    files' names, sizes and modification times, and read back on the next call.
    """
    paths = list(paths)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{type(layer).__name__}-{_cache_key(paths, layer)}.npy"
        if cache.exists():
            return np.load(cache)
    rate, length = layer.params.sample_rate, layer.params.clip_samples
    parts = []
    for start in tqdm(range(0, len(paths), batch), desc=description, leave=False):
        clips = np.stack([audio.load_clip(p, rate, length) for p in paths[start:start + batch]])
        parts.append(np.asarray(layer(clips), dtype=np.float32))
    result = np.concatenate(parts) if parts else np.zeros((0, *layer.params.shape, 1), np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.part.npy")  # notebooks may run at once
        np.save(tmp, result)
        os.replace(tmp, cache)
    return result


def full_length_spectrograms(paths, layer, cache_dir: str | Path | None = None, batch: int = 16,
                             description: str = "full-length spectrograms") -> list[np.ndarray]:
    """Each clip's whole `(freq, frames)` spectrogram from a layer with a `full_length`
    method (`ConstantQ`): clips are neither cut nor padded, so their frame counts differ.

    Clips are loaded whole at the layer's rate and computed in batches of similar length;
    within a batch shorter clips are zero-padded and their frames past the clip's own
    end dropped, which gives exactly the clip's own transform. Cached like `spectrograms`.
    """
    paths = list(paths)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{type(layer).__name__}-full-{_cache_key(paths, layer)}.npz"
        if cache.exists():
            with np.load(cache) as stored:
                return np.split(stored["frames"], stored["bounds"], axis=1)
    clips = [audio.load(p, layer.params.sample_rate)[0] for p in tqdm(paths, desc=description, leave=False)]
    hop = layer.params.hop_length
    result: list[np.ndarray | None] = [None] * len(clips)
    order = np.argsort([len(c) for c in clips])
    for start in range(0, len(order), batch):
        members = order[start:start + batch]
        longest = max(len(clips[k]) for k in members)
        padded = np.stack([np.pad(clips[k], (0, longest - len(clips[k]))) for k in members])
        spectra = np.asarray(layer.full_length(padded), dtype=np.float32)[..., 0]
        for row, k in enumerate(members):
            result[k] = spectra[row, :, :1 + (len(clips[k]) - 1) // hop]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.part.npz")
        bounds = np.cumsum([r.shape[1] for r in result])[:-1]
        np.savez(tmp, frames=np.concatenate(result, axis=1) if result else np.zeros((0, 0)), bounds=bounds)
        os.replace(tmp, cache)
    return result
