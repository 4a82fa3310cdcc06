"""How search/index.py keeps an index safe on disk: a generation's files checked when opened,
the work of an interrupted indexing run kept for the next one, and writes that fail cleanly.

Checks. Each generation's meta.json records the size and CRC-32 of every file it has
(`checksums`). Opening a generation checks that meta.json parses and holds the counts; that
every file has the size recorded; the CRC-32 of every file but vectors.npy (their size grows
with the number of files, not windows); vectors.npy's CRC-32 too when it is at most
VERIFY_VECTORS_BYTES (a query then pays up to ~15 ms), and always when an indexing run opens
the generation to reuse its rows (so damage is never carried into the next generation); and
that the arrays' shapes and types agree with the counts and the window offsets increase.
Any failure is an IndexDamagedError naming the file. Not detected: damage inside a
vectors.npy larger than VERIFY_VECTORS_BYTES between two indexing runs (queries check its
size; the next run its checksum, and then rebuilds); a change CRC-32 maps to the same value
(about 1 in 4 billion); an edit of meta.json that leaves a consistent index (a model's
description, the date); generations written before checksums existed (structure only).

Resuming. An indexing run appends the vectors it computes to a spill file (spill-*.f32)
and, once a file's rows are written there, a line to the spill's journal (spill-*.jsonl):
the file, its size and modification time, its rows, duration and window starts. When the
run commits a generation holding all of that, both go; when it is killed (SIGKILL, a crash)
or a write fails, they stay, and the next run (which holds the lock, so no other run owns
them) takes every journalled file whose size and modification time still match instead of
computing it again. Without fsync: this survives a killed process, not a power cut.

Writes. Small files are replaced atomically (written beside, then renamed). vectors.npy is
reserved (posix_fallocate) before it is memory-mapped and filled: on a full disk the
reservation fails with ENOSPC, where writing into the map would kill the process with
SIGBUS. An OSError while indexing becomes an IndexWriteError that says where and what to do.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
import zlib
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from vocalsearch_tf.search.config import IndexDamagedError, IndexWriteError

VERIFY_VECTORS_BYTES = 32 << 20
CHECKED_FILES = ("paths.json", "file_size.npy", "file_mtime.npy", "file_duration.npy", "file_first_window.npy",
                 "window_start.npy", "vectors.npy")
ARRAYS = {"file_size": np.int64, "file_mtime": np.int64, "file_duration": np.float64,
          "file_first_window": np.int64, "window_start": np.float32, "vectors": np.float32}
GENERATION_NAME = re.compile(r"gen-\d{6}")
OPEN_ATTEMPTS = 20  # CURRENT re-read this often while indexing runs switch generations under a reader

T = TypeVar("T")


def damaged(path: str | Path, problem: str) -> IndexDamagedError:
    return IndexDamagedError(f"{path}: {problem}", path)


def crc32_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc & 0xFFFFFFFF


def checksums(folder: Path) -> dict:
    """Size and CRC-32 of each of a generation's files, as meta.json records them."""
    return {name: {"bytes": (folder / name).stat().st_size, "crc32": crc32_of(folder / name)}
            for name in CHECKED_FILES}


def _check_files(folder: Path, recorded: dict, verify_vectors: bool | None) -> None:
    for name in CHECKED_FILES:
        if name not in recorded:
            continue
        path, record = folder / name, recorded[name]
        try:
            size = path.stat().st_size
            if size != record["bytes"]:
                raise damaged(path, f"holds {size} bytes where {record['bytes']} were written (truncated or overwritten)")
            whole = name != "vectors.npy" or verify_vectors or (verify_vectors is None and size <= VERIFY_VECTORS_BYTES)
            if whole and crc32_of(path) != record["crc32"]:
                raise damaged(path, "its checksum differs from the one written when it was indexed (corrupted)")
        except FileNotFoundError:
            raise damaged(path, "is missing") from None
        except (OSError, KeyError, TypeError) as error:
            raise damaged(path, f"cannot be checked ({type(error).__name__}: {error})") from None


