"""OpenSFX, OpenTTD's base sound set (Debian `openttd-opensfx`, CC BY 3.0 / CC0 per sound):
one `opensfx.cat` container of RIFF WAV files, unpacked here into named WAV files.

The container: a table of (offset, size) little-endian uint32 pairs, the first offset
(high bit masked) also marking the table's end; at each offset a length byte, the sound's
description (its name in quotes, then author and licence), then `size` bytes of WAV.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

CAT = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"
FOLDER = "unpacked-opensfx"  # beside the package's own files, under its unpacked root


class OpenSfxError(ValueError):
    """The container is not what OpenTTD's base sound set writes."""


def entries(path: str | Path) -> list[tuple[str, bytes]]:
    """(description, WAV bytes) of every sound in the container, in its order."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise OpenSfxError(f"{path}: {len(data)} bytes, too short for an OpenSFX container")
    table_end = struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF
    if table_end % 8 or not 8 <= table_end <= len(data):
        raise OpenSfxError(f"{path}: the first offset {table_end} does not end an entry table")
    found = []
    for k in range(table_end // 8):
        offset, size = struct.unpack_from("<II", data, 8 * k)
        offset &= 0x7FFFFFFF
        length = data[offset] if offset < len(data) else 0
        start = offset + 1 + length
        if start + size > len(data) or size < 1:
            raise OpenSfxError(f"{path}: entry {k} runs past the end of the file")
        description = data[offset + 1:start].rstrip(b"\0").decode("utf-8", "replace")
        wav = data[start:start + size]
        if wav[:4] != b"RIFF":
            raise OpenSfxError(f"{path}: entry {k} ({description[:40]}) holds no RIFF WAV")
        found.append((description, wav))
    return found


def name_of(description: str) -> str:
    """The quoted name at the start of a description ('"Ship horn". Original ...')."""
    match = re.match(r'\s*"([^"]+)"', description)
    return match.group(1) if match else description.split(".")[0]


def stem_of(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def unpack(root: str | Path) -> Path:
    """Write every sound of the unpacked package at `root` as `<FOLDER>/<name>.wav` (kept
    when written before) with `<name>.txt` holding its description (author, licence)."""
    root = Path(root)
    out = root / FOLDER
    if (out / ".complete").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for description, wav in entries(root / CAT):
        stem = stem_of(name_of(description))
        (out / f"{stem}.wav").write_bytes(wav)
        (out / f"{stem}.txt").write_text(description + "\n")
    (out / ".complete").write_text("")
    return out
