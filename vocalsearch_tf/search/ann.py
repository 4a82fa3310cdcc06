"""The approximate index of an embedding model's windows: FAISS IVF with product quantisation,
whose shortlist of windows is re-scored exactly on the memory-mapped vectors.

An index generation (search/index.py) of a large enough library, indexed with an embedding
model (`EmbeddingScorer`: cosine on unit vectors, or Euclidean), holds two more files, written
before CURRENT switches to it, so a query always finds an ANN that matches its vectors:

    ann.faiss    the FAISS index; its ids are the generation's window rows
    ann.json     its record: size, CRC-32, rows, model fingerprint, layout, training size

FAISS searches by Euclidean distance in both cases: on unit vectors it ranks as cosine does,
and it stays right after the PCA that centres very wide vectors. The exact re-ranking uses
the model's own `window_scores`, so a hit's score is the exact one.

Incremental: a new generation clones the previous one's trained codebooks, carries over the
codes of the windows it keeps (their ids renumbered to the new rows) and encodes only the new
windows. It retrains when there is no usable previous ANN, when the model's fingerprint or
the ANN settings changed, or when the library grew `retrain_growth` times since training.

A missing, truncated or corrupted ANN file is never used: `open_ann` warns (naming the file)
and the search scans exactly; the next indexing run retrains it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np

from vocalsearch_tf.search.config import ANN, AnnParams, AnnUnusableWarning

ANN_FILE = "ann.faiss"
ANN_RECORD = "ann.json"
ADD_ROWS = 65_536  # windows encoded per FAISS call while building
TRAIN_SAMPLE_BYTES = 256 << 20  # the training sample's size bound, for very wide vectors
# settings whose change asks for new codebooks (the others act at query time only)
TRAINED_SETTINGS = ("lists_per_sqrt_window", "dims_per_code", "max_coded_dims", "opq")


def _faiss():
    import faiss  # imported on first use: the exact scan of a small library never needs it

    return faiss


def wanted(scorer, n_windows: int, params: AnnParams = ANN) -> bool:
    """Whether an index of `n_windows` windows of `scorer` gets an ANN: embedding models of
    libraries whose exact scan is no longer cheap."""
    from vocalsearch_tf.search.scorers import EmbeddingScorer

    return (isinstance(scorer, EmbeddingScorer) and n_windows >= params.min_windows
            and n_windows * scorer.dim * 4 >= params.min_vector_bytes)


def layout(n_windows: int, dim: int, params: AnnParams = ANN) -> dict:
    """The FAISS factory string for a library of `n_windows` vectors of width `dim`."""
    nlist = 2 ** int(round(np.log2(max(1.0, params.lists_per_sqrt_window * np.sqrt(n_windows)))))
    nlist = int(np.clip(nlist, params.min_lists, params.max_lists))
    coded = min(dim, params.max_coded_dims)
    m = max(1, coded // params.dims_per_code)
    while coded % m:
        m -= 1
    if params.opq:
        rotation = [f"OPQ{m}_{coded}"] if coded < dim else [f"OPQ{m}"]
    else:  # PCA, then a random rotation so each PQ sub-vector carries a similar variance
        rotation = [f"PCAR{coded}"] if coded < dim else []
    # 4-bit sub-quantizers scanned with SIMD ("fast scan"): measured, they train in seconds where
    # 8-bit ones take a minute, and at equal code size they rank as well once re-ranked
    return {"factory": ",".join(rotation + [f"IVF{nlist}", f"PQ{m}x4fs"]), "nlist": nlist,
            "code_bytes": m // 2, "coded_dims": coded}


def _trained_settings(params: AnnParams) -> dict:
    return {name: getattr(params, name) for name in TRAINED_SETTINGS}


class AnnBroken(Exception):
    """An ANN file that does not match its record."""


class AnnIndex:
    """One generation's ANN, loaded in memory (its codes; the vectors stay memory-mapped).
    Read-only once loaded: threads may search it at once."""

    def __init__(self, folder: Path, record: dict, index):
        self.folder, self.record, self.index = folder, record, index

    def shortlist(self, query: np.ndarray, windows: int, nprobe: int = ANN.nprobe) -> np.ndarray:
        """The rows of the (about) `windows` windows nearest `query` by their codes, visiting
        `nprobe` inverted lists."""
        searched = _faiss().SearchParametersIVF(nprobe=int(nprobe))  # per call: no shared state
        _, rows = self.index.search(np.asarray(query, np.float32)[None], windows, params=searched)
        return rows[0][rows[0] >= 0]


def read(folder: Path):
    """The FAISS index of `folder`'s ann.faiss, unchecked (`open_ann` checks it)."""
    return _faiss().read_index(str(Path(folder) / ANN_FILE))


