"""Files and folders for tests/test_search_faults.py: short sounds written fast, broken audio
files of every kind (each with what the indexer must make of it), and read-only or tiny
filesystems where this machine allows mounting them."""

import contextlib
import io
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000


def encoded(samples: np.ndarray, rate: int = RATE, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    """The bytes of an audio file (in memory: much faster than libsndfile writing a path)."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def tone(freq: float, seconds: float, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.3 * np.sin(2 * np.pi * freq * t * (1 + 0.05 * np.sin(2 * np.pi * 3 * t)))
    return (wave + noise * rng.standard_normal(len(t))).astype(np.float32)


def write_sounds(folder: Path, count: int, first: int = 0, seconds: float = 0.3, prefix: str = "sound") -> list[str]:
    """`count` short distinct sounds (one window each) named {prefix}_NNNN.wav; their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for k in range(first, first + count):
        name = f"{prefix}_{k:04d}.wav"
        freq = 110 * 2 ** ((k * 7 % 60) / 12)  # five octaves, neighbours a fifth apart
        (folder / name).write_bytes(encoded(tone(freq, seconds, seed=k, noise=0.01 + 0.002 * (k % 17))))
        names.append(name)
    return names


def _riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _fmt(channels=1, rate=RATE, bits=16, tag=1) -> bytes:
    block = channels * bits // 8
    return b"fmt " + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * block, block, bits)


def _data(payload: bytes, claimed: int | None = None) -> bytes:
    return b"data" + struct.pack("<I", len(payload) if claimed is None else claimed) + payload


def _flac_claiming(total_samples: int, rate: int, samples: np.ndarray) -> bytes:
    """A FLAC whose STREAMINFO claims `total_samples` at `rate`, holding `samples` at RATE."""
    data = bytearray(encoded(samples, fmt="FLAC"))
    fields = int.from_bytes(data[18:26], "big")  # rate (20 bits) channels (3) bits (5) total (36)
    fields = (rate << 44) | (fields & (0xFF << 36)) | total_samples
    data[18:26] = fields.to_bytes(8, "big")
    return bytes(data)


def _mp3_claiming(frames: int, samples: np.ndarray) -> bytes:
    """An MP3 whose Xing header claims `frames` MPEG frames."""
    data = bytearray(encoded(samples, fmt="MP3", subtype="MPEG_LAYER_III"))
    at = data.find(b"Xing")
    assert at >= 0 and data[at + 7] & 1, "the encoder wrote no Xing frame count"
    data[at + 8:at + 12] = frames.to_bytes(4, "big")
    return bytes(data)


