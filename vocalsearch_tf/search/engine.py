"""One query: check and load the imitation, score every indexed window of the library,
keep each sound's best window, fuse the models' likelihoods, return the top sounds.

A single embedding model whose index has an approximate index (search/ann.py) scores only
the windows of its shortlist, exactly, and reports its hits' similarities (`scan` "ann");
every other search scans every window (`scan` "exact")."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from vocalsearch_tf.search import ann
from vocalsearch_tf.search.config import ANN, QUERY_LIMITS, AnnParams, QueryError, QueryLimits, SearchError
from vocalsearch_tf.search.index import Index, LibraryIndex, audio_duration
from vocalsearch_tf.search.scorers import SYNTHETIC_NOTE, Scorer
from vocalsearch_tf.signal import audio


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s" if seconds >= 60 else f"{seconds:.1f} s"


def load_imitation(path: str | Path, limits: QueryLimits = QUERY_LIMITS) -> tuple[np.ndarray, int]:
    """The imitation as mono float32 at its own rate, with silence trimmed (limits.trim_db).
    QueryError, naming the file, for a missing, non-audio, empty, too long or silent one."""
    path = Path(path)
    if not path.is_file():
        raise QueryError(f"imitation {path}: no such file")
    try:
        duration = audio_duration(path)
        if duration > limits.max_seconds:
            raise QueryError(f"imitation {path.name}: the recording is {_minutes(duration)} long; an imitation "
                             f"should be a few seconds (at most {limits.max_seconds:.0f} s; the models hear about "
                             "the first 3-4 s). Record it again, shorter.")
        samples, rate = audio.load(path)
    except audio.EmptyAudioError:
        raise QueryError(f"imitation {path.name}: the recording is empty (no samples). Record it again.") from None
    except audio.AudioDecodeError as error:
        raise QueryError(f"imitation {path.name}: not an audio file this program can read "
                         f"(WAV, FLAC, OGG or MP3). {error.problem}") from None
    except audio.AudioError as error:
        raise QueryError(f"imitation {path.name}: {error.problem}") from None
    peak = float(np.max(np.abs(samples)))
    if peak == 0 or 20 * np.log10(peak) < limits.silence_dbfs:
        level = "every sample is zero" if peak == 0 else f"peak {20 * np.log10(peak):.0f} dBFS, below {limits.silence_dbfs:.0f} dBFS"
        raise QueryError(f"imitation {path.name}: the recording is silent ({level}). "
                         "Check the microphone and record again.")
    if limits.trim_db is not None:
        samples = trim_silence(samples, limits.trim_db)
    return samples.astype(np.float32), rate


def trim_silence(samples: np.ndarray, top_db: float, frame: int = 1024, hop: int = 256) -> np.ndarray:
    """Cut the leading and trailing frames whose RMS is `top_db` below the loudest frame's
    (as librosa.effects.trim, without its numba start-up cost on a one-shot query)."""
    if len(samples) <= frame:
        return samples
    frames = np.lib.stride_tricks.sliding_window_view(samples, frame)[::hop]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-top_db / 20))
    return samples[loud[0] * hop: min(len(samples), loud[-1] * hop + frame)]


@dataclass
class Hit:
    rank: int
    score: float
    path: str  # absolute
    file: str  # relative to the library
    duration: float
    window_start: float  # seconds: where the best-matching window begins
    scores: dict[str, float] = field(default_factory=dict)  # per component, when fused


@dataclass
class SearchResult:
    query: str
    library: str
    model: str
    model_description: str
    trained_on: str
    synthetic: bool
    sounds: int
    windows: int
    hits: list[Hit]
    seconds: float  # the query's time: loading the imitation, the models, ranking
    query_seconds: float  # the imitation's length after trimming silence
    # "exact": every window scored (scores as the model's likelihoods); "ann": the approximate
    # index's shortlist scored exactly (scores are the model's similarities)
    scan: str = "exact"
    scan_note: str = ""  # why an approximate index that exists was not used

    @property
    def note(self) -> str:
        note = f"model {self.model}: {self.model_description}" + (f" — {SYNTHETIC_NOTE}" if self.synthetic else "")
        if self.scan == "ann":
            note += "; approximate index, shortlist re-ranked exactly (scores: similarities)"
        return note + (f"\n{self.scan_note}" if self.scan_note else "")

    def as_dict(self) -> dict:
        return {**asdict(self), "note": self.note}

    def table(self) -> str:
        lines = [self.note, f"{self.sounds} sounds in {self.library}; query {self.query} "
                            f"({self.query_seconds:.1f} s); {self.seconds * 1000:.0f} ms",
                 f"{'rank':>4}  {'score':>9}  {'duration':>8}  file"]
        for hit in self.hits:
            at = f"  (best at {hit.window_start:.1f} s)" if hit.duration > 4.0 else ""
            lines.append(f"{hit.rank:>4}  {hit.score:>9.4g}  {hit.duration:>7.1f}s  {hit.file}{at}")
        return "\n".join(lines)


def open_indexes(library: LibraryIndex, scorer: Scorer) -> list[Index]:
    indexes = [library.open(component, asked_as=scorer.name) for component in scorer.components]
    if indexes[0].n_files == 0:
        skipped = len(indexes[0].meta.get("unreadable", []))
        raise SearchError(f"the index of {library.library} holds no sounds ({skipped} file(s) were unreadable); "
                          f"see `vocalsearch index {library.library}`")
    return indexes


def _aligned(indexes: list[Index]) -> list[np.ndarray]:
    """For each index, the rows of the files all indexes share, in the first index's order."""
    if all(ix.paths == indexes[0].paths for ix in indexes[1:]):
        rows = np.arange(indexes[0].n_files)
        return [rows for _ in indexes]
    shared = set(indexes[0].paths).intersection(*(ix.paths for ix in indexes[1:]))
    order = [p for p in indexes[0].paths if p in shared]
    return [np.array([{p: i for i, p in enumerate(ix.paths)}[p] for p in order], np.int64) for ix in indexes]