def _crc32(data) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _load(folder: Path, rows: int, fingerprint: str) -> AnnIndex:
    record_path, path = folder / ANN_RECORD, folder / ANN_FILE
    try:
        record = json.loads(record_path.read_text())
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise AnnBroken(f"{Path(error.filename).name} is missing") from None
    except (OSError, ValueError) as error:
        raise AnnBroken(f"{record_path.name} cannot be read ({error})") from None
    if len(data) != record.get("bytes"):
        raise AnnBroken(f"{len(data)} bytes where {record.get('bytes')} were written (truncated?)")
    if _crc32(data) != record.get("crc32"):
        raise AnnBroken("its checksum differs from the one written (corrupted)")
    if record.get("rows") != rows or record.get("fingerprint") != fingerprint:
        raise AnnBroken(f"it was built for {record.get('rows')} windows of another model or generation, "
                        f"this generation has {rows}")
    index = _faiss().deserialize_index(np.frombuffer(data, np.uint8))
    if index.ntotal != rows:
        raise AnnBroken(f"it holds {index.ntotal} windows, the generation {rows}")
    return AnnIndex(folder, record, index)


_OPENED: dict[tuple, AnnIndex] = {}  # (file, size, mtime) -> loaded ANN: a process loads each once
_OPENED_LOCK = threading.Lock()
KEEP_OPENED = 4


def open_ann(index, library: str | Path | None = None) -> tuple[AnnIndex | None, str]:
    """The ANN of an index generation, or None and why not. A generation that should have
    one but whose files are missing or damaged gives None with an AnnUnusableWarning naming
    the file (the search then scans exactly)."""
    if not index.meta.get("ann"):
        return None, ""
    path = index.folder / ANN_FILE
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    with _OPENED_LOCK:
        if key is not None and key in _OPENED:
            return _OPENED[key], ""
    try:
        ann = _load(index.folder, int(index.vectors.shape[0]), index.meta["model"]["fingerprint"])
    except AnnBroken as error:
        command = f"`vocalsearch index {library or index.meta.get('library', 'LIBRARY')}`"
        problem = (f"approximate index {path} is unusable: {error}. Searching with the exact scan "
                   f"(slower, same ranking); {command} rebuilds it.")
        warnings.warn(AnnUnusableWarning(problem), stacklevel=2)
        return None, problem
    with _OPENED_LOCK:
        while len(_OPENED) >= KEEP_OPENED:
            _OPENED.pop(next(iter(_OPENED)))
        _OPENED[key] = ann
    return ann, ""


def _retrain_reason(previous: AnnIndex | None, scorer, n_windows: int, params: AnnParams) -> str | None:
    if previous is None:
        return "no usable earlier approximate index"
    record = previous.record
    if record["fingerprint"] != scorer.fingerprint or record["dim"] != scorer.dim:
        return "the model changed"
    if record["settings"] != _trained_settings(params):
        return "the approximate index's settings changed"
    if n_windows > params.retrain_growth * record["trained_windows"]:
        return f"the library grew {n_windows / record['trained_windows']:.1f}x since the codebooks were trained"
    return None


def _train_sample(vectors: np.ndarray, params: AnnParams, seed: int = 0) -> np.ndarray:
    size = min(len(vectors), params.train_sample, max(10_000, TRAIN_SAMPLE_BYTES // (4 * vectors.shape[1])))
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size, replace=False))
    return np.ascontiguousarray(vectors[rows], np.float32)