# what the indexer must make of each broken file: "unreadable" (listed with a reason),
# "indexed" (decodable whatever its name or header says), "shortened" (a header claiming far
# more audio than the file holds: indexed as the audio there is, with a note)
def broken_files(rng: np.random.Generator) -> dict[str, tuple[bytes, str]]:
    half = tone(440, 0.5)
    pcm = (half * 32767).astype("<i2").tobytes()
    wav, flac = encoded(half), encoded(half, fmt="FLAC")
    ogg = encoded(half, fmt="OGG", subtype="VORBIS")
    return {
        "random bytes.wav": (rng.bytes(5000), "unreadable"),
        "random bytes.mp3": (rng.bytes(5000), "unreadable"),
        "random bytes.flac": (rng.bytes(5000), "unreadable"),
        "random bytes.ogg": (rng.bytes(5000), "unreadable"),
        "random bytes.aiff": (rng.bytes(3000), "unreadable"),
        "RIFF then random.wav": (b"RIFF" + rng.bytes(3000), "unreadable"),
        "header cut at 10 bytes.wav": (wav[:10], "unreadable"),
        "header cut at 30 bytes.wav": (wav[:30], "unreadable"),
        "header only.wav": (wav[:44], "unreadable"),
        "header cut.flac": (flac[:20], "unreadable"),
        "header cut.ogg": (ogg[:40], "unreadable"),
        "cut in half.flac": (flac[: len(flac) // 2], "unreadable"),
        "a wav named.flac": (wav, "indexed"),
        "a wav named.mp3": (wav, "indexed"),
        "a flac named.wav": (flac, "indexed"),
        "a text named.ogg": (b"hello, this is not a sound\n" * 40, "unreadable"),
        "a png named.wav": (b"\x89PNG\r\n\x1a\n" + rng.bytes(2000), "unreadable"),
        "data size 4 GB.wav": (_riff(_fmt(), _data(pcm, 0xFFFFFFF0)), "indexed"),
        "rate 2^31 Hz.wav": (_riff(_fmt(rate=0x7FFFFFFF), _data(pcm)), "unreadable"),
        "rate 0.wav": (_riff(_fmt(rate=0), _data(pcm)), "unreadable"),
        "0 channels.wav": (_riff(_fmt(channels=0), _data(pcm)), "unreadable"),
        "1024 channels.wav": (_riff(_fmt(channels=1024), _data(pcm * 256)), "indexed"),
        "LIST chunk of 4 GB.wav": (_riff(_fmt(), b"LIST" + struct.pack("<I", 0xFFFFFF00) + b"INFO", _data(pcm)),
                                   "unreadable"),
        "fmt chunk of 2 GB.wav": (_riff(b"fmt " + struct.pack("<I", 0x7FFFFFFF) + _fmt()[8:], _data(pcm)),
                                  "unreadable"),
        "ID3 tag of 256 MB.mp3": (b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + rng.bytes(3000), "unreadable"),
        "rate 1 Hz, 2^36 samples.flac": (_flac_claiming(2 ** 36 - 1, 1, half), "unreadable"),
        "claims 50 days.flac": (_flac_claiming(2 ** 36 - 1, RATE, half), "unreadable"),
        "claims 2 years.mp3": (_mp3_claiming(0x7FFFFFF0, half), "shortened"),
        "empty.wav": (b"", "unreadable"),
        "empty.mp3": (b"", "unreadable"),
        "empty.flac": (b"", "unreadable"),
        "NaN samples.wav": (encoded(np.full(4000, np.nan, np.float32), subtype="FLOAT"), "unreadable"),
        "infinite samples.wav": (encoded(np.full(4000, np.inf, np.float32), subtype="FLOAT"), "unreadable"),
    }


def mutated_files(rng: np.random.Generator, count: int) -> dict[str, bytes]:
    """Good files of six formats with random bytes of their first 128 overwritten, or cut at
    a random length: decodable or not, each must be indexed or listed."""
    half = tone(300, 0.5)
    bases = [(encoded(half, fmt=fmt, subtype=subtype), ext) for fmt, subtype, ext in
             [("WAV", "PCM_16", "wav"), ("WAV", "FLOAT", "wav"), ("FLAC", "PCM_16", "flac"),
              ("OGG", "VORBIS", "ogg"), ("MP3", "MPEG_LAYER_III", "mp3"), ("AIFF", "PCM_16", "aiff")]]
    out = {}
    for k in range(count):
        data, ext = bases[k % len(bases)]
        data = bytearray(data)
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(1, 6))):
                at = int(rng.integers(0, min(len(data), 128)))
                data[at:at + 4] = rng.bytes(1) * 4 if rng.random() < 0.5 else b"\xff\xff\xff\x7f"
        else:
            data = data[: int(rng.integers(0, len(data)))]
        out[f"mutated_{k:03d}.{ext}"] = bytes(data)
    return out


def _mount(*args: str) -> bool:
    try:
        return subprocess.run(["mount", *args], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str):
    """A tmpfs of `size` at `folder` (root with mount rights only: yields False otherwise);
    `resize(size)` grows it."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield mounted and (lambda new: _mount("-o", f"remount,size={new}", str(folder)))
    finally:
        if mounted:
            _umount(folder)


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch):
    """`folder` made read-only; yields how. A read-only bind mount where this process may mount
    (as root a permission bit stops nothing); else, not root, its permission bits; else (root
    without mount rights) every open for writing below it fails with EROFS, injected at
    Python's open functions, which the indexer's writes go through."""
    folder = folder.resolve()
    if os.geteuid() == 0 and _mount("--bind", str(folder), str(folder)):
        try:
            if _mount("-o", "remount,ro,bind", str(folder)):
                yield "a read-only bind mount"
                return
        finally:
            _umount(folder)
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for path in modes:
            path.chmod(modes[path] & ~0o222)
        try:
            yield "permission bits without write"
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    yield from _failing_writes(folder, monkeypatch)


def _failing_writes(folder: Path, monkeypatch):
    import builtins
    import errno

    def below(path) -> bool:
        try:
            return Path(os.path.abspath(os.fspath(path))).is_relative_to(folder)
        except TypeError:  # a file descriptor
            return False

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    real_open, real_os_open = builtins.open, os.open

    def checked_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and below(file):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def checked_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and below(path):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", checked_open)
        patch.setattr(io, "open", checked_open)
        patch.setattr(os, "open", checked_os_open)
        yield "writes refused with EROFS (injected at open)"