def query_vector(samples: np.ndarray, rate: int, component: Scorer) -> np.ndarray:
    clip = audio.fix_length(audio.resample(samples, rate, component.imitation_rate), component.imitation_samples)
    return component.query_vector(clip)


def query_vectors(samples: np.ndarray, rate: int, scorer: Scorer) -> list[np.ndarray]:
    return [query_vector(samples, rate, component) for component in scorer.components]


def component_scores(samples: np.ndarray, rate: int, scorer: Scorer, indexes: list[Index],
                     queries: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per component of `scorer`: its best window's score per indexed file, and its score per
    window (always the exact scan of every window); `queries`: its query vectors, if made."""
    best_per_file, best_windows = [], []
    for component, index, query in zip(scorer.components, indexes, queries or query_vectors(samples, rate, scorer)):
        windows = component.window_scores(query, index.vectors)
        best_windows.append(windows)
        best_per_file.append(index.best_per_file(windows))
    return best_per_file, best_windows


def approximate_index(scorer: Scorer, indexes: list[Index], top: int, library: LibraryIndex
                      ) -> tuple[ann.AnnIndex | None, str]:
    """The ANN a search of `top` files uses, or None and (when one exists but is unusable) why.
    Fusions and long rankings scan exactly."""
    if len(scorer.components) > 1 or top > library.ann_params.max_top:
        return None, ""
    return ann.open_ann(indexes[0], library.library)


def ranked_by_ann(approximate: ann.AnnIndex, component: Scorer, index: Index, query: np.ndarray,
                  top: int, params: AnnParams = ANN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(files, exact scores, best window rows), best first, among the ANN's shortlist."""
    rows = approximate.shortlist(query, max(params.shortlist, 8 * top), params.nprobe)
    return ann.rank_shortlist(component, index, query, rows, top)


def _ann_search(imitation, library, scorer, top, samples, rate, indexes, approximate, start):
    """The approximate search's result, or None when its shortlist holds fewer than `top` files."""
    index, component = indexes[0], scorer.components[0]
    query = query_vector(samples, rate, component)
    files, scores, windows = ranked_by_ann(approximate, component, index, query, top, library.ann_params)
    if len(files) < min(top, index.n_files):
        return None
    hits = [Hit(rank, float(score), str(library.library / index.paths[file]), index.paths[file],
                float(index.durations[file]), float(index.window_start[window]))
            for rank, (file, score, window) in enumerate(zip(files, scores, windows), 1)]
    return SearchResult(str(imitation), str(library.library), scorer.name, scorer.description, scorer.trained_on,
                        scorer.synthetic, index.n_files, int(index.vectors.shape[0]), hits,
                        time.perf_counter() - start, len(samples) / rate, scan="ann")


def search(imitation: str | Path, library: LibraryIndex, scorer: Scorer, top: int = 10,
           limits: QueryLimits = QUERY_LIMITS, indexes: list[Index] | None = None) -> SearchResult:
    """The `top` library sounds for an imitation, best first."""
    if top < 1:
        raise SearchError(f"--top must be at least 1, not {top}")
    indexes = indexes or open_indexes(library, scorer)
    start = time.perf_counter()
    samples, rate = load_imitation(imitation, limits)
    approximate, scan_note = approximate_index(scorer, indexes, top, library)
    if approximate is not None:
        result = _ann_search(imitation, library, scorer, top, samples, rate, indexes, approximate, start)
        if result is not None:
            return result
        scan_note = f"the approximate index's shortlist held fewer than {top} sounds: exact scan"
    queries = query_vectors(samples, rate, scorer)
    best_per_file, best_windows = component_scores(samples, rate, scorer, indexes, queries)
    rows = _aligned(indexes)
    fused = scorer.combine([b[r] for b, r in zip(best_per_file, rows)], scorer.probe_evidence(queries))
    per_component = [c.likelihoods(b) for c, b in zip(scorer.components, best_per_file)]
    count = min(top, len(fused))
    chosen = np.argpartition(-fused, count - 1)[:count] if count else np.zeros(0, np.int64)
    chosen = chosen[np.argsort(-fused[chosen], kind="stable")]
    first, first_rows = indexes[0], rows[0]
    hits = []
    for rank, k in enumerate(chosen, 1):
        file = int(first_rows[k])
        span = first.window_range(file)
        window = span.start + int(np.argmax(best_windows[0][span]))
        rel = first.paths[file]
        components = ({c.name: float(p[r[k]]) for c, p, r in zip(scorer.components, per_component, rows)}
                      if len(indexes) > 1 else {})
        hits.append(Hit(rank, float(fused[k]), str(library.library / rel), rel, float(first.durations[file]),
                        float(first.window_start[window]), components))
    return SearchResult(str(imitation), str(library.library), scorer.name, scorer.description, scorer.trained_on,
                        scorer.synthetic, len(fused), int(first.vectors.shape[0]), hits, time.perf_counter() - start,
                        len(samples) / rate, scan_note=scan_note)


def excerpt(path: str | Path, start: float, seconds: float = 4.0) -> tuple[np.ndarray, int]:
    """The samples of a hit's best window (mono, native rate), for listening and a picture."""
    with sf.SoundFile(str(path)) as f:
        f.seek(min(int(start * f.samplerate), max(f.frames - 1, 0)))
        block = f.read(int(seconds * f.samplerate), dtype="float32", always_2d=True)
        return block.mean(axis=1), f.samplerate