def _carry_codes(index, carried: np.ndarray, n_windows: int) -> np.ndarray:
    """In `index`, a copy of the previous generation's ANN: drop the windows the new one does
    not keep and renumber the others to their new rows (`carried`: old row -> new row, -1 for
    a dropped window). Returns which of the `n_windows` new rows have their code."""
    faiss = _faiss()
    dropped = np.flatnonzero(carried < 0).astype(np.int64)
    if len(dropped):
        index.remove_ids(dropped)
    ivf = faiss.extract_index_ivf(index)
    done = np.zeros(n_windows, bool)
    for number in range(ivf.nlist):
        count = ivf.invlists.list_size(number)
        if count:
            ids = faiss.rev_swig_ptr(ivf.invlists.get_ids(number), count)  # a view: renumbered in place
            ids[:] = carried[ids]
            done[ids] = True
    return done


def build(folder: Path, scorer, previous: AnnIndex | None = None, carried: np.ndarray | None = None,
          params: AnnParams = ANN) -> dict:
    """Write `folder`'s ANN over its vectors.npy; its record (also in ann.json) says how it was
    made. `carried` maps `previous`'s window rows to this generation's (-1: gone)."""
    faiss = _faiss()
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    n_windows = len(vectors)
    reason = _retrain_reason(previous, scorer, n_windows, params)
    done = np.zeros(n_windows, bool)
    if reason is None:
        index = faiss.clone_index(previous.index)
        if carried is None:
            index.reset()
        else:
            done = _carry_codes(index, carried, n_windows)
        factory, trained = previous.record["factory"], previous.record["trained_windows"]
    else:
        factory = layout(n_windows, scorer.dim, params)["factory"]
        index = faiss.index_factory(scorer.dim, factory, faiss.METRIC_L2)
        index.train(_train_sample(vectors, params))
        trained = n_windows
    todo = np.flatnonzero(~done)
    for at in range(0, len(todo), ADD_ROWS):
        rows = todo[at:at + ADD_ROWS]
        index.add_with_ids(np.ascontiguousarray(vectors[rows], np.float32), rows.astype(np.int64))
    data = faiss.serialize_index(index)
    (folder / ANN_FILE).write_bytes(data.tobytes())
    record = {"file": ANN_FILE, "bytes": int(data.nbytes), "crc32": _crc32(data), "rows": n_windows,
              "dim": scorer.dim, "fingerprint": scorer.fingerprint, "factory": factory, "nlist": int(faiss.extract_index_ivf(index).nlist), "trained_windows": trained,
              "settings": _trained_settings(params), "search": {"nprobe": params.nprobe, "shortlist": params.shortlist},
              "carried": int(done.sum()), "encoded": len(todo),
              "retrained": reason or "", "faiss": faiss.__version__}
    (folder / ANN_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record


def describe(record: dict) -> str:
    """One line for an indexing report."""
    if record["retrained"]:
        return (f"approximate index {record['factory']} trained ({record['retrained']}) on a sample of "
                f"{record['trained_windows']} windows; {record['encoded']} windows encoded")
    return (f"approximate index: codebooks of {record['trained_windows']} windows reused; "
            f"{record['carried']} windows' codes carried over, {record['encoded']} encoded")


def rank_shortlist(scorer, index, query: np.ndarray, rows: np.ndarray, top: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(files, their best shortlisted window's exact score, that window's row), best first:
    the shortlist `rows` re-scored exactly on the index's stored vectors, best window per file."""
    rows = np.sort(rows)
    scores = scorer.window_scores(query, np.asarray(index.vectors[rows]))
    files = np.searchsorted(np.asarray(index.first_window), rows, side="right") - 1
    order = np.lexsort((-scores, files))  # by file, each file's best window first
    first = order[np.r_[True, files[order][1:] != files[order][:-1]]] if len(order) else order
    best = first[np.argsort(-scores[first], kind="stable")][:top]
    return files[best], scores[best], rows[best]


def settings_record(params: AnnParams = ANN) -> dict:
    return dataclasses.asdict(params)