def open_generation(folder: Path, verify_vectors: bool | None = None) -> tuple[dict, dict, list[str]]:
    """(meta, memory-mapped arrays by name, paths) of a generation, checked as the module says;
    `verify_vectors`: None checks vectors.npy's CRC-32 up to VERIFY_VECTORS_BYTES, True always."""
    meta_path = folder / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
        n_files, n_windows, dim = (int(meta[key]) for key in ("files", "windows", "dim"))
        if not isinstance(meta["model"]["fingerprint"], str) or "window" not in meta or "updated" not in meta:
            raise KeyError("model fingerprint, window or updated")
    except FileNotFoundError:
        raise damaged(meta_path, "is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise damaged(meta_path, f"is not a complete index record ({type(error).__name__}: {error})") from None
    _check_files(folder, meta.get("checksums") or {}, verify_vectors)
    expected = {"vectors": (n_windows, dim), "window_start": (n_windows,)}
    arrays = {}
    for name, dtype in ARRAYS.items():
        path = folder / f"{name}.npy"
        try:
            arrays[name] = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            raise damaged(path, "is missing") from None
        except (OSError, ValueError) as error:
            raise damaged(path, f"cannot be read ({error})") from None
        shape = expected.get(name, (n_files,))
        if arrays[name].shape != shape or arrays[name].dtype != np.dtype(dtype):
            raise damaged(path, f"holds {arrays[name].dtype} {arrays[name].shape} where meta.json says "
                                f"{np.dtype(dtype)} {shape}")
    paths_path = folder / "paths.json"
    try:
        paths = json.loads(paths_path.read_text())
    except FileNotFoundError:
        raise damaged(paths_path, "is missing") from None
    except (OSError, ValueError) as error:
        raise damaged(paths_path, f"cannot be read ({error})") from None
    if not isinstance(paths, list) or len(paths) != n_files or not all(isinstance(p, str) for p in paths):
        raise damaged(paths_path, f"does not list the {n_files} files meta.json counts")
    first = np.asarray(arrays["file_first_window"])
    if n_files and (first[0] != 0 or first[-1] >= n_windows or np.any(np.diff(first) <= 0)):
        raise damaged(folder / "file_first_window.npy", "its window offsets are out of order")
    return meta, arrays, paths


def read_pointer(folder: Path) -> str | None:
    """The generation `folder`/CURRENT names; None when there is no CURRENT."""
    pointer = folder / "CURRENT"
    try:
        text = pointer.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise damaged(pointer, f"cannot be read ({error})") from None
    if not GENERATION_NAME.fullmatch(text.strip()):
        raise damaged(pointer, f"does not name a generation ({text[:40]!r}; it holds a name like gen-000003)")
    return text.strip()


def open_current(folder: Path, opener: Callable[[Path], T]) -> T | None:
    """`opener(generation folder)` of the generation CURRENT names, None without CURRENT. An
    indexing run may switch CURRENT and delete the generation a reader is opening: then the
    reader opens the new one; a generation that fails while CURRENT stays is damaged."""
    name = read_pointer(folder)
    for attempt in range(OPEN_ATTEMPTS):
        if name is None:
            return None
        try:
            return opener(folder / name)
        except IndexDamagedError:
            now = read_pointer(folder)
            if now == name or attempt == OPEN_ATTEMPTS - 1:
                if now == name and not (folder / name).is_dir():
                    raise damaged(folder / "CURRENT", f"names {name}, which does not exist") from None
                raise
            name = now
    return None


def write_atomic(path: Path, text: str) -> None:
    """`path` replaced by `text` at once: a reader sees the old content or the new, never a part."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_text(text)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def reserve(path: Path) -> None:
    """The file's blocks allocated now (see the module's note on SIGBUS)."""
    if not hasattr(os, "posix_fallocate"):
        return
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            if size:
                os.posix_fallocate(f.fileno(), 0, size)
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                raise


def write_error(error: OSError, where: Path, library: Path, model: str) -> IndexWriteError:
    """The message for an OSError while indexing: what failed, where, and how to go on."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        advice = "Free some space there, or keep the index on another disk (--index-dir DIR or $VOCALSEARCH_INDEX_DIR)"
    elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        advice = "The index folder must be writable: give another one with --index-dir DIR (or $VOCALSEARCH_INDEX_DIR)"
    else:
        advice = "Check the disk"
    file = f" ({error.filename})" if error.filename else ""
    return IndexWriteError(f"cannot write the index under {where}: {error.strerror or error}{file}. {advice}, then "
                           f"index again:\n  vocalsearch index {library} --model {model}\nSearches keep using the "
                           "last complete index; the next run does not compute again what this one finished.")


class Spill:
    """This run's computed vectors (`write`), and its journal of finished files (`finished`)."""

    def __init__(self, folder: Path, header: dict):
        handle, name = tempfile.mkstemp(prefix="spill-", suffix=".f32", dir=folder)
        self.path = Path(name)
        self.file = os.fdopen(handle, "wb")
        self.journal_path = self.path.with_suffix(".jsonl")
        self.journal = open(self.journal_path, "w")
        self.entries = 0
        self._line(header)

    def _line(self, record: dict) -> None:
        self.journal.write(json.dumps(record) + "\n")
        self.journal.flush()

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def flush(self) -> None:
        self.file.flush()

    def finished(self, rel: str, size: int, mtime_ns: int, row: int, duration: float, starts: np.ndarray) -> None:
        self.file.flush()  # the rows reach the file before the line that names them
        self._line({"rel": rel, "size": size, "mtime_ns": mtime_ns, "row": row, "count": len(starts),
                    "duration": duration, "starts": np.asarray(starts, np.float64).tolist()})
        self.entries += 1

    def close(self, keep: bool) -> None:
        for handle in (self.file, self.journal):
            try:
                handle.close()
            except OSError:  # a full disk fails the last flush too; the journal names only what was written
                pass
        if not (keep and self.entries):
            self.path.unlink(missing_ok=True)
            self.journal_path.unlink(missing_ok=True)


def adopt_spills(folder: Path, header: dict, wanted: dict, dim: int) -> tuple[dict, list[Path]]:
    """From the spills earlier runs left in `folder`: for each file of `wanted` (rel ->
    FileStat) whose journal entry matches its size and modification time, (rows, first row,
    count, duration, starts); and every leftover spill file, to delete once a generation
    holds what was taken."""
    resumed, leftovers = {}, sorted(folder.glob("spill-*"))
    for journal in (p for p in leftovers if p.suffix == ".jsonl"):
        spill = journal.with_suffix(".f32")
        try:
            lines = journal.read_text().splitlines()
            rows = spill.stat().st_size // (4 * dim)
        except (OSError, UnicodeDecodeError):
            continue
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:  # the line a killed run was writing
                continue
        if not records or records[0] != header or rows == 0:
            continue
        vectors = np.memmap(spill, np.float32, "r", shape=(rows, dim))
        for entry in records[1:]:
            file = wanted.get(entry.get("rel"))
            try:
                if (file is None or (entry["size"], entry["mtime_ns"]) != (file.size, file.mtime_ns)
                        or entry["row"] + entry["count"] > rows or len(entry["starts"]) != entry["count"]):
                    continue
                resumed[file.rel] = (vectors, int(entry["row"]), int(entry["count"]), float(entry["duration"]),
                                     np.asarray(entry["starts"], np.float32))
            except (KeyError, TypeError):
                continue
    return resumed, leftovers
